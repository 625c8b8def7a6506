import { EAQI_POLLUTANTS, HOUR_MS, type HourlyValue, type Pollutant } from '../../../devices/aqi.ts'
import type { Storage } from '../../../ingest/storage/contract.ts'
import { round1, TYPE } from './station-memory.ts'

/**
 * How the per-request computation (snapshots with `cache: false`, the baseline bench/public.ts
 * measures) reads a station from storage: every value, every time. The snapshots themselves
 * never do this per computation; they keep each station in memory (station-memory.ts).
 *
 * Hourly means are rounded to 0.1 µg/m³ (round1), so a published value and its band agree.
 */

/** More raw readings than one field of one station can have in an hour at a 1 s interval. */
const RAW_LIMIT = 10_000

export interface StationCache {
  hours: Map<Pollutant, Map<number, HourlyValue>>
}

export const newStationCache = (): StationCache => ({ hours: new Map() })

/** Reads a station's values from storage. */
export function createStationReader(storage: Pick<Storage, 'series'>) {
  /** Mean and count of one field over [from, to). */
  async function exact(deviceId: string, field: string, from: number, to: number): Promise<HourlyValue | undefined> {
    const points = await storage.series({ deviceId, type: TYPE, field, from, to, limit: RAW_LIMIT })
    const values = new Map<number, number>()
    for (const p of points) if (p.value !== null) values.set(p.time, p.value)
    if (values.size === 0) return undefined
    let sum = 0
    for (const v of values.values()) sum += v
    return { mean: round1(sum / values.size), count: values.size }
  }

  /** Hourly means and counts of [from, to) from storage's windows, into the cache. */
  async function updateHours(cache: StationCache, deviceId: string, from: number, to: number): Promise<void> {
    const limit = Math.ceil((to - from) / HOUR_MS) + 1
    await Promise.all(
      EAQI_POLLUTANTS.map(async (p) => {
        const query = { deviceId, type: TYPE, field: p, from, to, every: HOUR_MS, limit }
        const [means, counts] = await Promise.all([storage.series({ ...query, aggregate: 'mean' }), storage.series({ ...query, aggregate: 'count' })])
        const byHour = new Map<number, HourlyValue>()
        cache.hours.set(p, byHour)
        const countAt = new Map(counts.map((c) => [c.time, c.value ?? 0]))
        for (const m of means) if (m.value !== null) byHour.set(m.time, { mean: round1(m.value), count: countAt.get(m.time) ?? 0 })
      }),
    )
  }

  return { exact, updateHours }
}
