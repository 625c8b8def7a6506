import type Database from 'better-sqlite3'
import Type, { type Static } from 'typebox'

/**
 * The audit log: every change to devices and users made through the API, with who made it, when,
 * and what changed (field by field, from → to). Secrets and passwords are never written here: a
 * rotation or a password reset is recorded as the event alone. Stored in the registry database
 * (table `audit_log`), append-only.
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
] as const
export type AuditAction = (typeof AUDIT_ACTIONS)[number]

export const AuditTargetTypeSchema = Type.Union([Type.Literal('device'), Type.Literal('user')])
export type AuditTargetType = Static<typeof AuditTargetTypeSchema>

const ChangeValue = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null(), Type.Array(Type.String()), Type.Record(Type.String(), Type.Unknown())])

export const AuditEntrySchema = Type.Object({
  id: Type.Integer(),
  /** ISO 8601, UTC. */
  at: Type.String(),
  actor: Type.String({ description: 'User name, or "cli".' }),
  action: Type.String({ description: `One of ${AUDIT_ACTIONS.join(', ')}.` }),
  targetType: AuditTargetTypeSchema,
  target: Type.String({ description: 'Device id or user name.' }),
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

interface AuditRow {
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

export function createAuditLog(options: { db: Database.Database; now?: () => number }) {
  const { db, now = Date.now } = options
  db.exec(`
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
    CREATE INDEX IF NOT EXISTS audit_log_actor ON audit_log (actor);
  `)
  const insert = db.prepare<[number, string, string, string, string, string, string]>(
    'INSERT INTO audit_log (at_ms, actor, action, target_type, target, changes, details) VALUES (?, ?, ?, ?, ?, ?, ?)',
  )
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
    record(entry: AuditRecord): AuditEntry {
      const details: AuditEntry['details'] = {}
      for (const [key, value] of Object.entries(entry.details ?? {})) if (!SECRET_KEYS.test(key)) details[key] = value
      const at = now()
      const result = insert.run(at, entry.actor, entry.action, entry.targetType, entry.target, JSON.stringify(scrub(entry.changes ?? {})), JSON.stringify(details))
      return toEntry({
        id: Number(result.lastInsertRowid),
        at_ms: at,
        actor: entry.actor,
        action: entry.action,
        target_type: entry.targetType,
        target: entry.target,
        changes: JSON.stringify(scrub(entry.changes ?? {})),
        details: JSON.stringify(details),
      })
    },

    /** Newest first. */
    list(filter: AuditFilter = {}): { items: AuditEntry[]; total: number } {
      const where: string[] = []
      const params: Record<string, string | number> = {}
      if (filter.actor) {
        where.push('actor = @actor')
        params.actor = filter.actor.trim().toLowerCase()
      }
      if (filter.target) {
        where.push('target = @target')
        params.target = filter.target.trim().toLowerCase()
      }
      if (filter.targetType) {
        where.push('target_type = @targetType')
        params.targetType = filter.targetType
      }
      if (filter.action) {
        if (filter.action.endsWith('.')) {
          where.push('substr(action, 1, @actionLength) = @action')
          params.actionLength = filter.action.length
        } else where.push('action = @action')
        params.action = filter.action
      }
      if (filter.from !== undefined) {
        where.push('at_ms >= @from')
        params.from = filter.from
      }
      if (filter.to !== undefined) {
        where.push('at_ms < @to')
        params.to = filter.to
      }
      const clause = where.length ? `WHERE ${where.join(' AND ')}` : ''
      const total = (db.prepare(`SELECT count(*) AS n FROM audit_log ${clause}`).get(params) as { n: number }).n
      const rows = db
        .prepare(`SELECT * FROM audit_log ${clause} ORDER BY id DESC LIMIT @limit OFFSET @offset`)
        .all({ ...params, limit: filter.limit ?? 100, offset: filter.offset ?? 0 }) as AuditRow[]
      return { items: rows.map(toEntry), total }
    },
  }
}

export type AuditLog = ReturnType<typeof createAuditLog>
