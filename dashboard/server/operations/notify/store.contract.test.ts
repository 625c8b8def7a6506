import Database from 'better-sqlite3'
import fs from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, afterEach, beforeEach, describe, expect, inject, it } from 'vitest'
import { postgresVersions, sqliteVersions } from '../../../../devices/migrations.ts'
import { createDatabase } from '../../../../testkit/postgres.ts'
import { createPostgresNotifyStore, POSTGRES_NOTIFY_MIGRATIONS } from './store-postgres.ts'
import { asyncNotifyStore, createNotifyStore, NOTIFY_MIGRATIONS, type ContactPointFields, type NotifyStoreAsync } from './store.ts'

/** What every notify store owes the notifier, on SQLite and on PostgreSQL; "nodes" are stores over separate connections to one database. */

interface Backend {
  open(keep?: number): Promise<NotifyStoreAsync>
  versions(): Promise<number[]>
  newest: number
  cleanup(): Promise<void>
}

const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

function sqliteBackend(): Backend {
  const dir = fs.mkdtempSync(join(tmpdir(), 'piazza-notify-store-'))
  dirs.push(dir)
  const dbs: Database.Database[] = []
  const db = () => {
    const opened = new Database(join(dir, 'registry.db'))
    opened.pragma('journal_mode = WAL')
    opened.pragma('busy_timeout = 5000')
    dbs.push(opened)
    return opened
  }
  return {
    open: async (keep = 100) => asyncNotifyStore(createNotifyStore(db(), { keep })),
    versions: async () => sqliteVersions(db(), 'notify'),
    newest: NOTIFY_MIGRATIONS.length,
    async cleanup() {
      for (const d of dbs) d.close()
    },
  }
}

async function postgresBackend(): Promise<Backend> {
  const url = await createDatabase(inject('postgresUrl'))
  const pools: pg.Pool[] = []
  const pool = () => {
    const p = new pg.Pool({ connectionString: url, max: 3 })
    pools.push(p)
    return p
  }
  const admin = pool()
  return {
    open: (keep = 100) => createPostgresNotifyStore(pool(), { keep }),
    versions: () => postgresVersions(admin, 'notify'),
    newest: POSTGRES_NOTIFY_MIGRATIONS.length,
    async cleanup() {
      await Promise.all(pools.map((p) => p.end()))
    },
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

    it('is at the newest schema version, applied once however many nodes open it', async () => {
      await Promise.all([b.open(), b.open()])
      expect(await b.versions()).toEqual(Array.from({ length: b.newest }, (_, i) => i + 1))
    })
  })
}

contract('SQLite', sqliteBackend)
contract('PostgreSQL', postgresBackend)
