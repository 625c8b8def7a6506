import type pg from 'pg'
import { migratePostgres, type PostgresMigration } from '../../../../devices/migrations.ts'
import { alertParams, ruleParams, toAlert, toRule, toSilence, type NewSilence, type Silence, type SilenceRow, type Alert, type AlertNote, type AlertQuery, type AlertRow, type AlertStore, type RuleRow } from './store.ts'
import type { RuleDefinition } from './rules.ts'

/**
 * Alert rules, alerts, notes and silences in PostgreSQL, for several nodes sharing one database
 * (same tables and behaviour as the SQLite store in store.ts; store.contract.test.ts holds both to
 * it). Times are epoch ms in BIGINT columns, which node-postgres answers as text: rows pass
 * through `ms()` before the shared converters.
 */

export const POSTGRES_ALERT_MIGRATIONS: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'alert rules, alerts, notes and silences',
    up: `
      CREATE TABLE IF NOT EXISTS alert_rules (
        id SERIAL PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        field TEXT,
        op TEXT,
        threshold DOUBLE PRECISION,
        device_id TEXT,
        type TEXT,
        city TEXT,
        window_s INTEGER,
        aggregate TEXT,
        min_duration_s INTEGER NOT NULL DEFAULT 0,
        hysteresis DOUBLE PRECISION NOT NULL DEFAULT 0,
        severity TEXT NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS alerts (
        id BIGINT PRIMARY KEY,
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
        threshold DOUBLE PRECISION,
        unit TEXT NOT NULL,
        value DOUBLE PRECISION,
        last_value DOUBLE PRECISION,
        message TEXT NOT NULL,
        state TEXT NOT NULL,
        opened_at BIGINT NOT NULL,
        acknowledged_at BIGINT,
        acknowledged_by TEXT,
        resolved_at BIGINT,
        resolved_reason TEXT,
        assignee TEXT
      );
      CREATE INDEX IF NOT EXISTS alerts_state_opened ON alerts (state, opened_at);
      CREATE INDEX IF NOT EXISTS alerts_device ON alerts (device_id, opened_at);
      CREATE UNIQUE INDEX IF NOT EXISTS alerts_one_active ON alerts (rule_id, device_id) WHERE state != 'resolved';
      CREATE TABLE IF NOT EXISTS alert_notes (
        id BIGSERIAL PRIMARY KEY,
        alert_id BIGINT NOT NULL,
        at_ms BIGINT NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT NOT NULL,
        text TEXT,
        assignee TEXT
      );
      CREATE INDEX IF NOT EXISTS alert_notes_alert ON alert_notes (alert_id, id);
      CREATE TABLE IF NOT EXISTS alert_silences (
        id SERIAL PRIMARY KEY,
        rule_id INTEGER,
        device_id TEXT,
        city TEXT,
        reason TEXT NOT NULL,
        starts_at BIGINT NOT NULL,
        ends_at BIGINT NOT NULL,
        created_by TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        ended_by TEXT
      );
      CREATE INDEX IF NOT EXISTS alert_silences_ends ON alert_silences (ends_at);`,
  },
  { version: 2, name: 'alert message words', up: 'ALTER TABLE alerts ADD COLUMN IF NOT EXISTS message_words TEXT;' },
]

const RULE_COLUMNS = ['name', 'kind', 'field', 'op', 'threshold', 'device_id', 'type', 'city', 'window_s', 'aggregate', 'min_duration_s', 'hysteresis', 'severity', 'enabled'] as const
const ALERT_COLUMNS = [
  'id', 'rule_id', 'rule_name', 'kind', 'severity', 'device_id', 'device_name', 'type', 'city', 'field', 'op', 'threshold', 'unit', 'value',
  'last_value', 'message', 'message_words', 'state', 'opened_at', 'acknowledged_at', 'acknowledged_by', 'resolved_at', 'resolved_reason', 'assignee',
] as const
const ALERT_UPDATED = ['state', 'last_value', 'acknowledged_at', 'acknowledged_by', 'resolved_at', 'resolved_reason', 'assignee'] as const
/** As in store.ts: resolved is final (the WHERE) and the first acknowledgement stands, whichever node writes later. */
const UPDATE_SET = ALERT_UPDATED.map((c, i) => (c.startsWith('acknowledged_') ? `${c} = coalesce(${c}, $${i + 2})` : `${c} = $${i + 2}`)).join(', ')
const SILENCE_COLUMNS = ['rule_id', 'device_id', 'city', 'reason', 'starts_at', 'ends_at', 'created_by', 'created_at'] as const

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v))
/** BIGINT columns arrive as text. */
function ms<T extends object>(row: T, columns: readonly string[]): T {
  const out = { ...row } as Record<string, unknown>
  for (const c of columns) out[c] = num(out[c])
  return out as T
}
const alertRow = (r: AlertRow) => toAlert(ms(r, ['id', 'opened_at', 'acknowledged_at', 'resolved_at']))
const silenceRow = (r: SilenceRow) => toSilence(ms(r, ['starts_at', 'ends_at', 'created_at']))
const placeholders = (n: number, from = 1) => Array.from({ length: n }, (_, i) => `$${i + from}`).join(', ')

export async function createPostgresAlertStore(pool: pg.Pool): Promise<AlertStore> {
  await migratePostgres(pool, 'alerts', POSTGRES_ALERT_MIGRATIONS)

  async function inTransaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      const result = await work(client)
      await client.query('COMMIT')
      return result
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      client.release()
    }
  }

  const getRule = async (id: number) => {
    const row = (await pool.query<RuleRow>('SELECT * FROM alert_rules WHERE id = $1', [id])).rows[0]
    return row && toRule(row)
  }
  const getSilence = async (id: number) => {
    const row = (await pool.query<SilenceRow>('SELECT * FROM alert_silences WHERE id = $1', [id])).rows[0]
    return row && silenceRow(row)
  }

  return {
    listRules: async () => (await pool.query<RuleRow>('SELECT * FROM alert_rules ORDER BY id')).rows.map(toRule),
    getRule,
    async createRule(def: RuleDefinition, createdBy: string, now: string) {
      const p = ruleParams(def)
      const { rows } = await pool.query<RuleRow>(
        `INSERT INTO alert_rules (${RULE_COLUMNS.join(', ')}, created_by, created_at, updated_at) VALUES (${placeholders(RULE_COLUMNS.length + 3)}) RETURNING *`,
        [...RULE_COLUMNS.map((c) => p[c]), createdBy, now, now],
      )
      return toRule(rows[0]!)
    },
    async updateRule(id: number, def: RuleDefinition, now: string) {
      const p = ruleParams(def)
      const set = RULE_COLUMNS.map((c, i) => `${c} = $${i + 2}`).join(', ')
      const { rows } = await pool.query<RuleRow>(`UPDATE alert_rules SET ${set}, updated_at = $${RULE_COLUMNS.length + 2} WHERE id = $1 RETURNING *`, [
        id,
        ...RULE_COLUMNS.map((c) => p[c]),
        now,
      ])
      return toRule(rows[0]!)
    },
    async deleteRule(id: number) {
      await pool.query('DELETE FROM alert_rules WHERE id = $1', [id])
    },

    maxAlertId: async () => Number((await pool.query<{ n: string }>('SELECT coalesce(max(id), 0) AS n FROM alerts')).rows[0]!.n),
    activeAlerts: async () => (await pool.query<AlertRow>("SELECT * FROM alerts WHERE state != 'resolved' ORDER BY id")).rows.map(alertRow),
    async getAlert(id: number) {
      const row = (await pool.query<AlertRow>('SELECT * FROM alerts WHERE id = $1', [id])).rows[0]
      return row && alertRow(row)
    },
    write(inserts: readonly Alert[], updates: readonly Alert[]) {
      // Updates first, as in store.ts: a resolution in the batch frees its pair for an insert in it.
      return inTransaction(async (client) => {
        for (const a of updates) {
          const p = alertParams(a)
          await client.query(`UPDATE alerts SET ${UPDATE_SET} WHERE id = $1 AND state != 'resolved'`, [a.id, ...ALERT_UPDATED.map((c) => p[c])])
        }
        for (const a of inserts) {
          const p = alertParams(a)
          await client.query(`INSERT INTO alerts (${ALERT_COLUMNS.join(', ')}) VALUES (${placeholders(ALERT_COLUMNS.length)})`, ALERT_COLUMNS.map((c) => p[c]))
        }
      })
    },
    async queryAlerts(q: AlertQuery) {
      const where: string[] = []
      const params: (string | number)[] = []
      const add = (sql: string, value: string | number) => {
        params.push(value)
        where.push(`${sql} $${params.length}`)
      }
      if (q.state) add('state =', q.state)
      if (q.deviceId) add('device_id =', q.deviceId)
      if (q.city) add('city =', q.city)
      if (q.ruleId !== undefined) add('rule_id =', q.ruleId)
      const clause = where.length ? `WHERE ${where.join(' AND ')}` : ''
      const total = Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM alerts ${clause}`, params)).rows[0]!.n)
      const order = q.state === 'resolved' ? 'resolved_at DESC, id DESC' : 'opened_at DESC, id DESC'
      const { rows } = await pool.query<AlertRow>(`SELECT * FROM alerts ${clause} ORDER BY ${order} LIMIT $${params.length + 1} OFFSET $${params.length + 2}`, [
        ...params,
        q.limit,
        q.offset ?? 0,
      ])
      return { items: rows.map(alertRow), total }
    },
    prune(before: number) {
      return inTransaction(async (client) => {
        const n = (await client.query("DELETE FROM alerts WHERE state = 'resolved' AND resolved_at < $1", [before])).rowCount ?? 0
        if (n > 0) await client.query('DELETE FROM alert_notes n WHERE NOT EXISTS (SELECT 1 FROM alerts a WHERE a.id = n.alert_id)')
        return n
      })
    },

    async addNote(note: AlertNote) {
      await pool.query('INSERT INTO alert_notes (alert_id, at_ms, kind, actor, text, assignee) VALUES ($1, $2, $3, $4, $5, $6)', [
        note.alertId,
        note.at,
        note.kind,
        note.actor,
        note.text,
        note.assignee,
      ])
    },
    async notes(alertId: number) {
      const { rows } = await pool.query<{ alert_id: string; at_ms: string; kind: AlertNote['kind']; actor: string; text: string | null; assignee: string | null }>(
        'SELECT * FROM alert_notes WHERE alert_id = $1 ORDER BY id',
        [alertId],
      )
      return rows.map((r) => ({ alertId: Number(r.alert_id), at: Number(r.at_ms), kind: r.kind, actor: r.actor, text: r.text, assignee: r.assignee }))
    },

    async insertSilence(input: NewSilence, createdBy: string, createdAt: number): Promise<Silence> {
      const values = [input.ruleId, input.deviceId, input.city, input.reason, input.startsAt, input.endsAt, createdBy, createdAt]
      const { rows } = await pool.query<SilenceRow>(`INSERT INTO alert_silences (${SILENCE_COLUMNS.join(', ')}) VALUES (${placeholders(SILENCE_COLUMNS.length)}) RETURNING *`, values)
      return silenceRow(rows[0]!)
    },
    getSilence,
    currentSilences: async (now: number) => (await pool.query<SilenceRow>('SELECT * FROM alert_silences WHERE ends_at > $1 ORDER BY id', [now])).rows.map(silenceRow),
    async endSilence(id: number, now: number, by: string) {
      await pool.query('UPDATE alert_silences SET ends_at = $1, ended_by = $2 WHERE id = $3', [now, by, id])
    },
    async listSilences(now: number, expiredLimit: number) {
      const live = await pool.query<SilenceRow>('SELECT * FROM alert_silences WHERE ends_at > $1 ORDER BY ends_at, id', [now])
      const over = await pool.query<SilenceRow>('SELECT * FROM alert_silences WHERE ends_at <= $1 ORDER BY ends_at DESC, id DESC LIMIT $2', [now, expiredLimit])
      return [...live.rows, ...over.rows].map(silenceRow)
    },
    pruneSilences: async (before: number) => (await pool.query('DELETE FROM alert_silences WHERE ends_at < $1', [before])).rowCount ?? 0,
  }
}
