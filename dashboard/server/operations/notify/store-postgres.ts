import type pg from 'pg'
import { migratePostgres, type PostgresMigration } from '../../../../devices/migrations.ts'
import type { DeliveryOutcome, NotificationStatus } from '../../../shared/notify.ts'
import { createSecretBox, isSealed, type SecretBox } from './secret-box.ts'
import { CONTACT_POINT_SECRETS, sealSecret, toContactPointWith, toDelivery, type ContactPointFields, type ContactPointRow, type DeliveryRow, type NotifyStoreAsync } from './store.ts'

/**
 * Contact points and their delivery log in PostgreSQL, shared by the nodes of a cluster (same
 * behaviour as store.ts; store.contract.test.ts holds both to it). Times in BIGINT epoch ms,
 * answered as text by node-postgres and turned into numbers before the shared converters. Secrets
 * sealed as in store.ts (version 2 seals those stored in plain text before it).
 */

export const postgresNotifyMigrations = (box: SecretBox): PostgresMigration[] => [
  {
    version: 1,
    name: 'contact points and deliveries',
    up: `
      CREATE TABLE IF NOT EXISTS contact_points (
        id SERIAL PRIMARY KEY,
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
        id BIGSERIAL PRIMARY KEY,
        contact_point_id INTEGER NOT NULL,
        notification_id TEXT NOT NULL,
        status TEXT NOT NULL,
        summary TEXT NOT NULL,
        outcome TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        http_status INTEGER,
        error TEXT,
        started_at BIGINT NOT NULL,
        finished_at BIGINT
      );
      CREATE INDEX IF NOT EXISTS notification_deliveries_cp ON notification_deliveries (contact_point_id, id);`,
  },
  {
    version: 2,
    name: 'contact point secrets sealed (AES-256-GCM)',
    async up(client) {
      const { rows } = await client.query<{ id: number; secret: string }>('SELECT id, secret FROM contact_points WHERE secret IS NOT NULL')
      for (const r of rows) if (!isSealed(r.secret)) await client.query('UPDATE contact_points SET secret = $1 WHERE id = $2', [box.seal(r.secret), r.id])
    },
  },
]

const delivery = (r: DeliveryRow) =>
  toDelivery({ ...r, id: Number(r.id), started_at: Number(r.started_at), finished_at: r.finished_at === null ? null : Number(r.finished_at) })

export async function createPostgresNotifyStore(pool: pg.Pool, options: { keep: number; secretKey: Buffer }): Promise<NotifyStoreAsync> {
  const box = createSecretBox(options.secretKey, CONTACT_POINT_SECRETS)
  await migratePostgres(pool, 'notify', postgresNotifyMigrations(box))
  const toContactPoint = (r: ContactPointRow) => toContactPointWith(box, r)
  const values = (f: ContactPointFields) => [f.name, f.kind, f.url, JSON.stringify(f.addresses), sealSecret(box, f.secret), f.enabled ? 1 : 0]
  const get = async (id: number) => {
    const row = (await pool.query<ContactPointRow>('SELECT * FROM contact_points WHERE id = $1', [id])).rows[0]
    return row && toContactPoint(row)
  }

  return {
    list: async () => (await pool.query<ContactPointRow>('SELECT * FROM contact_points ORDER BY id')).rows.map(toContactPoint),
    get,
    async create(fields, createdBy, now) {
      const { rows } = await pool.query<ContactPointRow>(
        `INSERT INTO contact_points (name, kind, url, addresses, secret, enabled, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING *`,
        [...values(fields), createdBy, now],
      )
      return toContactPoint(rows[0]!)
    },
    async update(id, fields, now) {
      const [name, , url, addresses, secret, enabled] = values(fields)
      const { rows } = await pool.query<ContactPointRow>(
        'UPDATE contact_points SET name = $2, url = $3, addresses = $4, secret = $5, enabled = $6, updated_at = $7 WHERE id = $1 RETURNING *',
        [id, name, url, addresses, secret, enabled, now],
      )
      return toContactPoint(rows[0]!)
    },
    async remove(id) {
      const client = await pool.connect()
      try {
        await client.query('BEGIN')
        await client.query('DELETE FROM notification_deliveries WHERE contact_point_id = $1', [id])
        const removed = ((await client.query('DELETE FROM contact_points WHERE id = $1', [id])).rowCount ?? 0) > 0
        await client.query('COMMIT')
        return removed
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {})
        throw err
      } finally {
        client.release()
      }
    },

    async startDelivery(d: { contactPointId: number; notificationId: string; status: NotificationStatus; summary: string; at: number }) {
      const { rows } = await pool.query<{ id: string }>(
        `INSERT INTO notification_deliveries (contact_point_id, notification_id, status, summary, outcome, attempts, started_at)
         VALUES ($1, $2, $3, $4, 'sending', 0, $5) RETURNING id`,
        [d.contactPointId, d.notificationId, d.status, d.summary, d.at],
      )
      await pool.query(
        'DELETE FROM notification_deliveries WHERE contact_point_id = $1 AND id <= (SELECT id FROM notification_deliveries WHERE contact_point_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)',
        [d.contactPointId, options.keep],
      )
      return Number(rows[0]!.id)
    },
    async attempted(id, d: { attempts: number; httpStatus: number | null; error: string | null }) {
      await pool.query('UPDATE notification_deliveries SET attempts = $2, http_status = $3, error = $4 WHERE id = $1', [id, d.attempts, d.httpStatus, d.error])
    },
    async finishDelivery(id, d: { outcome: DeliveryOutcome; attempts: number; httpStatus: number | null; error: string | null; at: number }) {
      await pool.query('UPDATE notification_deliveries SET outcome = $2, attempts = $3, http_status = $4, error = $5, finished_at = $6 WHERE id = $1', [
        id,
        d.outcome,
        d.attempts,
        d.httpStatus,
        d.error,
        d.at,
      ])
    },
    async getDelivery(id) {
      const row = (await pool.query<DeliveryRow>('SELECT * FROM notification_deliveries WHERE id = $1', [id])).rows[0]
      return row && delivery(row)
    },
    deliveries: async (contactPointId, limit) =>
      (await pool.query<DeliveryRow>('SELECT * FROM notification_deliveries WHERE contact_point_id = $1 ORDER BY id DESC LIMIT $2', [contactPointId, limit])).rows.map(delivery),
  }
}
