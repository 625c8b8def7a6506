import type Database from 'better-sqlite3'
import { asAsync, type Async } from '../../../../devices/async-store.ts'
import { migrateSqlite, type SqliteMigration } from '../../../../devices/migrations.ts'
import { createSecretBox, isSealed, type SecretBox } from './secret-box.ts'
import type { ContactPointKind, ContactPointView, DeliveryOutcome, DeliveryView, NotificationStatus } from '../../../shared/notify.ts'

/**
 * Contact points and their delivery log in the node's SQLite database (beside alert rules and
 * alerts, which stay there in PostgreSQL mode too for now: notifications come from this node's
 * alert engine). The log keeps the newest `keep` deliveries per contact point. store-postgres.ts
 * is the PostgreSQL twin (NotifyStoreAsync), held to the same contract (store.contract.test.ts).
 * Webhook secrets are stored sealed under the server key (secret-box.ts) and answered opened.
 */

/** The purpose both stores seal contact points' secrets under (secret-box.ts). */
export const CONTACT_POINT_SECRETS = 'contact point secrets'
/** A secret as both stores keep it: sealed. */
export const sealSecret = (box: SecretBox, secret: string | null): string | null => (secret === null ? null : box.seal(secret))

/** The notify schema; version 2 seals the secrets stored in plain text before it (so it needs the box). */
export const notifyMigrations = (box: SecretBox): SqliteMigration[] => [
  {
    version: 1,
    name: 'contact points and deliveries',
    up: `
      CREATE TABLE IF NOT EXISTS contact_points (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        url TEXT,
        addresses TEXT NOT NULL DEFAULT '[]',
        secret TEXT,
        enabled INTEGER NOT NULL DEFAULT 1,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS notification_deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        contact_point_id INTEGER NOT NULL,
        notification_id TEXT NOT NULL,
        status TEXT NOT NULL,
        summary TEXT NOT NULL,
        outcome TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        http_status INTEGER,
        error TEXT,
        started_at INTEGER NOT NULL,
        finished_at INTEGER
      );
      CREATE INDEX IF NOT EXISTS notification_deliveries_cp ON notification_deliveries (contact_point_id, id);`,
  },
  {
    version: 2,
    name: 'contact point secrets sealed (AES-256-GCM)',
    up(db) {
      const rows = db.prepare('SELECT id, secret FROM contact_points WHERE secret IS NOT NULL').all() as { id: number; secret: string }[]
      const seal = db.prepare('UPDATE contact_points SET secret = ? WHERE id = ?')
      for (const r of rows) if (!isSealed(r.secret)) seal.run(box.seal(r.secret), r.id)
    },
  },
]

/** A contact point as the notifier uses it (with its secret, opened; stored sealed). */
export interface ContactPoint {
  id: number
  name: string
  kind: ContactPointKind
  url: string | null
  addresses: string[]
  secret: string | null
  enabled: boolean
  createdBy: string
  createdAt: string
  updatedAt: string
}

export interface ContactPointRow {
  id: number
  name: string
  kind: ContactPointKind
  url: string | null
  addresses: string
  secret: string | null
  enabled: number
  created_by: string
  created_at: string
  updated_at: string
}

export interface DeliveryRow {
  id: number
  contact_point_id: number
  notification_id: string
  status: NotificationStatus
  summary: string
  outcome: DeliveryOutcome
  attempts: number
  http_status: number | null
  error: string | null
  started_at: number
  finished_at: number | null
}

/** A stored row as the notifier uses it, its secret opened. */
export const toContactPointWith = (box: SecretBox, r: ContactPointRow): ContactPoint => ({
  id: r.id,
  name: r.name,
  kind: r.kind,
  url: r.url,
  addresses: JSON.parse(r.addresses) as string[],
  secret: r.secret === null ? null : box.open(r.secret),
  enabled: r.enabled === 1,
  createdBy: r.created_by,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
})

export const contactPointView = (c: ContactPoint): ContactPointView => ({
  id: c.id,
  name: c.name,
  kind: c.kind,
  url: c.url,
  addresses: c.addresses,
  secret: c.secret === null ? 'default' : 'own',
  enabled: c.enabled,
  createdBy: c.createdBy,
  createdAt: c.createdAt,
  updatedAt: c.updatedAt,
})

export const toDelivery = (r: DeliveryRow): DeliveryView => ({
  id: r.id,
  contactPointId: r.contact_point_id,
  notificationId: r.notification_id,
  status: r.status,
  summary: r.summary,
  outcome: r.outcome,
  attempts: r.attempts,
  httpStatus: r.http_status,
  error: r.error,
  startedAt: new Date(r.started_at).toISOString(),
  finishedAt: r.finished_at === null ? null : new Date(r.finished_at).toISOString(),
})

export type ContactPointFields = Pick<ContactPoint, 'name' | 'kind' | 'url' | 'addresses' | 'secret' | 'enabled'>

export function createNotifyStore(db: Database.Database, options: { keep: number; secretKey: Buffer }) {
  const box = createSecretBox(options.secretKey, CONTACT_POINT_SECRETS)
  migrateSqlite(db, 'notify', notifyMigrations(box))
  const toContactPoint = (r: ContactPointRow) => toContactPointWith(box, r)
  const get = db.prepare<[number], ContactPointRow>('SELECT * FROM contact_points WHERE id = ?')
  const insert = db.prepare(`INSERT INTO contact_points (name, kind, url, addresses, secret, enabled, created_by, created_at, updated_at)
    VALUES (@name, @kind, @url, @addresses, @secret, @enabled, @created_by, @now, @now)`)
  const update = db.prepare('UPDATE contact_points SET name = @name, url = @url, addresses = @addresses, secret = @secret, enabled = @enabled, updated_at = @now WHERE id = @id')
  const insertDelivery = db.prepare(`INSERT INTO notification_deliveries (contact_point_id, notification_id, status, summary, outcome, attempts, started_at)
    VALUES (@contact_point_id, @notification_id, @status, @summary, 'sending', 0, @started_at)`)
  const updateDelivery = db.prepare('UPDATE notification_deliveries SET outcome = @outcome, attempts = @attempts, http_status = @http_status, error = @error, finished_at = @finished_at WHERE id = @id')
  const progress = db.prepare('UPDATE notification_deliveries SET attempts = @attempts, http_status = @http_status, error = @error WHERE id = @id')
  const prune = db.prepare(
    'DELETE FROM notification_deliveries WHERE contact_point_id = @cp AND id <= (SELECT id FROM notification_deliveries WHERE contact_point_id = @cp ORDER BY id DESC LIMIT 1 OFFSET @keep)',
  )
  const params = (f: ContactPointFields) => ({ name: f.name, kind: f.kind, url: f.url, addresses: JSON.stringify(f.addresses), secret: sealSecret(box, f.secret), enabled: f.enabled ? 1 : 0 })

  return {
    list: (): ContactPoint[] => (db.prepare('SELECT * FROM contact_points ORDER BY id').all() as ContactPointRow[]).map(toContactPoint),
    get(id: number): ContactPoint | undefined {
      const row = get.get(id)
      return row && toContactPoint(row)
    },
    create(fields: ContactPointFields, createdBy: string, now: string): ContactPoint {
      const id = Number(insert.run({ ...params(fields), created_by: createdBy, now }).lastInsertRowid)
      return toContactPoint(get.get(id)!)
    },
    update(id: number, fields: ContactPointFields, now: string): ContactPoint {
      update.run({ ...params(fields), id, now })
      return toContactPoint(get.get(id)!)
    },
    remove: db.transaction((id: number) => {
      db.prepare('DELETE FROM notification_deliveries WHERE contact_point_id = ?').run(id)
      return db.prepare('DELETE FROM contact_points WHERE id = ?').run(id).changes > 0
    }),

    /** A delivery under way; answers its id. Older entries of the contact point beyond `keep` go. */
    startDelivery(d: { contactPointId: number; notificationId: string; status: NotificationStatus; summary: string; at: number }): number {
      const id = Number(insertDelivery.run({ contact_point_id: d.contactPointId, notification_id: d.notificationId, status: d.status, summary: d.summary, started_at: d.at }).lastInsertRowid)
      prune.run({ cp: d.contactPointId, keep: options.keep })
      return id
    },
    attempted(id: number, d: { attempts: number; httpStatus: number | null; error: string | null }): void {
      progress.run({ id, attempts: d.attempts, http_status: d.httpStatus, error: d.error })
    },
    finishDelivery(id: number, d: { outcome: DeliveryOutcome; attempts: number; httpStatus: number | null; error: string | null; at: number }): void {
      updateDelivery.run({ id, outcome: d.outcome, attempts: d.attempts, http_status: d.httpStatus, error: d.error, finished_at: d.at })
    },
    getDelivery(id: number): DeliveryView | undefined {
      const row = db.prepare<[number], DeliveryRow>('SELECT * FROM notification_deliveries WHERE id = ?').get(id)
      return row && toDelivery(row)
    },
    /** Newest first. */
    deliveries: (contactPointId: number, limit: number): DeliveryView[] =>
      (db.prepare('SELECT * FROM notification_deliveries WHERE contact_point_id = ? ORDER BY id DESC LIMIT ?').all(contactPointId, limit) as DeliveryRow[]).map(toDelivery),
  }
}

export type NotifyStore = ReturnType<typeof createNotifyStore>

/** The notify store's calls answering promises: the PostgreSQL store's shape, and the SQLite one's through asyncNotifyStore. */
export type NotifyStoreAsync = Async<NotifyStore>
export const asyncNotifyStore = (store: NotifyStore): NotifyStoreAsync => asAsync(store)
