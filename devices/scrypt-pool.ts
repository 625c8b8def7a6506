import { randomBytes, timingSafeEqual } from 'node:crypto'
import { Worker } from 'node:worker_threads'

/**
 * scrypt off the main thread and off libuv's thread pool. node's async crypto.scrypt runs on
 * the libuv pool, the same four threads that carry every fs call, the write-ahead log's write and
 * fdatasync among them: a burst of logins there stalls every device's PUBACK. Here scrypt runs as
 * scryptSync inside worker threads of our own, one job per worker at a time, behind a bounded
 * queue: when the queue is full a request is refused at once (ScryptBusyError) instead of waiting
 * without end.
 *
 * Hashes are `scrypt$N$r$p$salt$hash` (base64url), so the parameters can be raised later without
 * invalidating stored hashes.
 */

const PARAMS = { N: 16384, r: 8, p: 1 } as const
const KEY_LENGTH = 32
const MAX_MEM = 64 * 1024 * 1024

/** The worker's code, plain JavaScript evaluated as a script: no loader (tsx, vitest) is needed in the worker. */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const { scryptSync } = require('node:crypto')
parentPort.on('message', (job) => {
  try {
    const key = scryptSync(job.secret, Buffer.from(job.salt), job.keyLength, { N: job.N, r: job.r, p: job.p, maxmem: job.maxmem })
    parentPort.postMessage({ id: job.id, key })
  } catch (err) {
    parentPort.postMessage({ id: job.id, error: String((err && err.message) || err) })
  }
})
`

export class ScryptBusyError extends Error {
  constructor() {
    super('too many password checks waiting; try again shortly')
    this.name = 'ScryptBusyError'
  }
}

export interface ScryptPoolOptions {
  /** Worker threads, default 1. */
  workers?: number
  /** Jobs that may wait for a worker, default 32; one more is refused with ScryptBusyError. */
  maxQueue?: number
}

interface Job {
  id: number
  secret: string
  salt: Buffer
  params: { N: number; r: number; p: number }
  resolve(key: Buffer): void
  reject(err: Error): void
}

interface Slot {
  worker: Worker
  job?: Job
}

export function createScryptPool(options: ScryptPoolOptions = {}) {
  const size = Math.max(1, options.workers ?? 1)
  const maxQueue = Math.max(0, options.maxQueue ?? 32)
  const slots: Slot[] = []
  const queue: Job[] = []
  let nextId = 1
  let refused = 0
  let started = 0
  let closed = false

  function spawn(): Slot {
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] })
    const slot: Slot = { worker }
    worker.unref()
    worker.on('message', (message: { id: number; key?: Uint8Array; error?: string }) => {
      const job = slot.job
      if (!job || job.id !== message.id) return
      slot.job = undefined
      if (message.error !== undefined || !message.key) job.reject(new Error(message.error ?? 'scrypt failed'))
      else job.resolve(Buffer.from(message.key.buffer, message.key.byteOffset, message.key.byteLength))
      next(slot)
    })
    const fail = (err: Error) => {
      const index = slots.indexOf(slot)
      if (index >= 0) slots.splice(index, 1)
      slot.job?.reject(err)
      slot.job = undefined
      pump()
    }
    worker.on('error', fail)
    worker.on('exit', (code) => fail(new Error(`scrypt worker exited with code ${code}`)))
    slots.push(slot)
    return slot
  }

  function run(slot: Slot, job: Job) {
    slot.job = job
    started += 1
    // Keeps the process alive while a job is in flight, and only then.
    slot.worker.ref()
    slot.worker.postMessage({ id: job.id, secret: job.secret, salt: job.salt, keyLength: KEY_LENGTH, ...job.params, maxmem: MAX_MEM })
  }

  function next(slot: Slot) {
    const job = queue.shift()
    if (job) return run(slot, job)
    slot.worker.unref()
  }

  function pump() {
    while (queue.length > 0) {
      let slot = slots.find((s) => !s.job)
      if (!slot && slots.length < size && !closed) slot = spawn()
      if (!slot) return
      run(slot, queue.shift()!)
    }
  }

  function derive(secret: string, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
    if (closed) return Promise.reject(new Error('the scrypt pool is closed'))
    // A free worker takes the job at once (pump), so the queue holds only jobs that wait.
    const free = slots.some((s) => !s.job) || slots.length < size
    if (!free && queue.length >= maxQueue) {
      refused += 1
      return Promise.reject(new ScryptBusyError())
    }
    return new Promise<Buffer>((resolve, reject) => {
      queue.push({ id: nextId++, secret, salt, params, resolve, reject })
      pump()
    })
  }

  return {
    async hash(secret: string): Promise<string> {
      const salt = randomBytes(16)
      const key = await derive(secret, salt, PARAMS)
      return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64url')}$${key.toString('base64url')}`
    },

    async verify(secret: string, stored: string): Promise<boolean> {
      const parts = stored.split('$')
      if (parts.length !== 6 || parts[0] !== 'scrypt') return false
      const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string]
      const expected = Buffer.from(hash, 'base64url')
      const key = await derive(secret, Buffer.from(salt, 'base64url'), { N: Number(n), r: Number(r), p: Number(p) })
      return key.length === expected.length && timingSafeEqual(key, expected)
    },

    /** Jobs waiting and running now; jobs started and refused (queue full) since the pool was made. */
    stats: () => ({ queued: queue.length, running: slots.filter((s) => s.job).length, started, refused }),

    async close(): Promise<void> {
      closed = true
      for (const job of queue.splice(0)) job.reject(new Error('the scrypt pool is closed'))
      await Promise.all(slots.splice(0).map((s) => s.worker.terminate()))
    },
  }
}

export type ScryptPool = ReturnType<typeof createScryptPool>

let shared: ScryptPool | undefined

/** The process's scrypt pool (one worker, created on first use; idle workers do not keep the process alive). */
export function scryptPool(): ScryptPool {
  shared ??= createScryptPool()
  return shared
}
