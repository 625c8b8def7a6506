import type Database from 'better-sqlite3'
import type { SilenceView } from '../../../shared/operations.ts'

/**
 * Silences: mute the alerts of a rule, a device and/or a city (every matcher given must match)
 * for a time window, with a reason. A silenced alert still opens, shows and can be acknowledged;
 * it only sends no notification (the notifier asks `isSilenced`). Stored in the registry database
 * (table `alert_silences`, migrations in store.ts); the ones not over yet are kept in memory, so
 * asking costs no query. Ending one early sets its end to now (it stays listed, as expired).
 */

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

/** What a silence is matched against: an alert (or anything with its rule, device and city). */
export interface Silenceable {
  ruleId: number
  deviceId: string
  city: string
}

export interface NewSilence {
  ruleId: number | null
  deviceId: string | null
  city: string | null
  reason: string
  startsAt: number
  endsAt: number
}

interface SilenceRow {
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

const toSilence = (r: SilenceRow): Silence => ({
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

/** Whether this silence mutes this alert at `now` (epoch ms): in its window, and every matcher it has matches. */
export function silenceMatches(s: Silence, alert: Silenceable, now: number): boolean {
  return (
    s.startsAt <= now &&
    now < s.endsAt &&
    (s.ruleId === null || s.ruleId === alert.ruleId) &&
    (s.deviceId === null || s.deviceId === alert.deviceId) &&
    (s.city === null || s.city === alert.city)
  )
}

export function silenceState(s: Silence, now: number): SilenceView['state'] {
  return now < s.startsAt ? 'pending' : now < s.endsAt ? 'active' : 'expired'
}

export function silenceView(s: Silence, now: number): SilenceView {
  const iso = (ms: number) => new Date(ms).toISOString()
  return { ...s, startsAt: iso(s.startsAt), endsAt: iso(s.endsAt), createdAt: iso(s.createdAt), state: silenceState(s, now) }
}

export function createSilences(options: { db: Database.Database; clock: () => number }) {
  const { db, clock } = options
  const insert = db.prepare(`INSERT INTO alert_silences (rule_id, device_id, city, reason, starts_at, ends_at, created_by, created_at)
    VALUES (@ruleId, @deviceId, @city, @reason, @startsAt, @endsAt, @createdBy, @createdAt)`)
  const get = db.prepare<[number], SilenceRow>('SELECT * FROM alert_silences WHERE id = ?')
  /** Silences not over yet, by id. */
  const current = new Map<number, Silence>()
  for (const row of db.prepare<[number], SilenceRow>('SELECT * FROM alert_silences WHERE ends_at > ?').all(clock())) current.set(row.id, toSilence(row))

  /** Drops the ones that are over. */
  function sweep(now: number): void {
    for (const [id, s] of current) if (s.endsAt <= now) current.delete(id)
  }

  return {
    /**
     * Whether a silence mutes this alert at `now` (epoch ms; default the engine's clock). The one
     * call the notifier makes before sending about an alert.
     */
    isSilenced(alert: Silenceable, now: number = clock()): boolean {
      for (const s of current.values()) if (silenceMatches(s, alert, now)) return true
      return false
    },

    /** The ids of the silences muting something at `now`: changes when one starts or ends. */
    activeIds(now: number): number[] {
      sweep(now)
      return [...current.values()].filter((s) => s.startsAt <= now).map((s) => s.id)
    },

    create(input: NewSilence, createdBy: string): Silence {
      const id = Number(insert.run({ ...input, createdBy, createdAt: clock() }).lastInsertRowid)
      const s = toSilence(get.get(id)!)
      if (s.endsAt > clock()) current.set(id, s)
      return s
    },

    get(id: number): Silence | undefined {
      const row = get.get(id)
      return row && toSilence(row)
    },

    /** Ends a silence now; one already over is returned as it is. */
    end(id: number, by: string): Silence | undefined {
      const s = this.get(id)
      if (!s) return undefined
      const now = clock()
      if (s.endsAt <= now) return s
      db.prepare('UPDATE alert_silences SET ends_at = ?, ended_by = ? WHERE id = ?').run(now, by, id)
      current.delete(id)
      return { ...s, endsAt: now, endedBy: by }
    },

    /** Not over yet (pending and active) first by end, then the newest `expiredLimit` over. */
    list(expiredLimit = 50): Silence[] {
      const now = clock()
      const live = db.prepare<[number], SilenceRow>('SELECT * FROM alert_silences WHERE ends_at > ? ORDER BY ends_at, id').all(now)
      const over = db.prepare<[number, number], SilenceRow>('SELECT * FROM alert_silences WHERE ends_at <= ? ORDER BY ends_at DESC, id DESC LIMIT ?').all(now, expiredLimit)
      return [...live, ...over].map(toSilence)
    },

    /** Deletes silences over before `before` (epoch ms). */
    prune: (before: number): number => db.prepare('DELETE FROM alert_silences WHERE ends_at < ?').run(before).changes,
  }
}

export type Silences = ReturnType<typeof createSilences>
