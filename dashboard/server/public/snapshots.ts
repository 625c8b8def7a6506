import type { Logger } from 'pino'
import type { ValidReading } from '../../../devices/readings.ts'
import { cities, findCity } from '../../../devices/region.ts'
import type { Device, DeviceRef, Registry } from '../../../devices/registry.ts'
import type { LastReading, Storage } from '../../../ingest/storage/contract.ts'
import type { Feed } from '../../../feed/feed.ts'
import { computeCityFromMemory, createCityCompute, newCityCache, type CityCache, type CitySnapshot } from './city-compute.ts'
import { addReading, historyStart, hoursWithData, loadStation, newStationMemory, seedLatest, TYPE, type StationMemory } from './station-memory.ts'

/**
 * The public air-quality snapshots: one per city, recomputed when its readings arrive (at most
 * once per `minIntervalMs`, or per `perStationMs` for each of its stations when that is longer) or
 * when it is older than `maxAgeMs`, never per visitor. Visitors get
 * the last snapshot.
 *
 * The cost follows the message rate, not the size of the fleet or its history:
 * - a reading accepted on the feed costs O(pollutants): it goes into its station's memory
 *   (station-memory.ts: per-minute and per-hour sums and counts, newest values, recent times for
 *   duplicates) and marks its city and hour dirty. Nothing is read from storage for it;
 * - storage is read once per station (3 calls; 1 for a station with nothing in its week of
 *   history; station-memory.ts `loadStation`): at start, a
 *   few stations at a time in the background (LOAD_CONCURRENCY), and when a station appears
 *   (registry 'added', or a status change back to active). Until then a station counts with
 *   what the feed gave it (no data, for a quiet one): cities answer with what is known, and are
 *   recomputed as their stations load;
 * - a city is recomputed from memory (city-compute.ts `computeCityFromMemory`, synchronous): a
 *   station's state (its rolling hour assessed) is made again only when it received readings,
 *   changed in the registry, its rolling minute moved or it went stale, so O(stations changed ×
 *   pollutants × ≈66 minutes) plus a pass over the city's list, the states kept as a table of
 *   numbers and shaped into the public answers only when the snapshot is read (station-table.ts:
 *   a computation nobody reads leaves no objects per station); its history hours are kept
 *   between computations and only dirty ones (a late reading, a station changed) and the one that
 *   closed are recomputed. The city's stations are kept from the registry's changes, not listed
 *   per computation. A registry change to one station marks its city dirty and loads that
 *   station alone.
 *
 * Memory per station: see station-memory.ts (≈20 KB of typed arrays plus the duplicate window).
 *
 * `cache: false` keeps the old way, every answer computed from storage per request: only for the
 * baseline bench/public.ts measures.
 */

export { HISTORY_HOURS, type CitySnapshot, type StationState } from './city-compute.ts'
export { round1 } from './station-memory.ts'

/** The name its feed listener and its recomputations are timed under (PIAZZA_TIMING). */
const LISTENER = 'public-snapshots'
/** Stations loaded from storage at once. */
const LOAD_CONCURRENCY = 4
/**
 * While stations load (at start: every station with readings in its week), a city's 7-day history
 * is recomputed at most this often: each load dirties the hours it brings, and recomputing them
 * over all the city's stations every few seconds kept the event loop busy enough to slow device
 * logins after a restart. The index now is recomputed as usual; the history catches up when loads
 * end.
 */
const HISTORY_WHILE_LOADING_MS = 30_000
/** Tries of the grouped query at start (backoff 500 ms doubling). */
const WARM_ATTEMPTS = 4

export interface SnapshotOptions {
  registry: Pick<Registry, 'list' | 'onChange'>
  storage: Pick<Storage, 'series' | 'windows' | 'readings' | 'latest' | 'lastReadings'>
  /** Its readings; with `timed` (diagnostics timing), the recomputations count as this listener's time too. */
  feed?: Pick<Feed, 'subscribe' | 'timed'>
  logger: Logger
  /**
   * A city is recomputed at most this often while its readings keep arriving. Default 5000 ms: the
   * answers are cached for 5 s (max-age=5) and the public page asks every 10 s, so a fresher
   * snapshot would reach nobody; at 2 s the recomputations were 5 % of the busy CPU under load.
   */
  minIntervalMs?: number
  /**
   * …and at least this much per station of the city, default 10 ms: a recomputation builds every
   * station's answer, so a city of 1,000 stations is recomputed every 10 s, at most 100 stations a
   * second per city, whatever the size of the fleet (at 2,000 a second, 10,000 stations in ten
   * cities cost 3 µs of CPU per reading in the benchmark).
   */
  perStationMs?: number
  /** Recomputed on the next request when older than this, readings or not (hours close, stations go stale). Default 60 s. */
  maxAgeMs?: number
  /** false: no snapshots, every request computes from storage (only for measuring what snapshots save). */
  cache?: boolean
  /** Load every station and compute every city once at start, in the background. Default true. */
  warm?: boolean
  clock?: () => number
}

interface CityState {
  snapshot?: CitySnapshot
  computing?: Promise<CitySnapshot>
  timer?: NodeJS.Timeout
  dirty: boolean
  lastStartedAt: number
  /** When its history was last recomputed (HISTORY_WHILE_LOADING_MS). */
  historyAt: number
  version: number
  cache: CityCache
}

interface LoadJob {
  deviceId: string
  cityId: string | undefined
  fresh: boolean
  done: Promise<void>
  resolve: () => void
}

export function createSnapshots(options: SnapshotOptions) {
  const { registry, storage, logger } = options
  const minIntervalMs = options.minIntervalMs ?? 5000
  const perStationMs = options.perStationMs ?? 10
  const maxAgeMs = options.maxAgeMs ?? 60_000
  const cacheEnabled = options.cache !== false
  const clock = options.clock ?? Date.now
  const memories = new Map<string, StationMemory>()
  const states = new Map<string, CityState>()
  let computations = 0
  let closed = false
  let warming = false

  const cityState = (id: string) => {
    let s = states.get(id)
    if (!s) states.set(id, (s = { dirty: false, lastStartedAt: 0, historyAt: Number.NEGATIVE_INFINITY, version: 0, cache: newCityCache() }))
    return s
  }
  const perRequest = createCityCompute({ registry, storage, clock, nextVersion: (cityId) => ++cityState(cityId).version })

  // ------------------------------------------------------------------ loading stations from storage

  const queue: LoadJob[] = []
  const queued = new Map<string, LoadJob>()
  let running = 0

  /** Queues a load of one station (one per station at a time in the queue); resolves when it ran. */
  function load(deviceId: string, cityId: string | undefined, fresh: boolean): Promise<void> {
    const waiting = queued.get(deviceId)
    if (waiting) {
      waiting.fresh ||= fresh
      return waiting.done
    }
    let resolve!: () => void
    const done = new Promise<void>((r) => (resolve = r))
    const job: LoadJob = { deviceId, cityId, fresh, done, resolve }
    queue.push(job)
    queued.set(deviceId, job)
    pump()
    return done
  }

  function pump(): void {
    while (running < LOAD_CONCURRENCY && queue.length > 0 && !closed) {
      const job = queue.shift()!
      queued.delete(job.deviceId)
      running += 1
      // On a later turn: whoever asked for the load finishes what it was doing first (a registry
      // change is emitted before the caller writes anything else).
      setImmediate(() => {
        let memory = memories.get(job.deviceId)
        if (!memory) memories.set(job.deviceId, (memory = newStationMemory()))
        const m = memory
        // A reload (fresh) may change any hour; a first load only the hours it brings data to.
        const before = job.fresh ? hoursWithData(m, clock()) : []
        loadStation(m, storage, job.deviceId, clock, job.fresh)
          .then((applied) => {
            if (applied && job.cityId && !closed) {
              markHours(job.cityId, [...before, ...hoursWithData(m, clock())])
              schedule(job.cityId)
            }
          })
          .catch((err: unknown) => logger.warn({ err, device: job.deviceId }, 'public snapshots: could not load a station from storage'))
          .finally(() => {
            running -= 1
            job.resolve()
            pump()
            // The last load done: the history held back meanwhile (HISTORY_WHILE_LOADING_MS) now.
            if (running === 0 && queue.length === 0 && !closed) {
              for (const [id, st] of states) if (st.cache.allDirty || st.cache.dirtyHours.size > 0) schedule(id)
            }
          })
      })
    }
    if (closed) for (const job of queue.splice(0)) job.resolve()
  }

  /** Marks history hours of a city to recompute. */
  function markHours(cityId: string, hours: readonly number[]): void {
    const dirty = cityState(cityId).cache.dirtyHours
    for (const h of hours) dirty.add(h)
  }

  /** The memory of a station, created (and its load queued) on first use. */
  function memoryOf(deviceId: string, cityId: string | undefined): StationMemory {
    let memory = memories.get(deviceId)
    if (!memory) {
      memories.set(deviceId, (memory = newStationMemory()))
      // While warm-up's grouped query runs, warm-up decides whether the station needs a load.
      if (!warming) void load(deviceId, cityId, false)
    }
    return memory
  }

  // ------------------------------------------------------------------ computing and scheduling

  /**
   * Each city's active stations in id order (code units, whatever the database's collation),
   * listed from the registry on first use and kept current from its changes: a computation lists
   * nothing, and the same Device objects let it reuse the states of stations that did not change
   * (city-compute.ts).
   */
  const cityStations = new Map<string, { byId: Map<string, Device>; sorted?: Device[] }>()
  function activeStations(cityId: string): Device[] {
    let entry = cityStations.get(cityId)
    if (!entry) {
      const listed = registry.list({ city: cityId, type: TYPE, status: 'active' }).items
      cityStations.set(cityId, (entry = { byId: new Map(listed.map((d) => [d.id, d])) }))
    }
    entry.sorted ??= [...entry.byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    return entry.sorted
  }
  function stationChanged(device: Device, cityId: string | undefined): void {
    for (const entry of cityStations.values()) if (entry.byId.delete(device.id)) entry.sorted = undefined
    const entry = cityId ? cityStations.get(cityId) : undefined
    if (entry && device.status === 'active') {
      entry.byId.set(device.id, device)
      entry.sorted = undefined
    }
  }

  function compute(cityId: string, forceHistory: boolean): CitySnapshot {
    const city = findCity(cityId)
    if (!city) throw new Error(`unknown city '${cityId}'`)
    computations += 1
    const s = cityState(cityId)
    const devices = activeStations(city.id)
    const memories = devices.map((device) => memoryOf(device.id, city.id))
    const now = clock()
    const refreshHistory = forceHistory || running + queue.length === 0 || now - s.historyAt >= HISTORY_WHILE_LOADING_MS
    if (refreshHistory) s.historyAt = now
    return computeCityFromMemory(city, devices, memories, s.cache, now, ++s.version, refreshHistory)
  }

  /** Computes a city now; `forceHistory`: its history too, even while stations load (an explicit refresh). */
  function start(cityId: string, forceHistory = false): Promise<CitySnapshot> {
    const s = cityState(cityId)
    clearTimeout(s.timer)
    s.timer = undefined
    s.dirty = false
    s.lastStartedAt = clock()
    let computing: Promise<CitySnapshot>
    try {
      const timed = options.feed?.timed
      const snapshot = timed ? timed(LISTENER, () => compute(cityId, forceHistory)) : compute(cityId, forceHistory)
      if (!closed) s.snapshot = snapshot
      computing = Promise.resolve(snapshot)
    } catch (err) {
      logger.warn({ err, city: cityId }, 'public air-quality snapshot failed')
      computing = Promise.reject(err)
    }
    if (s.dirty) schedule(cityId)
    return computing
  }

  function schedule(cityId: string): void {
    const s = cityState(cityId)
    s.dirty = true
    if (closed || s.timer) return
    const interval = Math.max(minIntervalMs, (cityStations.get(cityId)?.byId.size ?? 0) * perStationMs)
    const delay = Math.max(0, s.lastStartedAt + interval - clock())
    s.timer = setTimeout(() => {
      s.timer = undefined
      start(cityId).catch(() => {})
    }, delay)
    s.timer.unref?.()
  }

  // ------------------------------------------------------------------ readings, registry changes, API

  function onAccepted(device: DeviceRef, readings: readonly ValidReading[]): void {
    if (device.type !== TYPE || !cacheEnabled || closed) return
    try {
      const city = findCity(device.city)
      const memory = memoryOf(device.id, city?.id)
      const now = clock()
      const dirtyHours = city ? cityState(city.id).cache.dirtyHours : undefined
      let changed = false
      for (const r of readings) {
        const hour = addReading(memory, r, now)
        if (hour !== undefined) {
          changed = true
          dirtyHours?.add(hour)
        }
      }
      if (city && changed) schedule(city.id)
    } catch (err) {
      logger.error({ err }, 'public snapshots: could not take a reading')
    }
  }

  const unsubscribe = options.feed?.subscribe({ accepted: onAccepted }, LISTENER)
  const stationCity = new Map<string, string>()
  const stopWatchingRegistry = registry.onChange((change) => {
    if (change.device.type !== TYPE || closed || !cacheEnabled) return
    const { device } = change
    const city = findCity(device.city)
    const before = stationCity.get(device.id)
    if (city) stationCity.set(device.id, city.id)
    stationChanged(device, city?.id)
    // A station only changes the history hours it has readings in (its interval decides their
    // completeness; it joins or leaves its city's worst-station choice): O(those hours).
    const memory = memories.get(device.id)
    const hours = memory ? hoursWithData(memory, clock()) : []
    for (const id of new Set([before, city?.id])) {
      if (!id) continue
      markHours(id, hours)
      schedule(id)
    }
    if (device.status !== 'active') {
      // Out of the public answers: its memory is dropped, and loaded again if it comes back.
      memories.delete(device.id)
    } else if (change.kind === 'added' || (change.kind === 'status' && !memories.has(device.id))) {
      if (!memories.has(device.id)) memories.set(device.id, newStationMemory())
      // Merged with what the feed gave it meanwhile (a new memory: nothing to clear).
      void load(device.id, city?.id, false)
    }
  })

  async function city(cityId: string): Promise<CitySnapshot> {
    if (!cacheEnabled) return perRequest.computeCity(cityId, true)
    const s = cityState(cityId)
    if (s.snapshot) {
      if (clock() - s.snapshot.computedAt > maxAgeMs) schedule(cityId)
      return s.snapshot
    }
    return start(cityId)
  }

  /**
   * Each station's newest stored reading, from one grouped query (undefined when storage does not
   * answer: storage may still be opening at start, so a few tries, then loads one by one as before).
   */
  async function newestReadings(): Promise<Map<string, LastReading> | undefined> {
    for (let attempt = 0; attempt < WARM_ATTEMPTS && !closed; attempt++) {
      try {
        return new Map((await storage.lastReadings(TYPE, 0)).map((r) => [r.deviceId, r]))
      } catch (err) {
        if (attempt === WARM_ATTEMPTS - 1) logger.warn({ err }, 'public snapshots: could not read the stations\' newest readings; loading them one by one')
        else await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt))
      }
    }
    return undefined
  }

  if (cacheEnabled && options.warm !== false) {
    // In the background. One grouped query first says which stations hold readings in the week of
    // history: only those are loaded (a few at a time, each city recomputed as its stations load,
    // answering meanwhile with what is known); an older station takes its newest values from that
    // answer and one that never reported costs nothing. 10,000 registered stations that never
    // reported: one query at start, not 10,000.
    warming = true
    void (async () => {
      const newest = await newestReadings()
      warming = false
      if (closed) return
      const historyFrom = historyStart(clock())
      for (const c of cities) {
        for (const device of activeStations(c.id)) {
          stationCity.set(device.id, c.id)
          const reading = newest?.get(device.id)
          let m = memories.get(device.id)
          if (newest && !(reading && reading.time >= historyFrom)) {
            // Nothing in the week of history: what the feed gave meanwhile is all there is.
            if (!m) memories.set(device.id, (m = newStationMemory()))
            if (reading) seedLatest(m, reading)
            else m.loaded = true
          } else if (!m) memoryOf(device.id, c.id)
          else if (!m.loaded) void load(device.id, c.id, false)
        }
        if (!cityState(c.id).snapshot) start(c.id).catch(() => {})
      }
    })()
  }

  return {
    city,
    /** Every city's snapshot. `withHistory: false` spares the history when computing per request. */
    async all(opts: { withHistory?: boolean } = {}): Promise<CitySnapshot[]> {
      if (!cacheEnabled) {
        const out: CitySnapshot[] = []
        for (const c of cities) out.push(await perRequest.computeCity(c.id, opts.withHistory ?? true))
        return out
      }
      return Promise.all(cities.map((c) => city(c.id)))
    },
    /**
     * Loads the city's stations from storage again and recomputes it now, ignoring the throttle:
     * after readings were written to storage behind the feed's back (tests, imports of history).
     */
    async refresh(cityId: string): Promise<CitySnapshot> {
      if (!cacheEnabled) return perRequest.computeCity(cityId, true)
      const found = findCity(cityId)
      if (found) {
        await Promise.all(
          activeStations(found.id).map((device) => {
            stationCity.set(device.id, found.id)
            if (!memories.has(device.id)) memories.set(device.id, newStationMemory())
            return load(device.id, found.id, true)
          }),
        )
      }
      return start(cityId, true)
    },
    /** Recomputes now from memory, ignoring the throttle (benchmarks). */
    async recompute(cityId: string): Promise<CitySnapshot> {
      return cacheEnabled ? start(cityId, true) : perRequest.computeCity(cityId, true)
    },
    /** Resolves when no station load is queued or running (tests). */
    async loaded(): Promise<void> {
      while (running > 0 || queue.length > 0) await Promise.all([...queue.map((j) => j.done), new Promise((r) => setTimeout(r, 5))])
    },
    stats: () => ({ computations: cacheEnabled ? computations : perRequest.computations(), stations: memories.size, loading: running + queue.length }),
    close(): void {
      closed = true
      unsubscribe?.()
      stopWatchingRegistry()
      for (const s of states.values()) clearTimeout(s.timer)
      pump()
    },
  }
}

export type Snapshots = ReturnType<typeof createSnapshots>
