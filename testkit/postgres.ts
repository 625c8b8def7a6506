import { randomBytes } from 'node:crypto'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { freePort } from './influxd.ts'

/**
 * A private PostgreSQL for tests, from Debian's `postgresql` package (test/support/prepare.sh
 * installs it): initdb in a temp dir, its own free loopback port, no socket file shared with
 * anyone. PostgreSQL refuses to run as root, so when the tests run as root the server runs as
 * the `postgres` system user the package creates. Trust authentication on loopback: a test
 * server, never a template for production.
 */

export interface Postgres {
  /** postgres://piazza@127.0.0.1:port/postgres — the maintenance database. */
  url: string
  port: number
  /** Creates a fresh, empty database and answers its URL (one per test keeps tests apart). */
  createDatabase(): Promise<string>
  /** Fast shutdown (SIGINT), waits for the exit and removes the data dir. */
  stop(): Promise<void>
}

const READY_TIMEOUT_MS = 60_000
const USER = 'piazza'

// Every server this process started, killed when it exits so none outlives the test run.
const running = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

function binDir(): string {
  const root = '/usr/lib/postgresql'
  let versions: string[] = []
  try {
    versions = readdirSync(root).filter((v) => /^\d+$/.test(v))
  } catch {
    // not installed
  }
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0]
  if (!newest) throw new Error(`no PostgreSQL under ${root}: run test/support/prepare.sh (installs Debian's postgresql)`)
  return join(root, newest, 'bin')
}

/** Whom to run as: ourselves, or the `postgres` user when we are root. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim())
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim())
  return { uid, gid }
}

export async function startPostgres(): Promise<Postgres> {
  const bin = binDir()
  const user = runAs()
  const dir = mkdtempSync(join(tmpdir(), 'piazza-postgres-'))
  if (user) chownSync(dir, user.uid, user.gid)
  const dataDir = join(dir, 'data')
  const spawnAs = user ? { uid: user.uid, gid: user.gid } : {}
  const env = { ...process.env, LC_ALL: 'C', HOME: dir }

  execFileSync(join(bin, 'initdb'), ['-D', dataDir, '-U', USER, '--auth=trust', '-E', 'UTF8', '--no-sync', '--locale=C'], {
    ...spawnAs,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })

  const port = await freePort()
  // Durability settings off: a test server's data is thrown away, and fsync on a busy disk only slows the run.
  const args = ['-D', dataDir, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200']
  const proc = spawn(join(bin, 'postgres'), args, { ...spawnAs, env, stdio: ['ignore', 'pipe', 'pipe'] })
  running.add(proc)
  let output = ''
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000))
  proc.stdout!.on('data', keep)
  proc.stderr!.on('data', keep)
  proc.once('error', (err) => keep(Buffer.from(`\n${err.message}`)))
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  void exited.then(() => running.delete(proc))

  const url = `postgres://${USER}@127.0.0.1:${port}/postgres`
  await waitForConnection(url, proc, () => output)

  return {
    url,
    port,
    createDatabase: () => createDatabase(url),
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGINT')
        const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000)
        await exited
        clearTimeout(timer)
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

async function waitForConnection(url: string, proc: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) {
      throw new Error(`postgres exited (${proc.exitCode ?? proc.signalCode}) before accepting connections:\n${output()}`)
    }
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 })
    try {
      await client.connect()
      await client.query('SELECT 1')
      await client.end()
      return
    } catch {
      await client.end().catch(() => {})
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  proc.kill('SIGKILL')
  throw new Error(`postgres did not accept connections at ${url} within ${READY_TIMEOUT_MS / 1000} s:\n${output()}`)
}

/** Creates a fresh, empty database on the server of `url` (its maintenance database) and answers its URL. */
export async function createDatabase(url: string): Promise<string> {
  const name = `test_${process.pid}_${randomBytes(4).toString('hex')}`
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(`CREATE DATABASE ${name}`)
  } finally {
    await client.end()
  }
  const next = new URL(url)
  next.pathname = `/${name}`
  return next.toString()
}
