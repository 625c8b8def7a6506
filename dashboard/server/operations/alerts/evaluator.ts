import { compare, type Op, type RuleAggregate } from './rules.ts'

/**
 * The pure part of alerting: a rolling window over one (rule, device) pair's readings, and the
 * condition state machine with minimum duration and hysteresis. No clocks, no I/O: times are the
 * readings' own (epoch ms), so the tests drive them directly.
 */

/**
 * A rolling window of fixed memory: the window is cut into `buckets` slots, each keeping the sum,
 * count, minimum and maximum of its readings, so an hour of one reading a second costs the same
 * few hundred bytes as an hour of one a minute. The aggregate covers the slots that start inside
 * the window ending at the newest reading, so its edge is exact to one slot (window / buckets).
 */
export class RollingWindow {
  readonly slotMs: number
  private readonly slots: number
  private readonly index: Float64Array
  private readonly sum: Float64Array
  private readonly count: Float64Array
  private readonly min: Float64Array
  private readonly max: Float64Array
  private newest = Number.NEGATIVE_INFINITY
  private newestTime = Number.NEGATIVE_INFINITY
  private lastValue: number | undefined

  constructor(
    readonly windowMs: number,
    buckets = 20,
  ) {
    this.slotMs = Math.max(1000, Math.ceil(windowMs / buckets))
    // One slot more than the window spans, so the oldest partly covered slot is still there.
    this.slots = Math.ceil(windowMs / this.slotMs) + 1
    this.index = new Float64Array(this.slots).fill(-1)
    this.sum = new Float64Array(this.slots)
    this.count = new Float64Array(this.slots)
    this.min = new Float64Array(this.slots)
    this.max = new Float64Array(this.slots)
  }

  /** Adds a reading; false when it is older than the window (then it is ignored). */
  add(time: number, value: number): boolean {
    const bucket = Math.floor(time / this.slotMs)
    if (bucket <= this.newest - this.slots) return false
    const slot = ((bucket % this.slots) + this.slots) % this.slots
    if (this.index[slot] !== bucket) {
      // A slot still holding a newer bucket means this reading is too old for it.
      if (this.index[slot]! > bucket) return false
      this.index[slot] = bucket
      this.sum[slot] = 0
      this.count[slot] = 0
      this.min[slot] = Number.POSITIVE_INFINITY
      this.max[slot] = Number.NEGATIVE_INFINITY
    }
    this.sum[slot]! += value
    this.count[slot]! += 1
    if (value < this.min[slot]!) this.min[slot] = value
    if (value > this.max[slot]!) this.max[slot] = value
    if (bucket > this.newest) this.newest = bucket
    if (time >= this.newestTime) {
      this.newestTime = time
      this.lastValue = value
    }
    return true
  }

  /** The aggregate over the window ending at the newest reading; undefined when it is empty. */
  aggregate(kind: RuleAggregate): number | undefined {
    // The window is (newest − windowMs, newest], counted in whole slots: a slot counts when it
    // starts after the window does (so the edge is exact when the window is a multiple of a slot).
    const start = this.newestTime - this.windowMs
    let sum = 0
    let count = 0
    let min = Number.POSITIVE_INFINITY
    let max = Number.NEGATIVE_INFINITY
    for (let i = 0; i < this.slots; i++) {
      const b = this.index[i]!
      if (b < 0 || b * this.slotMs <= start || b > this.newest) continue
      sum += this.sum[i]!
      count += this.count[i]!
      if (this.min[i]! < min) min = this.min[i]!
      if (this.max[i]! > max) max = this.max[i]!
    }
    if (count === 0) return undefined
    switch (kind) {
      case 'mean':
        return sum / count
      case 'min':
        return min
      case 'max':
        return max
      case 'count':
        return count
      case 'last':
        return this.lastValue
    }
  }
}

export type Phase = 'ok' | 'pending' | 'firing'

export interface ConditionState {
  phase: Phase
  /** When the condition started holding (pending and firing), epoch ms. */
  since: number | null
}

export interface ConditionRule {
  op: Op
  threshold: number
  /** Same unit as the threshold. */
  hysteresis: number
  /** Seconds. */
  minDuration: number
}

/** The value at which an open alert resolves: the threshold moved back by the hysteresis. */
export function clearLine(rule: Pick<ConditionRule, 'op' | 'threshold' | 'hysteresis'>): number {
  return rule.op === '>' || rule.op === '>=' ? rule.threshold - rule.hysteresis : rule.threshold + rule.hysteresis
}

/**
 * One judgement: the state after `value` (the reading's value, or the window's aggregate) at
 * `time`, and whether an alert opens or resolves. Opening takes the condition holding without a
 * break for minDuration (a value that does not breach in between starts the wait again);
 * resolving takes the value back past the clear line (the hysteresis), whatever the duration.
 */
export function judge(rule: ConditionRule, state: ConditionState, time: number, value: number): 'open' | 'resolve' | null {
  if (state.phase === 'firing') {
    if (compare(rule.op, value, clearLine(rule))) return null
    state.phase = 'ok'
    state.since = null
    return 'resolve'
  }
  if (!compare(rule.op, value, rule.threshold)) {
    state.phase = 'ok'
    state.since = null
    return null
  }
  if (state.phase === 'ok' || state.since === null) {
    state.phase = 'pending'
    state.since = time
  }
  if (time - state.since >= rule.minDuration * 1000) {
    state.phase = 'firing'
    return 'open'
  }
  return null
}

/**
 * The same for a condition that is a state, not a value (a device silent): `holds` says whether
 * it holds at `time`, and `since` when it started holding.
 */
export function judgeState(minDuration: number, state: ConditionState, time: number, holds: boolean, since: number): 'open' | 'resolve' | null {
  if (!holds) {
    const was = state.phase
    state.phase = 'ok'
    state.since = null
    return was === 'firing' ? 'resolve' : null
  }
  if (state.phase === 'firing') return null
  if (state.phase === 'ok' || state.since === null) {
    state.phase = 'pending'
    state.since = since
  }
  if (time - state.since >= minDuration * 1000) {
    state.phase = 'firing'
    return 'open'
  }
  return null
}
