import type pg from 'pg'
import { migratePostgres, type PostgresMigration } from '../../../devices/migrations.ts'
import { AccountStoreError, type AccountStore, type UserRow } from './account-store.ts'

/**
 * Accounts in PostgreSQL, shared by every node. Sessions are read from the database on every
 * check (a login through one node holds on the next request to any other). Users — a handful of
 * rows read on hot paths of the live stream — are served from an in-memory read model loaded at
 * start and kept current by this node's own writes and by polling the `user_changes` log every
 * `pollMs` (default 500 ms) for other nodes' changes, as the registry does. Writes to users take
 * one advisory lock, so the "last enabled admin" rule holds across nodes and change-log numbers
 * commit in order.
 */

export const POSTGRES_ACCOUNT_MIGRATIONS: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'users and sessions',
    up: `
      CREATE TABLE IF NOT EXISTS users (
        username TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL,
        cities TEXT,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS user_sessions (
        token_hash TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS user_sessions_by_user ON user_sessions (username);
      CREATE INDEX IF NOT EXISTS user_sessions_by_expiry ON user_sessions (expires_at);
      CREATE TABLE IF NOT EXISTS user_changes (
        seq BIGSERIAL PRIMARY KEY,
        username TEXT NOT NULL,
        at BIGINT NOT NULL
      );`,
  },
]

const WRITE_LOCK = 7_261_003

export interface PostgresAccountStoreOptions {
  pool: pg.Pool
  /** How often other nodes' user changes are read. Default 500 ms. */
  pollMs?: number
  /** A poll that failed (the next one retries). */
  onError?(err: unknown): void
  now?: () => number
}

export async function createPostgresAccountStore(options: PostgresAccountStoreOptions): Promise<AccountStore> {
  const { pool, now = Date.now } = options
  await migratePostgres(pool, 'accounts', POSTGRES_ACCOUNT_MIGRATIONS)
  const users = new Map<string, UserRow>()
  let seenSeq = 0
  {
    const client = await pool.connect()
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
      for (const row of (await client.query<UserRow>('SELECT * FROM users')).rows) users.set(row.username, row)
      seenSeq = Number((await client.query<{ seq: string | null }>('SELECT max(seq) AS seq FROM user_changes')).rows[0]?.seq ?? 0)
      await client.query('COMMIT')
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      client.release()
    }
  }

  /** Runs `write` under the write lock, logs the user's change, commits, then refreshes the read model. */
  async function logged<T>(username: string, write: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      await client.query('SELECT pg_advisory_xact_lock($1)', [WRITE_LOCK])
      const result = await write(client)
      await client.query('INSERT INTO user_changes (username, at) VALUES ($1, $2)', [username, now()])
      const row = (await client.query<UserRow>('SELECT * FROM users WHERE username = $1', [username])).rows[0]
      await client.query('COMMIT')
      if (row) users.set(username, row)
      else users.delete(username)
      return result
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      if ((err as { code?: string }).code === '23505') throw new AccountStoreError(`a user '${username}' already exists`, 'conflict')
      throw err
    } finally {
      client.release()
    }
  }

  let polling: Promise<void> | undefined
  function poll(): Promise<void> {
    polling ??= (async () => {
      try {
        const { rows } = await pool.query<{ seq: string; username: string } & Partial<UserRow>>(
          'SELECT c.seq, c.username, u.password_hash, u.role, u.cities, u.disabled, u.created_at, u.updated_at FROM user_changes c LEFT JOIN users u ON u.username = c.username WHERE c.seq > $1 ORDER BY c.seq',
          [seenSeq],
        )
        for (const { seq, ...row } of rows) {
          seenSeq = Number(seq)
          // Always the current row, so applying our own changes again is harmless.
          if (row.role === null || row.role === undefined) users.delete(row.username)
          else users.set(row.username, row as UserRow)
        }
      } finally {
        polling = undefined
      }
    })()
    return polling
  }
  const timer = setInterval(() => poll().catch((err: unknown) => options.onError?.(err)), options.pollMs ?? 500)
  timer.unref()

  return {
    getUser: (username) => users.get(username),
    listUsers: () => [...users.values()].sort((a, b) => (a.username < b.username ? -1 : a.username > b.username ? 1 : 0)),

    async insertUser(row) {
      await logged(row.username, (client) =>
        client.query('INSERT INTO users (username, password_hash, role, cities, disabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
          row.username,
          row.password_hash,
          row.role,
          row.cities,
          row.disabled,
          row.created_at,
          row.updated_at,
        ]),
      )
    },

    async updateUser(username, patch) {
      await logged(username, async (client) => {
        const row = (await client.query<UserRow>('SELECT * FROM users WHERE username = $1', [username])).rows[0]
        if (!row) throw new Error(`no user '${username}'`)
        const staysActiveAdmin = patch.role === 'admin' && !patch.disabled
        if (row.role === 'admin' && !row.disabled && !staysActiveAdmin) {
          const others = (await client.query<{ n: number }>("SELECT count(*)::int AS n FROM users WHERE role = 'admin' AND disabled = 0 AND username <> $1", [username])).rows[0]!.n
          if (others === 0) throw new AccountStoreError(`'${username}' is the last enabled admin: make another admin first`, 'last-admin')
        }
        await client.query('UPDATE users SET role = $1, cities = $2, disabled = $3, updated_at = $4 WHERE username = $5', [patch.role, patch.cities, patch.disabled, patch.updated_at, username])
        await client.query('DELETE FROM user_sessions WHERE username = $1', [username])
      })
      return users.get(username)!
    },

    async setPassword(username, hash, at) {
      await logged(username, async (client) => {
        await client.query('UPDATE users SET password_hash = $1, updated_at = $2 WHERE username = $3', [hash, at, username])
        await client.query('DELETE FROM user_sessions WHERE username = $1', [username])
      })
    },

    removeUser(username) {
      return logged(username, async (client) => {
        await client.query('DELETE FROM user_sessions WHERE username = $1', [username])
        return ((await client.query('DELETE FROM users WHERE username = $1', [username])).rowCount ?? 0) > 0
      })
    },

    async insertSession(tokenHash, username, createdAt, expiresAt) {
      await pool.query('INSERT INTO user_sessions (token_hash, username, created_at, expires_at) VALUES ($1, $2, $3, $4)', [tokenHash, username, createdAt, expiresAt])
    },

    async getSession(tokenHash) {
      const row = (await pool.query<{ username: string; expires_at: string }>('SELECT username, expires_at FROM user_sessions WHERE token_hash = $1', [tokenHash])).rows[0]
      return row && { username: row.username, expires_at: Number(row.expires_at) }
    },

    async extendSession(tokenHash, expiresAt) {
      await pool.query('UPDATE user_sessions SET expires_at = $1 WHERE token_hash = $2', [expiresAt, tokenHash])
    },

    async removeSession(tokenHash) {
      return ((await pool.query('DELETE FROM user_sessions WHERE token_hash = $1', [tokenHash])).rowCount ?? 0) > 0
    },

    async pruneSessions(t) {
      await pool.query('DELETE FROM user_sessions WHERE expires_at <= $1', [t])
    },

    async close() {
      clearInterval(timer)
      await polling?.catch(() => {})
    },
  }
}
