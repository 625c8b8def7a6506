import Database from 'better-sqlite3'
import fs from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeEach, describe, expect, inject, it, vi } from 'vitest'
import { sqliteVersions } from '../../../devices/migrations.ts'
import { openRegistryDatabase } from '../../../devices/registry.ts'
import { hashPassword } from '../../../devices/secrets.ts'
import { sharedPostgres, sharedSqlite } from '../../../testkit/shared-databases.ts'
import { createSqliteAccountStore, type AccountStore } from './account-store.ts'
import { createPostgresAccountStore } from './account-store-postgres.ts'
import { AccountError, createAccounts, type Accounts } from './accounts.ts'

/**
 * What accounts owe their callers on either store, SQLite or PostgreSQL. Two "nodes" are two
 * Accounts over separate connections to one database.
 */

interface Backend {
  store(): Promise<AccountStore>
  cleanup(): Promise<void>
}

const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

function sqliteBackend(): Backend {
  const shared = sharedSqlite('piazza-accounts-contract-', openRegistryDatabase)
  return {
    store: async () => createSqliteAccountStore(shared.open()),
    async cleanup() {
      shared.close()
    },
  }
}

async function postgresBackend(): Promise<Backend> {
  const shared = await sharedPostgres(inject('postgresUrl'))
  return {
    store: async () => createPostgresAccountStore({ pool: shared.pool(), pollMs: 50 }),
    cleanup: () => shared.close(),
  }
}

const HOUR = 3_600_000

function contract(name: string, backend: () => Backend | Promise<Backend>): void {
  describe(`accounts contract: ${name}`, () => {
    let b: Backend
    const opened: Accounts[] = []
    let now = Date.now()
    const open = async () => {
      const accounts = createAccounts({ store: await b.store(), sessionTtlMs: HOUR, now: () => now })
      opened.push(accounts)
      return accounts
    }
    beforeEach(async () => {
      now = Date.now()
      b = await backend()
    })
    afterEach(async () => {
      for (const a of opened.splice(0)) await a.close()
      await b.cleanup()
    })

    it('creates users, answers them and refuses duplicates and bad input', async () => {
      const accounts = await open()
      expect(await accounts.ensureInitialAdmin('first-admin-password')).toEqual({ created: true, generatedPassword: undefined })
      expect(await accounts.ensureInitialAdmin()).toEqual({ created: false })
      await accounts.create({ username: 'Ivan', password: 'installer-pass', role: 'installer', cities: ['Pisa', 'firenze'] })
      expect(accounts.get('ivan')).toMatchObject({ username: 'ivan', role: 'installer', cities: ['pisa', 'firenze'] })
      expect(accounts.list().map((u) => u.username)).toEqual(['admin', 'ivan'])
      expect(accounts.count()).toBe(2)
      await expect(accounts.create({ username: 'ivan', password: 'another-pass', role: 'operator' })).rejects.toMatchObject({ code: 'conflict' })
      await expect(accounts.create({ username: 'x', password: 'another-pass', role: 'operator' })).rejects.toMatchObject({ code: 'invalid' })
      await expect(accounts.create({ username: 'olga', password: 'short', role: 'operator' })).rejects.toMatchObject({ code: 'invalid' })
      await expect(accounts.create({ username: 'olga', password: 'long-enough', role: 'operator', cities: ['atlantis'] })).rejects.toBeInstanceOf(AccountError)
      expect(await accounts.verifyPassword('IVAN', 'installer-pass')).toMatchObject({ username: 'ivan' })
      expect(await accounts.verifyPassword('ivan', 'wrong-password')).toBeNull()
      expect(await accounts.verifyPassword('nobody', 'installer-pass')).toBeNull()
    })

    it('opens, slides, expires and ends sessions', async () => {
      const accounts = await open()
      await accounts.create({ username: 'olga', password: 'operator-pass', role: 'operator' })
      const { token, expiresAt } = await accounts.createSession('olga')
      expect(expiresAt).toBe(now + HOUR)
      now += 30 * 60_000
      expect(await accounts.authenticate(token)).toMatchObject({ user: { username: 'olga' }, expiresAt: now + HOUR, extended: true })
      expect((await accounts.authenticate(token))?.extended).toBeUndefined()
      now += 50 * 60_000
      expect(await accounts.authenticate(token, { touch: false })).not.toBeNull()
      now += 11 * 60_000
      expect(await accounts.authenticate(token)).toBeNull()

      const second = await accounts.createSession('olga')
      expect(await accounts.endSession(second.token)).toBe(true)
      expect(await accounts.endSession(second.token)).toBe(false)
      expect(await accounts.authenticate(second.token)).toBeNull()
      expect(await accounts.authenticate('not-a-token')).toBeNull()
    })

    it('ends a user’s sessions when their rights or password change, and keeps the last admin', async () => {
      const accounts = await open()
      await accounts.create({ username: 'admin', password: 'admin-password', role: 'admin' })
      await accounts.create({ username: 'ivan', password: 'installer-pass', role: 'installer' })
      const s1 = await accounts.createSession('ivan')
      const result = await accounts.update('ivan', { cities: ['siena'] })
      expect(result).toMatchObject({ before: { username: 'ivan' }, after: { cities: ['siena'] }, sessionsEnded: true })
      expect(await accounts.authenticate(s1.token)).toBeNull()
      expect((await accounts.update('ivan', { cities: ['siena'] })).sessionsEnded).toBe(false)

      const s2 = await accounts.createSession('ivan')
      await accounts.setPassword('ivan', 'new-installer-pass')
      expect(await accounts.authenticate(s2.token)).toBeNull()
      expect(await accounts.verifyPassword('ivan', 'new-installer-pass')).not.toBeNull()

      const s3 = await accounts.createSession('ivan')
      await accounts.update('ivan', { disabled: true })
      expect(await accounts.authenticate(s3.token)).toBeNull()
      expect(accounts.get('ivan')?.disabled).toBe(true)
      expect(await accounts.verifyPassword('ivan', 'new-installer-pass')).toBeNull()

      await expect(accounts.update('admin', { role: 'operator' })).rejects.toMatchObject({ code: 'conflict', message: expect.stringContaining('last enabled admin') })
      await expect(accounts.update('admin', { disabled: true })).rejects.toMatchObject({ code: 'conflict' })
      expect(accounts.get('admin')?.role).toBe('admin')
      await accounts.update('ivan', { role: 'admin', disabled: false })
      expect((await accounts.update('admin', { role: 'operator' })).after.role).toBe('operator')

      const s4 = await accounts.createSession('ivan')
      expect(await accounts.remove('ivan')).toBe(true)
      expect(accounts.get('ivan')).toBeUndefined()
      expect(await accounts.authenticate(s4.token)).toBeNull()
    })

    it('holds a session opened on one node on the other at once, and shares users', async () => {
      const one = await open()
      const two = await open()
      await one.create({ username: 'olga', password: 'operator-pass', role: 'operator' })
      await vi.waitFor(() => expect(two.get('olga')).toMatchObject({ role: 'operator' }), { timeout: 10_000, interval: 20 })
      const { token } = await one.createSession('olga')
      expect(await two.authenticate(token)).toMatchObject({ user: { username: 'olga' } })
      expect(await two.endSession(token)).toBe(true)
      expect(await one.authenticate(token)).toBeNull()

      // Disabled on one node: its sessions end everywhere at once, the user's rights follow.
      const again = await one.createSession('olga')
      await one.update('olga', { disabled: true })
      expect(await two.authenticate(again.token)).toBeNull()
      await vi.waitFor(() => expect(two.get('olga')?.disabled).toBe(true), { timeout: 10_000, interval: 20 })
      await expect(two.create({ username: 'olga', password: 'operator-pass', role: 'operator' })).rejects.toMatchObject({ code: 'conflict' })
      await one.remove('olga')
      await vi.waitFor(() => expect(two.get('olga')).toBeUndefined(), { timeout: 10_000, interval: 20 })
    })

    it('keeps users and sessions across a reopen', async () => {
      const first = await open()
      await first.create({ username: 'olga', password: 'operator-pass', role: 'operator', cities: ['lucca'] })
      const { token } = await first.createSession('olga')
      await first.close()
      const second = await open()
      expect(second.get('olga')).toMatchObject({ cities: ['lucca'] })
      expect(await second.authenticate(token)).toMatchObject({ user: { username: 'olga' } })
    })
  })
}

contract('SQLite', sqliteBackend)
contract('PostgreSQL', postgresBackend)

describe('accounts schema upgrades (SQLite)', () => {
  it('adopts users from before migrations and before accounts could be disabled', async () => {
    const dir = fs.mkdtempSync(join(tmpdir(), 'piazza-accounts-upgrade-'))
    dirs.push(dir)
    const file = join(dir, 'registry.db')
    const old = new Database(file)
    old.exec(`
      CREATE TABLE users (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL, cities TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
      CREATE TABLE user_sessions (token_hash TEXT PRIMARY KEY, username TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
    `)
    old.prepare("INSERT INTO users VALUES ('olga', ?, 'operator', '[\"pisa\"]', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z')").run(await hashPassword('operator-pass'))
    old.close()

    const db = new Database(file)
    const accounts = createAccounts({ db })
    expect(sqliteVersions(db, 'accounts')).toEqual([1, 2])
    expect(accounts.get('olga')).toEqual({ username: 'olga', role: 'operator', cities: ['pisa'], createdAt: '2025-01-01T00:00:00.000Z' })
    expect(await accounts.verifyPassword('olga', 'operator-pass')).not.toBeNull()
    await accounts.update('olga', { disabled: true })
    expect(accounts.get('olga')?.disabled).toBe(true)
    db.close()
  })
})
