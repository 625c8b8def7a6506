import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { Registry } from '../../../../devices/registry.ts'
import type { DeviceStates } from '../device-states.ts'
import type { AlertChange, Feed } from '../../../../feed/feed.ts'
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
import type { Alert, AlertQuery, AlertState, AlertStore, NewSilence, Silence } from './store.ts'
import { createSilences, silenceView, type Silenceable } from './silences.ts'
import { alertView, iso, ruleView, type AlertView, type RuleView } from './views.ts'
import { words, type Words } from '../../../shared/words.ts'

/**
 * The alert engine: rules evaluated continuously as readings arrive (the feed's accepted
 * readings, never a poll of storage), and as devices change state (device-states.ts, for silent
 * rules). Composed of:
 *  - runtime.ts: the rules in memory, per (rule, device) a condition state and, for windowed
 *    rules, a fixed-size rolling window (evaluator.ts), bounded (`maxKeys` in all);
 *  - judging.ts: readings and state changes → alerts opened and resolved;
 *  - persistence.ts: alerts written to the store (store.ts: SQLite, or PostgreSQL shared by several
 *    nodes) in one transaction per tick;
 *  - push.ts: one `alerts` event per tick and `alert_rules` after a rule change, to rooms.
 *
 * Alerts go open → acknowledged (by whom, when) → resolved, at most one not resolved per
 * (rule, device).
 *
 * Several nodes (`shared`: cluster mode): every node serves the API from the shared store and
 * keeps its memory current from the changes the others announce on the feed (`alerts` events:
 * what to read again); only the leader (platform/leader.ts, `lead()`) judges readings and device
 * states and tells the notifier, so each alert opens, and is notified, once cluster-wide.
 */

export interface AlertEngineOptions {
  store: AlertStore
  /** Cluster mode: the store is shared; the engine follows until lead(true). */
  shared?: boolean
  registry: Pick<Registry, 'get' | 'onChange'>
  feed?: Pick<Feed, 'subscribe'> & Partial<Pick<Feed, 'alerts'>>
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
/** What the message says, for a page to word in its language (routes put it in the error body). */
class WordedError extends Error {
  constructor(
    message: string,
    readonly words?: Words,
  ) {
    super(message)
  }
}
export class AlertNotFoundError extends WordedError {}
export class AlertConflictError extends WordedError {}

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

export async function createAlertEngine(options: AlertEngineOptions) {
  const { store, registry, states } = options
  const clock = options.clock ?? Date.now
  const retentionMs = options.retentionMs ?? 90 * 86_400_000
  const shared = options.shared === true
  /** Names this engine in the changes it announces (it ignores its own). */
  const nodeId = randomUUID()
  /** Whether this node judges (the leader, in cluster mode) … */
  let leading = !shared
  /** … and has its state rebuilt from the store for it (readings in between are not judged). */
  let judges = false
  const silences = createSilences({ store, clock })
  const view = (a: Alert) => alertView(a, a.state !== 'resolved' && silences.isSilenced(a))
  const listeners = new Set<(event: AlertEvent) => void>()
  /** Only the leader tells its listeners (the notifier): once cluster-wide. */
  function emit(type: AlertEvent['type'], alert: Alert): void {
    if (!leading || listeners.size === 0) return
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
  /** Cluster mode: tells the other nodes what to read again from the shared store. */
  function announce(change: Partial<Omit<AlertChange, 'from'>>): void {
    if (shared) options.feed?.alerts?.({ from: nodeId, alerts: change.alerts ?? [], rules: change.rules ?? [], silences: change.silences ?? false })
  }
  const stats = { evaluated: 0, opened: 0, resolved: 0, droppedKeys: 0, pushes: 0, writeErrors: 0 }
  const lookup = (id: string) => registry.get(id)

  /** Alerts not resolved, by id: the newest state of each (the store's may lag a tick). */
  const active = new Map<number, Alert>()
  let nextId = 1

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
  const writer = createAlertWriter({ store, logger: options.logger, stats, written: (ids) => announce({ alerts: ids }) })
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
  let silencing = new Map<number, Silence>()
  function silencesMoved(): void {
    const now = new Map(silences.active(clock()).map((s) => [s.id, s]))
    const moved = [...now.values()].filter((s) => !silencing.has(s.id)).concat([...silencing.values()].filter((s) => !now.has(s.id)))
    silencing = now
    if (moved.length === 0) return
    for (const a of active.values()) {
      if (moved.some((s) => (s.ruleId === null || s.ruleId === a.ruleId) && (s.deviceId === null || s.deviceId === a.deviceId) && (s.city === null || s.city === a.city))) pusher.changed(a)
    }
  }

  let rebuilding = false
  function tick(): Promise<void> {
    // A leader whose rebuild failed (PostgreSQL away) tries again rather than lead without judging.
    if (leading && !judges && !rebuilding) {
      rebuilding = true
      void serially(async () => (leading && !judges ? load() : undefined), 'rebuilding the alert state to lead').finally(() => (rebuilding = false))
    }
    if (judges) judging.checkPendingSilent(clock())
    silencesMoved()
    void flush()
    return pusher.push()
  }

  /**
   * A rule as stored now (undefined: deleted), taken in. The node that judges resolves what the
   * change ends and counts silent devices for it; another only lists it (the leader, told through
   * the feed, does the rest).
   */
  function applyRule(id: number, rule: Rule | undefined): void {
    const rt = runtimes.get(id)
    if (!rule) {
      if (!rt) return
      if (judges) judging.resolveRule(rt, 'rule-deleted')
      runtimes.remove(rt)
    } else if (!rt) {
      const added = runtimes.add(rule)
      if (judges) judging.seedSilent(added)
    } else {
      if (judges) {
        const judgedChanged = JUDGED.some((k) => rule[k] !== rt.rule[k])
        if (!rule.enabled && rt.rule.enabled) judging.resolveRule(rt, 'rule-disabled')
        else if (judgedChanged) judging.resolveRule(rt, 'rule-changed')
      }
      rt.rule = rule
      if (judges) judging.seedSilent(rt)
    }
    runtimes.reindex()
    pusher.rulesChanged()
  }

  /**
   * (Re)builds the state from the store: rules, alerts not resolved, silences, the next alert id.
   * When judging, each active alert's (rule, device) is restored as firing and the alerts of rules
   * deleted or disabled meanwhile are resolved. At start, and when this node becomes the leader.
   */
  async function load(): Promise<void> {
    await flush()
    await silences.reload()
    const [rules, alerts, maxId] = await Promise.all([store.listRules(), store.activeAlerts(), store.maxAlertId()])
    for (const rt of [...runtimes.all()]) runtimes.remove(rt)
    for (const rule of rules) runtimes.add(rule)
    const known = new Map(active)
    active.clear()
    nextId = maxId + 1
    judges = leading
    for (const stored of alerts) {
      // Keep the object a browser push may hold, with the newest value seen.
      const alert = known.has(stored.id) ? Object.assign(known.get(stored.id)!, stored, { lastValue: known.get(stored.id)!.lastValue }) : stored
      const rt = runtimes.get(alert.ruleId)
      if (judges && (!rt || !rt.rule.enabled)) {
        judging.resolve(alert, rt ? 'rule-disabled' : 'rule-deleted', clock())
        continue
      }
      active.set(alert.id, alert)
      if (judges && rt) runtimes.restore(rt, alert.deviceId, { phase: 'firing', since: alert.openedAt, alert })
    }
    runtimes.reindex()
    if (judges) for (const rt of runtimes.silent()) judging.seedSilent(rt)
    pusher.rulesChanged()
  }

  /** Another node changed the shared store: read what it names again (cluster mode). */
  async function follow(change: AlertChange): Promise<void> {
    if (change.silences) {
      await silences.reload()
      silencesMoved()
    }
    for (const id of change.alerts) {
      const stored = await store.getAlert(id)
      const mine = active.get(id)
      if (!stored) continue
      if (mine) {
        const was = mine.state
        Object.assign(mine, stored, { lastValue: stored.state === 'resolved' ? stored.lastValue : mine.lastValue })
        pusher.changed(mine)
        if (stored.state === 'resolved') {
          // Only a leader resolves; on the leader this is another's late write (split brain): theirs stands.
          active.delete(id)
          const rt = runtimes.get(mine.ruleId)
          if (rt?.keys.get(mine.deviceId)?.alert === mine) runtimes.drop(rt, mine.deviceId)
          pusher.count('resolved')
        } else if (was === 'open' && stored.state === 'acknowledged') {
          pusher.count('acknowledged')
          emit('acknowledged', mine)
        }
      } else if (!judges && stored.state !== 'resolved') {
        // Opened by the leader. (On the leader, an alert it does not hold was resolved here meanwhile.)
        active.set(id, stored)
        pusher.changed(stored)
        pusher.count('opened')
      }
    }
    for (const id of change.rules) applyRule(id, await store.getRule(id))
  }

  /** One after another: changes are taken in the order they were announced, and around a leadership change. */
  let queue: Promise<void> = Promise.resolve()
  function serially(work: () => Promise<void>, what: string): Promise<void> {
    queue = queue.then(work).catch((err) => options.logger?.error({ err }, `alerts: ${what} failed`))
    return queue
  }

  // ------------------------------------------------------------------------------ start

  await load()
  if (judges) {
    await store.prune(clock() - retentionMs)
    await silences.prune(clock() - retentionMs)
  }
  await flush()
  silencing = new Map(silences.active(clock()).map((s) => [s.id, s]))

  const unsubscribers: (() => void)[] = []
  if (options.feed) {
    unsubscribers.push(
      options.feed.subscribe(
        {
          // Feed listeners run on the ingest path: a failure here is logged, never thrown back.
          accepted: (device, readings) => {
            if (!judges) return
            try {
              judging.accepted(device, readings)
            } catch (err) {
              options.logger?.error({ err, device: device.id }, 'alert evaluation failed')
            }
          },
          ...(shared && { alerts: (change: AlertChange) => void (change.from !== nodeId && serially(() => follow(change), 'following another node’s change')) }),
        },
        'alerts',
      ),
    )
  }
  if (states) unsubscribers.push(states.onChange((change) => judges && judging.stateChanged(change)))
  unsubscribers.push(
    registry.onChange((change) => {
      if (judges && change.kind === 'status' && change.device.status !== 'active') judging.resolveDevice(change.device.id, 'device-inactive')
    }),
  )
  if (options.timers !== false) {
    timers.push(setInterval(() => void tick(), options.tickMs ?? 250))
    timers.push(
      setInterval(() => {
        if (!judges) return
        void store.prune(clock() - retentionMs).catch((err) => options.logger?.warn({ err }, 'alerts: pruning failed'))
        void silences.prune(clock() - retentionMs).catch((err) => options.logger?.warn({ err }, 'alerts: pruning silences failed'))
      }, 6 * 3_600_000),
    )
    for (const t of timers) t.unref()
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
    // A follower judges nothing; a node that becomes the leader starts its windows from new readings.
    if (!judges) return out
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
    stats: () => ({ ...stats, keys: runtimes.keyCount, active: active.size, rules: runtimes.size, leading: judges }),

    listRules: (): RuleView[] => [...runtimes.all()].map((rt) => ruleView(rt.rule)),

    getRule(id: number): RuleView | undefined {
      const rt = runtimes.get(id)
      return rt && ruleView(rt.rule)
    },

    /** Rejects with RuleError for a definition that does not hold together. */
    async createRule(input: NewRuleInput, createdBy: string): Promise<RuleView> {
      const def = checkDefinition(definitionFromInput(input), lookup)
      const rule = await store.createRule(def, createdBy, new Date(clock()).toISOString())
      applyRule(rule.id, rule)
      announce({ rules: [rule.id] })
      return ruleView(rule)
    },

    async updateRule(id: number, patch: RulePatchInput): Promise<RuleView> {
      const rt = runtimes.get(id)
      if (!rt) throw new AlertNotFoundError(`no alert rule with id ${id}`, words('no-rule', { id }))
      const def = checkDefinition(applyPatch(rt.rule, patch), lookup)
      const rule = await store.updateRule(id, def, new Date(clock()).toISOString())
      applyRule(id, rule)
      await flush()
      announce({ rules: [id] })
      return ruleView(rule)
    },

    async deleteRule(id: number): Promise<void> {
      if (!runtimes.get(id)) throw new AlertNotFoundError(`no alert rule with id ${id}`, words('no-rule', { id }))
      await store.deleteRule(id)
      applyRule(id, undefined)
      await flush()
      announce({ rules: [id] })
    },

    async queryAlerts(q: AlertQuery, visible?: DeviceFilter): Promise<{ items: AlertView[]; total: number; counts: AlertCounts }> {
      await flush()
      let result = await store.queryAlerts(visible ? { ...q, limit: 1_000_000, offset: 0 } : q)
      if (visible) {
        const mine = result.items.filter((a) => visible({ id: a.deviceId, city: a.city }))
        const offset = q.offset ?? 0
        result = { items: mine.slice(offset, offset + q.limit), total: mine.length }
      }
      // Active alerts' newest judged value lives in memory.
      const items = result.items.map((a) => view(active.get(a.id) ?? a))
      return { items, total: result.total, counts: counts(visible) }
    },

    async getAlert(id: number): Promise<AlertView | undefined> {
      await flush()
      const a = active.get(id) ?? (await store.getAlert(id))
      return a && view(a)
    },

    /** Acknowledges an open alert; an acknowledged one is returned as it is (the first acknowledgement stands). */
    async acknowledge(id: number, by: string): Promise<AlertView> {
      await flush()
      const alert = active.get(id)
      if (!alert) {
        const stored = await store.getAlert(id)
        if (!stored) throw new AlertNotFoundError(`no alert with id ${id}`, words('no-alert', { id }))
        throw new AlertConflictError(`alert ${id} was resolved at ${iso(stored.resolvedAt)}; only open alerts can be acknowledged`, words('resolved-no-ack', { id, at: iso(stored.resolvedAt)! }))
      }
      if (acknowledgeOne(alert, by)) await flush()
      return view(alert)
    },

    /**
     * Acknowledges several alerts at once (a group, or a selection), in one write: the open ones
     * are acknowledged, the others reported as already acknowledged, resolved or missing.
     */
    async acknowledgeMany(ids: readonly number[], by: string): Promise<BulkAckResult> {
      await flush()
      const out: BulkAckResult = { acknowledged: [], already: [], resolved: [], missing: [] }
      const gone: number[] = []
      for (const id of new Set(ids)) {
        const alert = active.get(id)
        if (alert) {
          if (acknowledgeOne(alert, by)) out.acknowledged.push(view(alert))
          else out.already.push(id)
        } else gone.push(id)
      }
      await flush()
      for (const id of gone) {
        if (await store.getAlert(id)) out.resolved.push(id)
        else out.missing.push(id)
      }
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
    async comment(id: number, by: string, text: string): Promise<TimelineEvent> {
      const alert = active.get(id) ?? (await store.getAlert(id))
      if (!alert) throw new AlertNotFoundError(`no alert with id ${id}`, words('no-alert', { id }))
      const at = clock()
      await store.addNote({ alertId: id, at, kind: 'comment', actor: by, text, assignee: null })
      return { at: iso(at)!, kind: 'comment', actor: by, text, assignee: null }
    },

    /** Assigns an active alert to a staff user (null: unassigns). Resolved ones answer a conflict. */
    async assign(id: number, by: string, assignee: string | null): Promise<AlertView> {
      await flush()
      const alert = active.get(id)
      if (!alert) {
        const stored = await store.getAlert(id)
        if (!stored) throw new AlertNotFoundError(`no alert with id ${id}`, words('no-alert', { id }))
        throw new AlertConflictError(`alert ${id} was resolved at ${iso(stored.resolvedAt)}; only active alerts can be assigned`, words('resolved-no-assign', { id, at: iso(stored.resolvedAt)! }))
      }
      if (alert.assignee !== assignee) {
        alert.assignee = assignee
        await store.addNote({ alertId: id, at: clock(), kind: 'assigned', actor: by, text: null, assignee })
        writer.record(alert, false)
        pusher.changed(alert)
        await flush()
      }
      return view(alert)
    },

    /** An alert's life, oldest first: opened, acknowledged, comments, assignments, resolved. */
    async timeline(id: number): Promise<{ alert: AlertView; events: TimelineEvent[] } | undefined> {
      await flush()
      const alert = active.get(id) ?? (await store.getAlert(id))
      if (!alert) return undefined
      const events: (TimelineEvent & { ms: number; order: number })[] = [
        { ms: alert.openedAt, order: 0, at: iso(alert.openedAt)!, kind: 'opened', actor: null, text: alert.message, assignee: null, ...(alert.messageWords ? { words: alert.messageWords } : {}) },
      ]
      if (alert.acknowledgedAt !== null) {
        events.push({ ms: alert.acknowledgedAt, order: 1, at: iso(alert.acknowledgedAt)!, kind: 'acknowledged', actor: alert.acknowledgedBy, text: null, assignee: null })
      }
      for (const n of await store.notes(id)) events.push({ ms: n.at, order: 1, at: iso(n.at)!, kind: n.kind, actor: n.actor, text: n.text, assignee: n.assignee })
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

    /** Listens to alerts opened, acknowledged and resolved (the notifier; in cluster mode only the leader's engine tells); returns the unsubscribe. */
    onAlert(listener: (event: AlertEvent) => void): () => void {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },

    async createSilence(input: NewSilence, by: string): Promise<SilenceView> {
      const s = await silences.create(input, by)
      silencesMoved()
      announce({ silences: true })
      return silenceView(s, clock())
    },

    /** Ends a silence now (kept, as expired); undefined when there is no such silence. */
    async endSilence(id: number, by: string): Promise<SilenceView | undefined> {
      const s = await silences.end(id, by)
      if (!s) return undefined
      silencesMoved()
      announce({ silences: true })
      return silenceView(s, clock())
    },

    async getSilence(id: number): Promise<SilenceView | undefined> {
      const s = await silences.get(id)
      return s && silenceView(s, clock())
    },

    listSilences: async (): Promise<SilenceView[]> => (await silences.list()).map((s) => silenceView(s, clock())),

    counts,

    /** The engine's clock (epoch ms). */
    now: () => clock(),

    /**
     * Cluster mode: this node became the leader (true: it rebuilds its state from the store and
     * judges from then on) or stopped being it (false: it stops judging and follows).
     */
    lead(next: boolean): Promise<void> {
      return serially(async () => {
        if (next === leading) return
        leading = next
        if (next) await load()
        else {
          judges = false
          for (const rt of runtimes.all()) runtimes.dropKeys(rt)
        }
        options.logger?.info({ leading: next }, next ? 'alerts: this node judges alerts and notifies now' : 'alerts: this node stopped judging alerts')
      }, 'changing leadership')
    },

    /** Resolves once the changes announced by other nodes so far are taken in (tests). */
    settled: () => queue,

    /** Runs a tick now: pending silent rules, writes, pushes (tests; the timer does it every tickMs). Resolves when the installers' pushes have gone out. */
    async tick(): Promise<void> {
      await tick()
      await flush()
    },
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

    /** Stops; resolves once the writes and an installers' push under way have finished (it sends nothing more). */
    async close(): Promise<void> {
      for (const t of timers) clearInterval(t)
      timers.length = 0
      for (const unsubscribe of unsubscribers) unsubscribe()
      await queue
      await flush()
      pusher.attach(undefined)
      await pusher.idle()
    },
  }
}

export type AlertEngine = Awaited<ReturnType<typeof createAlertEngine>>
export { RuleError }
export type { AlertState }
