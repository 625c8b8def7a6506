import type Database from 'better-sqlite3'
import type { Logger } from 'pino'
import type { Server, Socket } from 'socket.io'
import type { DeviceType } from '../../../../devices/kinds.ts'
import type { Registry } from '../../../../devices/registry.ts'
import type { DeviceStateChange, DeviceStates } from '../device-states.ts'
import type { Feed, FeedDevice } from '../../../../feed/feed.ts'
import { judge, judgeState, RollingWindow, type ConditionState } from './evaluator.ts'
import {
  applyPatch,
  checkDefinition,
  definitionFromInput,
  describeRule,
  fieldInfo,
  fieldValue,
  formatDuration,
  inScope,
  RuleError,
  type NewRuleInput,
  type Rule,
  type RuleDefinition,
  type RulePatchInput,
} from './rules.ts'
import { createAlertStore, type Alert, type AlertQuery, type AlertState, type ResolvedReason } from './store.ts'

/**
 * The alert engine: rules evaluated continuously as readings arrive (the feed's accepted
 * readings, never a poll of storage), and as devices change state (device-states.ts, for silent
 * rules). Per (rule, device) it keeps a condition state and, for windowed rules, a fixed-size
 * rolling window (evaluator.ts), in memory and bounded (`maxKeys` in all; keys of rules without
 * a window are dropped while their condition does not hold).
 *
 * Alerts go open → acknowledged (by whom, when) → resolved, at most one not resolved per
 * (rule, device). They are written to SQLite in one transaction per tick and pushed to logged-in
 * sockets as one `alerts` event per tick: `{ changes (at most maxChangesPerMessage, newest
 * first), more (how many changes were left out: refetch GET /api/alerts), counts (open and
 * acknowledged now), opened, acknowledged, resolved (this tick) }`, so a rule that fires on every
 * device at once costs the browser one small message, not thousands. Rule changes are pushed as
 * `alert_rules` ({ rules }).
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

interface KeyState extends ConditionState {
  window?: RollingWindow
  alert?: Alert
}

interface Runtime {
  rule: Rule
  keys: Map<string, KeyState>
}

export interface RuleView extends Rule {
  scope: { deviceId?: string; type?: string; city?: string }
  unit: string
  description: string
}

export interface AlertView extends Omit<Alert, 'openedAt' | 'acknowledgedAt' | 'resolvedAt'> {
  openedAt: string
  acknowledgedAt: string | null
  resolvedAt: string | null
}

export type AlertVisibility = (socket: Socket) => ((device: { id: string; city: string }) => boolean) | undefined

/** Raised by engine calls the API maps to 404 / 409. */
export class AlertNotFoundError extends Error {}
export class AlertConflictError extends Error {}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

export function alertView(a: Alert): AlertView {
  return { ...a, openedAt: iso(a.openedAt)!, acknowledgedAt: iso(a.acknowledgedAt), resolvedAt: iso(a.resolvedAt) }
}

export function ruleView(rule: Rule): RuleView {
  const scope: RuleView['scope'] = {}
  if (rule.deviceId !== null) scope.deviceId = rule.deviceId
  if (rule.type !== null) scope.type = rule.type
  if (rule.city !== null) scope.city = rule.city
  const unit = rule.kind === 'threshold' && rule.field ? fieldInfo(rule.type ?? undefined, rule.field).unit : ''
  return { ...rule, scope, unit, description: describeRule(rule) }
}

function round(value: number): number {
  const abs = Math.abs(value)
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2
  return Number(value.toFixed(digits))
}

function alertMessage(rule: Rule, device: { name: string }, value: number | null, interval?: number): string {
  if (rule.kind === 'silent') {
    const expected = interval ? ` (expected every ${formatDuration(interval)})` : ''
    const gap = interval ? `more than ${formatDuration(5 * interval)}` : 'more than 5 reporting intervals'
    return `${device.name} is silent: nothing received for ${gap}${expected}`
  }
  const info = fieldInfo(rule.type ?? undefined, rule.field!)
  const unit = info.unit && info.unit !== '0–1' && rule.aggregate !== 'count' ? ` ${info.unit}` : ''
  const what = rule.window !== null ? `${formatDuration(rule.window)} ${rule.aggregate} ${info.label}` : info.label
  return `${what} ${value === null ? '?' : round(value)}${unit} ${rule.op} ${rule.threshold}${unit} at ${device.name}`
}

/** Only these parts of a rule change what it judges; a change to the others keeps its alerts. */
const JUDGED: (keyof RuleDefinition)[] = ['kind', 'field', 'op', 'threshold', 'deviceId', 'type', 'city', 'window', 'aggregate', 'minDuration', 'hysteresis']

export function createAlertEngine(options: AlertEngineOptions) {
  const { db, registry, states } = options
  const clock = options.clock ?? Date.now
  const maxChanges = options.maxChangesPerMessage ?? 100
  const maxKeys = options.maxKeys ?? 200_000
  const buckets = options.windowBuckets ?? 20
  const retentionMs = options.retentionMs ?? 90 * 86_400_000
  const store = createAlertStore(db)

  const runtimes = new Map<number, Runtime>()
  let byType = new Map<DeviceType, Runtime[]>()
  let silentRules: Runtime[] = []
  const active = new Map<number, Alert>()
  let keyCount = 0
  let nextId = store.maxAlertId() + 1
  const inserts = new Map<number, Alert>()
  const updates = new Map<number, Alert>()
  // What the next push carries.
  const changed = new Map<number, Alert>()
  const tickCounts = { opened: 0, acknowledged: 0, resolved: 0 }
  let rulesChanged = false
  const stats = { evaluated: 0, opened: 0, resolved: 0, droppedKeys: 0, pushes: 0, writeErrors: 0 }
  let io: Server | undefined
  let visibility: AlertVisibility | undefined
  const timers: NodeJS.Timeout[] = []
  const lookup = (id: string) => registry.get(id)

  function reindex(): void {
    byType = new Map()
    silentRules = []
    for (const rt of runtimes.values()) {
      if (!rt.rule.enabled) continue
      if (rt.rule.kind === 'silent') {
        silentRules.push(rt)
        continue
      }
      const types: DeviceType[] = rt.rule.type ? [rt.rule.type] : rt.rule.deviceId ? [registry.get(rt.rule.deviceId)?.type].filter((t): t is DeviceType => !!t) : []
      const list = types.length ? types : (['air-quality', 'noise', 'weather', 'traffic-counter', 'bus', 'parking', 'bike-dock'] as DeviceType[])
      for (const t of list) {
        const arr = byType.get(t) ?? []
        arr.push(rt)
        byType.set(t, arr)
      }
    }
  }

  function dropKeys(rt: Runtime): void {
    keyCount -= rt.keys.size
    rt.keys.clear()
  }

  function keyFor(rt: Runtime, deviceId: string): KeyState | undefined {
    let key = rt.keys.get(deviceId)
    if (!key) {
      if (keyCount >= maxKeys) {
        stats.droppedKeys += 1
        return undefined
      }
      key = { phase: 'ok', since: null }
      rt.keys.set(deviceId, key)
      keyCount += 1
    }
    return key
  }

  function forget(rt: Runtime, deviceId: string, key: KeyState): void {
    if (key.phase === 'ok' && !key.window && !key.alert && rt.keys.delete(deviceId)) keyCount -= 1
  }

  function markChanged(alert: Alert, isNew: boolean): void {
    if (isNew) inserts.set(alert.id, alert)
    else if (!inserts.has(alert.id)) updates.set(alert.id, alert)
    changed.set(alert.id, alert)
  }

  function open(rt: Runtime, key: KeyState, device: FeedDevice, value: number | null, at: number): void {
    const rule = rt.rule
    const registered = registry.get(device.id)
    const name = registered?.name ?? device.id
    const alert: Alert = {
      id: nextId++,
      ruleId: rule.id,
      ruleName: rule.name,
      kind: rule.kind,
      severity: rule.severity,
      deviceId: device.id,
      deviceName: name,
      type: device.type,
      city: device.city,
      field: rule.field,
      op: rule.op,
      threshold: rule.threshold,
      unit: rule.kind === 'threshold' ? fieldInfo(device.type, rule.field!).unit : '',
      value: value === null ? null : round(value),
      lastValue: value === null ? null : round(value),
      message: alertMessage(rule, { name }, value, states?.tracked(device.id)?.interval ?? registered?.interval),
      state: 'open',
      openedAt: at,
      acknowledgedAt: null,
      acknowledgedBy: null,
      resolvedAt: null,
      resolvedReason: null,
    }
    key.alert = alert
    active.set(alert.id, alert)
    markChanged(alert, true)
    tickCounts.opened += 1
    stats.opened += 1
  }

  function resolve(alert: Alert, reason: ResolvedReason, at: number): void {
    if (alert.state === 'resolved') return
    alert.state = 'resolved'
    alert.resolvedAt = at
    alert.resolvedReason = reason
    active.delete(alert.id)
    markChanged(alert, false)
    tickCounts.resolved += 1
    stats.resolved += 1
  }

  function resolveRule(rt: Runtime, reason: ResolvedReason): void {
    const now = clock()
    for (const key of rt.keys.values()) if (key.alert) resolve(key.alert, reason, now)
    dropKeys(rt)
  }

  // ------------------------------------------------------------------------------ evaluation

  function evaluate(rt: Runtime, device: FeedDevice, time: number, raw: number): void {
    const rule = rt.rule
    const key = keyFor(rt, device.id)
    if (!key) return
    stats.evaluated += 1
    let value = raw
    if (rule.window !== null) {
      key.window ??= new RollingWindow(rule.window * 1000, buckets)
      if (!key.window.add(time, raw)) return
      value = key.window.aggregate(rule.aggregate ?? 'mean') ?? raw
    }
    if (key.alert) key.alert.lastValue = round(value)
    const verdict = judge({ op: rule.op!, threshold: rule.threshold!, hysteresis: rule.hysteresis, minDuration: rule.minDuration }, key, time, value)
    if (verdict === 'open') open(rt, key, device, value, clock())
    else if (verdict === 'resolve' && key.alert) {
      key.alert.lastValue = round(value)
      resolve(key.alert, 'cleared', clock())
      key.alert = undefined
    }
    forget(rt, device.id, key)
  }

  function onAccepted(device: FeedDevice, readings: readonly { time: number; values: Record<string, unknown> }[]): void {
    const list = byType.get(device.type)
    if (!list) return
    for (const rt of list) {
      if (!inScope(rt.rule, device)) continue
      for (const reading of readings) {
        const value = fieldValue(device.type, rt.rule.field!, reading.values)
        if (value !== undefined) evaluate(rt, device, reading.time, value)
      }
    }
  }

  function judgeSilent(rt: Runtime, device: FeedDevice, holds: boolean, since: number, now: number): void {
    let key = rt.keys.get(device.id)
    if (!key && !holds) return
    key ??= keyFor(rt, device.id)
    if (!key) return
    const verdict = judgeState(rt.rule.minDuration, key, now, holds, since)
    if (verdict === 'open') open(rt, key, device, null, now)
    else if (verdict === 'resolve' && key.alert) {
      resolve(key.alert, 'reporting', now)
      key.alert = undefined
    }
    forget(rt, device.id, key)
  }

  function onStateChange(change: DeviceStateChange): void {
    const device = { id: change.id, type: change.type, city: change.city }
    const now = clock()
    if (change.state === 'inactive') {
      resolveDevice(change.id, 'device-inactive')
      return
    }
    for (const rt of silentRules) if (inScope(rt.rule, device)) judgeSilent(rt, device, change.state === 'silent', change.since, now)
  }

  /** Silent rules with a minimum duration open on time, not on the next event. */
  function checkPendingSilent(now: number): void {
    for (const rt of silentRules) {
      for (const [id, key] of rt.keys) {
        if (key.phase !== 'pending') continue
        const d = states?.tracked(id)
        if (!d) continue
        judgeSilent(rt, { id, type: d.type, city: d.city }, d.state === 'silent', d.since, now)
      }
    }
  }

  /** A rule just (re)installed: devices already silent count from when they went silent. */
  function seedSilent(rt: Runtime): void {
    if (!states || rt.rule.kind !== 'silent' || !rt.rule.enabled) return
    const now = clock()
    for (const s of states.list((d) => d.state === 'silent')) {
      const d = states.tracked(s.id)
      if (d && inScope(rt.rule, d)) judgeSilent(rt, d, true, s.since, now)
    }
  }

  function resolveDevice(deviceId: string, reason: ResolvedReason): void {
    const now = clock()
    for (const rt of runtimes.values()) {
      const key = rt.keys.get(deviceId)
      if (!key) continue
      if (key.alert) resolve(key.alert, reason, now)
      rt.keys.delete(deviceId)
      keyCount -= 1
    }
  }

  // ------------------------------------------------------------------------------ persistence, push

  function flush(): void {
    if (inserts.size === 0 && updates.size === 0) return
    const ins = [...inserts.values()]
    const ups = [...updates.values()]
    inserts.clear()
    updates.clear()
    try {
      store.write(ins, ups)
    } catch (err) {
      stats.writeErrors += 1
      options.logger?.error({ err }, 'could not write alerts')
    }
  }

  function counts(visible?: (d: { id: string; city: string }) => boolean): { open: number; acknowledged: number } {
    const c = { open: 0, acknowledged: 0 }
    for (const a of active.values()) {
      if (visible && !visible({ id: a.deviceId, city: a.city })) continue
      if (a.state === 'open') c.open += 1
      else if (a.state === 'acknowledged') c.acknowledged += 1
    }
    return c
  }

  function push(): void {
    if (!io) {
      changed.clear()
      return
    }
    if (rulesChanged) {
      rulesChanged = false
      const rules = [...runtimes.values()].map((rt) => ruleView(rt.rule))
      for (const socket of io.of('/').sockets.values()) if ((socket.data as { user?: unknown }).user) socket.emit('alert_rules', { rules })
    }
    if (changed.size === 0) return
    const all = [...changed.values()].sort((a, b) => b.id - a.id)
    changed.clear()
    const summary = { ...tickCounts }
    tickCounts.opened = tickCounts.acknowledged = tickCounts.resolved = 0
    let shared: unknown
    for (const socket of io.of('/').sockets.values()) {
      if (!(socket.data as { user?: unknown }).user) continue
      const visible = visibility?.(socket)
      if (!visible) {
        shared ??= { changes: all.slice(0, maxChanges).map(alertView), more: Math.max(0, all.length - maxChanges), counts: counts(), ...summary }
        socket.emit('alerts', shared)
        continue
      }
      const mine = all.filter((a) => visible({ id: a.deviceId, city: a.city }))
      if (mine.length === 0) continue
      socket.emit('alerts', { changes: mine.slice(0, maxChanges).map(alertView), more: Math.max(0, mine.length - maxChanges), counts: counts(visible), ...summary })
    }
    stats.pushes += 1
  }

  function tick(): void {
    checkPendingSilent(clock())
    flush()
    push()
  }

  // ------------------------------------------------------------------------------ start

  for (const rule of store.listRules()) runtimes.set(rule.id, { rule, keys: new Map() })
  for (const alert of store.activeAlerts()) {
    const rt = runtimes.get(alert.ruleId)
    if (!rt || !rt.rule.enabled) {
      resolve(alert, rt ? 'rule-disabled' : 'rule-deleted', clock())
      continue
    }
    active.set(alert.id, alert)
    rt.keys.set(alert.deviceId, { phase: 'firing', since: alert.openedAt, alert })
    keyCount += 1
  }
  reindex()
  store.prune(clock() - retentionMs)
  flush()

  const unsubscribers: (() => void)[] = []
  if (options.feed) {
    unsubscribers.push(
      options.feed.subscribe({
        // Feed listeners run on the ingest path: a failure here is logged, never thrown back.
        accepted: (device, readings) => {
          try {
            onAccepted(device, readings)
          } catch (err) {
            options.logger?.error({ err, device: device.id }, 'alert evaluation failed')
          }
        },
      }),
    )
  }
  if (states) unsubscribers.push(states.onChange(onStateChange))
  unsubscribers.push(
    registry.onChange((change) => {
      if (change.kind === 'status' && change.device.status !== 'active') resolveDevice(change.device.id, 'device-inactive')
    }),
  )
  if (options.timers !== false) {
    timers.push(setInterval(tick, options.tickMs ?? 250))
    timers.push(setInterval(() => store.prune(clock() - retentionMs), 6 * 3_600_000))
    for (const t of timers) t.unref()
  }
  for (const rt of silentRules) seedSilent(rt)

  function install(rule: Rule): void {
    const rt: Runtime = { rule, keys: new Map() }
    runtimes.set(rule.id, rt)
    reindex()
    seedSilent(rt)
    rulesChanged = true
  }

  return {
    stats: () => ({ ...stats, keys: keyCount, active: active.size, rules: runtimes.size }),

    listRules: (): RuleView[] => [...runtimes.values()].map((rt) => ruleView(rt.rule)),

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
      if (!rule.enabled && rt.rule.enabled) resolveRule(rt, 'rule-disabled')
      else if (judgedChanged) resolveRule(rt, 'rule-changed')
      rt.rule = rule
      reindex()
      seedSilent(rt)
      rulesChanged = true
      flush()
      return ruleView(rule)
    },

    deleteRule(id: number): void {
      const rt = runtimes.get(id)
      if (!rt) throw new AlertNotFoundError(`no alert rule with id ${id}`)
      resolveRule(rt, 'rule-deleted')
      runtimes.delete(id)
      reindex()
      store.deleteRule(id)
      rulesChanged = true
      flush()
    },

    queryAlerts(q: AlertQuery, visible?: (d: { id: string; city: string }) => boolean): { items: AlertView[]; total: number; counts: { open: number; acknowledged: number } } {
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
        markChanged(alert, false)
        tickCounts.acknowledged += 1
        flush()
      }
      return alertView(alert)
    },

    counts,

    /** Runs a tick now: pending silent rules, writes, pushes (tests; the timer does it every tickMs). */
    tick,
    flush,

    /** Feeds readings in directly (tests, benchmarks; the feed does it when given). */
    accepted: onAccepted,

    attach(server: Server, visible?: AlertVisibility): void {
      io = server
      visibility = visible
    },

    close(): void {
      for (const t of timers) clearInterval(t)
      timers.length = 0
      for (const unsubscribe of unsubscribers) unsubscribe()
      flush()
      io = undefined
    },
  }
}

export type AlertEngine = ReturnType<typeof createAlertEngine>
export { RuleError }
export type { AlertState }
