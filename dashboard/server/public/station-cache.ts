import { EAQI_POLLUTANTS, HOUR_MS, type HourlyValue, type Pollutant } from '../../../devices/aqi.ts'
import type { Storage } from '../../../ingest/storage/contract.ts'

/**
 * What the public snapshots keep per air-quality station, and how they read storage:
 *
 * - live readings: those accepted in the last minutes (the feed's), which storage may not have
 *   yet; joined with storage's, de-duplicated by time, so a reading counts once whether or not
 *   ingest has shipped it;
 * - the hourly cache: each pollutant's hourly mean and count over the history, loaded once in
 *   bulk (hourly mean and count windows from storage), then kept up to date incrementally: an
 *   hour that closes, or that receives a late reading, is recomputed exactly (raw readings ∪
 *   live ones), the rest is never read again.
 *
 * Hourly means are rounded to 0.1 µg/m³ (round1), so a published value and its band agree.
 */

/** The public stations' device type. */
export const TYPE = 'air-quality'
/** Readings received this recently are kept in memory, for storage may not have them yet. */
export const LIVE_KEEP_MS = 5 * 60_000
// A real station sends a reading a minute; the cap only matters for floods (benchmarks, bursts).
const LIVE_CAP_PER_STATION = 2_000
/** More raw readings than one field of one station can have in an hour at a 1 s interval. */
const RAW_LIMIT = 10_000
/** More hours missed than this (the server was idle) are reloaded in bulk rather than one by one. */
const EXACT_GAP_HOURS = 3

export const floorHour = (t: number) => Math.floor(t / HOUR_MS) * HOUR_MS
export const round1 = (v: number) => Math.round(v * 10) / 10

interface LiveEntry {
  value: number
  receivedAt: number
}

export interface StationCache {
  hours: Map<Pollutant, Map<number, HourlyValue>>
  /** Hours before this are loaded (exclusive); 0 until the first load. */
  loadedUntil: number
  /** Hours that received readings since they were last computed. */
  dirtyHours: Set<number>
  live: Map<string, Map<number, LiveEntry>>
  liveSize: number
}

export const newStationCache = (): StationCache => ({ hours: new Map(), loadedUntil: 0, dirtyHours: new Set(), live: new Map(), liveSize: 0 })

/** Keeps a reading's value received now (the newest for its time wins). */
export function addLive(cache: StationCache, field: string, time: number, value: number, receivedAt: number): void {
  let byTime = cache.live.get(field)
  if (!byTime) cache.live.set(field, (byTime = new Map()))
  if (!byTime.has(time)) cache.liveSize += 1
  byTime.set(time, { value, receivedAt })
  if (cache.liveSize > LIVE_CAP_PER_STATION) pruneLive(cache, Number.POSITIVE_INFINITY, LIVE_CAP_PER_STATION / 2)
}

/** Drops live readings received before now - LIVE_KEEP_MS (or the oldest, down to `keep`). */
export function pruneLive(cache: StationCache, now: number, keep = Number.POSITIVE_INFINITY): void {
  const cutoff = now - LIVE_KEEP_MS
  for (const byTime of cache.live.values()) {
    for (const [time, entry] of byTime) {
      if (entry.receivedAt >= cutoff && cache.liveSize <= keep) break
      byTime.delete(time)
      cache.liveSize -= 1
    }
  }
}

/** The newest live value of each field, with its time. */
export function newestLive(cache: StationCache): Map<string, { time: number; value: number }> {
  const out = new Map<string, { time: number; value: number }>()
  for (const [field, byTime] of cache.live) {
    let newest = -Infinity
    let value: number | undefined
    for (const [time, entry] of byTime) {
      if (time > newest) {
        newest = time
        value = entry.value
      }
    }
    if (value !== undefined) out.set(field, { time: newest, value })
  }
  return out
}

/** Reads a station's values from storage, joined with its cache's live readings. */
export function createStationReader(storage: Pick<Storage, 'series'>) {
  /** Mean and count of one field over [from, to): stored readings ∪ live ones, each time once. */
  async function exact(deviceId: string, field: string, from: number, to: number, cache: StationCache): Promise<HourlyValue | undefined> {
    const points = await storage.series({ deviceId, type: TYPE, field, from, to, limit: RAW_LIMIT })
    const values = new Map<number, number>()
    for (const p of points) if (p.value !== null) values.set(p.time, p.value)
    const live = cache.live.get(field)
    if (live) for (const [time, entry] of live) if (time >= from && time < to) values.set(time, entry.value)
    if (values.size === 0) return undefined
    let sum = 0
    for (const v of values.values()) sum += v
    return { mean: round1(sum / values.size), count: values.size }
  }

  /** Hourly means and counts of [from, to) from storage's windows, replacing the cache's. */
  async function bulk(cache: StationCache, deviceId: string, from: number, to: number): Promise<void> {
    const limit = Math.ceil((to - from) / HOUR_MS) + 1
    await Promise.all(
      EAQI_POLLUTANTS.map(async (p) => {
        const query = { deviceId, type: TYPE, field: p, from, to, every: HOUR_MS, limit }
        const [means, counts] = await Promise.all([storage.series({ ...query, aggregate: 'mean' }), storage.series({ ...query, aggregate: 'count' })])
        let byHour = cache.hours.get(p)
        if (!byHour) cache.hours.set(p, (byHour = new Map()))
        for (const t of byHour.keys()) if (t >= from && t < to) byHour.delete(t)
        const countAt = new Map(counts.map((c) => [c.time, c.value ?? 0]))
        for (const m of means) if (m.value !== null) byHour.set(m.time, { mean: round1(m.value), count: countAt.get(m.time) ?? 0 })
      }),
    )
  }

  /** One hour recomputed exactly (raw ∪ live). */
  async function exactHour(cache: StationCache, deviceId: string, hour: number): Promise<void> {
    await Promise.all(
      EAQI_POLLUTANTS.map(async (p) => {
        const value = await exact(deviceId, p, hour, hour + HOUR_MS, cache)
        let byHour = cache.hours.get(p)
        if (!byHour) cache.hours.set(p, (byHour = new Map()))
        if (value) byHour.set(hour, value)
        else byHour.delete(hour)
      }),
    )
  }

  /** Brings a station's closed hours in [from, to) up to date. */
  async function updateHours(cache: StationCache, deviceId: string, from: number, to: number): Promise<void> {
    if (cache.loadedUntil === 0 || cache.loadedUntil < from) {
      await bulk(cache, deviceId, from, to)
    } else if (cache.loadedUntil < to) {
      if ((to - cache.loadedUntil) / HOUR_MS <= EXACT_GAP_HOURS) {
        for (let h = cache.loadedUntil; h < to; h += HOUR_MS) cache.dirtyHours.add(h)
      } else await bulk(cache, deviceId, cache.loadedUntil, to)
    }
    cache.loadedUntil = Math.max(cache.loadedUntil, to)
    for (const hour of [...cache.dirtyHours]) {
      if (hour >= to) continue
      cache.dirtyHours.delete(hour)
      if (hour >= from) await exactHour(cache, deviceId, hour)
    }
    for (const byHour of cache.hours.values()) for (const t of byHour.keys()) if (t < from) byHour.delete(t)
  }

  return { exact, bulk, exactHour, updateHours }
}

export type StationReader = ReturnType<typeof createStationReader>
