import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * A private InfluxDB 1.x for tests: its own config, ports and data dir, nothing else enabled.
 * Assumes /usr/bin/influxd (test/support/prepare.sh installs it).
 */

export interface Influxd {
  url: string
  port: number
  dataDir: string
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>
  /** SIGKILL, then waits for the exit. */
  kill(): Promise<void>
  /** Starts again on the same port and data dir. */
  start(): Promise<void>
}

export interface InfluxdOptions {
  /** Enables authentication with this admin user. */
  auth?: { username: string; password: string }
  /** How often expired shard groups are deleted, e.g. '1s' (InfluxDB's default is 30m). */
  retentionCheckInterval?: string
}

const INFLUXD = '/usr/bin/influxd'
const READY_TIMEOUT_MS = 30_000

// Every influxd this process started, killed when it exits so none outlives the test run.
const running = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

export async function startInfluxd(opts: InfluxdOptions = {}): Promise<Influxd> {
  const dataDir = mkdtempSync(join(tmpdir(), 'piazza-influxd-'))
  const port = await freePort()
  const rpcPort = await freePort()
  const url = `http://127.0.0.1:${port}`
  const configFile = join(dataDir, 'influxdb.conf')
  writeFileSync(configFile, config(dataDir, port, rpcPort, opts.auth !== undefined, opts.retentionCheckInterval ?? '30m'))

  let child: ChildProcess | undefined
  let output = ''

  async function start(): Promise<void> {
    if (child) throw new Error('influxd is already running')
    output = ''
    const proc = spawn(INFLUXD, ['-config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] })
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
    // A missing binary arrives as an 'error' event, which must not go unhandled.
    proc.once('error', (err) => {
      keep(Buffer.from(`\n${err.message}`))
      gone()
    })
    await waitForPing(url, proc, () => output)
  }

  async function signal(sig: NodeJS.Signals): Promise<void> {
    const proc = child
    if (!proc) return
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
    proc.kill(sig)
    const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000)
    await exited
    clearTimeout(timer)
  }

  await start()
  if (opts.auth) {
    // 1.x lets the first admin user be created without credentials once auth is enabled.
    const { username, password } = opts.auth
    const q = `CREATE USER "${username.replace(/"/g, '\\"')}" WITH PASSWORD '${password.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}' WITH ALL PRIVILEGES`
    const res = await fetch(`${url}/query`, { method: 'POST', body: new URLSearchParams({ q }) })
    if (!res.ok) throw new Error(`influxd: creating the admin user failed: ${res.status} ${await res.text()}`)
  }

  return {
    url,
    port,
    dataDir,
    start,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
  }
}

function config(dir: string, port: number, rpcPort: number, auth: boolean, retentionCheckInterval: string): string {
  return `reporting-disabled = true
reporting-enabled = false
bind-address = "127.0.0.1:${rpcPort}"

[meta]
  dir = "${join(dir, 'meta')}"
  logging-enabled = false

[data]
  dir = "${join(dir, 'data')}"
  wal-dir = "${join(dir, 'wal')}"
  query-log-enabled = false

[monitor]
  store-enabled = false

[retention]
  enabled = true
  check-interval = "${retentionCheckInterval}"

[http]
  enabled = true
  bind-address = "127.0.0.1:${port}"
  auth-enabled = ${auth}
  log-enabled = false
  pprof-enabled = false

[logging]
  level = "error"
  suppress-logo = true

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false

[ifql]
  enabled = false

[[graphite]]
  enabled = false

[[collectd]]
  enabled = false

[[opentsdb]]
  enabled = false

[[udp]]
  enabled = false
`
}

async function waitForPing(url: string, proc: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) {
      throw new Error(`influxd exited (${proc.exitCode ?? proc.signalCode}) before answering /ping:\n${output()}`)
    }
    try {
      const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) })
      if (res.status === 204) return
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  proc.kill('SIGKILL')
  throw new Error(`influxd did not answer /ping at ${url} within ${READY_TIMEOUT_MS / 1000} s:\n${output()}`)
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
