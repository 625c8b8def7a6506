import { randomUUID } from 'node:crypto'
import type { Notification, NotifiedDevice } from '../../../shared/notify.ts'
import type { AlertEvent, AlertView } from '../alerts/engine.ts'

/**
 * Alerts into notifications, grouped so that a storm is one message, not a hundred:
 *  - a group is one rule in one city; the alerts of a group opened within `groupWindowMs` of its
 *    first one go out as ONE "firing" message (count and devices);
 *  - a group sends at most one message per `repeatIntervalMs`: alerts opened after a message wait
 *    for the next slot and go out together;
 *  - when the group's last alert resolves, a "resolved" message follows `groupWindowMs` later,
 *    unless an alert of the group opens again meanwhile (a flapping rule stays one incident);
 *  - silenced alerts (the event's `silenced` when an alert opens, `isSilenced` again before a
 *    message) are left out; a group with nothing left to say sends nothing.
 * Fed by the alert engine's events (engine.onAlert): each carries a fresh view of the alert.
 * Only alerts seen opening are followed: an alert already active when the process started
 * produces no message, nor does its resolution.
 */

export interface Scheduler {
  set(fn: () => void, ms: number): unknown
  clear(handle: unknown): void
}

export const realScheduler: Scheduler = {
  set(fn, ms) {
    const t = setTimeout(fn, ms)
    t.unref()
    return t
  },
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
}

export interface GroupingOptions {
  groupWindowMs: number
  repeatIntervalMs: number
  clock?: () => number
  scheduler?: Scheduler
  /** Asked again before a message: a silence may have started since the alert opened. */
  isSilenced?: (alert: AlertView) => boolean
  /** Gets every message; must not throw (deliveries are its business). */
  send(notification: Notification): void
  /** Devices listed per message at most (the rest counted in `more`). Default 100. */
  maxDevices?: number
}

interface Group {
  key: string
  ruleId: number
  ruleName: string
  severity: string
  city: string
  /** Active alerts of the group, not silenced when they opened. */
  active: Map<number, AlertView>
  /** Opened since the last firing message. */
  unsent: Map<number, AlertView>
  /** In a firing message since the last resolved one. */
  notified: Map<number, AlertView>
  lastSentAt: number | null
  pending: { what: 'firing' | 'resolved'; handle: unknown } | null
}

export const groupKey = (alert: Pick<AlertView, 'ruleId' | 'city'>) => `${alert.ruleId}:${alert.city}`

const device = (a: AlertView): NotifiedDevice => ({ id: a.deviceId, name: a.deviceName, alertId: a.id, value: a.value, openedAt: a.openedAt, message: a.message })

/** The one-line summaries, English and Italian. */
export function summaries(status: Notification['status'], group: Notification['group'], count: number, newAlerts: number): { summary: string; summaryIt: string } {
  const where = group.city
  if (status === 'test') return { summary: 'Test notification from Piazza', summaryIt: 'Notifica di prova da Piazza' }
  if (status === 'resolved') {
    return {
      summary: `Resolved: ${group.ruleName} in ${where} — all ${newAlerts} device${newAlerts === 1 ? '' : 's'} back to normal`,
      summaryIt: `Risolto: ${group.ruleName} a ${where} — ${newAlerts === 1 ? 'il dispositivo è tornato' : `tutti i ${newAlerts} dispositivi sono tornati`} alla normalità`,
    }
  }
  const fresh = newAlerts === count ? '' : ` (${newAlerts} new)`
  const freshIt = newAlerts === count ? '' : ` (${newAlerts} ${newAlerts === 1 ? 'nuovo' : 'nuovi'})`
  return {
    summary: `[${group.severity}] ${group.ruleName} in ${where}: ${count} device${count === 1 ? '' : 's'} in alert${fresh}`,
    summaryIt: `[${group.severity}] ${group.ruleName} a ${where}: ${count} ${count === 1 ? 'dispositivo' : 'dispositivi'} in allarme${freshIt}`,
  }
}

export function createGrouping(options: GroupingOptions) {
  const { groupWindowMs, repeatIntervalMs } = options
  const clock = options.clock ?? Date.now
  const scheduler = options.scheduler ?? realScheduler
  const isSilenced = options.isSilenced ?? (() => false)
  const maxDevices = options.maxDevices ?? 100
  const groups = new Map<string, Group>()
  const stats = { opened: 0, silenced: 0, messages: 0 }

  function cancel(g: Group): void {
    if (g.pending) scheduler.clear(g.pending.handle)
    g.pending = null
  }

  function schedule(g: Group, what: 'firing' | 'resolved', at: number): void {
    cancel(g)
    const handle = scheduler.set(() => {
      g.pending = null
      fire(g, what)
    }, Math.max(0, at - clock()))
    g.pending = { what, handle }
  }

  function message(g: Group, status: 'firing' | 'resolved', listed: AlertView[], count: number, newAlerts: number): Notification {
    const group = { key: g.key, ruleId: g.ruleId, ruleName: g.ruleName, city: g.city, severity: g.severity }
    // ISO times of one format: their text order is their time order.
    const sorted = listed.sort((a, b) => (a.openedAt < b.openedAt ? -1 : a.openedAt > b.openedAt ? 1 : a.id - b.id))
    return {
      version: 1,
      id: randomUUID(),
      status,
      group,
      count,
      newAlerts,
      devices: sorted.slice(0, maxDevices).map(device),
      more: Math.max(0, sorted.length - maxDevices),
      ...summaries(status, group, count, newAlerts),
      sentAt: new Date(clock()).toISOString(),
    }
  }

  function fire(g: Group, what: 'firing' | 'resolved'): void {
    if (what === 'firing') {
      for (const [id, a] of g.unsent) {
        if (!isSilenced(a)) continue
        g.unsent.delete(id)
        g.active.delete(id)
        stats.silenced += 1
      }
      if (g.unsent.size === 0) {
        // Silenced since they opened: what was notified may be all resolved now.
        if (g.active.size === 0 && g.notified.size > 0) return schedule(g, 'resolved', clock() + groupWindowMs)
        return forgetIfIdle(g)
      }
      const newAlerts = g.unsent.size
      for (const [id, a] of g.unsent) g.notified.set(id, a)
      g.unsent.clear()
      g.lastSentAt = clock()
      stats.messages += 1
      options.send(message(g, 'firing', [...g.active.values()], g.active.size, newAlerts))
      return
    }
    if (g.active.size > 0 || g.notified.size === 0) return
    const resolved = [...g.notified.values()]
    g.notified.clear()
    g.lastSentAt = clock()
    stats.messages += 1
    options.send(message(g, 'resolved', resolved, 0, resolved.length))
    forgetIfIdle(g)
  }

  /** A group with nothing active, nothing to say and no recent message is dropped (memory stays bounded by live incidents). */
  function forgetIfIdle(g: Group): void {
    if (g.active.size > 0 || g.notified.size > 0 || g.pending) return
    if (g.lastSentAt !== null && clock() - g.lastSentAt < repeatIntervalMs) return
    groups.delete(g.key)
  }

  function opened(alert: AlertView, silenced: boolean): void {
    if (silenced) {
      stats.silenced += 1
      return
    }
    stats.opened += 1
    const key = groupKey(alert)
    let g = groups.get(key)
    if (!g) {
      g = { key, ruleId: alert.ruleId, ruleName: alert.ruleName, severity: alert.severity, city: alert.city, active: new Map(), unsent: new Map(), notified: new Map(), lastSentAt: null, pending: null }
      groups.set(key, g)
    }
    // The event's view is a snapshot already: the engine goes on changing its own object, not this one.
    g.active.set(alert.id, alert)
    g.unsent.set(alert.id, alert)
    if (g.pending?.what === 'firing') return
    // Back before the resolved message went: the incident goes on (a message for the new alerts in the next slot).
    const now = clock()
    schedule(g, 'firing', Math.max(now + groupWindowMs, g.lastSentAt === null ? 0 : g.lastSentAt + repeatIntervalMs))
  }

  function resolved(alert: AlertView): void {
    const g = groups.get(groupKey(alert))
    if (!g || !g.active.delete(alert.id)) return
    g.unsent.delete(alert.id)
    if (g.active.size === 0) {
      cancel(g)
      if (g.notified.size > 0) schedule(g, 'resolved', clock() + groupWindowMs)
      else forgetIfIdle(g)
    } else if (g.unsent.size === 0 && g.pending?.what === 'firing') {
      // The alerts waiting for a message resolved before it went: nothing new to say.
      cancel(g)
    }
  }

  return {
    /** An event of the alert engine (engine.onAlert); acknowledgements change nothing here. */
    alertEvent(event: AlertEvent): void {
      if (event.type === 'opened') opened(event.alert, event.silenced)
      else if (event.type === 'resolved') resolved(event.alert)
    },

    /** Sends every group's pending message now, whatever its window (tests; shutdown does not). */
    flush(): void {
      for (const g of [...groups.values()]) {
        const what = g.pending?.what
        if (!what) continue
        cancel(g)
        fire(g, what)
      }
    },

    stats: () => ({ ...stats, groups: groups.size }),

    close(): void {
      for (const g of groups.values()) cancel(g)
      groups.clear()
    },
  }
}

export type Grouping = ReturnType<typeof createGrouping>
