import type pg from 'pg'
import { migratePostgres, type PostgresMigration } from '../../../devices/migrations.ts'
import { auditWhere, type AuditRow, type AuditStore } from './audit.ts'

/** The audit log in PostgreSQL, shared by every node: every read goes to the database (only the audit page reads it). */

export const POSTGRES_AUDIT_MIGRATIONS: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'audit log',
    up: `
      CREATE TABLE IF NOT EXISTS audit_log (
        id BIGSERIAL PRIMARY KEY,
        at_ms BIGINT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target_type TEXT NOT NULL,
        target TEXT NOT NULL,
        changes TEXT NOT NULL DEFAULT '{}',
        details TEXT NOT NULL DEFAULT '{}'
      );
      CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at_ms);
      CREATE INDEX IF NOT EXISTS audit_log_target ON audit_log (target_type, target);
      CREATE INDEX IF NOT EXISTS audit_log_actor ON audit_log (actor);`,
  },
]

type PgAuditRow = Omit<AuditRow, 'id' | 'at_ms'> & { id: string; at_ms: string }

export async function createPostgresAuditStore(pool: pg.Pool): Promise<AuditStore> {
  await migratePostgres(pool, 'audit', POSTGRES_AUDIT_MIGRATIONS)
  return {
    async insert(row) {
      const { rows } = await pool.query<{ id: string }>(
        'INSERT INTO audit_log (at_ms, actor, action, target_type, target, changes, details) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id',
        [row.at_ms, row.actor, row.action, row.target_type, row.target, row.changes, row.details],
      )
      return Number(rows[0]!.id)
    },
    async list(filter) {
      const { clause, values } = auditWhere(filter, 'numbered')
      const total = Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM audit_log ${clause}`, values)).rows[0]!.n)
      const n = values.length
      const { rows } = await pool.query<PgAuditRow>(`SELECT * FROM audit_log ${clause} ORDER BY id DESC LIMIT $${n + 1} OFFSET $${n + 2}`, [...values, filter.limit ?? 100, filter.offset ?? 0])
      return { rows: rows.map((r) => ({ ...r, id: Number(r.id), at_ms: Number(r.at_ms) })), total }
    },
  }
}
