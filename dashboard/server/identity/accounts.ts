import type Database from 'better-sqlite3'
import { createHash, randomBytes } from 'node:crypto'
import Type, { type Static } from 'typebox'
import { cityIds, findCity } from '../../../devices/region.ts'
import { generateSecret, hashPassword as hashSecret, verifyPassword as verifySecret } from '../../../devices/secrets.ts'
import { AccountStoreError, createSqliteAccountStore, type AccountStore, type UserRow } from './account-store.ts'
import { words, type Words } from '../../shared/words.ts'

/**
 * People who use the dashboard and API, and their sessions. Kept in an AccountStore
 * (account-store.ts): the registry database by default (tables `users` and `user_sessions`), or
 * PostgreSQL shared by several nodes. Passwords are scrypt hashes, computed in a worker thread
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
    /** What the message says, for a page to word in its language. */
    readonly words?: Words,
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

export type AccountsOptions = (
  | { /** The registry database: the accounts tables are created in it. */ db: Database.Database; store?: undefined }
  | { store: AccountStore; db?: undefined }
) & {
  /** Session lifetime since last use (sliding), default 12 h. */
  sessionTtlMs?: number
  now?: () => number
}

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
    if (!city) throw new AccountError(`unknown city '${c}'; cities: ${cityIds.join(', ')}`, 'invalid', words('unknown-city', { city: c, cities: cityIds.join(', ') }))
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
  const { sessionTtlMs = DEFAULT_SESSION_TTL_MS, now = Date.now } = options
  const store = options.store ?? createSqliteAccountStore(options.db)
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
    if (password.length < PASSWORD_MIN_LENGTH) throw new AccountError(`a password needs at least ${PASSWORD_MIN_LENGTH} characters`, 'invalid', words('password-short', { min: PASSWORD_MIN_LENGTH }))
    if (password.length > PASSWORD_MAX_LENGTH) throw new AccountError(`a password has at most ${PASSWORD_MAX_LENGTH} characters`, 'invalid', words('password-long', { max: PASSWORD_MAX_LENGTH }))
  }
  const storeError = (err: unknown): never => {
    if (err instanceof AccountStoreError) throw new AccountError(err.message, 'conflict')
    throw err
  }

  const accounts = {
    sessionTtlMs,

    count(): number {
      return store.listUsers().length
    },

    get(username: string): User | undefined {
      const row = store.getUser(normalizeUsername(username))
      return row && toUser(row)
    },

    list(): User[] {
      return store.listUsers().map(toUser)
    },

    async create(input: NewUser): Promise<User> {
      const username = normalizeUsername(input.username)
      if (!new RegExp(USERNAME_PATTERN).test(username)) {
        throw new AccountError(`username '${input.username}' must be 2–64 characters of a–z, 0–9, '.', '_' or '-'`, 'invalid', words('bad-username', { username: input.username }))
      }
      if (!(ROLES as readonly string[]).includes(input.role)) throw new AccountError(`unknown role '${input.role}'; roles: ${ROLES.join(', ')}`, 'invalid', words('unknown-role', { role: input.role, roles: ROLES.join(', ') }))
      checkPassword(input.password)
      const hash = await hashSecret(input.password)
      if (store.getUser(username)) throw new AccountError(`a user '${username}' already exists`, 'conflict', words('user-exists', { username }))
      const cities = input.cities && input.cities.length > 0 ? normalizeCities(input.cities) : undefined
      const at = new Date(now()).toISOString()
      const row: UserRow = { username, password_hash: hash, role: input.role, cities: cities ? JSON.stringify(cities) : null, disabled: 0, created_at: at, updated_at: at }
      await store.insertUser(row).catch(storeError)
      return toUser(store.getUser(username) ?? row)
    },

    /**
     * Changes a user's role, cities or disabled flag. Any such change ends the user's sessions:
     * they log in again and get exactly their new rights everywhere (API and live stream alike).
     * The last enabled admin cannot be demoted or disabled.
     */
    async update(username: string, patch: UserPatch): Promise<{ before: User; after: User; sessionsEnded: boolean }> {
      const name = normalizeUsername(username)
      const row = store.getUser(name)
      if (!row) throw new AccountError(`no user '${name}'`, 'not-found', words('no-user', { name }))
      const before = toUser(row)
      if (patch.role !== undefined && !(ROLES as readonly string[]).includes(patch.role)) {
        throw new AccountError(`unknown role '${patch.role}'; roles: ${ROLES.join(', ')}`, 'invalid', words('unknown-role', { role: String(patch.role), roles: ROLES.join(', ') }))
      }
      const role = patch.role ?? row.role
      const cities =
        patch.cities === undefined ? row.cities : patch.cities === null || patch.cities.length === 0 ? null : JSON.stringify(normalizeCities(patch.cities))
      const disabled = patch.disabled === undefined ? row.disabled : patch.disabled ? 1 : 0
      const changed = role !== row.role || cities !== row.cities || disabled !== row.disabled
      if (!changed) return { before, after: before, sessionsEnded: false }
      const after = await store.updateUser(name, { role, cities, disabled, updated_at: new Date(now()).toISOString() }).catch(storeError)
      return { before, after: toUser(after), sessionsEnded: true }
    },

    /** Sets a new password and ends all of the user's sessions. */
    async setPassword(username: string, password: string): Promise<void> {
      const name = normalizeUsername(username)
      if (!store.getUser(name)) throw new AccountError(`no user '${name}'`, 'not-found', words('no-user', { name }))
      checkPassword(password)
      const hash = await hashSecret(password)
      await store.setPassword(name, hash, new Date(now()).toISOString())
    },

    remove(username: string): Promise<boolean> {
      return store.removeUser(normalizeUsername(username))
    },

    /**
     * On first start (no users at all) creates `admin` with role admin. Returns the password only
     * when it was generated here, so the caller can print it once; it is never stored in clear.
     * Nodes starting together on one PostgreSQL: one creates it, the others find it taken.
     */
    async ensureInitialAdmin(password?: string): Promise<{ created: boolean; generatedPassword?: string }> {
      if (accounts.count() > 0) return { created: false }
      const generated = password === undefined ? generateSecret() : undefined
      try {
        await accounts.create({ username: INITIAL_ADMIN, password: password ?? generated!, role: 'admin' })
      } catch (err) {
        if (err instanceof AccountError && err.code === 'conflict') return { created: false }
        throw err
      }
      return { created: true, generatedPassword: generated }
    },

    /** The user when the password is right, otherwise null (also for unknown users, in the same time). */
    async verifyPassword(username: string, password: string): Promise<User | null> {
      const row = store.getUser(normalizeUsername(username))
      if (!row) {
        await verifySecret(password, await decoyHash())
        return null
      }
      // A disabled account costs the same check, and fails like a wrong password.
      const ok = await verifySecret(password, row.password_hash)
      return ok && !row.disabled ? toUser(row) : null
    },

    async createSession(username: string): Promise<{ token: string; expiresAt: number }> {
      const t = now()
      if (t - lastPrune > 10 * 60_000) {
        lastPrune = t
        await store.pruneSessions(t)
      }
      const token = randomBytes(32).toString('base64url')
      const expiresAt = t + sessionTtlMs
      await store.insertSession(hashToken(token), normalizeUsername(username), t, expiresAt)
      return { token, expiresAt }
    },

    /**
     * The session a token belongs to, or null when unknown or expired. With `touch` (the
     * default) the expiry slides forward: a session lasts sessionTtlMs since its last use.
     */
    async authenticate(token: string, options: { touch?: boolean } = {}): Promise<Session | null> {
      if (!token || token.length > 200) return null
      const key = hashToken(token)
      const row = await store.getSession(key)
      const t = now()
      if (!row) return null
      if (row.expires_at <= t) {
        await store.removeSession(key)
        return null
      }
      const userRow = store.getUser(row.username)
      if (!userRow || userRow.disabled) return null
      if (options.touch !== false && t + sessionTtlMs - row.expires_at >= EXTEND_GRANULARITY_MS) {
        const expiresAt = t + sessionTtlMs
        await store.extendSession(key, expiresAt)
        return { user: toUser(userRow), expiresAt, extended: true }
      }
      return { user: toUser(userRow), expiresAt: row.expires_at }
    },

    /** Ends a session; true when it existed. */
    endSession(token: string): Promise<boolean> {
      return store.removeSession(hashToken(token))
    },

    close(): Promise<void> {
      return store.close()
    },
  }
  return accounts
}

export type Accounts = ReturnType<typeof createAccounts>
