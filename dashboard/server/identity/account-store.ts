import type Database from 'better-sqlite3'
import { migrateSqlite, type SqliteMigration } from '../../../devices/migrations.ts'

/**
 * Where accounts live: users and their sessions. Two implementations, one contract
 * (account-store.contract.test.ts): SQLite, the registry database of the data directory (here),
 * and PostgreSQL shared by several nodes (account-store-postgres.ts).
 *
 * Users are read synchronously (the live stream checks a user's rights on each subscription and
 * each push to installers); PostgreSQL answers them from an in-memory read model. Sessions are
 * read asynchronously, fresh from the database on every check: a session opened through one node
 * must work on the next request, whichever node serves it.
 */

export interface UserRow {
  username: string
  password_hash: string
  role: 'admin' | 'operator' | 'installer'
  /** JSON array of city ids, or null. */
  cities: string | null
  disabled: number
  created_at: string
  updated_at: string
}

export type UserPatchRow = Pick<UserRow, 'role' | 'cities' | 'disabled' | 'updated_at'>

/** Thrown by stores; accounts.ts turns it into its AccountError. */
export class AccountStoreError extends Error {
  constructor(
    message: string,
    readonly code: 'conflict' | 'last-admin',
  ) {
    super(message)
    this.name = 'AccountStoreError'
  }
}

export interface AccountStore {
  getUser(username: string): UserRow | undefined
  /** Ordered by username. */
  listUsers(): UserRow[]
  /** A taken username rejects with AccountStoreError 'conflict'. */
  insertUser(row: UserRow): Promise<void>
  /**
   * Updates role, cities and disabled, and ends the user's sessions, in one transaction. When
   * the user stops being an enabled admin and no other enabled admin remains, changes nothing and
   * rejects with AccountStoreError 'last-admin'.
   */
  updateUser(username: string, patch: UserPatchRow): Promise<UserRow>
  /** Sets the password hash and ends the user's sessions. */
  setPassword(username: string, hash: string, at: string): Promise<void>
  /** Removes a user and their sessions; true when the user existed. */
  removeUser(username: string): Promise<boolean>

  insertSession(tokenHash: string, username: string, createdAt: number, expiresAt: number): Promise<void>
  getSession(tokenHash: string): Promise<{ username: string; expires_at: number } | undefined>
  extendSession(tokenHash: string, expiresAt: number): Promise<void>
  /** True when it existed. */
  removeSession(tokenHash: string): Promise<boolean>
  /** Deletes sessions expired at `now`. */
  pruneSessions(now: number): Promise<void>
  close(): Promise<void>
}

/** Accounts schema, SQLite. Version 1 is the schema from before migrations, adopted as is. */
export const SQLITE_ACCOUNT_MIGRATIONS: readonly SqliteMigration[] = [
  {
    version: 1,
    name: 'users and sessions',
    up: `
      CREATE TABLE IF NOT EXISTS users (
        username TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL,
        cities TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS user_sessions (
        token_hash TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS user_sessions_by_user ON user_sessions (username);
      CREATE INDEX IF NOT EXISTS user_sessions_by_expiry ON user_sessions (expires_at);`,
  },
  {
    version: 2,
    name: 'accounts can be disabled',
    // Databases made by releases with accounts that could be disabled already have the column.
    up: (db) => {
      if (!(db.prepare('PRAGMA table_info(users)').all() as { name: string }[]).some((c) => c.name === 'disabled')) {
        db.exec('ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0')
      }
    },
  },
]

/** The accounts in a SQLite database (the registry file); the database is the caller's to close. */
export function createSqliteAccountStore(db: Database.Database): AccountStore {
  migrateSqlite(db, 'accounts', SQLITE_ACCOUNT_MIGRATIONS)
  const s = {
    get: db.prepare<[string], UserRow>('SELECT * FROM users WHERE username = ?'),
    list: db.prepare<[], UserRow>('SELECT * FROM users ORDER BY username'),
    insert: db.prepare('INSERT INTO users (username, password_hash, role, cities, disabled, created_at, updated_at) VALUES (@username, @password_hash, @role, @cities, @disabled, @created_at, @updated_at)'),
    setPassword: db.prepare<[string, string, string]>('UPDATE users SET password_hash = ?, updated_at = ? WHERE username = ?'),
    removeUser: db.prepare<[string]>('DELETE FROM users WHERE username = ?'),
    update: db.prepare<[string, string | null, number, string, string]>('UPDATE users SET role = ?, cities = ?, disabled = ?, updated_at = ? WHERE username = ?'),
    otherEnabledAdmins: db.prepare<[string], { n: number }>("SELECT count(*) AS n FROM users WHERE role = 'admin' AND disabled = 0 AND username <> ?"),
    insertSession: db.prepare<[string, string, number, number]>('INSERT INTO user_sessions (token_hash, username, created_at, expires_at) VALUES (?, ?, ?, ?)'),
    session: db.prepare<[string], { username: string; expires_at: number }>('SELECT username, expires_at FROM user_sessions WHERE token_hash = ?'),
    extend: db.prepare<[number, string]>('UPDATE user_sessions SET expires_at = ? WHERE token_hash = ?'),
    removeSession: db.prepare<[string]>('DELETE FROM user_sessions WHERE token_hash = ?'),
    removeSessionsOf: db.prepare<[string]>('DELETE FROM user_sessions WHERE username = ?'),
    prune: db.prepare<[number]>('DELETE FROM user_sessions WHERE expires_at <= ?'),
  }
  // Synchronous underneath: each write is done when the call returns, the promise only reports it.
  return {
    getUser: (username) => s.get.get(username),
    listUsers: () => s.list.all(),
    async insertUser(row) {
      try {
        s.insert.run(row)
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new AccountStoreError(`a user '${row.username}' already exists`, 'conflict')
        throw err
      }
    },
    async updateUser(username, patch) {
      return db.transaction(() => {
        const row = s.get.get(username)
        if (!row) throw new Error(`no user '${username}'`)
        const staysActiveAdmin = patch.role === 'admin' && !patch.disabled
        if (row.role === 'admin' && !row.disabled && !staysActiveAdmin && s.otherEnabledAdmins.get(username)!.n === 0) {
          throw new AccountStoreError(`'${username}' is the last enabled admin: make another admin first`, 'last-admin')
        }
        s.update.run(patch.role, patch.cities, patch.disabled, patch.updated_at, username)
        s.removeSessionsOf.run(username)
        return s.get.get(username)!
      })()
    },
    async setPassword(username, hash, at) {
      db.transaction(() => {
        s.setPassword.run(hash, at, username)
        s.removeSessionsOf.run(username)
      })()
    },
    async removeUser(username) {
      return db.transaction(() => {
        s.removeSessionsOf.run(username)
        return s.removeUser.run(username).changes > 0
      })()
    },
    async insertSession(tokenHash, username, createdAt, expiresAt) {
      s.insertSession.run(tokenHash, username, createdAt, expiresAt)
    },
    getSession: async (tokenHash) => s.session.get(tokenHash),
    async extendSession(tokenHash, expiresAt) {
      s.extend.run(expiresAt, tokenHash)
    },
    removeSession: async (tokenHash) => s.removeSession.run(tokenHash).changes > 0,
    async pruneSessions(now) {
      s.prune.run(now)
    },
    async close() {},
  }
}
