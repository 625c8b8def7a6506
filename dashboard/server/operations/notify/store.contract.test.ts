import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest'
import { migratePostgres, migrateSqlite, postgresVersions, sqliteVersions } from '../../../../devices/migrations.ts'
import { sharedPostgres, sharedSqlite } from '../../../../testkit/shared-databases.ts'
import { createSecretBox } from './secret-box.ts'
import { createPostgresNotifyStore, postgresNotifyMigrations } from './store-postgres.ts'
import { asyncNotifyStore, CONTACT_POINT_SECRETS, createNotifyStore, notifyMigrations, type ContactPointFields, type NotifyStoreAsync } from './store.ts'

/** What every notify store owes the notifier, on SQLite and on PostgreSQL; "nodes" are stores over separate connections to one database. */

interface Backend {
  open(keep?: number, secretKey?: Buffer): Promise<NotifyStoreAsync>
  versions(): Promise<number[]>
  /** The schema as version 1 left it, with this contact point's secret in plain text (as stored before sealing). */
  legacy(fields: ContactPointFields): Promise<number>
  /** The secret column as stored, by id. */
  stored(): Promise<Record<number, string | null>>
  newest: number
  cleanup(): Promise<void>
}

function sqliteBackend(): Backend {
  const shared = sharedSqlite('piazza-notify-store-')
  const db = () => shared.open()
  const key = randomBytes(32)
  return {
    open: async (keep = 100, secretKey = key) => asyncNotifyStore(createNotifyStore(db(), { keep, secretKey })),
    versions: async () => sqliteVersions(db(), 'notify'),
    async legacy(f) {
      const d = db()
      migrateSqlite(d, 'notify', notifyMigrations(createSecretBox(key, CONTACT_POINT_SECRETS)).slice(0, 1))
      return Number(
        d.prepare("INSERT INTO contact_points (name, kind, url, addresses, secret, enabled, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'olga', 'then', 'then')").run(f.name, f.kind, f.url, JSON.stringify(f.addresses), f.secret, f.enabled ? 1 : 0).lastInsertRowid,
      )
    },
    stored: async () => Object.fromEntries((db().prepare('SELECT id, secret FROM contact_points').all() as { id: number; secret: string | null }[]).map((r) => [r.id, r.secret])),
    newest: notifyMigrations(createSecretBox(key, CONTACT_POINT_SECRETS)).length,
    async cleanup() {
      shared.close()
    },
  }
}

async function postgresBackend(): Promise<Backend> {
  const shared = await sharedPostgres(inject('postgresUrl'))
  const pool = () => shared.pool()
  const admin = pool()
  const key = randomBytes(32)
  return {
    open: (keep = 100, secretKey = key) => createPostgresNotifyStore(pool(), { keep, secretKey }),
    versions: () => postgresVersions(admin, 'notify'),
    async legacy(f) {
      await migratePostgres(admin, 'notify', postgresNotifyMigrations(createSecretBox(key, CONTACT_POINT_SECRETS)).slice(0, 1))
      const { rows } = await admin.query<{ id: number }>(
        "INSERT INTO contact_points (name, kind, url, addresses, secret, enabled, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'olga', 'then', 'then') RETURNING id",
        [f.name, f.kind, f.url, JSON.stringify(f.addresses), f.secret, f.enabled ? 1 : 0],
      )
      return rows[0]!.id
    },
    stored: async () => Object.fromEntries((await admin.query<{ id: number; secret: string | null }>('SELECT id, secret FROM contact_points')).rows.map((r) => [r.id, r.secret])),
    newest: postgresNotifyMigrations(createSecretBox(key, CONTACT_POINT_SECRETS)).length,
    cleanup: () => shared.close(),
  }
}

const HOOK: ContactPointFields = { kind: 'webhook', name: 'Ops hook', url: 'http://127.0.0.1:9/hook', addresses: [], secret: 'a-secret-of-16-chars', enabled: true }
const MAIL: ContactPointFields = { kind: 'email', name: 'Night shift', url: null, addresses: ['a@example.org', 'b@example.org'], secret: null, enabled: false }
const T0 = 1_780_000_000_000

function contract(name: string, backend: () => Backend | Promise<Backend>): void {
  describe(`notify store contract: ${name}`, () => {
    let b: Backend
    beforeEach(async () => {
      b = await backend()
    })
    afterEach(async () => {
      await b.cleanup()
    })

    it('creates, updates, lists and removes contact points, seen alike by another node', async () => {
      const store = await b.open()
      const hook = await store.create(HOOK, 'olga', '2026-01-01T00:00:00.000Z')
      const mail = await store.create(MAIL, 'ugo', '2026-01-02T00:00:00.000Z')
      expect(hook).toEqual({ ...HOOK, id: hook.id, createdBy: 'olga', createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z' })
      expect(mail).toMatchObject({ kind: 'email', addresses: ['a@example.org', 'b@example.org'], enabled: false, secret: null })
      const other = await b.open()
      expect((await other.list()).map((c) => c.name)).toEqual(['Ops hook', 'Night shift'])
      const changed = await other.update(hook.id, { ...HOOK, name: 'Renamed', secret: null, enabled: false }, '2026-01-03T00:00:00.000Z')
      expect(changed).toMatchObject({ name: 'Renamed', secret: null, enabled: false, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-03T00:00:00.000Z' })
      expect(await store.get(hook.id)).toEqual(changed)
      expect(await store.remove(hook.id)).toBe(true)
      expect(await store.remove(hook.id)).toBe(false)
      expect(await other.get(hook.id)).toBeUndefined()
    })

    it('logs deliveries under way and finished, newest first, keeping the newest `keep` per contact point', async () => {
      const store = await b.open(2)
      const hook = await store.create(HOOK, 'olga', 'now')
      const mail = await store.create(MAIL, 'olga', 'now')
      const ids: number[] = []
      for (let i = 0; i < 4; i++) ids.push(await store.startDelivery({ contactPointId: hook.id, notificationId: `n-${i}`, status: 'firing', summary: `s${i}`, at: T0 + i }))
      const other = await store.startDelivery({ contactPointId: mail.id, notificationId: 'n-mail', status: 'resolved', summary: 'm', at: T0 })
      await store.attempted(ids[3]!, { attempts: 1, httpStatus: 503, error: 'HTTP 503' })
      expect(await store.getDelivery(ids[3]!)).toMatchObject({ outcome: 'sending', attempts: 1, httpStatus: 503, error: 'HTTP 503', finishedAt: null })
      await store.finishDelivery(ids[3]!, { outcome: 'delivered', attempts: 2, httpStatus: 200, error: null, at: T0 + 10 })
      const seen = await (await b.open(2)).deliveries(hook.id, 10)
      expect(seen.map((d) => d.notificationId)).toEqual(['n-3', 'n-2'])
      expect(seen[0]).toEqual({
        id: ids[3],
        contactPointId: hook.id,
        notificationId: 'n-3',
        status: 'firing',
        summary: 's3',
        outcome: 'delivered',
        attempts: 2,
        httpStatus: 200,
        error: null,
        startedAt: new Date(T0 + 3).toISOString(),
        finishedAt: new Date(T0 + 10).toISOString(),
      })
      expect(await store.getDelivery(ids[0]!)).toBeUndefined()
      expect((await store.deliveries(mail.id, 10)).map((d) => d.id)).toEqual([other])
      await store.remove(hook.id)
      expect(await store.deliveries(hook.id, 10)).toEqual([])
    })

    it('stores secrets sealed (AES-256-GCM under the server key), answers them opened', async () => {
      const store = await b.open()
      const hook = await store.create(HOOK, 'olga', 'now')
      const mail = await store.create(MAIL, 'olga', 'now')
      const stored = await b.stored()
      expect(stored[hook.id]).toMatch(/^enc:v1:[A-Za-z0-9_-]+$/)
      expect(stored[hook.id]).not.toContain(HOOK.secret!)
      expect(stored[mail.id]).toBeNull()
      expect((await (await b.open()).get(hook.id))!.secret).toBe(HOOK.secret)
      // Sealed anew on every write: a changed secret, and the same secret, are stored differently.
      await store.update(hook.id, { ...HOOK, secret: 'another-secret-of-16-chars' }, 'later')
      const changed = (await b.stored())[hook.id]!
      expect(changed).toMatch(/^enc:v1:/)
      expect(changed).not.toBe(stored[hook.id])
      expect((await store.get(hook.id))!.secret).toBe('another-secret-of-16-chars')
      // Another server key opens nothing: it says so rather than signing with garbage.
      const stranger = await b.open(100, randomBytes(32))
      await expect(stranger.get(hook.id)).rejects.toThrow(/cannot be opened: the server key \(DATA_DIR\/secret-key\) is not the one it was sealed with/)
    })

    it('seals the secrets stored in plain text before sealing existed (migration 2), once', async () => {
      const id = await b.legacy(HOOK)
      expect((await b.stored())[id]).toBe(HOOK.secret)
      const [store] = await Promise.all([b.open(), b.open()])
      const sealed = (await b.stored())[id]!
      expect(sealed).toMatch(/^enc:v1:/)
      expect(sealed).not.toContain(HOOK.secret!)
      expect(await store.get(id)).toMatchObject({ name: HOOK.name, secret: HOOK.secret })
      // Opening again changes nothing more.
      await b.open()
      expect((await b.stored())[id]).toBe(sealed)
      expect(await b.versions()).toEqual(Array.from({ length: b.newest }, (_, i) => i + 1))
    })

    it('is at the newest schema version, applied once however many nodes open it', async () => {
      await Promise.all([b.open(), b.open()])
      expect(await b.versions()).toEqual(Array.from({ length: b.newest }, (_, i) => i + 1))
    })
  })
}

contract('SQLite', sqliteBackend)
contract('PostgreSQL', postgresBackend)
