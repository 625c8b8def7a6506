import type { Logger } from 'pino'
import {
  assessCity,
  assessStation,
  band,
  EAQI_POLLUTANTS,
  EAQI_VERSION,
  HOUR_MS,
  POLLUTANT_LABELS,
  type HourlyValue,
  type Pollutant,
  type StationAssessment,
} from '../../../devices/aqi.ts'
import { KINDS } from '../../../devices/kinds.ts'
import type { ValidReading } from '../../../devices/readings.ts'
import { cities, findCity, type City } from '../../../devices/region.ts'
import type { Device, Registry } from '../../../devices/registry.ts'
import type { Storage } from '../../../ingest/storage/contract.ts'
import type { Feed, FeedDevice } from '../../../feed/feed.ts'
import { PUBLIC_FIELDS, type CityAirQuality, type HistoryHour, type PollutantNow, type PublicStation } from './schemas.ts'

/**
 * The public air-quality snapshots: one per city, recomputed when its readings arrive (at most
 * once per `minIntervalMs`) or when it is older than `maxAgeMs`, never per visitor. Visitors get
 * the last snapshot; only the first visitor of a city after start waits for one.
 *
 * What a computation reads, per active air-quality station of the city:
 * - the index "now": the mean of each pollutant over the 60 minutes before the computation, from
 *   the station's raw readings in storage joined with the readings accepted in the last minutes
 *   that storage may not have yet (the feed's), de-duplicated by time, so a reading counts once
 *   whether or not ingest has shipped it;
 * - the 7-day hourly history: loaded once with hourly mean and count windows from storage, then
 *   kept up to date incrementally: an hour that closes, or that receives a late reading, is
 *   recomputed exactly (raw readings ∪ live ones), the rest is never read again;
 * - the newest values (storage latest ∪ live).
 *
 * Hourly means are rounded to 0.1 µg/m³ before banding, so a published value and its band
 * always agree. The index rules (completeness, staleness, worst station) are in devices/aqi.ts.
 */

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

export interface StationState {
  device: Device
  assessment: StationAssessment
  lastReadingAt: number | null
  latest: { time: number | null; values: Record<string, number> }
}

export interface CitySnapshot {
  city: City
  /** Increases with every computation of this city. */
  version: number
  computedAt: number
  airQuality: CityAirQuality
  /** Empty when computed without history (per-request mode for the air-quality list). */
  history: HistoryHour[]
  stations: PublicStation[]
}

export const HISTORY_HOURS = 7 * 24
/** Readings received this recently are kept in memory, for storage may not have them yet. */
export const LIVE_KEEP_MS = 5 * 60_000
// A real station sends a reading a minute; the cap only matters for floods (benchmarks, bursts).
const LIVE_CAP_PER_STATION = 2_000
/** Device clocks may run this far ahead (devices/readings.ts accepts 5 minutes). */
const FUTURE_MS = 5 * 60_000
/** More raw readings than one field of one station can have in an hour at a 1 s interval. */
const RAW_LIMIT = 10_000
/** More hours missed than this (the server was idle) are reloaded in bulk rather than one by one. */
const EXACT_GAP_HOURS = 3
const TYPE = 'air-quality'

const floorHour = (t: number) => Math.floor(t / HOUR_MS) * HOUR_MS
export const round1 = (v: number) => Math.round(v * 10) / 10
const iso = (t: number) => new Date(t).toISOString()

interface LiveEntry {
  value: number
  receivedAt: number
}

interface StationCache {
  hours: Map<Pollutant, Map<number, HourlyValue>>
  /** Hours before this are loaded (exclusive); 0 until the first load. */
  loadedUntil: number
  /** Hours that received readings since they were last computed. */
  dirtyHours: Set<number>
  live: Map<string, Map<number, LiveEntry>>
  liveSize: number
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
  let computations = 0

  const newCache = (): StationCache => ({ hours: new Map(), loadedUntil: 0, dirtyHours: new Set(), live: new Map(), liveSize: 0 })
  const stationCache = (id: string) => {
    let c = caches.get(id)
    if (!c) caches.set(id, (c = newCache()))
    return c
  }
  const cityState = (id: string) => {
    let s = states.get(id)
    if (!s) states.set(id, (s = { dirty: false, lastStartedAt: 0, version: 0 }))
    return s
  }

  // ------------------------------------------------------------------ reading storage

  function addLive(cache: StationCache, field: string, time: number, value: number, receivedAt: number): void {
    let byTime = cache.live.get(field)
    if (!byTime) cache.live.set(field, (byTime = new Map()))
    if (!byTime.has(time)) cache.liveSize += 1
    byTime.set(time, { value, receivedAt })
    if (cache.liveSize > LIVE_CAP_PER_STATION) pruneLive(cache, Number.POSITIVE_INFINITY, LIVE_CAP_PER_STATION / 2)
  }

  /** Drops live readings received before now - LIVE_KEEP_MS (or the oldest, down to `keep`). */
  function pruneLive(cache: StationCache, now: number, keep = Number.POSITIVE_INFINITY): void {
    const cutoff = now - LIVE_KEEP_MS
    for (const byTime of cache.live.values()) {
      for (const [time, entry] of byTime) {
        if (entry.receivedAt >= cutoff && cache.liveSize <= keep) break
        byTime.delete(time)
        cache.liveSize -= 1
      }
    }
  }

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

  // ------------------------------------------------------------------ computing a city

  async function computeStation(device: Device, cache: StationCache, now: number, withHistory: boolean, historyFrom: number, hourNow: number): Promise<StationState> {
    pruneLive(cache, now)
    if (withHistory) await updateHours(cache, device.id, historyFrom, hourNow)
    const rolling: Partial<Record<Pollutant, HourlyValue>> = {}
    const [stored] = await Promise.all([
      storage.latest({ deviceId: device.id, type: TYPE }),
      ...EAQI_POLLUTANTS.map(async (p) => {
        const v = await exact(device.id, p, now - HOUR_MS, now + FUTURE_MS, cache)
        if (v) rolling[p] = v
      }),
    ])
    const values: Record<string, number> = { ...(stored?.values ?? {}) }
    let lastReadingAt = stored?.time ?? null
    for (const [field, byTime] of cache.live) {
      let newest = -Infinity
      let value: number | undefined
      for (const [time, entry] of byTime) {
        if (time > newest) {
          newest = time
          value = entry.value
        }
      }
      if (value === undefined) continue
      if (lastReadingAt === null || newest > lastReadingAt) {
        lastReadingAt = newest
        values[field] = value
      } else if (!(field in values)) values[field] = value
    }
    const assessment = assessStation(rolling, device.interval, { lastReadingAt, now })
    return { device, assessment, lastReadingAt, latest: { time: lastReadingAt, values } }
  }

  async function computeCity(cityId: string, fresh: boolean, withHistory: boolean): Promise<CitySnapshot> {
    const city = findCity(cityId)
    if (!city) throw new Error(`unknown city '${cityId}'`)
    computations += 1
    const now = clock()
    const hourNow = floorHour(now)
    const historyFrom = hourNow - HISTORY_HOURS * HOUR_MS
    const devices = registry.list({ city: city.id, type: TYPE, status: 'active' }).items
    const stations: { state: StationState; cache: StationCache }[] = []
    // One station at a time (its fields in parallel): a city with many stations must not open
    // hundreds of storage requests at once.
    for (const device of devices) {
      const cache = fresh ? newCache() : stationCache(device.id)
      stations.push({ state: await computeStation(device, cache, now, withHistory, historyFrom, hourNow), cache })
    }
    const state = cityState(city.id)
    state.version += 1
    return {
      city,
      version: state.version,
      computedAt: now,
      airQuality: cityNow(city, stations.map((s) => s.state), now),
      history: withHistory ? cityHistory(stations, historyFrom, hourNow) : [],
      stations: stations.map((s) => publicStation(s.state)),
    }
  }

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

  function onAccepted(device: FeedDevice, readings: readonly ValidReading[], receivedAt: number): void {
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

  const unsubscribe = options.feed?.subscribe({ accepted: onAccepted })
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
    stats: () => ({ computations }),
    close(): void {
      closed = true
      unsubscribe?.()
      stopWatchingRegistry()
      for (const s of states.values()) clearTimeout(s.timer)
    },
  }
}

export type Snapshots = ReturnType<typeof createSnapshots>

// -------------------------------------------------------------------- shaping the answers

function cityNow(city: City, stations: StationState[], now: number): CityAirQuality {
  const assessed = assessCity(stations.map((s) => ({ id: s.device.id, assessment: s.assessment })))
  const fresh = stations.filter((s) => s.assessment.status === 'ok' || s.assessment.status === 'incomplete')
  const pollutants: PollutantNow[] = EAQI_POLLUTANTS.map((p) => {
    let top: { value: number; level: number; station: string } | undefined
    let anyReadings = false
    for (const s of fresh) {
      const a = s.assessment.pollutants.find((x) => x.pollutant === p)!
      if (a.count > 0) anyReadings = true
      if (a.complete && a.value !== null && a.level !== null && (!top || a.value > top.value)) top = { value: a.value, level: a.level, station: s.device.id }
    }
    const b = top ? band(top.level as 1) : undefined
    return {
      pollutant: p,
      label: POLLUTANT_LABELS[p],
      unit: KINDS[TYPE].fields[p]!.unit,
      value: top?.value ?? null,
      level: top ? b!.level : null,
      band: b?.id ?? null,
      station: top?.station ?? null,
      status: top ? 'ok' : anyReadings ? 'incomplete' : 'no-data',
    }
  })
  const newest = stations.reduce<number | null>((m, s) => (s.lastReadingAt !== null && (m === null || s.lastReadingAt > m) ? s.lastReadingAt : m), null)
  const i = assessed.index
  return {
    city: city.id,
    name: city.name,
    province: city.province,
    lat: city.lat,
    lon: city.lon,
    status: assessed.status,
    index: {
      value: i?.level ?? null,
      band: i?.band ?? null,
      label: i ? band(i.level).name : null,
      drivingPollutant: i?.pollutant ?? null,
      station: i?.station ?? null,
      version: EAQI_VERSION,
    },
    pollutants,
    stations: stations.map((s) => ({
      id: s.device.id,
      name: s.device.name,
      lat: s.device.lat,
      lon: s.device.lon,
      status: s.assessment.status,
      index: s.assessment.index ? { value: s.assessment.index.level, band: s.assessment.index.band, drivingPollutant: s.assessment.index.pollutant } : null,
      lastReadingAt: s.lastReadingAt === null ? null : iso(s.lastReadingAt),
    })),
    lastUpdate: newest === null ? null : iso(newest),
    window: { from: iso(now - HOUR_MS), to: iso(now) },
  }
}

function cityHistory(stations: { state: StationState; cache: StationCache }[], from: number, to: number): HistoryHour[] {
  const hours: HistoryHour[] = []
  for (let h = from; h < to; h += HOUR_MS) {
    const assessed = stations.map((s) => {
      const values: Partial<Record<Pollutant, HourlyValue>> = {}
      for (const p of EAQI_POLLUTANTS) {
        const v = s.cache.hours.get(p)?.get(h)
        if (v) values[p] = v
      }
      return { id: s.state.device.id, assessment: assessStation(values, s.state.device.interval) }
    })
    const city = assessCity(assessed)
    const values: Record<string, number | null> = {}
    for (const p of EAQI_POLLUTANTS) {
      let top: number | null = null
      for (const a of assessed) {
        const x = a.assessment.pollutants.find((q) => q.pollutant === p)!
        if (x.complete && x.value !== null && (top === null || x.value > top)) top = x.value
      }
      values[p] = top
    }
    hours.push({
      time: iso(h),
      index: city.index?.level ?? null,
      band: city.index?.band ?? null,
      drivingPollutant: city.index?.pollutant ?? null,
      values,
    })
  }
  return hours
}

function publicStation(s: StationState): PublicStation {
  const kind = KINDS[TYPE]
  return {
    id: s.device.id,
    name: s.device.name,
    type: TYPE,
    city: s.device.city,
    lat: s.device.lat,
    lon: s.device.lon,
    interval: s.device.interval,
    status: s.assessment.status,
    index: s.assessment.index ? { value: s.assessment.index.level, band: s.assessment.index.band, drivingPollutant: s.assessment.index.pollutant } : null,
    hour: s.assessment.pollutants.map((p) => ({ pollutant: p.pollutant, value: p.value, count: p.count, required: p.required, level: p.level })),
    latest: {
      time: s.latest.time === null ? null : iso(s.latest.time),
      values: Object.fromEntries(PUBLIC_FIELDS.filter((f) => typeof s.latest.values[f] === 'number').map((f) => [f, round1(s.latest.values[f]!)])),
    },
    units: Object.fromEntries(PUBLIC_FIELDS.map((f) => [f, kind.fields[f]!.unit])),
  }
}
