import Database from 'better-sqlite3'
import pg from 'pg'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { sqliteVersions } from '../../../devices/migrations.ts'
import { createDatabase } from '../../../testkit/postgres.ts'
import { createAuditLog, createSqliteAuditStore, type AuditStore } from './audit.ts'
import { createPostgresAuditStore } from './audit-store-postgres.ts'

/** What the audit log owes its callers on either store, SQLite or PostgreSQL. */

const pools: pg.Pool[] = []
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()))
})

function contract(name: string, store: () => Promise<AuditStore>): void {
  describe(`audit contract: ${name}`, () => {
    it('records entries without secrets and lists them newest first, filtered and paged', async () => {
      let now = Date.UTC(2026, 0, 1)
      const audit = createAuditLog({ store: await store(), now: () => now })
      const first = await audit.record({ actor: 'ivan', action: 'device.create', targetType: 'device', target: 'aq-1', changes: { name: { to: 'A' }, secret: { to: 's3cr3t' } }, details: { via: 'import', token: 'tok' } })
      expect(first).toMatchObject({ actor: 'ivan', at: '2026-01-01T00:00:00.000Z', changes: { name: { to: 'A' } }, details: { via: 'import' } })
      now += 1000
      await audit.record({ actor: 'ivan', action: 'device.revoke', targetType: 'device', target: 'aq-1', changes: { status: { from: 'active', to: 'revoked' } } })
      now += 1000
      const third = await audit.record({ actor: 'admin', action: 'user.password-reset', targetType: 'user', target: 'ivan' })
      expect(third.id).toBeGreaterThan(first.id)

      const all = await audit.list()
      expect(all.total).toBe(3)
      expect(all.items.map((e) => e.action)).toEqual(['user.password-reset', 'device.revoke', 'device.create'])
      expect(JSON.stringify(all.items)).not.toMatch(/s3cr3t|tok"/)
      expect((await audit.list({ actor: 'IVAN' })).total).toBe(2)
      expect((await audit.list({ target: 'aq-1', action: 'device.revoke' })).items[0]!.changes).toEqual({ status: { from: 'active', to: 'revoked' } })
      expect((await audit.list({ action: 'device.' })).total).toBe(2)
      expect((await audit.list({ targetType: 'user' })).items.map((e) => e.target)).toEqual(['ivan'])
      expect((await audit.list({ from: Date.UTC(2026, 0, 1) + 1000, to: Date.UTC(2026, 0, 1) + 2000 })).items.map((e) => e.action)).toEqual(['device.revoke'])
      expect(await audit.list({ limit: 1, offset: 1 })).toMatchObject({ total: 3, items: [{ action: 'device.revoke' }] })
    })
  })
}

contract('SQLite', async () => createSqliteAuditStore(new Database(':memory:')))
contract('PostgreSQL', async () => {
  const pool = new pg.Pool({ connectionString: await createDatabase(inject('postgresUrl')), max: 2 })
  pools.push(pool)
  return createPostgresAuditStore(pool)
})

describe('audit schema (SQLite)', () => {
  it('adopts an audit log from before migrations with its entries', async () => {
    const db = new Database(':memory:')
    db.exec("CREATE TABLE audit_log (id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, target_type TEXT NOT NULL, target TEXT NOT NULL, changes TEXT NOT NULL DEFAULT '{}', details TEXT NOT NULL DEFAULT '{}')")
    db.prepare("INSERT INTO audit_log (at_ms, actor, action, target_type, target) VALUES (1, 'cli', 'device.create', 'device', 'aq-old')").run()
    const audit = createAuditLog({ db })
    expect(sqliteVersions(db, 'audit')).toEqual([1])
    expect((await audit.list()).items).toMatchObject([{ target: 'aq-old', at: '1970-01-01T00:00:00.001Z' }])
  })
})
