import type Database from 'better-sqlite3'
import type { Logger } from 'pino'
import type { Registry } from '../../../../devices/registry.ts'
import type { DeviceStates } from '../device-states.ts'
import type { Feed } from '../../../../feed/feed.ts'
import { groupAlerts, type AlertCounts, type AlertGroup, type SilenceView, type TimelineEvent } from '../../../shared/operations.ts'
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
import { createSqliteAlertStore, type Alert, type AlertQuery, type AlertState, type NewSilence, type Silence } from './store.ts'
import { createSilences, silenceView, type Silenceable } from './silences.ts'
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
}

export { alertView, ruleView, type AlertView, type RuleView }

/** Who may see which device, per user: undefined for everything. */
export type AlertVisibility = UserVisibility

/** Raised by engine calls the API maps to 404 / 409. */
export class AlertNotFoundError extends Error {}
export class AlertConflictError extends Error {}

/**
 * What happened to an alert, for listeners such as the notifier (engine.onAlert): `silenced` says
 * whether a silence matches it at that moment (send nothing then). Opened and resolved come from
 * judging (on the ingest path: a listener must be quick and must not throw; errors are logged).
 */
export interface AlertEvent {
  type: 'opened' | 'acknowledged' | 'resolved'
  alert: AlertView
  silenced: boolean
}

/** The outcome of a bulk acknowledgement. */
export interface BulkAckResult {
  /** Acknowledged now. */
  acknowledged: AlertView[]
  /** Already acknowledged (the first acknowledgement stands). */
  already: number[]
  /** Resolved before this: not acknowledged. */
  resolved: number[]
  /** No such alert. */
  missing: number[]
}

/** Only these parts of a rule change what it judges; a change to the others keeps its alerts. */
const JUDGED: (keyof RuleDefinition)[] = ['kind', 'field', 'op', 'threshold', 'deviceId', 'type', 'city', 'window', 'aggregate', 'minDuration', 'hysteresis']

export function createAlertEngine(options: AlertEngineOptions) {
  const { db, registry, states } = options
  const clock = options.clock ?? Date.now
  const retentionMs = options.retentionMs ?? 90 * 86_400_000
  const store = createSqliteAlertStore(db)
  const silences = createSilences({ store, clock })
  const view = (a: Alert) => alertView(a, a.state !== 'resolved' && silences.isSilenced(a))
  const listeners = new Set<(event: AlertEvent) => void>()
  function emit(type: AlertEvent['type'], alert: Alert): void {
    if (listeners.size === 0) return
    const v = view(alert)
    const event: AlertEvent = { type, alert: v, silenced: type === 'resolved' ? silences.isSilenced(alert) : v.silenced }
    for (const listener of listeners) {
      try {
        listener(event)
      } catch (err) {
        options.logger?.error({ err, alert: alert.id }, 'an alert listener failed')
      }
    }
  }
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
    view,
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
        emit('opened', alert)
      },
      resolved(alert) {
        active.delete(alert.id)
        writer.record(alert, false)
        pusher.changed(alert)
        pusher.count('resolved')
        emit('resolved', alert)
      },
    },
  })
  const { flush } = writer

  /** Acknowledges an open alert; false when it was acknowledged already. */
  function acknowledgeOne(alert: Alert, by: string): boolean {
    if (alert.state !== 'open') return false
    alert.state = 'acknowledged'
    alert.acknowledgedAt = clock()
    alert.acknowledgedBy = by
    writer.record(alert, false)
    pusher.changed(alert)
    pusher.count('acknowledged')
    emit('acknowledged', alert)
    return true
  }
  const timers: NodeJS.Timeout[] = []

  /** The silences muting something at the last tick: when one starts or ends, the alerts it matches are pushed again (their `silenced` changed). */
  let silencing = new Set(silences.activeIds(clock()))
  function silencesMoved(): void {
    const now = new Set(silences.activeIds(clock()))
    const moved = [...now].filter((id) => !silencing.has(id)).concat([...silencing].filter((id) => !now.has(id)))
    silencing = now
    if (moved.length === 0) return
    const matchers = moved.map((id) => silences.get(id)).filter((s): s is Silence => s !== undefined)
    for (const a of active.values()) {
      if (matchers.some((s) => (s.ruleId === null || s.ruleId === a.ruleId) && (s.deviceId === null || s.deviceId === a.deviceId) && (s.city === null || s.city === a.city))) pusher.changed(a)
    }
  }

  function tick(): Promise<void> {
    judging.checkPendingSilent(clock())
    silencesMoved()
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
  silences.prune(clock() - retentionMs)
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
    timers.push(
      setInterval(() => {
        store.prune(clock() - retentionMs)
        silences.prune(clock() - retentionMs)
      }, 6 * 3_600_000),
    )
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
      const items = result.items.map((a) => view(active.get(a.id) ?? a))
      return { items, total: result.total, counts: counts(visible) }
    },

    getAlert(id: number): AlertView | undefined {
      flush()
      const a = active.get(id) ?? store.getAlert(id)
      return a && view(a)
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
      if (acknowledgeOne(alert, by)) flush()
      return view(alert)
    },

    /**
     * Acknowledges several alerts at once (a group, or a selection), in one write: the open ones
     * are acknowledged, the others reported as already acknowledged, resolved or missing.
     */
    acknowledgeMany(ids: readonly number[], by: string): BulkAckResult {
      flush()
      const out: BulkAckResult = { acknowledged: [], already: [], resolved: [], missing: [] }
      for (const id of new Set(ids)) {
        const alert = active.get(id)
        if (alert) {
          if (acknowledgeOne(alert, by)) out.acknowledged.push(view(alert))
          else out.already.push(id)
        } else if (store.getAlert(id)) out.resolved.push(id)
        else out.missing.push(id)
      }
      flush()
      return out
    },

    /** The active alerts of one group (rule, city), of the devices `visible` lets through. */
    groupIds(ruleId: number, city: string, visible?: DeviceFilter): number[] {
      const ids: number[] = []
      for (const a of active.values()) if (a.ruleId === ruleId && a.city === city && (!visible || visible({ id: a.deviceId, city: a.city }))) ids.push(a.id)
      return ids
    },

    /** Active alerts grouped by rule and city (shared/operations.ts groupAlerts), with their alerts. */
    groups(visible?: DeviceFilter): { groups: AlertGroup[]; alerts: AlertView[] } {
      const alerts: AlertView[] = []
      for (const a of active.values()) if (!visible || visible({ id: a.deviceId, city: a.city })) alerts.push(view(a))
      return { groups: groupAlerts(alerts), alerts }
    },

    /** A comment on an alert (any state: a resolved one too, for the record). */
    comment(id: number, by: string, text: string): TimelineEvent {
      const alert = active.get(id) ?? store.getAlert(id)
      if (!alert) throw new AlertNotFoundError(`no alert with id ${id}`)
      const at = clock()
      store.addNote({ alertId: id, at, kind: 'comment', actor: by, text, assignee: null })
      return { at: iso(at)!, kind: 'comment', actor: by, text, assignee: null }
    },

    /** Assigns an active alert to a staff user (null: unassigns). Resolved ones answer a conflict. */
    assign(id: number, by: string, assignee: string | null): AlertView {
      flush()
      const alert = active.get(id)
      if (!alert) {
        const stored = store.getAlert(id)
        if (!stored) throw new AlertNotFoundError(`no alert with id ${id}`)
        throw new AlertConflictError(`alert ${id} was resolved at ${iso(stored.resolvedAt)}; only active alerts can be assigned`)
      }
      if (alert.assignee !== assignee) {
        alert.assignee = assignee
        store.addNote({ alertId: id, at: clock(), kind: 'assigned', actor: by, text: null, assignee })
        writer.record(alert, false)
        pusher.changed(alert)
        flush()
      }
      return view(alert)
    },

    /** An alert's life, oldest first: opened, acknowledged, comments, assignments, resolved. */
    timeline(id: number): { alert: AlertView; events: TimelineEvent[] } | undefined {
      flush()
      const alert = active.get(id) ?? store.getAlert(id)
      if (!alert) return undefined
      const events: (TimelineEvent & { ms: number; order: number })[] = [
        { ms: alert.openedAt, order: 0, at: iso(alert.openedAt)!, kind: 'opened', actor: null, text: alert.message, assignee: null },
      ]
      if (alert.acknowledgedAt !== null) {
        events.push({ ms: alert.acknowledgedAt, order: 1, at: iso(alert.acknowledgedAt)!, kind: 'acknowledged', actor: alert.acknowledgedBy, text: null, assignee: null })
      }
      for (const n of store.notes(id)) events.push({ ms: n.at, order: 1, at: iso(n.at)!, kind: n.kind, actor: n.actor, text: n.text, assignee: n.assignee })
      if (alert.resolvedAt !== null) {
        events.push({ ms: alert.resolvedAt, order: 2, at: iso(alert.resolvedAt)!, kind: 'resolved', actor: null, text: alert.resolvedReason, assignee: null })
      }
      // Stable: same-millisecond events keep opened first, resolved last, the rest as recorded.
      events.sort((a, b) => a.ms - b.ms || a.order - b.order)
      return { alert: view(alert), events: events.map(({ ms: _ms, order: _order, ...e }) => e) }
    },

    // ------------------------------------------------------------------ silences

    /** Whether a silence mutes this alert at `now` (default: the engine's clock). For the notifier. */
    isSilenced: (alert: Silenceable, now?: number): boolean => silences.isSilenced(alert, now),

    /** Listens to alerts opened, acknowledged and resolved (the notifier); returns the unsubscribe. */
    onAlert(listener: (event: AlertEvent) => void): () => void {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },

    createSilence(input: NewSilence, by: string): SilenceView {
      const s = silences.create(input, by)
      silencesMoved()
      return silenceView(s, clock())
    },

    /** Ends a silence now (kept, as expired); undefined when there is no such silence. */
    endSilence(id: number, by: string): SilenceView | undefined {
      const s = silences.end(id, by)
      if (!s) return undefined
      silencesMoved()
      return silenceView(s, clock())
    },

    getSilence(id: number): SilenceView | undefined {
      const s = silences.get(id)
      return s && silenceView(s, clock())
    },

    listSilences: (): SilenceView[] => silences.list().map((s) => silenceView(s, clock())),

    counts,

    /** The engine's clock (epoch ms). */
    now: () => clock(),

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
