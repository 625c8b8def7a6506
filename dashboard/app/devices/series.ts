import { toCsv as writeCsv } from '../../shared/csv.ts'
import type { Point } from '../api/types.ts'
import type { LiveUpdate } from '../live/connection.ts'

/** Chart series helpers: the REST history and the live stream meet here, in either order. */

export const HOUR_MS = 3_600_000

/** Points of one field of one device in a frame's updates. */
export function pointsFromUpdates(updates: readonly LiveUpdate[], id: string, field: string): Point[] {
  const points: Point[] = []
  for (const u of updates) {
    const v = u.values[field]
    if (u.id === id && typeof v === 'number' && Number.isFinite(v)) points.push({ time: u.time, value: v })
  }
  return points
}

/**
 * Merges new points into a series: sorted by time, one point per timestamp (the newer arrival
 * wins), nothing older than `since`, and at most `maxPoints` (the newest) so a fast device
 * cannot grow the chart without bound.
 */
export function mergeSeries(series: readonly Point[], incoming: readonly Point[], since: number, maxPoints = 3600): Point[] {
  if (incoming.length === 0 && (series.length === 0 || series[0]!.time >= since)) return series as Point[]
  const byTime = new Map<number, Point>()
  for (const p of series) if (p.time >= since) byTime.set(p.time, p)
  for (const p of incoming) if (p.time >= since) byTime.set(p.time, p)
  const merged = [...byTime.values()].sort((a, b) => a.time - b.time)
  return merged.length > maxPoints ? merged.slice(merged.length - maxPoints) : merged
}

export type RangeKey = '1h' | '24h' | '7d' | '30d' | 'custom'
export const RANGES: readonly { key: RangeKey; label: string; ms: number }[] = [
  { key: '1h', label: '1 h', ms: HOUR_MS },
  { key: '24h', label: '24 h', ms: 24 * HOUR_MS },
  { key: '7d', label: '7 d', ms: 7 * 24 * HOUR_MS },
  { key: '30d', label: '30 d', ms: 30 * 24 * HOUR_MS },
]

/** About this many points per series: enough for a 400-px chart, far under the API's 2,000 cap. */
export const TARGET_POINTS = 360
const WINDOWS_S = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400]

/**
 * The aggregation window the server should use for a range: none for up to an hour (raw
 * readings; the server aggregates on its own past 2,000), else the smallest nice window giving at
 * most TARGET_POINTS points (24 h → 5 min, 7 d → 30 min, 30 d → 2 h).
 */
export function chooseEvery(rangeMs: number): { every: string | undefined; ms: number | null } {
  if (rangeMs <= HOUR_MS) return { every: undefined, ms: null }
  const needed = rangeMs / 1000 / TARGET_POINTS
  const s = WINDOWS_S.find((w) => w >= needed) ?? Math.ceil(needed / 86400) * 86400
  return { every: `${s}s`, ms: s * 1000 }
}

/** One row per timestamp with a column per series (undefined where a series has no point). */
export function mergeRows(series: readonly { key: string; points: readonly Point[] }[]): Record<string, number>[] {
  const rows = new Map<number, Record<string, number>>()
  for (const s of series) {
    for (const p of s.points) {
      let row = rows.get(p.time)
      if (!row) rows.set(p.time, (row = { time: p.time }))
      row[s.key] = p.value
    }
  }
  return [...rows.values()].sort((a, b) => a.time! - b.time!)
}

/** The chart's data as CSV (the shared writer): an ISO time column, then one column per series, headed with its unit. */
export function toCsv(columns: readonly { key: string; header: string }[], rows: readonly Record<string, number>[]): string {
  return writeCsv([['time', ...columns.map((c) => c.header)], ...rows.map((row) => [new Date(row.time!).toISOString(), ...columns.map((c) => row[c.key])])])
}
