import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './influxd.ts'

/**
 * A private Redis for tests: Debian's redis-server on a free loopback port, its own directory,
 * no persistence (no RDB snapshots, no AOF). Assumes /usr/bin/redis-server (test/support/prepare.sh
 * installs it). stop() and start() keep the port, so a test can take Redis away and bring it back.
 */

export interface RedisServer {
  url: string
  port: number
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>
  /** Starts again on the same port. */
  start(): Promise<void>
  /** Stops it and removes its directory. */
  close(): Promise<void>
}

const REDIS_SERVER = '/usr/bin/redis-server'
const READY_TIMEOUT_MS = 30_000

const running = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

export async function startRedis(): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'piazza-redis-'))
  const port = await freePort()
  let child: ChildProcess | undefined
  let output = ''

  async function start(): Promise<void> {
    if (child) throw new Error('redis-server is already running')
    output = ''
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning', '--logfile', '']
    const proc = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    child = proc
    running.add(proc)
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000))
    proc.stdout!.on('data', keep)
    proc.stderr!.on('data', keep)
    const gone = () => {
      running.delete(proc)
      if (child === proc) child = undefined
    }
    proc.once('exit', gone)
    proc.once('error', (err) => {
      keep(Buffer.from(`\n${err.message}`))
      gone()
    })
    await waitForPong(port, proc, () => output)
  }

  async function stop(): Promise<void> {
    const proc = child
    if (!proc) return
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
    proc.kill('SIGTERM')
    const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000)
    await exited
    clearTimeout(timer)
  }

  await start()
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    stop,
    async close() {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** One PING over a plain socket: answers true on +PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once('error', () => done(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')))
  })
}

async function waitForPong(port: number, proc: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) {
      throw new Error(`redis-server exited (${proc.exitCode ?? proc.signalCode}) before answering PING:\n${output()}`)
    }
    if (await ping(port)) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  proc.kill('SIGKILL')
  throw new Error(`redis-server did not answer PING on port ${port} within ${READY_TIMEOUT_MS / 1000} s:\n${output()}`)
}
