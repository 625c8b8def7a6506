import type { Logger } from 'pino'
import type { ValidReading } from '../../../devices/readings.ts'
import { cities, findCity } from '../../../devices/region.ts'
import type { Registry } from '../../../devices/registry.ts'
import type { Storage } from '../../../ingest/storage/contract.ts'
import type { Feed } from '../../../feed/feed.ts'
import type { DeviceRef } from '../../../devices/registry.ts'
import { createCityCompute, type CitySnapshot } from './city-compute.ts'
import { PUBLIC_FIELDS } from './schemas.ts'
import { addLive, floorHour, newStationCache, TYPE, type StationCache } from './station-cache.ts'

/**
 * The public air-quality snapshots: one per city, recomputed when its readings arrive (at most
 * once per `minIntervalMs`) or when it is older than `maxAgeMs`, never per visitor. Visitors get
 * the last snapshot; only the first visitor of a city after start waits for one.
 *
 * This module schedules and serves them and takes the feed's readings; what a computation reads
 * per station (storage ∪ the live readings, the hourly cache kept up to date incrementally) is in
 * station-cache.ts, the computation and the shape of the answers in city-compute.ts.
 */

export { HISTORY_HOURS, type CitySnapshot, type StationState } from './city-compute.ts'
export { LIVE_KEEP_MS, round1 } from './station-cache.ts'

export interface SnapshotOptions {
  registry: Pick<Registry, 'list' | 'onChange'>
  storage: Pick<Storage, 'series' | 'latest'>
  feed?: Pick<Feed, 'subscribe'>
  logger: Logger
  /** A city is recomputed at most this often while its readings keep arriving. Default 2000 ms. */
  minIntervalMs?: number
  /** Recomputed on the next request when older than this, readings or not (hours close, stations go stale). Default 60 s. */
  maxAgeMs?: number
  /** false: no snapshots, every request computes from storage (only for measuring what snapshots save). */
  cache?: boolean
  /** Compute every city once at start, in the background. Default true. */
  warm?: boolean
  clock?: () => number
}

interface CityState {
  snapshot?: CitySnapshot
  computing?: Promise<CitySnapshot>
  timer?: NodeJS.Timeout
  dirty: boolean
  lastStartedAt: number
  version: number
}

export function createSnapshots(options: SnapshotOptions) {
  const { registry, storage, logger } = options
  const minIntervalMs = options.minIntervalMs ?? 2000
  const maxAgeMs = options.maxAgeMs ?? 60_000
  const cacheEnabled = options.cache !== false
  const clock = options.clock ?? Date.now
  const caches = new Map<string, StationCache>()
  const states = new Map<string, CityState>()
  let closed = false

  const stationCache = (id: string) => {
    let c = caches.get(id)
    if (!c) caches.set(id, (c = newStationCache()))
    return c
  }
  const cityState = (id: string) => {
    let s = states.get(id)
    if (!s) states.set(id, (s = { dirty: false, lastStartedAt: 0, version: 0 }))
    return s
  }
  const { computeCity, computations } = createCityCompute({ registry, storage, clock, stationCache, nextVersion: (cityId) => ++cityState(cityId).version })

  // ------------------------------------------------------------------ scheduling

  function start(cityId: string): Promise<CitySnapshot> {
    const s = cityState(cityId)
    clearTimeout(s.timer)
    s.timer = undefined
    s.dirty = false
    s.lastStartedAt = clock()
    const computing = computeCity(cityId, false, true).then((snapshot) => {
      if (!closed) s.snapshot = snapshot
      return snapshot
    })
    s.computing = computing
    computing
      .catch((err: unknown) => logger.warn({ err, city: cityId }, 'public air-quality snapshot failed'))
      .finally(() => {
        if (s.computing === computing) s.computing = undefined
        if (s.dirty) schedule(cityId)
      })
    return computing
  }

  function schedule(cityId: string): void {
    const s = cityState(cityId)
    s.dirty = true
    if (closed || s.timer || s.computing) return
    const delay = Math.max(0, s.lastStartedAt + minIntervalMs - clock())
    s.timer = setTimeout(() => {
      s.timer = undefined
      start(cityId).catch(() => {})
    }, delay)
    s.timer.unref?.()
  }

  // ------------------------------------------------------------------ readings, registry changes, API

  function onAccepted(device: DeviceRef, readings: readonly ValidReading[], receivedAt: number): void {
    if (device.type !== TYPE || !cacheEnabled || closed) return
    try {
      const cache = stationCache(device.id)
      for (const r of readings) {
        for (const field of PUBLIC_FIELDS) {
          const v = r.values[field]
          if (typeof v === 'number') addLive(cache, field, r.time, v, receivedAt)
        }
        cache.dirtyHours.add(floorHour(r.time))
      }
      if (findCity(device.city)) schedule(findCity(device.city)!.id)
    } catch (err) {
      logger.error({ err }, 'public snapshots: could not take a reading')
    }
  }

  const unsubscribe = options.feed?.subscribe({ accepted: onAccepted }, 'public-snapshots')
  const stopWatchingRegistry = registry.onChange((change) => {
    if (change.device.type !== TYPE || closed) return
    const city = findCity(change.device.city)
    if (city && cacheEnabled) schedule(city.id)
  })

  async function city(cityId: string): Promise<CitySnapshot> {
    if (!cacheEnabled) return computeCity(cityId, true, true)
    const s = cityState(cityId)
    if (s.snapshot) {
      if (clock() - s.snapshot.computedAt > maxAgeMs) schedule(cityId)
      return s.snapshot
    }
    return s.computing ?? start(cityId)
  }

  if (cacheEnabled && options.warm !== false) {
    // In the background: the first visitors find snapshots ready.
    setImmediate(() => {
      if (!closed) for (const c of cities) if (!cityState(c.id).computing && !cityState(c.id).snapshot) start(c.id).catch(() => {})
    })
  }

  return {
    city,
    /** Every city's snapshot. `withHistory: false` spares the history when computing per request. */
    async all(opts: { withHistory?: boolean } = {}): Promise<CitySnapshot[]> {
      if (!cacheEnabled) {
        const out: CitySnapshot[] = []
        for (const c of cities) out.push(await computeCity(c.id, true, opts.withHistory ?? true))
        return out
      }
      return Promise.all(cities.map((c) => city(c.id)))
    },
    /** Recomputes now, ignoring the throttle (tests, and after changing a station). */
    async refresh(cityId: string): Promise<CitySnapshot> {
      const s = cityState(cityId)
      if (s.computing) await s.computing.catch(() => {})
      return start(cityId)
    },
    stats: () => ({ computations: computations() }),
    close(): void {
      closed = true
      unsubscribe?.()
      stopWatchingRegistry()
      for (const s of states.values()) clearTimeout(s.timer)
    },
  }
}

export type Snapshots = ReturnType<typeof createSnapshots>
