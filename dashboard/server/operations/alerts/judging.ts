import type { Registry } from '../../../../devices/registry.ts'
import type { DeviceRef } from '../../../../devices/registry.ts'
import type { DeviceStateChange } from '../device-health.ts'
import type { DeviceStates } from '../device-states.ts'
import { judge, judgeState, RollingWindow } from './evaluator.ts'
import { fieldInfo, fieldValue, inScope } from './rules.ts'
import type { KeyState, Runtime, Runtimes } from './runtime.ts'
import type { Alert, ResolvedReason } from './store.ts'
import { alertMessage, alertWords, round } from './views.ts'

/**
 * Judging: readings (threshold rules) and device state changes (silent rules) against the rules
 * in memory, each (rule, device) pair through evaluator.ts, into alerts opened and resolved.
 * What becomes of an alert (kept active, written, pushed) is the sink's business.
 */

export interface AlertSink {
  /** The id of the next alert. */
  nextId(): number
  opened(alert: Alert): void
  resolved(alert: Alert): void
}

export interface JudgingOptions {
  runtimes: Runtimes
  registry: Pick<Registry, 'get'>
  states?: Pick<DeviceStates, 'list' | 'tracked'>
  sink: AlertSink
  clock: () => number
  /** Slots per rolling window. */
  buckets: number
  stats: { evaluated: number; opened: number; resolved: number }
}

export function createJudging(options: JudgingOptions) {
  const { runtimes, registry, states, sink, clock, buckets, stats } = options

  function open(rt: Runtime, key: KeyState, device: DeviceRef, value: number | null, at: number): void {
    const rule = rt.rule
    const registered = registry.get(device.id)
    const name = registered?.name ?? device.id
    const interval = states?.tracked(device.id)?.interval ?? registered?.interval
    const alert: Alert = {
      id: sink.nextId(),
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
      message: alertMessage(rule, { name }, value, interval),
      messageWords: alertWords(rule, { name }, value, interval),
      state: 'open',
      openedAt: at,
      acknowledgedAt: null,
      acknowledgedBy: null,
      resolvedAt: null,
      resolvedReason: null,
      assignee: null,
    }
    key.alert = alert
    sink.opened(alert)
    stats.opened += 1
  }

  function resolve(alert: Alert, reason: ResolvedReason, at: number): void {
    if (alert.state === 'resolved') return
    alert.state = 'resolved'
    alert.resolvedAt = at
    alert.resolvedReason = reason
    sink.resolved(alert)
    stats.resolved += 1
  }

  /** Resolves a rule's alerts and forgets its keys (the rule changed, was disabled or deleted). */
  function resolveRule(rt: Runtime, reason: ResolvedReason): void {
    const now = clock()
    for (const key of rt.keys.values()) if (key.alert) resolve(key.alert, reason, now)
    runtimes.dropKeys(rt)
  }

  /** Resolves a device's alerts and forgets its keys (it went inactive). */
  function resolveDevice(deviceId: string, reason: ResolvedReason): void {
    const now = clock()
    for (const rt of runtimes.all()) {
      const key = rt.keys.get(deviceId)
      if (!key) continue
      if (key.alert) resolve(key.alert, reason, now)
      runtimes.drop(rt, deviceId)
    }
  }

  // ------------------------------------------------------------------ threshold rules

  function evaluate(rt: Runtime, device: DeviceRef, time: number, raw: number): void {
    const rule = rt.rule
    const key = runtimes.keyFor(rt, device.id)
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
    runtimes.forget(rt, device.id, key)
  }

  /** Readings accepted from a device: judged by every enabled threshold rule that scopes it. */
  function accepted(device: DeviceRef, readings: readonly { time: number; values: Record<string, unknown> }[]): void {
    const list = runtimes.forType(device.type)
    if (!list) return
    for (const rt of list) {
      if (!inScope(rt.rule, device)) continue
      for (const reading of readings) {
        const value = fieldValue(device.type, rt.rule.field!, reading.values)
        if (value !== undefined) evaluate(rt, device, reading.time, value)
      }
    }
  }

  // ------------------------------------------------------------------ silent rules

  function judgeSilent(rt: Runtime, device: DeviceRef, holds: boolean, since: number, now: number): void {
    let key = rt.keys.get(device.id)
    if (!key && !holds) return
    key ??= runtimes.keyFor(rt, device.id)
    if (!key) return
    const verdict = judgeState(rt.rule.minDuration, key, now, holds, since)
    if (verdict === 'open') open(rt, key, device, null, now)
    else if (verdict === 'resolve' && key.alert) {
      resolve(key.alert, 'reporting', now)
      key.alert = undefined
    }
    runtimes.forget(rt, device.id, key)
  }

  /** A device changed state: silent rules judge it; an inactive device's alerts are resolved. */
  function stateChanged(change: DeviceStateChange): void {
    const device = { id: change.id, type: change.type, city: change.city }
    const now = clock()
    if (change.state === 'inactive') {
      resolveDevice(change.id, 'device-inactive')
      return
    }
    for (const rt of runtimes.silent()) if (inScope(rt.rule, device)) judgeSilent(rt, device, change.state === 'silent', change.since, now)
  }

  /** Silent rules with a minimum duration open on time, not on the next event. */
  function checkPendingSilent(now: number): void {
    for (const rt of runtimes.silent()) {
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

  return { accepted, stateChanged, checkPendingSilent, seedSilent, resolve, resolveRule, resolveDevice }
}

export type Judging = ReturnType<typeof createJudging>
