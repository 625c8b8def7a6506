import type Database from 'better-sqlite3'
import { createHash, randomBytes } from 'node:crypto'
import Type, { type Static } from 'typebox'
import { cityIds, findCity } from '../../../devices/region.ts'
import { generateSecret, hashPassword as hashSecret, verifyPassword as verifySecret } from '../../../devices/secrets.ts'

/**
 * People who use the dashboard and API, and their sessions. Stored in the registry database
 * (tables `users` and `user_sessions`). Passwords are scrypt hashes, computed in a worker thread
 * behind a bounded queue (devices/scrypt-pool.ts: a full queue refuses with ScryptBusyError);
 * session tokens are random 32 bytes of which only the SHA-256 is stored, so a copy of the
 * database does not let anyone log in.
 */

export const RoleSchema = Type.Union([Type.Literal('admin'), Type.Literal('operator'), Type.Literal('installer')])
export type Role = Static<typeof RoleSchema>
export const ROLES = RoleSchema.anyOf.map((s) => s.const) as readonly Role[]

export const USERNAME_PATTERN = '^[a-z0-9][a-z0-9._-]{1,63}$'
export const PASSWORD_MIN_LENGTH = 8
export const PASSWORD_MAX_LENGTH = 256

export const UserSchema = Type.Object({
  username: Type.String(),
  role: RoleSchema,
  /** City ids an installer works in (used to scope installers); absent means no restriction. */
  cities: Type.Optional(Type.Array(Type.String())),
  /** Present (true) only on disabled accounts, which can neither log in nor keep a session. */
  disabled: Type.Optional(Type.Boolean()),
  createdAt: Type.String(),
})
export type User = Static<typeof UserSchema>

/** What an admin may change about a user (the password has its own call, setPassword). */
export interface UserPatch {
  role?: Role
  /** City ids or names; null or [] removes the assignment. */
  cities?: string[] | null
  disabled?: boolean
}

export interface NewUser {
  username: string
  password: string
  role: Role
  cities?: string[]
}

export class AccountError extends Error {
  constructor(
    message: string,
    readonly code: 'invalid' | 'conflict' | 'not-found',
  ) {
    super(message)
    this.name = 'AccountError'
  }
}

export interface Session {
  user: User
  /** Epoch ms. */
  expiresAt: number
  /** This lookup pushed the expiry forward (a cookie carrying the session should be renewed). */
  extended?: boolean
}

export interface AccountsOptions {
  db: Database.Database
  /** Session lifetime since last use (sliding), default 12 h. */
  sessionTtlMs?: number
  now?: () => number
}

interface UserRow {
  username: string
  password_hash: string
  role: Role
  cities: string | null
  disabled: number
  created_at: string
  updated_at: string
}

const SCHEMA = `
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
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS user_sessions_by_user ON user_sessions (username);
CREATE INDEX IF NOT EXISTS user_sessions_by_expiry ON user_sessions (expires_at);
`

const DEFAULT_SESSION_TTL_MS = 12 * 3_600_000
/** A session's expiry is pushed forward at most this often, so reads do not write on every request. */
const EXTEND_GRANULARITY_MS = 60_000

export const INITIAL_ADMIN = 'admin'

function toUser(row: UserRow): User {
  const user: User = { username: row.username, role: row.role, createdAt: row.created_at }
  if (row.cities !== null) user.cities = JSON.parse(row.cities) as string[]
  if (row.disabled) user.disabled = true
  return user
}

/** City ids from ids or names; throws on an unknown one. */
function normalizeCities(cities: readonly string[]): string[] {
  const out: string[] = []
  for (const c of cities) {
    const city = findCity(c)
    if (!city) throw new AccountError(`unknown city '${c}'; cities: ${cityIds.join(', ')}`, 'invalid')
    if (!out.includes(city.id)) out.push(city.id)
  }
  return out
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url')
}

export function normalizeUsername(username: string): string {
  return username.trim().toLowerCase()
}

export function createAccounts(options: AccountsOptions) {
  const { db, sessionTtlMs = DEFAULT_SESSION_TTL_MS, now = Date.now } = options
  db.exec(SCHEMA)
  // Databases made before accounts could be disabled.
  if (!(db.prepare('PRAGMA table_info(users)').all() as { name: string }[]).some((c) => c.name === 'disabled')) {
    db.exec('ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0')
  }
  const s = {
    count: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM users'),
    get: db.prepare<[string], UserRow>('SELECT * FROM users WHERE username = ?'),
    list: db.prepare<[], UserRow>('SELECT * FROM users ORDER BY username'),
    insert: db.prepare<[string, string, string, string | null, string, string]>(
      'INSERT INTO users (username, password_hash, role, cities, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    setPassword: db.prepare<[string, string, string]>('UPDATE users SET password_hash = ?, updated_at = ? WHERE username = ?'),
    removeUser: db.prepare<[string]>('DELETE FROM users WHERE username = ?'),
    update: db.prepare<[string, string | null, number, string, string]>('UPDATE users SET role = ?, cities = ?, disabled = ?, updated_at = ? WHERE username = ?'),
    enabledAdmins: db.prepare<[], { n: number }>("SELECT count(*) AS n FROM users WHERE role = 'admin' AND disabled = 0"),
    insertSession: db.prepare<[string, string, number, number]>(
      'INSERT INTO user_sessions (token_hash, username, created_at, expires_at) VALUES (?, ?, ?, ?)',
    ),
    session: db.prepare<[string], { username: string; expires_at: number }>('SELECT username, expires_at FROM user_sessions WHERE token_hash = ?'),
    extend: db.prepare<[number, string]>('UPDATE user_sessions SET expires_at = ? WHERE token_hash = ?'),
    removeSession: db.prepare<[string]>('DELETE FROM user_sessions WHERE token_hash = ?'),
    removeSessionsOf: db.prepare<[string]>('DELETE FROM user_sessions WHERE username = ?'),
    prune: db.prepare<[number]>('DELETE FROM user_sessions WHERE expires_at <= ?'),
  }
  // Verifying against this when the user does not exist costs the same scrypt, so response time
  // does not tell which usernames exist.
  let decoy: Promise<string> | undefined
  const decoyHash = () =>
    (decoy ??= hashSecret(generateSecret()).catch((err: unknown) => {
      decoy = undefined // made again on the next attempt (the scrypt queue may have been full)
      throw err
    }))
  let lastPrune = 0

  function checkPassword(password: string): void {
    if (password.length < PASSWORD_MIN_LENGTH) throw new AccountError(`a password needs at least ${PASSWORD_MIN_LENGTH} characters`, 'invalid')
    if (password.length > PASSWORD_MAX_LENGTH) throw new AccountError(`a password has at most ${PASSWORD_MAX_LENGTH} characters`, 'invalid')
  }

  const accounts = {
    sessionTtlMs,

    count(): number {
      return s.count.get()!.n
    },

    get(username: string): User | undefined {
      const row = s.get.get(normalizeUsername(username))
      return row && toUser(row)
    },

    list(): User[] {
      return s.list.all().map(toUser)
    },

    async create(input: NewUser): Promise<User> {
      const username = normalizeUsername(input.username)
      if (!new RegExp(USERNAME_PATTERN).test(username)) {
        throw new AccountError(`username '${input.username}' must be 2–64 characters of a–z, 0–9, '.', '_' or '-'`, 'invalid')
      }
      if (!(ROLES as readonly string[]).includes(input.role)) throw new AccountError(`unknown role '${input.role}'; roles: ${ROLES.join(', ')}`, 'invalid')
      checkPassword(input.password)
      const hash = await hashSecret(input.password)
      if (s.get.get(username)) throw new AccountError(`a user '${username}' already exists`, 'conflict')
      const cities = input.cities && input.cities.length > 0 ? normalizeCities(input.cities) : undefined
      const at = new Date(now()).toISOString()
      s.insert.run(username, hash, input.role, cities ? JSON.stringify(cities) : null, at, at)
      return toUser(s.get.get(username)!)
    },

    /**
     * Changes a user's role, cities or disabled flag. Any such change ends the user's sessions:
     * they log in again and get exactly their new rights everywhere (API and live stream alike).
     * The last enabled admin cannot be demoted or disabled.
     */
    update(username: string, patch: UserPatch): { before: User; after: User; sessionsEnded: boolean } {
      const name = normalizeUsername(username)
      const row = s.get.get(name)
      if (!row) throw new AccountError(`no user '${name}'`, 'not-found')
      const before = toUser(row)
      if (patch.role !== undefined && !(ROLES as readonly string[]).includes(patch.role)) {
        throw new AccountError(`unknown role '${patch.role}'; roles: ${ROLES.join(', ')}`, 'invalid')
      }
      const role = patch.role ?? row.role
      const cities =
        patch.cities === undefined ? row.cities : patch.cities === null || patch.cities.length === 0 ? null : JSON.stringify(normalizeCities(patch.cities))
      const disabled = patch.disabled === undefined ? row.disabled : patch.disabled ? 1 : 0
      const changed = role !== row.role || cities !== row.cities || disabled !== row.disabled
      if (!changed) return { before, after: before, sessionsEnded: false }
      return db.transaction(() => {
        const wasActiveAdmin = row.role === 'admin' && !row.disabled
        const staysActiveAdmin = role === 'admin' && !disabled
        if (wasActiveAdmin && !staysActiveAdmin && s.enabledAdmins.get()!.n <= 1) {
          throw new AccountError(`'${name}' is the last enabled admin: make another admin first`, 'conflict')
        }
        s.update.run(role, cities, disabled, new Date(now()).toISOString(), name)
        s.removeSessionsOf.run(name)
        return { before, after: toUser(s.get.get(name)!), sessionsEnded: true }
      })()
    },

    /** Sets a new password and ends all of the user's sessions. */
    async setPassword(username: string, password: string): Promise<void> {
      const name = normalizeUsername(username)
      if (!s.get.get(name)) throw new AccountError(`no user '${name}'`, 'not-found')
      checkPassword(password)
      const hash = await hashSecret(password)
      db.transaction(() => {
        s.setPassword.run(hash, new Date(now()).toISOString(), name)
        s.removeSessionsOf.run(name)
      })()
    },

    remove(username: string): boolean {
      const name = normalizeUsername(username)
      return db.transaction(() => {
        s.removeSessionsOf.run(name)
        return s.removeUser.run(name).changes > 0
      })()
    },

    /**
     * On first start (no users at all) creates `admin` with role admin. Returns the password only
     * when it was generated here, so the caller can print it once; it is never stored in clear.
     */
    async ensureInitialAdmin(password?: string): Promise<{ created: boolean; generatedPassword?: string }> {
      if (accounts.count() > 0) return { created: false }
      const generated = password === undefined ? generateSecret() : undefined
      await accounts.create({ username: INITIAL_ADMIN, password: password ?? generated!, role: 'admin' })
      return { created: true, generatedPassword: generated }
    },

    /** The user when the password is right, otherwise null (also for unknown users, in the same time). */
    async verifyPassword(username: string, password: string): Promise<User | null> {
      const row = s.get.get(normalizeUsername(username))
      if (!row) {
        await verifySecret(password, await decoyHash())
        return null
      }
      // A disabled account costs the same check, and fails like a wrong password.
      const ok = await verifySecret(password, row.password_hash)
      return ok && !row.disabled ? toUser(row) : null
    },

    createSession(username: string): { token: string; expiresAt: number } {
      const t = now()
      if (t - lastPrune > 10 * 60_000) {
        s.prune.run(t)
        lastPrune = t
      }
      const token = randomBytes(32).toString('base64url')
      const expiresAt = t + sessionTtlMs
      s.insertSession.run(hashToken(token), normalizeUsername(username), t, expiresAt)
      return { token, expiresAt }
    },

    /**
     * The session a token belongs to, or null when unknown or expired. With `touch` (the
     * default) the expiry slides forward: a session lasts sessionTtlMs since its last use.
     */
    authenticate(token: string, options: { touch?: boolean } = {}): Session | null {
      if (!token || token.length > 200) return null
      const key = hashToken(token)
      const row = s.session.get(key)
      const t = now()
      if (!row) return null
      if (row.expires_at <= t) {
        s.removeSession.run(key)
        return null
      }
      const userRow = s.get.get(row.username)
      if (!userRow || userRow.disabled) return null
      if (options.touch !== false && t + sessionTtlMs - row.expires_at >= EXTEND_GRANULARITY_MS) {
        const expiresAt = t + sessionTtlMs
        s.extend.run(expiresAt, key)
        return { user: toUser(userRow), expiresAt, extended: true }
      }
      return { user: toUser(userRow), expiresAt: row.expires_at }
    },

    /** Ends a session; true when it existed. */
    endSession(token: string): boolean {
      return s.removeSession.run(hashToken(token)).changes > 0
    },
  }
  return accounts
}

export type Accounts = ReturnType<typeof createAccounts>
