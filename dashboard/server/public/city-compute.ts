import {
  assessCity,
  assessStation,
  band,
  staleAfterMs,
  EAQI_POLLUTANTS,
  EAQI_VERSION,
  HOUR_MS,
  POLLUTANT_LABELS,
  type HourlyValue,
  type Pollutant,
  type StationAssessment,
} from '../../../devices/aqi.ts'
import { KINDS } from '../../../devices/kinds.ts'
import { findCity, type City } from '../../../devices/region.ts'
import type { Device, Registry } from '../../../devices/registry.ts'
import type { Storage } from '../../../ingest/storage/contract.ts'
import { PUBLIC_FIELDS, type CityAirQuality, type HistoryHour, type PollutantNow, type PublicStation } from './schemas.ts'
import { createStationReader, newStationCache, type StationCache } from './station-cache.ts'
import { floorHour, FUTURE_MS, HISTORY_HOURS, hourValues, latestOf, rollingHour, rollingMinutes, round1, TYPE, type StationMemory } from './station-memory.ts'
import { copyRow, decodeState, encodeState, ROW, rowHolds } from './station-table.ts'

/**
 * One city's air quality computed from its active air-quality stations, and shaped into the
 * public answers: the index now, the 7-day hourly history and each station's view. The index
 * rules (completeness, staleness, worst station) are in devices/aqi.ts.
 *
 * Two ways to compute it:
 * - `computeCityFromMemory`, what the snapshots do: from each station's memory (station-memory.ts),
 *   no storage read; O(stations × pollutants × (minutes of the window + hours recomputed)), the
 *   history hours that did not change taken from the city's previous answer, the stations' states
 *   kept as numbers (station-table.ts) and shaped into the answers when a snapshot is first read;
 * - `createCityCompute().computeCity`, from storage alone (station-cache.ts), every value read
 *   per computation: only for `cache: false`, the per-request baseline bench/public.ts measures.
 *
 * The index "now" is each pollutant's mean over the 60 minutes before the computation.
 */

export { HISTORY_HOURS }

const iso = (t: number) => new Date(t).toISOString()

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

export interface CityComputeDeps {
  registry: Pick<Registry, 'list'>
  storage: Pick<Storage, 'series' | 'latest'>
  clock: () => number
  /** The version of a city's next snapshot. */
  nextVersion(cityId: string): number
}

/** The per-request computation, every value read from storage (`cache: false`). */
export function createCityCompute(deps: CityComputeDeps) {
  const { registry, storage, clock } = deps
  const reader = createStationReader(storage)
  let computations = 0

  async function computeStation(device: Device, cache: StationCache, now: number, withHistory: boolean, historyFrom: number, hourNow: number): Promise<StationState> {
    if (withHistory) await reader.updateHours(cache, device.id, historyFrom, hourNow)
    const rolling: Partial<Record<Pollutant, HourlyValue>> = {}
    const [stored] = await Promise.all([
      storage.latest({ deviceId: device.id, type: TYPE }),
      ...EAQI_POLLUTANTS.map(async (p) => {
        const v = await reader.exact(device.id, p, now - HOUR_MS, now + FUTURE_MS)
        if (v) rolling[p] = v
      }),
    ])
    const values: Record<string, number> = { ...(stored?.values ?? {}) }
    const lastReadingAt = stored?.time ?? null
    const assessment = assessStation(rolling, device.interval, { lastReadingAt, now })
    return { device, assessment, lastReadingAt, latest: { time: lastReadingAt, values } }
  }

  /** Computes a city now from storage; `withHistory: false` spares the history. */
  async function computeCity(cityId: string, withHistory: boolean): Promise<CitySnapshot> {
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
      const cache = newStationCache()
      stations.push({ state: await computeStation(device, cache, now, withHistory, historyFrom, hourNow), cache })
    }
    const history: HistoryHour[] = []
    if (withHistory) {
      for (let h = historyFrom; h < hourNow; h += HOUR_MS) {
        history.push(
          historyEntry(
            h,
            stations.map((s) => {
              const values: Partial<Record<Pollutant, HourlyValue>> = {}
              for (const p of EAQI_POLLUTANTS) {
                const v = s.cache.hours.get(p)?.get(h)
                if (v) values[p] = v
              }
              return { device: s.state.device, values }
            }),
          ),
        )
      }
    }
    return {
      city,
      version: deps.nextVersion(city.id),
      computedAt: now,
      airQuality: cityNow(city, stations.map((s) => s.state), now),
      history,
      stations: stations.map((s) => publicStation(s.state)),
    }
  }

  return { computeCity, computations: () => computations }
}

/** What a city keeps between computations from memory: its history hours, which changed, and its stations' states. */
export interface CityCache {
  hours: Map<number, HistoryHour>
  /** Hours that received readings since the last computation. */
  dirtyHours: Set<number>
  /** Every hour must be recomputed (a station added, removed, loaded or changed). */
  allDirty: boolean
  /** The last computation's stations and their states (station-table.ts), for the next one to reuse. */
  states?: { devices: readonly Device[]; memories: readonly StationMemory[]; table: Float64Array }
  /** Stations the last computation assessed afresh (the others' states were reused): for tests to see the reuse; nothing else reads it. */
  reassessed: number
}

export const newCityCache = (): CityCache => ({ hours: new Map(), dirtyHours: new Set(), allDirty: true, reassessed: 0 })

/**
 * A city computed from its stations' memories (`memories[i]` is `devices[i]`'s): O(stations changed
 * × pollutants × ≈66 minutes + stations × history hours recomputed) plus a pass over the stations;
 * a station's state is reused while it did not change (rowHolds), and only dirty hours, and the
 * hours that slid into the window, are recomputed, each over the stations with readings in it.
 * Clears the cache's dirty marks. `refreshHistory` false: the history hours as last computed (only
 * hours never computed are), dirty marks kept for a later computation. Synchronous: nothing is read
 * from storage.
 *
 * The states are kept as a table of numbers (station-table.ts) and the snapshot's `airQuality` and
 * `stations` are shaped from it when first read, so a computation nobody reads leaves no objects
 * per station behind.
 */
export function computeCityFromMemory(
  city: City,
  devices: readonly Device[],
  memories: readonly StationMemory[],
  cache: CityCache,
  now: number,
  version: number,
  refreshHistory = true,
): CitySnapshot {
  const hourNow = floorHour(now)
  const historyFrom = hourNow - HISTORY_HOURS * HOUR_MS
  const table = stationTable(devices, memories, cache, now)
  const history: HistoryHour[] = []
  for (let h = historyFrom; h < hourNow; h += HOUR_MS) {
    let entry = refreshHistory && (cache.allDirty || cache.dirtyHours.has(h)) ? undefined : cache.hours.get(h)
    if (!entry) {
      // A station with nothing in the hour neither gives the city an index nor a value for it.
      const withData: { device: Device; values: Partial<Record<Pollutant, HourlyValue>> }[] = []
      for (let i = 0; i < devices.length; i++) {
        const values = hourValues(memories[i]!, h)
        for (const _ in values) {
          withData.push({ device: devices[i]!, values })
          break
        }
      }
      entry = historyEntry(h, withData)
      cache.hours.set(h, entry)
    }
    history.push(entry)
  }
  for (const h of cache.hours.keys()) if (h < historyFrom || h >= hourNow) cache.hours.delete(h)
  if (refreshHistory) {
    cache.dirtyHours.clear()
    cache.allDirty = false
  }
  let states: StationState[] | undefined
  const statesNow = () => (states ??= devices.map((device, i) => decodeState(table, i, device)))
  let airQuality: CityAirQuality | undefined
  let stations: PublicStation[] | undefined
  return {
    city,
    version,
    computedAt: now,
    history,
    get airQuality() {
      return (airQuality ??= cityNow(city, statesNow(), now))
    },
    get stations() {
      return (stations ??= statesNow().map(publicStation))
    },
  }
}

/**
 * Every station's state now, in a new table: a station's row is copied from the last computation
 * while nothing it depends on moved (its memory, the same memory object and registry entry, the
 * rolling window's minute, its freshness), so only the stations that received readings, changed or
 * crossed a minute since are assessed again.
 */
function stationTable(devices: readonly Device[], memories: readonly StationMemory[], cache: CityCache, now: number): Float64Array {
  const { from, to } = rollingMinutes(now)
  const table = new Float64Array(devices.length * ROW)
  const last = cache.states
  let lastRow: Map<StationMemory, number> | undefined
  let reassessed = 0
  for (let i = 0; i < devices.length; i++) {
    const device = devices[i]!
    const memory = memories[i]!
    let j = -1
    if (last) {
      if (last.memories[i] === memory) j = i
      else j = (lastRow ??= new Map(last.memories.map((m, k) => [m, k]))).get(memory) ?? -1
    }
    if (j >= 0 && last!.devices[j] === device && rowHolds(last!.table, j, memory.changes, from, to, now)) {
      copyRow(last!.table, j, table, i)
      continue
    }
    reassessed++
    const latest = latestOf(memory)
    const assessment = assessStation(rollingHour(memory, now), device.interval, { lastReadingAt: latest.time, now })
    const freshUntil = latest.time === null || assessment.status === 'stale' ? Number.POSITIVE_INFINITY : latest.time + staleAfterMs(device.interval)
    encodeState(table, i, assessment, latest.time, memory.latestValue, { changes: memory.changes, from, to, computedAt: now, freshUntil })
  }
  cache.states = { devices, memories, table }
  cache.reassessed = reassessed
  return table
}

// -------------------------------------------------------------------- shaping the answers

export function cityNow(city: City, stations: StationState[], now: number): CityAirQuality {
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

/** One history hour of a city: its index, and each pollutant's highest complete hourly mean. */
export function historyEntry(h: number, stations: readonly { device: Device; values: Partial<Record<Pollutant, HourlyValue>> }[]): HistoryHour {
  const assessed = stations.map((s) => ({ id: s.device.id, assessment: assessStation(s.values, s.device.interval) }))
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
  return {
    time: iso(h),
    index: city.index?.level ?? null,
    band: city.index?.band ?? null,
    drivingPollutant: city.index?.pollutant ?? null,
    values,
  }
}

/** The same for every station: one object, not one per station and computation. */
const PUBLIC_UNITS: Record<string, string> = Object.freeze(Object.fromEntries(PUBLIC_FIELDS.map((f) => [f, KINDS[TYPE].fields[f]!.unit])))

export function publicStation(s: StationState): PublicStation {
  const values: Record<string, number> = {}
  for (const f of PUBLIC_FIELDS) {
    const v = s.latest.values[f]
    if (typeof v === 'number') values[f] = round1(v)
  }
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
      values,
    },
    units: PUBLIC_UNITS,
  }
}
