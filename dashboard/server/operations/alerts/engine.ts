import type Database from 'better-sqlite3'
import type { Logger } from 'pino'
import type { Registry } from '../../../../devices/registry.ts'
import type { DeviceStates } from '../device-states.ts'
import type { Feed } from '../../../../feed/feed.ts'
import type { AlertCounts } from '../../../shared/operations.ts'
import type { DeviceFilter, PushServer, UserVisibility } from '../push.ts'
import { createJudging } from './judging.ts'
import { createAlertWriter } from './persistence.ts'
import { createAlertPush } from './push.ts'
import { applyPatch, checkDefinition, definitionFromInput, RuleError, type NewRuleInput, type Rule, type RuleDefinition, type RulePatchInput } from './rules.ts'
import { createRuntimes } from './runtime.ts'
import { RollingWindow } from './evaluator.ts'
import { inScope } from './rules.ts'
import type { DeviceRef } from '../../../../devices/registry.ts'
import type { SeriesPoint, SeriesQuery } from '../../../../ingest/storage/contract.ts'
import { createAlertStore, type Alert, type AlertQuery, type AlertState } from './store.ts'
import { alertView, iso, ruleView, type AlertView, type RuleView } from './views.ts'

/**
 * The alert engine: rules evaluated continuously as readings arrive (the feed's accepted
 * readings, never a poll of storage), and as devices change state (device-states.ts, for silent
 * rules). Composed of:
 *  - runtime.ts: the rules in memory, per (rule, device) a condition state and, for windowed
 *    rules, a fixed-size rolling window (evaluator.ts), bounded (`maxKeys` in all);
 *  - judging.ts: readings and state changes → alerts opened and resolved;
 *  - persistence.ts: alerts written to SQLite in one transaction per tick;
 *  - push.ts: one `alerts` event per tick and `alert_rules` after a rule change, to rooms.
 *
 * Alerts go open → acknowledged (by whom, when) → resolved, at most one not resolved per
 * (rule, device).
 */

export interface AlertEngineOptions {
  db: Database.Database
  registry: Pick<Registry, 'get' | 'onChange'>
  feed?: Pick<Feed, 'subscribe'>
  states?: Pick<DeviceStates, 'onChange' | 'list' | 'tracked'>
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>
  clock?: () => number
  /** Writes and pushes, this often. Default 250 ms. */
  tickMs?: number
  maxChangesPerMessage?: number
  /** (rule, device) states kept at most; readings for new pairs beyond it are not judged (counted in stats). */
  maxKeys?: number
  /** Slots per rolling window. Default 20. */
  windowBuckets?: number
  /** Resolved alerts are deleted after this long. Default 90 days. */
  retentionMs?: number
  timers?: boolean
  /** Told of every alert opened and resolved, synchronously as judged (notifications); must not throw. */
  onAlertChange?: (change: 'opened' | 'resolved', alert: Alert) => void
}

export { alertView, ruleView, type AlertView, type RuleView }

/** Who may see which device, per user: undefined for everything. */
export type AlertVisibility = UserVisibility

/** Raised by engine calls the API maps to 404 / 409. */
export class AlertNotFoundError extends Error {}
export class AlertConflictError extends Error {}

/** Only these parts of a rule change what it judges; a change to the others keeps its alerts. */
const JUDGED: (keyof RuleDefinition)[] = ['kind', 'field', 'op', 'threshold', 'deviceId', 'type', 'city', 'window', 'aggregate', 'minDuration', 'hysteresis']

export function createAlertEngine(options: AlertEngineOptions) {
  const { db, registry, states } = options
  const clock = options.clock ?? Date.now
  const retentionMs = options.retentionMs ?? 90 * 86_400_000
  const store = createAlertStore(db)
  const stats = { evaluated: 0, opened: 0, resolved: 0, droppedKeys: 0, pushes: 0, writeErrors: 0 }
  const lookup = (id: string) => registry.get(id)

  /** Alerts not resolved, by id: the newest state of each (the store's may lag a tick). */
  const active = new Map<number, Alert>()
  let nextId = store.maxAlertId() + 1

  function counts(visible?: DeviceFilter): AlertCounts {
    const c = { open: 0, acknowledged: 0 }
    for (const a of active.values()) {
      if (visible && !visible({ id: a.deviceId, city: a.city })) continue
      if (a.state === 'open') c.open += 1
      else if (a.state === 'acknowledged') c.acknowledged += 1
    }
    return c
  }

  const runtimes = createRuntimes({ registry, maxKeys: options.maxKeys ?? 200_000, stats })
  const writer = createAlertWriter({ store, logger: options.logger, stats })
  const pusher = createAlertPush({
    maxChanges: options.maxChangesPerMessage ?? 100,
    counts,
    rules: () => [...runtimes.all()].map((rt) => ruleView(rt.rule)),
    onError: (err) => options.logger?.warn({ err }, 'could not push alerts to installers'),
    stats,
  })
  const judging = createJudging({
    runtimes,
    registry,
    states,
    clock,
    buckets: options.windowBuckets ?? 20,
    stats,
    sink: {
      nextId: () => nextId++,
      opened(alert) {
        active.set(alert.id, alert)
        writer.record(alert, true)
        pusher.changed(alert)
        pusher.count('opened')
        options.onAlertChange?.('opened', alert)
      },
      resolved(alert) {
        active.delete(alert.id)
        writer.record(alert, false)
        pusher.changed(alert)
        pusher.count('resolved')
        options.onAlertChange?.('resolved', alert)
      },
    },
  })
  const { flush } = writer
  const timers: NodeJS.Timeout[] = []

  function tick(): Promise<void> {
    judging.checkPendingSilent(clock())
    flush()
    return pusher.push()
  }

  // ------------------------------------------------------------------------------ start

  for (const rule of store.listRules()) runtimes.add(rule)
  for (const alert of store.activeAlerts()) {
    const rt = runtimes.get(alert.ruleId)
    if (!rt || !rt.rule.enabled) {
      judging.resolve(alert, rt ? 'rule-disabled' : 'rule-deleted', clock())
      continue
    }
    active.set(alert.id, alert)
    runtimes.restore(rt, alert.deviceId, { phase: 'firing', since: alert.openedAt, alert })
  }
  runtimes.reindex()
  store.prune(clock() - retentionMs)
  flush()

  const unsubscribers: (() => void)[] = []
  if (options.feed) {
    unsubscribers.push(
      options.feed.subscribe({
        // Feed listeners run on the ingest path: a failure here is logged, never thrown back.
        accepted: (device, readings) => {
          try {
            judging.accepted(device, readings)
          } catch (err) {
            options.logger?.error({ err, device: device.id }, 'alert evaluation failed')
          }
        },
      }, 'alerts'),
    )
  }
  if (states) unsubscribers.push(states.onChange(judging.stateChanged))
  unsubscribers.push(
    registry.onChange((change) => {
      if (change.kind === 'status' && change.device.status !== 'active') judging.resolveDevice(change.device.id, 'device-inactive')
    }),
  )
  if (options.timers !== false) {
    timers.push(setInterval(() => void tick(), options.tickMs ?? 250))
    timers.push(setInterval(() => store.prune(clock() - retentionMs), 6 * 3_600_000))
    for (const t of timers) t.unref()
  }
  for (const rt of runtimes.silent()) judging.seedSilent(rt)

  function install(rule: Rule): void {
    const rt = runtimes.add(rule)
    runtimes.reindex()
    judging.seedSilent(rt)
    pusher.rulesChanged()
  }

  const buckets = options.windowBuckets ?? 20

  /**
   * Refills the rolling windows of windowed threshold rules from storage (at start, in the
   * background): for each enabled rule with a window, the last `window` seconds of its field for
   * every active device in scope, at most `concurrency` queries at a time. The points only fill
   * the window (the next reading judges it, as it would have in a running engine). A rule with
   * more than `maxDevices` devices in scope is skipped (logged); a pair that already has a window
   * (readings received since the start) keeps it: newer information wins.
   */
  async function refillWindows(
    source: { series(q: SeriesQuery): Promise<SeriesPoint[]> },
    devices: () => readonly (DeviceRef & { status: string })[],
    refill: { maxDevices?: number; concurrency?: number; maxPoints?: number; cancelled?: () => boolean } = {},
  ): Promise<{ rules: number; pairs: number; points: number; skippedRules: number[] }> {
    const maxDevices = refill.maxDevices ?? 10_000
    const maxPoints = refill.maxPoints ?? 10_000
    const cancelled = refill.cancelled ?? (() => false)
    const out = { rules: 0, pairs: 0, points: 0, skippedRules: [] as number[] }
    const windowed = [...runtimes.all()].filter((rt) => rt.rule.enabled && rt.rule.kind === 'threshold' && rt.rule.window !== null)
    if (windowed.length === 0) return out
    const all = devices().filter((d) => d.status === 'active')
    const jobs: { rule: Rule; device: DeviceRef }[] = []
    for (const rt of windowed) {
      const scoped = all.filter((d) => inScope(rt.rule, d))
      if (scoped.length > maxDevices) {
        out.skippedRules.push(rt.rule.id)
        options.logger?.warn(
          { rule: rt.rule.id, devices: scoped.length, maxDevices },
          'alerts: too many devices in scope to refill the rule’s rolling windows from storage; they fill from new readings',
        )
        continue
      }
      out.rules += 1
      for (const d of scoped) jobs.push({ rule: rt.rule, device: { id: d.id, type: d.type, city: d.city } })
    }
    const worker = async () => {
      for (let job = jobs.shift(); job && !cancelled(); job = jobs.shift()) {
        const { rule, device } = job
        const windowMs = rule.window! * 1000
        const to = clock()
        let points: SeriesPoint[]
        try {
          points = await source.series({ deviceId: device.id, type: device.type, field: rule.field!, from: to - windowMs, to: to + 1, limit: maxPoints })
        } catch (err) {
          options.logger?.warn({ err, rule: rule.id, device: device.id }, 'alerts: could not refill a rolling window from storage')
          continue
        }
        // The rule may have changed or gone meanwhile; a window built from live readings wins.
        const rt = runtimes.get(rule.id)
        if (cancelled() || !rt || rt.rule !== rule || points.length === 0 || rt.keys.get(device.id)?.window) continue
        const key = runtimes.keyFor(rt, device.id)
        if (!key) continue
        const window = new RollingWindow(windowMs, buckets)
        for (const p of points) if (p.value !== null && window.add(p.time, p.value)) out.points += 1
        key.window = window
        out.pairs += 1
      }
    }
    await Promise.all(Array.from({ length: Math.max(1, refill.concurrency ?? 4) }, worker))
    options.logger?.info(out, 'alerts: rolling windows refilled from storage')
    return out
  }

  return {
    refillWindows,
    stats: () => ({ ...stats, keys: runtimes.keyCount, active: active.size, rules: runtimes.size }),

    listRules: (): RuleView[] => [...runtimes.all()].map((rt) => ruleView(rt.rule)),

    getRule(id: number): RuleView | undefined {
      const rt = runtimes.get(id)
      return rt && ruleView(rt.rule)
    },

    /** Throws RuleError for a definition that does not hold together. */
    createRule(input: NewRuleInput, createdBy: string): RuleView {
      const def = checkDefinition(definitionFromInput(input), lookup)
      const rule = store.createRule(def, createdBy, new Date(clock()).toISOString())
      install(rule)
      return ruleView(rule)
    },

    updateRule(id: number, patch: RulePatchInput): RuleView {
      const rt = runtimes.get(id)
      if (!rt) throw new AlertNotFoundError(`no alert rule with id ${id}`)
      const def = checkDefinition(applyPatch(rt.rule, patch), lookup)
      const judgedChanged = JUDGED.some((k) => def[k] !== rt.rule[k])
      const rule = store.updateRule(id, def, new Date(clock()).toISOString())
      if (!rule.enabled && rt.rule.enabled) judging.resolveRule(rt, 'rule-disabled')
      else if (judgedChanged) judging.resolveRule(rt, 'rule-changed')
      rt.rule = rule
      runtimes.reindex()
      judging.seedSilent(rt)
      pusher.rulesChanged()
      flush()
      return ruleView(rule)
    },

    deleteRule(id: number): void {
      const rt = runtimes.get(id)
      if (!rt) throw new AlertNotFoundError(`no alert rule with id ${id}`)
      judging.resolveRule(rt, 'rule-deleted')
      runtimes.remove(rt)
      runtimes.reindex()
      store.deleteRule(id)
      pusher.rulesChanged()
      flush()
    },

    queryAlerts(q: AlertQuery, visible?: DeviceFilter): { items: AlertView[]; total: number; counts: AlertCounts } {
      flush()
      let result = store.queryAlerts(visible ? { ...q, limit: 1_000_000, offset: 0 } : q)
      if (visible) {
        const mine = result.items.filter((a) => visible({ id: a.deviceId, city: a.city }))
        const offset = q.offset ?? 0
        result = { items: mine.slice(offset, offset + q.limit), total: mine.length }
      }
      // Active alerts' newest judged value lives in memory.
      const items = result.items.map((a) => alertView(active.get(a.id) ?? a))
      return { items, total: result.total, counts: counts(visible) }
    },

    getAlert(id: number): AlertView | undefined {
      flush()
      const a = active.get(id) ?? store.getAlert(id)
      return a && alertView(a)
    },

    /** Acknowledges an open alert; an acknowledged one is returned as it is (the first acknowledgement stands). */
    acknowledge(id: number, by: string): AlertView {
      flush()
      const alert = active.get(id)
      if (!alert) {
        const stored = store.getAlert(id)
        if (!stored) throw new AlertNotFoundError(`no alert with id ${id}`)
        throw new AlertConflictError(`alert ${id} was resolved at ${iso(stored.resolvedAt)}; only open alerts can be acknowledged`)
      }
      if (alert.state === 'open') {
        alert.state = 'acknowledged'
        alert.acknowledgedAt = clock()
        alert.acknowledgedBy = by
        writer.record(alert, false)
        pusher.changed(alert)
        pusher.count('acknowledged')
        flush()
      }
      return alertView(alert)
    },

    counts,

    /** Runs a tick now: pending silent rules, writes, pushes (tests; the timer does it every tickMs). Resolves when the installers' pushes have gone out. */
    tick,
    flush,

    /** Feeds readings in directly (tests, benchmarks; the feed does it when given). */
    accepted: judging.accepted,

    /**
     * Pushes to logged-in sockets by room: staff get every alert, each installer online the
     * alerts of the devices `visible` gives them (without it, everyone gets everything).
     */
    attach(server: PushServer, visible?: AlertVisibility): void {
      pusher.attach(server, visible)
    },

    /** Stops; resolves once an installers' push under way has finished (it sends nothing more). */
    close(): Promise<void> {
      for (const t of timers) clearInterval(t)
      timers.length = 0
      for (const unsubscribe of unsubscribers) unsubscribe()
      flush()
      pusher.attach(undefined)
      return pusher.idle()
    },
  }
}

export type AlertEngine = ReturnType<typeof createAlertEngine>
export { RuleError }
export type { AlertState }
