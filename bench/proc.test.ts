import { spawn } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Counter, Registry, collectDefaultMetrics } from 'prom-client'
import { once } from 'node:events'
import fs from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { cpuSeconds, heapCompacted, quiet, readMetrics, syscalls } from './bench.ts'

describe("the bench's /proc readings", () => {
  it("counts a process's read and write system calls", () => {
    const dir = fs.mkdtempSync(join(tmpdir(), 'piazza-proc-'))
    try {
      const fd = fs.openSync(join(dir, 'f'), 'w+')
      const before = syscalls(process.pid)
      for (let i = 0; i < 20; i++) fs.writeSync(fd, 'x')
      for (let i = 0; i < 10; i++) fs.readSync(fd, Buffer.alloc(1), 0, 1, i)
      const after = syscalls(process.pid)
      fs.closeSync(fd)
      expect(after.writes - before.writes).toBeGreaterThanOrEqual(20)
      expect(after.reads - before.reads).toBeGreaterThanOrEqual(10)
      expect(syscalls(-1)).toEqual({ reads: Number.NaN, writes: Number.NaN })
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("tells a process's main thread from its other threads", async () => {
    // The main thread idles (a timer) while a worker thread spins.
    const child = spawn(process.execPath, ['-e', "new (require('node:worker_threads').Worker)('for (;;);', { eval: true }); setInterval(() => {}, 1000)"], { stdio: 'ignore' })
    try {
      await once(child, 'spawn')
      const pid = child.pid!
      // Until the worker has used some CPU, however busy the machine.
      for (let i = 0; i < 200 && !(cpuSeconds(pid) >= 0.5); i++) await new Promise((resolve) => setTimeout(resolve, 100))
      const all = cpuSeconds(pid)
      const main = cpuSeconds(pid, pid)
      expect(all).toBeGreaterThanOrEqual(0.5)
      // The main thread started Node and the worker, then slept: far less than the whole.
      expect(main).toBeLessThan(all / 2)
      expect(cpuSeconds(pid, -1)).toBeNaN()
    } finally {
      child.kill()
    }
  })

  it("reads samples from a /metrics page, by name and by a label's value", async () => {
    const registry = new Registry()
    collectDefaultMetrics({ register: registry })
    const listener = new Counter({ name: 'piazza_feed_listener_seconds_total', help: 'test', labelNames: ['listener'], registers: [registry] })
    listener.inc({ listener: 'live' }, 2)
    listener.inc({ listener: 'alerts' }, 0.5)
    const server = createServer((_req, res) => void registry.metrics().then((text) => res.end(text)))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const metrics = await readMetrics(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
      expect(metrics.value('process_cpu_seconds_total')).toBeGreaterThan(0)
      expect(metrics.value('no_such_metric')).toBeNaN()
      expect(metrics.byLabel('piazza_feed_listener_seconds_total', 'listener')).toEqual({ live: 2, alerts: 0.5 })
      expect(metrics.byLabel('piazza_feed_listener_seconds_total', 'kind')).toEqual({})
    } finally {
      server.close()
    }
  })

  it('waits for a process to go quiet, and says when it does not', async () => {
    // Spins until it reads a line on stdin, then idles (a timer keeps it alive) until killed.
    const child = spawn(process.execPath, ['-e', "let spin = true; process.stdin.once('data', () => (spin = false)); const go = () => { const end = Date.now() + 50; while (spin && Date.now() < end); if (spin) setImmediate(go) }; go(); setInterval(() => {}, 1000)"], {
      stdio: ['pipe', 'ignore', 'inherit'],
    })
    try {
      await once(child, 'spawn')
      expect(await quiet(child.pid!, 1500, 100)).toBe(false)
      child.stdin!.write('calm\n')
      expect(await quiet(child.pid!, 20_000, 100)).toBe(true)
    } finally {
      child.kill()
    }
    await once(child, 'exit')
    expect(await quiet(child.pid!, 1500, 100)).toBe(true)
  })

  it("tells a heap V8's memory reducer has compacted from one still holding a burst, by the figures measured", () => {
    // Idle Piazza with 10,000 connections: before any reducer collection, after the first of
    // them (the young generation still enlarged), and once done; and at rest.
    expect(heapCompacted({ used: 301, total: 347 })).toBe(false)
    expect(heapCompacted({ used: 188, total: 263 })).toBe(false)
    expect(heapCompacted({ used: 180, total: 186 })).toBe(true)
    expect(heapCompacted({ used: 80, total: 84 })).toBe(true)
  })
})
