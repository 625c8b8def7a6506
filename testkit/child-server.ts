import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createConnection, createServer, type NetConnectOpts } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * The lifecycle the tests' real servers share (influxd, redis-server, postgres, haproxy): spawn
 * in the foreground, keep the tail of the output for error messages, wait until a probe answers,
 * stop with a signal (SIGKILL if it lingers) and remove the server's temp dir. The servers'
 * own modules only say which binary, which arguments and which probe.
 */

export interface ChildServerOptions {
  /** Names the server in error messages. */
  name: string
  command: string
  args: string[]
  /** The server's own temp dir (from tempDir), removed by close(). */
  dir: string
  /** e.g. postgres refuses to run as root, so runs as another user. */
  uid?: number
  gid?: number
  env?: NodeJS.ProcessEnv
  /** One readiness check answering true when ready; `what` (e.g. 'answering PING on port 6379') names it in errors. Without it, ready once spawned. */
  ready?: { what: string; probe: () => Promise<boolean> }
  readyTimeoutMs?: number
  /** How stop() asks the server to shut down; SIGTERM unless told. */
  stopSignal?: NodeJS.Signals
}

export interface ChildServer {
  /** Spawns the server and waits until its probe answers; throws with its output if it exits or never answers. */
  start(): Promise<void>
  /** The stop signal (SIGKILL after 15 s), then waits for the exit. Nothing if not running. */
  stop(): Promise<void>
  /** SIGKILL, then waits for the exit. */
  kill(): Promise<void>
  /** stop(), then removes the temp dir. */
  close(): Promise<void>
  /** The last 4000 characters the current run wrote. */
  output(): string
}

const OUTPUT_KEPT = 4000
const POLL_MS = 100
const KILL_AFTER_MS = 15_000

// Every server this process started, killed when it exits so none outlives the test run.
const running = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/**
 * createChildServer and its first start. When that start fails, the server is closed (its temp dir
 * removed) before the error is thrown: the caller gets no handle to close it with.
 */
export async function startChildServer(opts: ChildServerOptions): Promise<ChildServer> {
  const server = createChildServer(opts)
  try {
    await server.start()
  } catch (err) {
    await server.close()
    throw err
  }
  return server
}

/** A fresh directory under the system temp dir, e.g. /tmp/piazza-redis-XXXXXX. */
export function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `piazza-${name}-`))
}

export function createChildServer(opts: ChildServerOptions): ChildServer {
  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000
  let child: ChildProcess | undefined
  let output = ''

  async function start(): Promise<void> {
    if (child) throw new Error(`${opts.name} is already running`)
    output = ''
    const proc = spawn(opts.command, opts.args, { uid: opts.uid, gid: opts.gid, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] })
    child = proc
    running.add(proc)
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-OUTPUT_KEPT))
    proc.stdout!.on('data', keep)
    proc.stderr!.on('data', keep)
    const gone = () => {
      running.delete(proc)
      if (child === proc) child = undefined
    }
    proc.once('exit', gone)
    // A missing binary arrives as an 'error' event, which must not go unhandled.
    proc.once('error', (err) => {
      keep(Buffer.from(`\n${err.message}`))
      gone()
    })
    await waitUntilReady(proc)
  }

  async function waitUntilReady(proc: ChildProcess): Promise<void> {
    const what = opts.ready?.what ?? 'starting'
    const deadline = Date.now() + readyTimeoutMs
    // Without a probe, one turn of the event loop lets a spawn error (missing binary) arrive first.
    if (!opts.ready) await new Promise((resolve) => setImmediate(resolve))
    while (Date.now() < deadline) {
      if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) {
        throw new Error(`${opts.name} exited (${proc.exitCode ?? proc.signalCode}) before ${what}:\n${output}`)
      }
      if (!opts.ready || (await opts.ready.probe())) return
      await new Promise((resolve) => setTimeout(resolve, POLL_MS))
    }
    proc.kill('SIGKILL')
    throw new Error(`${opts.name} still not ${what} after ${readyTimeoutMs / 1000} s:\n${output}`)
  }

  async function signal(sig: NodeJS.Signals): Promise<void> {
    const proc = child
    if (!proc) return
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
    proc.kill(sig)
    const timer = setTimeout(() => proc.kill('SIGKILL'), KILL_AFTER_MS)
    await exited
    clearTimeout(timer)
  }

  const stop = () => signal(opts.stopSignal ?? 'SIGTERM')
  return {
    start,
    stop,
    kill: () => signal('SIGKILL'),
    async close() {
      await stop()
      rmSync(opts.dir, { recursive: true, force: true })
    },
    output: () => output,
  }
}

/** A port that was free a moment ago: bound to 0 on loopback, then released. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

/**
 * A readiness probe's question: sends `request` on a socket (a TCP port or a Unix socket path)
 * and answers true once what came back satisfies `answered`, false on an error, a close or a
 * second of silence first.
 */
export function socketAnswers(target: NetConnectOpts, request: string, answered: (text: string) => boolean): Promise<boolean> {
  return new Promise((resolve) => {
    let text = ''
    const socket = createConnection(target)
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once('error', () => done(false))
    socket.once('connect', () => socket.write(request))
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString()
      if (answered(text)) done(true)
    })
    socket.once('close', () => done(answered(text)))
  })
}
