import type Database from 'better-sqlite3'
import { migrateSqlite, type SqliteMigration } from '../../../devices/migrations.ts'
import Type, { type Static } from 'typebox'

/**
 * The audit log: every change to devices and users made through the API (and to alert rules,
 * silences, and every acknowledgement, comment and assignment of an alert), with who made it, when,
 * and what changed (field by field, from → to). Secrets and passwords are never written here: a
 * rotation or a password reset is recorded as the event alone. Append-only, in an AuditStore:
 * the registry database by default (table `audit_log`), or PostgreSQL shared by several nodes.
 */

export const AUDIT_ACTIONS = [
  'device.create',
  'device.update',
  'device.rotate',
  'device.revoke',
  'device.decommission',
  'user.create',
  'user.update',
  'user.password-reset',
  'user.disable',
  'user.enable',
  'alert-rule.create',
  'alert-rule.update',
  'alert-rule.delete',
  'alert.acknowledge',
  'alert.comment',
  'alert.assign',
  'silence.create',
  'silence.expire',
  'contact-point.create',
  'contact-point.update',
  'contact-point.delete',
  'contact-point.test',
] as const
export type AuditAction = (typeof AUDIT_ACTIONS)[number]

export const AuditTargetTypeSchema = Type.Union([Type.Literal('device'), Type.Literal('user'), Type.Literal('alert-rule'), Type.Literal('alert'), Type.Literal('silence'), Type.Literal('contact-point')])
export type AuditTargetType = Static<typeof AuditTargetTypeSchema>

const ChangeValue = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null(), Type.Array(Type.String()), Type.Record(Type.String(), Type.Unknown())])

export const AuditEntrySchema = Type.Object({
  id: Type.Integer(),
  /** ISO 8601, UTC. */
  at: Type.String(),
  actor: Type.String({ description: 'User name, or "cli".' }),
  action: Type.String({ description: `One of ${AUDIT_ACTIONS.join(', ')}.` }),
  targetType: AuditTargetTypeSchema,
  target: Type.String({ description: 'Device id, user name, or the id of an alert rule, alert, silence or contact point.' }),
  changes: Type.Record(Type.String(), Type.Object({ from: Type.Optional(ChangeValue), to: Type.Optional(ChangeValue) }), {
    description: 'Field by field, what it was and what it became; never a secret or a password.',
  }),
  /** Free context, e.g. { "via": "import" }. */
  details: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()])),
})
export type AuditEntry = Static<typeof AuditEntrySchema>

export type Changes = AuditEntry['changes']

export interface AuditRecord {
  actor: string
  action: AuditAction
  targetType: AuditTargetType
  target: string
  changes?: Changes
  details?: AuditEntry['details']
}

export interface AuditFilter {
  actor?: string
  target?: string
  targetType?: AuditTargetType
  /** Exact action, or a prefix ending in '.' ("device." for every device action). */
  action?: string
  /** Epoch ms, inclusive. */
  from?: number
  /** Epoch ms, exclusive. */
  to?: number
  limit?: number
  offset?: number
}

/** Keys whose values are never recorded, whatever the caller passes. */
const SECRET_KEYS = /secret|password|token|hash/i

export interface AuditRow {
  id: number
  at_ms: number
  actor: string
  action: string
  target_type: AuditTargetType
  target: string
  changes: string
  details: string
}

/** The changes between two objects, over the given keys (deep-compared as JSON). */
export function diff<T extends object>(before: T, after: T, keys: readonly (keyof T & string)[]): Changes {
  const out: Changes = {}
  for (const key of keys) {
    if (SECRET_KEYS.test(key)) continue
    const a = before[key] as unknown
    const b = after[key] as unknown
    if (JSON.stringify(a) !== JSON.stringify(b)) out[key] = { from: a as never, to: b as never }
  }
  return out
}

/** A creation as changes: every given field, `to` only. */
export function created<T extends object>(value: T, keys: readonly (keyof T & string)[]): Changes {
  const out: Changes = {}
  for (const key of keys) {
    if (SECRET_KEYS.test(key) || value[key] === undefined) continue
    out[key] = { to: value[key] as never }
  }
  return out
}

function scrub(changes: Changes): Changes {
  const out: Changes = {}
  for (const [key, change] of Object.entries(changes)) if (!SECRET_KEYS.test(key)) out[key] = change
  return out
}

/** What an audit store holds per entry: the entry with its JSON as text and its time in epoch ms. */
export type AuditRowInput = Omit<AuditRow, 'id'>

/**
 * Where audit entries live. Two implementations, one contract (audit.contract.test.ts): SQLite,
 * the registry database (createSqliteAuditStore), and PostgreSQL shared by several nodes
 * (audit-store-postgres.ts). Entry ids increase with time of insertion.
 */
export interface AuditStore {
  insert(row: AuditRowInput): Promise<number>
  /** Newest first. */
  list(filter: AuditFilter): Promise<{ rows: AuditRow[]; total: number }>
}

export const SQLITE_AUDIT_MIGRATIONS: readonly SqliteMigration[] = [
  {
    version: 1,
    name: 'audit log',
    up: `
      CREATE TABLE IF NOT EXISTS audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at_ms INTEGER NOT NULL,
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

/** The filter as SQL conditions with numbered ($1…) or named (@x) parameters. */
export function auditWhere(filter: AuditFilter, style: 'numbered' | 'named'): { clause: string; params: Record<string, string | number>; values: (string | number)[] } {
  const where: string[] = []
  const params: Record<string, string | number> = {}
  const values: (string | number)[] = []
  const param = (name: string, value: string | number) => {
    params[name] = value
    values.push(value)
    return style === 'named' ? `@${name}` : `$${values.length}`
  }
  if (filter.actor) where.push(`actor = ${param('actor', filter.actor.trim().toLowerCase())}`)
  if (filter.target) where.push(`target = ${param('target', filter.target.trim().toLowerCase())}`)
  if (filter.targetType) where.push(`target_type = ${param('targetType', filter.targetType)}`)
  if (filter.action) {
    if (filter.action.endsWith('.')) where.push(`substr(action, 1, ${param('actionLength', filter.action.length)}) = ${param('action', filter.action)}`)
    else where.push(`action = ${param('action', filter.action)}`)
  }
  if (filter.from !== undefined) where.push(`at_ms >= ${param('from', filter.from)}`)
  if (filter.to !== undefined) where.push(`at_ms < ${param('to', filter.to)}`)
  return { clause: where.length ? `WHERE ${where.join(' AND ')}` : '', params, values }
}

export function createSqliteAuditStore(db: Database.Database): AuditStore {
  migrateSqlite(db, 'audit', SQLITE_AUDIT_MIGRATIONS)
  const insert = db.prepare('INSERT INTO audit_log (at_ms, actor, action, target_type, target, changes, details) VALUES (@at_ms, @actor, @action, @target_type, @target, @changes, @details)')
  return {
    insert: async (row) => Number(insert.run(row).lastInsertRowid),
    async list(filter) {
      const { clause, params } = auditWhere(filter, 'named')
      const total = (db.prepare(`SELECT count(*) AS n FROM audit_log ${clause}`).get(params) as { n: number }).n
      const rows = db
        .prepare(`SELECT * FROM audit_log ${clause} ORDER BY id DESC LIMIT @limit OFFSET @offset`)
        .all({ ...params, limit: filter.limit ?? 100, offset: filter.offset ?? 0 }) as AuditRow[]
      return { rows, total }
    },
  }
}

export function createAuditLog(options: ({ db: Database.Database; store?: undefined } | { store: AuditStore; db?: undefined }) & { now?: () => number }) {
  const { now = Date.now } = options
  const store = options.store ?? createSqliteAuditStore(options.db)
  const toEntry = (row: AuditRow): AuditEntry => ({
    id: row.id,
    at: new Date(row.at_ms).toISOString(),
    actor: row.actor,
    action: row.action,
    targetType: row.target_type,
    target: row.target,
    changes: JSON.parse(row.changes) as Changes,
    details: JSON.parse(row.details) as AuditEntry['details'],
  })

  return {
    async record(entry: AuditRecord): Promise<AuditEntry> {
      const details: AuditEntry['details'] = {}
      for (const [key, value] of Object.entries(entry.details ?? {})) if (!SECRET_KEYS.test(key)) details[key] = value
      const row: AuditRowInput = {
        at_ms: now(),
        actor: entry.actor,
        action: entry.action,
        target_type: entry.targetType,
        target: entry.target,
        changes: JSON.stringify(scrub(entry.changes ?? {})),
        details: JSON.stringify(details),
      }
      return toEntry({ id: await store.insert(row), ...row })
    },

    /** Newest first. */
    async list(filter: AuditFilter = {}): Promise<{ items: AuditEntry[]; total: number }> {
      const { rows, total } = await store.list(filter)
      return { items: rows.map(toEntry), total }
    },
  }
}

export type AuditLog = ReturnType<typeof createAuditLog>
