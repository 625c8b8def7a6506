import type Database from 'better-sqlite3'
import { asAsync, type Async } from '../../../../devices/async-store.ts'
import { migrateSqlite, type SqliteMigration } from '../../../../devices/migrations.ts'
import type { DeviceType } from '../../../../devices/kinds.ts'
import { ALERT_STATES, type AlertState, type Op, type RuleAggregate, type RuleKind, type Severity } from '../../../shared/operations.ts'
import type { Words } from '../../../shared/words.ts'
import type { Rule, RuleDefinition } from './rules.ts'

/**
 * Alert rules, alerts, their notes (comments, assignments) and silences (tables `alert_rules`,
 * `alerts`, `alert_notes`, `alert_silences`). At most one alert per (rule, device) is not
 * resolved, which a partial unique index holds the store to. Alert ids are given by the engine
 * (it batches inserts per tick), rule ids by the database.
 *
 * Two implementations, one contract (store.contract.test.ts): SQLite in the registry database
 * (here, synchronous; `asyncAlertStore` gives it the shared asynchronous shape) and PostgreSQL
 * (store-postgres.ts) for several nodes. The converters below are shared by both.
 */

export { ALERT_STATES, type AlertState }
export type ResolvedReason = 'cleared' | 'reporting' | 'rule-changed' | 'rule-disabled' | 'rule-deleted' | 'device-inactive'

export interface Alert {
  id: number
  ruleId: number
  ruleName: string
  kind: RuleKind
  severity: Severity
  deviceId: string
  deviceName: string
  type: DeviceType
  city: string
  field: string | null
  op: Op | null
  threshold: number | null
  unit: string
  /** The value that opened it (the aggregate, for windowed rules). */
  value: number | null
  /** The newest value judged while it is active (in memory; the opening value once resolved). */
  lastValue: number | null
  message: string
  /** The message as a code and its figures, for the page's language; null in rows stored before (the page shows `message`). */
  messageWords?: Words | null
  state: AlertState
  /** Epoch ms. */
  openedAt: number
  acknowledgedAt: number | null
  acknowledgedBy: string | null
  resolvedAt: number | null
  resolvedReason: ResolvedReason | null
  /** The staff user name it is assigned to. */
  assignee: string | null
}

/** A comment or an assignment (the rest of an alert's timeline is read from the alert itself). */
export interface AlertNote {
  alertId: number
  at: number
  kind: 'comment' | 'assigned'
  actor: string
  text: string | null
  assignee: string | null
}

export interface RuleRow {
  id: number
  name: string
  kind: RuleKind
  field: string | null
  op: Op | null
  threshold: number | null
  device_id: string | null
  type: DeviceType | null
  city: string | null
  window_s: number | null
  aggregate: RuleAggregate | null
  min_duration_s: number
  hysteresis: number
  severity: Severity
  enabled: number
  created_by: string
  created_at: string
  updated_at: string
}

export interface AlertRow {
  id: number
  rule_id: number
  rule_name: string
  kind: RuleKind
  severity: Severity
  device_id: string
  device_name: string
  type: DeviceType
  city: string
  field: string | null
  op: Op | null
  threshold: number | null
  unit: string
  value: number | null
  last_value: number | null
  message: string
  /** JSON of Words, or null. */
  message_words: string | null
  state: AlertState
  opened_at: number
  acknowledged_at: number | null
  acknowledged_by: string | null
  resolved_at: number | null
  resolved_reason: ResolvedReason | null
  assignee: string | null
}

export const toRule = (r: RuleRow): Rule => ({
  id: r.id,
  name: r.name,
  kind: r.kind,
  field: r.field,
  op: r.op,
  threshold: r.threshold,
  deviceId: r.device_id,
  type: r.type,
  city: r.city,
  window: r.window_s,
  aggregate: r.aggregate,
  minDuration: r.min_duration_s,
  hysteresis: r.hysteresis,
  severity: r.severity,
  enabled: r.enabled === 1,
  createdBy: r.created_by,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
})

export const toAlert = (r: AlertRow): Alert => ({
  id: r.id,
  ruleId: r.rule_id,
  ruleName: r.rule_name,
  kind: r.kind,
  severity: r.severity,
  deviceId: r.device_id,
  deviceName: r.device_name,
  type: r.type,
  city: r.city,
  field: r.field,
  op: r.op,
  threshold: r.threshold,
  unit: r.unit,
  value: r.value,
  lastValue: r.last_value,
  message: r.message,
  messageWords: r.message_words ? (JSON.parse(r.message_words) as Words) : null,
  state: r.state,
  openedAt: r.opened_at,
  acknowledgedAt: r.acknowledged_at,
  acknowledgedBy: r.acknowledged_by,
  resolvedAt: r.resolved_at,
  resolvedReason: r.resolved_reason,
  assignee: r.assignee,
})

export const ruleParams = (d: RuleDefinition) => ({
  name: d.name,
  kind: d.kind,
  field: d.field,
  op: d.op,
  threshold: d.threshold,
  device_id: d.deviceId,
  type: d.type,
  city: d.city,
  window_s: d.window,
  aggregate: d.aggregate,
  min_duration_s: d.minDuration,
  hysteresis: d.hysteresis,
  severity: d.severity,
  enabled: d.enabled ? 1 : 0,
})

export const alertParams = (a: Alert) => ({
  id: a.id,
  rule_id: a.ruleId,
  rule_name: a.ruleName,
  kind: a.kind,
  severity: a.severity,
  device_id: a.deviceId,
  device_name: a.deviceName,
  type: a.type,
  city: a.city,
  field: a.field,
  op: a.op,
  threshold: a.threshold,
  unit: a.unit,
  value: a.value,
  last_value: a.lastValue,
  message: a.message,
  message_words: a.messageWords ? JSON.stringify(a.messageWords) : null,
  state: a.state,
  opened_at: a.openedAt,
  acknowledged_at: a.acknowledgedAt,
  acknowledged_by: a.acknowledgedBy,
  resolved_at: a.resolvedAt,
  resolved_reason: a.resolvedReason,
  assignee: a.assignee,
})

/** A silence (silences.ts says what it does); times in epoch ms. */
export interface Silence {
  id: number
  ruleId: number | null
  deviceId: string | null
  city: string | null
  reason: string
  /** Epoch ms. */
  startsAt: number
  endsAt: number
  createdBy: string
  createdAt: number
  endedBy: string | null
}

export interface NewSilence {
  ruleId: number | null
  deviceId: string | null
  city: string | null
  reason: string
  startsAt: number
  endsAt: number
}

export interface SilenceRow {
  id: number
  rule_id: number | null
  device_id: string | null
  city: string | null
  reason: string
  starts_at: number
  ends_at: number
  created_by: string
  created_at: number
  ended_by: string | null
}

export const toSilence = (r: SilenceRow): Silence => ({
  id: r.id,
  ruleId: r.rule_id,
  deviceId: r.device_id,
  city: r.city,
  reason: r.reason,
  startsAt: r.starts_at,
  endsAt: r.ends_at,
  createdBy: r.created_by,
  createdAt: r.created_at,
  endedBy: r.ended_by,
})

export interface AlertQuery {
  state?: AlertState
  deviceId?: string
  city?: string
  ruleId?: number
  limit: number
  offset?: number
}

/**
 * The alert tables' migrations (component `alerts` in schema_migrations). Version 1 is the
 * schema from before migrations (IF NOT EXISTS: adopted unchanged); 2 adds assignment, the
 * comments and assignments of the timeline, and silences; 3 the message's words (older rows keep null).
 */
export const ALERT_MIGRATIONS: readonly SqliteMigration[] = [
  {
    version: 1,
    name: 'alert rules and alerts',
    up: `
    CREATE TABLE IF NOT EXISTS alert_rules (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      name TEXT NOT NULL,
      kind TEXT NOT NULL,
      field TEXT,
      op TEXT,
      threshold REAL,
      device_id TEXT,
      type TEXT,
      city TEXT,
      window_s INTEGER,
      aggregate TEXT,
      min_duration_s INTEGER NOT NULL DEFAULT 0,
      hysteresis REAL NOT NULL DEFAULT 0,
      severity TEXT NOT NULL,
      enabled INTEGER NOT NULL DEFAULT 1,
      created_by TEXT NOT NULL,
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS alerts (
      id INTEGER PRIMARY KEY,
      rule_id INTEGER NOT NULL,
      rule_name TEXT NOT NULL,
      kind TEXT NOT NULL,
      severity TEXT NOT NULL,
      device_id TEXT NOT NULL,
      device_name TEXT NOT NULL,
      type TEXT NOT NULL,
      city TEXT NOT NULL,
      field TEXT,
      op TEXT,
      threshold REAL,
      unit TEXT NOT NULL,
      value REAL,
      last_value REAL,
      message TEXT NOT NULL,
      state TEXT NOT NULL,
      opened_at INTEGER NOT NULL,
      acknowledged_at INTEGER,
      acknowledged_by TEXT,
      resolved_at INTEGER,
      resolved_reason TEXT
    );
    CREATE INDEX IF NOT EXISTS alerts_state_opened ON alerts (state, opened_at);
    CREATE INDEX IF NOT EXISTS alerts_device ON alerts (device_id, opened_at);
    CREATE UNIQUE INDEX IF NOT EXISTS alerts_one_active ON alerts (rule_id, device_id) WHERE state != 'resolved';`,
  },
  {
    version: 2,
    name: 'alert assignee, notes and silences',
    up: `
      ALTER TABLE alerts ADD COLUMN assignee TEXT;
      CREATE TABLE alert_notes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        alert_id INTEGER NOT NULL,
        at_ms INTEGER NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT NOT NULL,
        text TEXT,
        assignee TEXT
      );
      CREATE INDEX alert_notes_alert ON alert_notes (alert_id, id);
      CREATE TABLE alert_silences (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        rule_id INTEGER,
        device_id TEXT,
        city TEXT,
        reason TEXT NOT NULL,
        starts_at INTEGER NOT NULL,
        ends_at INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        ended_by TEXT
      );
      CREATE INDEX alert_silences_ends ON alert_silences (ends_at);`,
  },
  { version: 3, name: 'alert message words', up: 'ALTER TABLE alerts ADD COLUMN message_words TEXT;' },
]

export function createSqliteAlertStore(db: Database.Database) {
  migrateSqlite(db, 'alerts', ALERT_MIGRATIONS)

  const insertRule = db.prepare(`INSERT INTO alert_rules (name, kind, field, op, threshold, device_id, type, city, window_s, aggregate, min_duration_s, hysteresis, severity, enabled, created_by, created_at, updated_at)
    VALUES (@name, @kind, @field, @op, @threshold, @device_id, @type, @city, @window_s, @aggregate, @min_duration_s, @hysteresis, @severity, @enabled, @created_by, @now, @now)`)
  const updateRule = db.prepare(`UPDATE alert_rules SET name = @name, kind = @kind, field = @field, op = @op, threshold = @threshold, device_id = @device_id, type = @type,
    city = @city, window_s = @window_s, aggregate = @aggregate, min_duration_s = @min_duration_s, hysteresis = @hysteresis, severity = @severity, enabled = @enabled, updated_at = @now WHERE id = @id`)
  const getRule = db.prepare<[number], RuleRow>('SELECT * FROM alert_rules WHERE id = ?')
  const insertAlert = db.prepare(`INSERT INTO alerts (id, rule_id, rule_name, kind, severity, device_id, device_name, type, city, field, op, threshold, unit, value, last_value, message, message_words, state, opened_at, acknowledged_at, acknowledged_by, resolved_at, resolved_reason, assignee)
    VALUES (@id, @rule_id, @rule_name, @kind, @severity, @device_id, @device_name, @type, @city, @field, @op, @threshold, @unit, @value, @last_value, @message, @message_words, @state, @opened_at, @acknowledged_at, @acknowledged_by, @resolved_at, @resolved_reason, @assignee)`)
  // Resolved is final and the first acknowledgement stands, whichever node writes later (cluster mode).
  const updateAlert = db.prepare(`UPDATE alerts SET state = @state, last_value = @last_value, acknowledged_at = coalesce(acknowledged_at, @acknowledged_at),
    acknowledged_by = coalesce(acknowledged_by, @acknowledged_by), resolved_at = @resolved_at, resolved_reason = @resolved_reason, assignee = @assignee WHERE id = @id AND state != 'resolved'`)
  const insertNote = db.prepare('INSERT INTO alert_notes (alert_id, at_ms, kind, actor, text, assignee) VALUES (@alertId, @at, @kind, @actor, @text, @assignee)')
  const listNotes = db.prepare<[number], { alert_id: number; at_ms: number; kind: AlertNote['kind']; actor: string; text: string | null; assignee: string | null }>(
    'SELECT * FROM alert_notes WHERE alert_id = ? ORDER BY id',
  )
  const getAlert = db.prepare<[number], AlertRow>('SELECT * FROM alerts WHERE id = ?')
  const insertSilence = db.prepare(`INSERT INTO alert_silences (rule_id, device_id, city, reason, starts_at, ends_at, created_by, created_at)
    VALUES (@ruleId, @deviceId, @city, @reason, @startsAt, @endsAt, @createdBy, @createdAt)`)
  const getSilence = db.prepare<[number], SilenceRow>('SELECT * FROM alert_silences WHERE id = ?')

  return {
    listRules: (): Rule[] => (db.prepare('SELECT * FROM alert_rules ORDER BY id').all() as RuleRow[]).map(toRule),
    getRule: (id: number): Rule | undefined => {
      const row = getRule.get(id)
      return row && toRule(row)
    },
    createRule(def: RuleDefinition, createdBy: string, now: string): Rule {
      const id = Number(insertRule.run({ ...ruleParams(def), created_by: createdBy, now }).lastInsertRowid)
      return toRule(getRule.get(id)!)
    },
    updateRule(id: number, def: RuleDefinition, now: string): Rule {
      updateRule.run({ ...ruleParams(def), id, now })
      return toRule(getRule.get(id)!)
    },
    deleteRule(id: number): void {
      db.prepare('DELETE FROM alert_rules WHERE id = ?').run(id)
    },

    maxAlertId: (): number => (db.prepare('SELECT coalesce(max(id), 0) AS n FROM alerts').get() as { n: number }).n,
    activeAlerts: (): Alert[] => (db.prepare("SELECT * FROM alerts WHERE state != 'resolved' ORDER BY id").all() as AlertRow[]).map(toAlert),
    getAlert: (id: number): Alert | undefined => {
      const row = getAlert.get(id)
      return row && toAlert(row)
    },
    /**
     * Writes inserts and updates in one transaction (the engine's per-tick batch). Updates first:
     * they are of alerts stored before, and one resolved in the batch frees its (rule, device)
     * for a new alert inserted in the same batch.
     */
    write: db.transaction((inserts: readonly Alert[], updates: readonly Alert[]) => {
      for (const a of updates) updateAlert.run(alertParams(a))
      for (const a of inserts) insertAlert.run(alertParams(a))
    }),
    queryAlerts(q: AlertQuery): { items: Alert[]; total: number } {
      const where: string[] = []
      const params: Record<string, string | number> = {}
      if (q.state) {
        where.push('state = @state')
        params.state = q.state
      }
      if (q.deviceId) {
        where.push('device_id = @device')
        params.device = q.deviceId
      }
      if (q.city) {
        where.push('city = @city')
        params.city = q.city
      }
      if (q.ruleId !== undefined) {
        where.push('rule_id = @rule')
        params.rule = q.ruleId
      }
      const clause = where.length ? `WHERE ${where.join(' AND ')}` : ''
      const total = (db.prepare(`SELECT count(*) AS n FROM alerts ${clause}`).get(params) as { n: number }).n
      const order = q.state === 'resolved' ? 'resolved_at DESC, id DESC' : 'opened_at DESC, id DESC'
      const rows = db.prepare(`SELECT * FROM alerts ${clause} ORDER BY ${order} LIMIT @limit OFFSET @offset`).all({ ...params, limit: q.limit, offset: q.offset ?? 0 }) as AlertRow[]
      return { items: rows.map(toAlert), total }
    },
    /** Deletes resolved alerts resolved before `before` (epoch ms); returns how many. */
    prune: db.transaction((before: number): number => {
      const n = db.prepare("DELETE FROM alerts WHERE state = 'resolved' AND resolved_at < ?").run(before).changes
      if (n > 0) db.prepare('DELETE FROM alert_notes WHERE alert_id NOT IN (SELECT id FROM alerts)').run()
      return n
    }),

    addNote: (note: AlertNote): void => {
      insertNote.run(note)
    },
    notes: (alertId: number): AlertNote[] =>
      listNotes.all(alertId).map((r) => ({ alertId: r.alert_id, at: r.at_ms, kind: r.kind, actor: r.actor, text: r.text, assignee: r.assignee })),

    insertSilence(input: NewSilence, createdBy: string, createdAt: number): Silence {
      const id = Number(insertSilence.run({ ...input, createdBy, createdAt }).lastInsertRowid)
      return toSilence(getSilence.get(id)!)
    },
    getSilence(id: number): Silence | undefined {
      const row = getSilence.get(id)
      return row && toSilence(row)
    },
    /** Silences not over at `now` (pending and active). */
    currentSilences: (now: number): Silence[] => db.prepare<[number], SilenceRow>('SELECT * FROM alert_silences WHERE ends_at > ? ORDER BY id').all(now).map(toSilence),
    endSilence(id: number, now: number, by: string): void {
      db.prepare('UPDATE alert_silences SET ends_at = ?, ended_by = ? WHERE id = ?').run(now, by, id)
    },
    /** Not over at `now` first, by end; then the newest `expiredLimit` over. */
    listSilences(now: number, expiredLimit: number): Silence[] {
      const live = db.prepare<[number], SilenceRow>('SELECT * FROM alert_silences WHERE ends_at > ? ORDER BY ends_at, id').all(now)
      const over = db.prepare<[number, number], SilenceRow>('SELECT * FROM alert_silences WHERE ends_at <= ? ORDER BY ends_at DESC, id DESC LIMIT ?').all(now, expiredLimit)
      return [...live, ...over].map(toSilence)
    },
    /** Deletes silences over before `before` (epoch ms). */
    pruneSilences: (before: number): number => db.prepare('DELETE FROM alert_silences WHERE ends_at < ?').run(before).changes,
  }
}

export type SqliteAlertStore = ReturnType<typeof createSqliteAlertStore>

/** The alert store as the PostgreSQL implementation has it, and as the SQLite one is given it by asyncAlertStore. */
export type AlertStore = Async<SqliteAlertStore>

/** The SQLite store in the shared asynchronous shape (each call still runs at once). */
export const asyncAlertStore = (store: SqliteAlertStore): AlertStore => asAsync(store)
