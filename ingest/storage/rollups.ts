import type { Family } from '../../devices/kinds.ts'
import type { Aggregate, FieldsWindow, SeriesPoint } from './contract.ts'

/**
 * Rollups, shared by both stores: every numeric field of every reading kind is kept as hourly
 * and daily aggregates (sum, min, max, count; the mean is sum / count), besides the raw
 * readings. Hours and days are UTC, aligned to the epoch like every query window. How each store
 * keeps them current, late readings included, is told in embedded.ts (in each write's
 * transaction: new readings added, rewritten ones recomputed) and influx.ts (hours rolled up once
 * settled, behind a watermark; backlogs recomputed); a recomputation always overwrites whole
 * rows, so redoing one is harmless.
 *
 * A windowed series() whose window is a whole number of hours (days) and whose aggregate is
 * mean, min, max or count is answered from the hourly (daily) rollup, with the uneven edges of
 * the range from the finer level: the same answer raw readings give while they are kept, and
 * an answer still after they are gone.
 */

export const HOUR_MS = 3_600_000
export const DAY_MS = 86_400_000
/** Hourly rollups are kept this long by default (10 years of 365 days); daily ones forever. */
export const DEFAULT_HOURLY_RETENTION_MS = 3650 * DAY_MS

export interface RetentionOptions {
  /** Raw readings of every family without its own value below, and dead letters. */
  retentionMs: number
  /** Raw retention of a family, overriding retentionMs. */
  familyRetentionMs?: Partial<Record<Family, number>>
  /** Hourly rollups; default DEFAULT_HOURLY_RETENTION_MS. Daily rollups are kept forever. */
  hourlyRetentionMs?: number
}

export const rawRetentionOf = (options: RetentionOptions, family: Family): number => options.familyRetentionMs?.[family] ?? options.retentionMs

export type Level = 'raw' | 'hourly' | 'daily'
export interface Part {
  level: Level
  from: number
  to: number
}

/** What one window holds: the sum, extremes and number of readings. */
export interface WindowStats {
  sum: number
  min: number
  max: number
  count: number
}

/** Whether windows of `every` with this aggregate can be answered from rollups at all. */
export function rollupLevel(every: number, aggregate: Aggregate): Level {
  if (aggregate === 'last' || every % HOUR_MS !== 0) return 'raw'
  return every % DAY_MS === 0 ? 'daily' : 'hourly'
}

/**
 * The pieces of [from, to) each level serves: the whole hours (days) of the range from the
 * rollup, the uneven edges from the next finer level, and anything from `rolledUpBefore` on (an
 * hour boundary: the hours not rolled up yet) from raw. Ordered by time, contiguous.
 */
export function planParts(from: number, to: number, every: number, aggregate: Aggregate, rolledUpBefore = Infinity): Part[] {
  const split_ = Math.max(from, Math.min(to, rolledUpBefore))
  return [...split(rollupLevel(every, aggregate), from, split_), ...split('raw', split_, to)]
}

function split(level: Level, from: number, to: number): Part[] {
  if (from >= to) return []
  if (level === 'raw') return [{ level, from, to }]
  const step = level === 'daily' ? DAY_MS : HOUR_MS
  const finer: Level = level === 'daily' ? 'hourly' : 'raw'
  const a = Math.ceil(from / step) * step
  const b = Math.floor(to / step) * step
  if (a >= b) return split(finer, from, to)
  return [...split(finer, from, a), { level, from: a, to: b }, ...split(finer, b, to)]
}

/** Start of the epoch-aligned window of `every` that holds `time`. */
export const windowOf = (time: number, every: number): number => time - (((time % every) + every) % every)

/** Adds one piece's window stats into the total. */
export function mergeInto(total: Map<number, WindowStats>, window: number, s: WindowStats): void {
  if (!(s.count > 0)) return
  const t = total.get(window)
  if (!t) total.set(window, { ...s })
  else {
    t.sum += s.sum
    t.count += s.count
    if (s.min < t.min) t.min = s.min
    if (s.max > t.max) t.max = s.max
  }
}

/** The newest `limit` windows, oldest first, with the asked aggregate. */
export function pointsOf(total: Map<number, WindowStats>, aggregate: Exclude<Aggregate, 'last'>, limit: number): SeriesPoint[] {
  const windows = [...total.keys()].sort((a, b) => a - b).slice(-limit)
  if (limit === 0) return []
  return windows.map((time) => {
    const s = total.get(time)!
    const value = aggregate === 'mean' ? s.sum / s.count : aggregate === 'count' ? s.count : s[aggregate]
    return { time, value }
  })
}

/** Several fields' window totals (by field, as mergeInto adds them up) as Storage.windows() answers them: the newest `limit` windows, oldest first. */
export function fieldsWindowsOf(totals: ReadonlyMap<string, Map<number, WindowStats>>, limit: number): FieldsWindow[] {
  if (limit === 0) return []
  const times = new Set<number>()
  for (const total of totals.values()) for (const time of total.keys()) times.add(time)
  return [...times]
    .sort((a, b) => a - b)
    .slice(-limit)
    .map((time) => {
      const fields: FieldsWindow['fields'] = {}
      for (const [field, total] of totals) {
        const s = total.get(time)
        if (s) fields[field] = { mean: s.sum / s.count, count: s.count }
      }
      return { time, fields }
    })
}

/** The hours (epoch-aligned starts) a set of reading times touch, as sorted contiguous runs [from, to). */
export function runsOf(times: Iterable<number>, step: number): { from: number; to: number }[] {
  const starts = [...new Set([...times].map((t) => windowOf(t, step)))].sort((a, b) => a - b)
  const runs: { from: number; to: number }[] = []
  for (const s of starts) {
    const last = runs[runs.length - 1]
    if (last && last.to === s) last.to = s + step
    else runs.push({ from: s, to: s + step })
  }
  return runs
}
