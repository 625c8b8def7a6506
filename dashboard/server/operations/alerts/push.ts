import { STAFF_ROOM } from '../../realtime/rooms.ts'
import type { AlertCounts, AlertRulesMessage, AlertsMessage, RuleView } from '../../../shared/operations.ts'
import { createInstallerQueue, LOGGED_IN_ROOMS, toInstaller, type DeviceFilter, type PushServer, type UserVisibility } from '../push.ts'
import type { AlertView } from '../../../shared/operations.ts'
import type { Alert } from './store.ts'

/**
 * The alert pushes, once per tick, each an emit to a room:
 *  - `alerts`: the alerts that changed this tick, newest first, at most `maxChanges` (`more`: how
 *    many were left out: refetch GET /api/alerts), the counts of open and acknowledged alerts now
 *    and how many opened, were acknowledged and resolved this tick. Staff get one message for
 *    every device; each installer online one with the alerts of the devices they may see (and
 *    counts of those), nothing when none is theirs. A rule firing on every device at once costs
 *    a browser one small message, not thousands.
 *  - `alert_rules` ({ rules }), after a rule changed: to every logged-in socket.
 */

type Tally = 'opened' | 'acknowledged' | 'resolved'

interface InstallerBatch {
  /** Newest first. */
  alerts: Alert[]
  summary: Record<Tally, number>
}

export interface AlertPushOptions {
  maxChanges: number
  /** Open and acknowledged alerts now, of the devices `visible` lets through (all without it). */
  counts(visible?: DeviceFilter): AlertCounts
  /** Every rule, as the API shows them. */
  rules(): RuleView[]
  /** An alert as sent (views.ts alertView, with whether a silence matches it now). */
  view(alert: Alert): AlertView
  onError?(err: unknown): void
  stats: { pushes: number }
}

const newestFirst = (a: Alert, b: Alert) => b.id - a.id

export function createAlertPush(options: AlertPushOptions) {
  const { maxChanges, stats } = options
  /** What the next push carries. */
  const changed = new Map<number, Alert>()
  const tally: Record<Tally, number> = { opened: 0, acknowledged: 0, resolved: 0 }
  let rulesChanged = false
  let io: PushServer | undefined
  let visibility: UserVisibility | undefined

  function message(alerts: Alert[], summary: Record<Tally, number>, visible?: DeviceFilter): AlertsMessage {
    return { changes: alerts.slice(0, maxChanges).map(options.view), more: Math.max(0, alerts.length - maxChanges), counts: options.counts(visible), ...summary }
  }

  const installers = createInstallerQueue<InstallerBatch>({
    merge(pending, next) {
      const byId = new Map(pending.alerts.map((a) => [a.id, a]))
      for (const a of next.alerts) byId.set(a.id, a)
      const summary = { ...pending.summary }
      for (const k of Object.keys(summary) as Tally[]) summary[k] += next.summary[k]
      return { alerts: [...byId.values()].sort(newestFirst), summary }
    },
    send(server, username, batch) {
      const visible = visibility?.(username)
      const mine = visible ? batch.alerts.filter((a) => visible({ id: a.deviceId, city: a.city })) : batch.alerts
      if (mine.length > 0) toInstaller(server, username).emit('alerts', message(mine, batch.summary, visible))
    },
    onError: (err) => options.onError?.(err),
  })

  return {
    /** An alert changed (opened, acknowledged, resolved, a new value): in the next push. */
    changed(alert: Alert): void {
      changed.set(alert.id, alert)
    },
    /** Counts one of this tick's events. */
    count(what: Tally): void {
      tally[what] += 1
    },
    rulesChanged(): void {
      rulesChanged = true
    },

    /** Sends this tick's changes; resolves when the installers' messages have gone out too. */
    push(): Promise<void> {
      if (!io) {
        changed.clear()
        return Promise.resolve()
      }
      if (rulesChanged) {
        rulesChanged = false
        io.to(LOGGED_IN_ROOMS).emit('alert_rules', { rules: options.rules() } satisfies AlertRulesMessage)
      }
      if (changed.size === 0) return Promise.resolve()
      const all = [...changed.values()].sort(newestFirst)
      changed.clear()
      const summary = { ...tally }
      tally.opened = tally.acknowledged = tally.resolved = 0
      stats.pushes += 1
      if (!visibility) {
        // No one to cut for: every logged-in socket sees every device.
        io.to(LOGGED_IN_ROOMS).emit('alerts', message(all, summary))
        return Promise.resolve()
      }
      io.to(STAFF_ROOM).emit('alerts', message(all, summary))
      return installers.add({ alerts: all, summary })
    },

    attach(server: PushServer | undefined, visible?: UserVisibility): void {
      io = server
      visibility = visible
      installers.attach(server)
    },

    /** Resolves when no installer message is being sent. */
    idle: () => installers.idle(),
  }
}

export type AlertPush = ReturnType<typeof createAlertPush>
