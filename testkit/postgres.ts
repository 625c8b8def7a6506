import { randomBytes } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { chownSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { startChildServer, freePort, tempDir } from './child-server.ts'

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

const USER = 'piazza'

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
  const dir = tempDir('postgres')
  if (user) chownSync(dir, user.uid, user.gid)
  const dataDir = join(dir, 'data')
  const env = { ...process.env, LC_ALL: 'C', HOME: dir }

  execFileSync(join(bin, 'initdb'), ['-D', dataDir, '-U', USER, '--auth=trust', '-E', 'UTF8', '--no-sync', '--locale=C'], {
    ...user,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })

  const port = await freePort()
  const url = `postgres://${USER}@127.0.0.1:${port}/postgres`
  const server = await startChildServer({
    name: 'postgres',
    command: join(bin, 'postgres'),
    // Durability settings off: a test server's data is thrown away, and fsync on a busy disk only slows the run.
    args: ['-D', dataDir, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'],
    dir,
    ...user,
    env,
    ready: { what: `accepting connections at ${url}`, probe: () => connects(url) },
    readyTimeoutMs: 60_000,
    stopSignal: 'SIGINT', // fast shutdown
  })
  return { url, port, createDatabase: () => createDatabase(url), stop: server.close }
}

async function connects(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
    await client.end()
    return true
  } catch {
    await client.end().catch(() => {})
    return false
  }
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
