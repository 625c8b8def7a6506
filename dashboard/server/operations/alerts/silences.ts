import type { SilenceView } from '../../../shared/operations.ts'
import type { AlertStore, NewSilence, Silence } from './store.ts'

/**
 * Silences: mute the alerts of a rule, a device and/or a city (every matcher given must match)
 * for a time window, with a reason. A silenced alert still opens, shows and can be acknowledged;
 * it only sends no notification (the notifier asks `isSilenced`). Stored with the alerts
 * (table `alert_silences`, store.ts); the ones not over yet are kept in memory, so
 * asking costs no query. Ending one early sets its end to now (it stays listed, as expired).
 */

/** What a silence is matched against: an alert (or anything with its rule, device and city). */
export interface Silenceable {
  ruleId: number
  deviceId: string
  city: string
}

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

type SilenceStore = Pick<AlertStore, 'insertSilence' | 'getSilence' | 'currentSilences' | 'endSilence' | 'listSilences' | 'pruneSilences'>

/** Call `reload()` once before asking: it reads the silences not over yet into memory. */
export function createSilences(options: { store: SilenceStore; clock: () => number }) {
  const { store, clock } = options
  /** Silences not over yet, by id. */
  let current = new Map<number, Silence>()

  /** Drops the ones that are over. */
  function sweep(now: number): void {
    for (const [id, s] of current) if (s.endsAt <= now) current.delete(id)
  }

  return {
    /** Reads the silences not over yet again (at start; in cluster mode when another node changed one). */
    async reload(): Promise<void> {
      const fresh = new Map<number, Silence>()
      for (const s of await store.currentSilences(clock())) fresh.set(s.id, s)
      current = fresh
    },

    /**
     * Whether a silence mutes this alert at `now` (epoch ms; default the engine's clock). The one
     * call the notifier makes before sending about an alert.
     */
    isSilenced(alert: Silenceable, now: number = clock()): boolean {
      for (const s of current.values()) if (silenceMatches(s, alert, now)) return true
      return false
    },

    /** The silences muting something at `now`: changes when one starts or ends. */
    active(now: number): Silence[] {
      sweep(now)
      return [...current.values()].filter((s) => s.startsAt <= now)
    },

    async create(input: NewSilence, createdBy: string): Promise<Silence> {
      const s = await store.insertSilence(input, createdBy, clock())
      if (s.endsAt > clock()) current.set(s.id, s)
      return s
    },

    get: (id: number): Promise<Silence | undefined> => store.getSilence(id),

    /** Ends a silence now; one already over is returned as it is. */
    async end(id: number, by: string): Promise<Silence | undefined> {
      const s = await store.getSilence(id)
      if (!s) return undefined
      const now = clock()
      if (s.endsAt <= now) return s
      await store.endSilence(id, now, by)
      current.delete(id)
      return { ...s, endsAt: now, endedBy: by }
    },

    /** Not over yet (pending and active) first by end, then the newest `expiredLimit` over. */
    list: (expiredLimit = 50): Promise<Silence[]> => store.listSilences(clock(), expiredLimit),

    /** Deletes silences over before `before` (epoch ms). */
    prune: (before: number): Promise<number> => store.pruneSilences(before),
  }
}

export type Silences = ReturnType<typeof createSilences>
