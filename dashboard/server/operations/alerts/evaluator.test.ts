import { describe, expect, it } from 'vitest'
import { clearLine, judge, judgeState, RollingWindow, type ConditionState } from './evaluator.ts'

const T0 = Date.parse('2026-03-01T08:00:00Z')
const s = (seconds: number) => T0 + seconds * 1000
const fresh = (): ConditionState => ({ phase: 'ok', since: null })

describe('rolling window', () => {
  it('aggregates the readings of the window ending at the newest one', () => {
    const w = new RollingWindow(600_000) // 10 min, 30 s slots
    for (let i = 0; i <= 10; i++) w.add(s(i * 60), i) // 0..10, one a minute
    // (newest − 10 min, newest] holds minutes 1..10.
    expect(w.aggregate('count')).toBe(10)
    expect(w.aggregate('mean')).toBe(5.5)
    expect(w.aggregate('min')).toBe(1)
    expect(w.aggregate('max')).toBe(10)
    expect(w.aggregate('last')).toBe(10)
  })

  it('forgets readings that leave the window, at one-slot resolution', () => {
    const w = new RollingWindow(3_600_000, 20) // 1 h, 3 min slots
    w.add(s(0), 100)
    w.add(s(30 * 60), 10)
    expect(w.aggregate('mean')).toBe(55)
    w.add(s(60 * 60 + 180), 10) // 63 min: the first reading's slot has left the window
    expect(w.aggregate('mean')).toBe(10)
    expect(w.aggregate('count')).toBe(2)
  })

  it('keeps fixed memory however many readings arrive', () => {
    const w = new RollingWindow(3_600_000, 20)
    for (let i = 0; i < 7200; i++) w.add(s(i), i % 2 === 0 ? 10 : 20) // one a second for 2 h
    expect(w.aggregate('count')).toBeGreaterThanOrEqual(3600)
    expect(w.aggregate('count')).toBeLessThanOrEqual(3600 + 180)
    expect(w.aggregate('mean')).toBeCloseTo(15, 1)
  })

  it('takes late readings inside the window and ignores ones older than it', () => {
    const w = new RollingWindow(600_000)
    w.add(s(600), 10)
    expect(w.add(s(500), 30)).toBe(true)
    expect(w.aggregate('mean')).toBe(20)
    expect(w.aggregate('last')).toBe(10)
    expect(w.add(s(-600), 1000)).toBe(false)
    expect(w.aggregate('max')).toBe(30)
  })
})

describe('condition with minimum duration and hysteresis', () => {
  const rule = { op: '>' as const, threshold: 50, hysteresis: 5, minDuration: 0 }

  it('opens at once without a minimum duration, and resolves only past the clear line', () => {
    const st = fresh()
    expect(judge(rule, st, s(0), 49)).toBeNull()
    expect(judge(rule, st, s(1), 51)).toBe('open')
    expect(st.phase).toBe('firing')
    // Back under the threshold but not under 50 − 5: still firing (no flapping around 50).
    expect(judge(rule, st, s(2), 49)).toBeNull()
    expect(judge(rule, st, s(3), 52)).toBeNull()
    expect(judge(rule, st, s(4), 45.5)).toBeNull()
    expect(judge(rule, st, s(5), 45)).toBe('resolve')
    expect(st.phase).toBe('ok')
    expect(clearLine(rule)).toBe(45)
    expect(clearLine({ op: '<', threshold: 10, hysteresis: 2 })).toBe(12)
  })

  it('opens only after the condition held for the minimum duration without a break', () => {
    const st = fresh()
    const lasting = { ...rule, minDuration: 300 }
    expect(judge(lasting, st, s(0), 60)).toBeNull()
    expect(st).toEqual({ phase: 'pending', since: s(0) })
    expect(judge(lasting, st, s(200), 70)).toBeNull()
    // A break starts the wait again.
    expect(judge(lasting, st, s(250), 40)).toBeNull()
    expect(st.phase).toBe('ok')
    expect(judge(lasting, st, s(260), 60)).toBeNull()
    expect(judge(lasting, st, s(559), 60)).toBeNull()
    expect(judge(lasting, st, s(560), 60)).toBe('open')
  })

  it('handles every operator, with no hysteresis meaning "resolve when the condition stops"', () => {
    const cases: [op: '>' | '>=' | '<' | '<=', breach: number, ok: number][] = [
      ['>', 11, 10],
      ['>=', 10, 9.9],
      ['<', 9, 10],
      ['<=', 10, 10.1],
    ]
    for (const [op, breach, ok] of cases) {
      const st = fresh()
      const r = { op, threshold: 10, hysteresis: 0, minDuration: 0 }
      expect(judge(r, st, s(0), ok), op).toBeNull()
      expect(judge(r, st, s(1), breach), op).toBe('open')
      expect(judge(r, st, s(2), ok), op).toBe('resolve')
    }
  })

  it('judges states (a device silent) the same way', () => {
    const st = fresh()
    expect(judgeState(60, st, s(10), true, s(0))).toBeNull()
    expect(st).toEqual({ phase: 'pending', since: s(0) })
    expect(judgeState(60, st, s(59), true, s(0))).toBeNull()
    expect(judgeState(60, st, s(60), true, s(0))).toBe('open')
    expect(judgeState(60, st, s(61), true, s(0))).toBeNull()
    expect(judgeState(60, st, s(70), false, s(70))).toBe('resolve')
    // Not held long enough: no alert at all.
    expect(judgeState(60, st, s(100), true, s(100))).toBeNull()
    expect(judgeState(60, st, s(120), false, s(120))).toBeNull()
  })
})
