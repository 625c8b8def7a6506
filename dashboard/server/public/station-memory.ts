import { EAQI_POLLUTANTS, HOUR_MS, type HourlyValue, type Pollutant } from '../../../devices/aqi.ts'
import type { ValidReading } from '../../../devices/readings.ts'
import type { Storage } from '../../../ingest/storage/contract.ts'
import { PUBLIC_FIELDS } from './schemas.ts'

/**
 * What the public snapshots remember of one air-quality station, kept up to date reading by
 * reading (O(1) per reading), so that computing a city never reads storage:
 *
 * - per pollutant, per-minute sums and counts in a ring of MINUTE_SLOTS minutes (the 60 of the
 *   rolling "now" window, the minute it starts in, the 5 minutes of device clocks running ahead,
 *   slack), keyed by minute: a slot whose key is older than the reading's minute is reset;
 * - per pollutant, per-hour sums and counts in a ring of HOUR_SLOTS hours (HISTORY_HOURS closed
 *   hours, the current one, the next, slack). A late reading (a device's backlog) goes straight
 *   into its hour's sums as long as the hour is inside the ring; readings older than that are
 *   ignored here (they are in storage, and outside the published history anyway);
 * - each public field's newest value and the time it was read (storage's `latest`, kept here);
 * - the times of the readings of the last DUPLICATE_WINDOW_MS (at most DUPLICATE_CAP of them,
 *   the newest), so a reading resent with the same time counts once. Beyond that window (a reading resent
 *   more than 2 h after its time, or past the DUPLICATE_CAP newest times of a flood) a resent
 *   reading is counted again in its hour's sums; storage keeps it once, so the next load of the
 *   station from storage (restart, status back to active, `refresh`) corrects it. A resent
 *   reading with different values keeps the first one's values here (storage keeps the last).
 *
 * Memory per station, bounded whatever the message rate: 5 pollutants × (72 minute slots + 172
 * hour slots) × (sum + count) plus 244 slot keys in one 15.6 KB buffer, allocated with the
 * station's first reading inside the rings (a registered station without data in the last 7
 * days has none), 6 newest values with their times, and the duplicate window: at most 4,096
 * times in one sorted array of at most twice that (64 KB at the cap; a station reporting once a
 * minute keeps 120 in 2 KB).
 *
 * The rolling mean has minute resolution: the "now" window of a computation at T is the minutes
 * from the one containing T − 60 min (counted whole) to the one containing T + 5 min.
 */

export const TYPE = 'air-quality'
export const HISTORY_HOURS = 7 * 24
export const MINUTE_MS = 60_000
/** Device clocks may run this far ahead (devices/readings.ts accepts 5 minutes). */
export const FUTURE_MS = 5 * 60_000
export const MINUTE_SLOTS = 72
export const HOUR_SLOTS = HISTORY_HOURS + 4
export const DUPLICATE_WINDOW_MS = 2 * HOUR_MS
export const DUPLICATE_CAP = 4096
/** More raw readings than one field of one station has in 3 hours at a 1 s interval. */
const RAW_LIMIT = 12_000

const P = EAQI_POLLUTANTS.length
const F = PUBLIC_FIELDS.length

export const floorHour = (t: number) => Math.floor(t / HOUR_MS) * HOUR_MS
/** Where the week of history a station keeps starts, at `now`. */
export const historyStart = (now: number) => floorHour(now) - HISTORY_HOURS * HOUR_MS
export const round1 = (v: number) => Math.round(v * 10) / 10

/**
 * The minute and hour rings of one station, in one buffer allocated with its first data: a row per
 * slot, the minute ring's MINUTE_SLOTS rows first, then the hour ring's HOUR_SLOTS. A row holds the
 * slot's pollutant sums (float64), then their counts and the slot's key, the minute or hour it
 * holds (uint32; 0 while unused): 64 bytes with 5 pollutants, about a cache line. A reading writes
 * one row of each ring. With 10,000 stations the rings (150 MB) are far beyond the caches, and
 * laid out pollutant by pollutant, as they were, a reading wrote 20 cache lines of them and read
 * 6 typed-array objects: in a loop of readings over 10,000 stations addReading took 650-700 ns a
 * reading against 190 ns over 50; by rows, 200-320 ns against 180.
 */
interface Rings {
  sums: Float64Array
  cells: Uint32Array
}

export interface StationMemory {
  /** Undefined until the station has a reading inside the rings (a station that never reported costs nothing here). */
  rings: Rings | undefined
  /** Per public field (PUBLIC_FIELDS order): newest value and its time (NaN / -Infinity when none). */
  latestValue: number[]
  latestTime: number[]
  /** The duplicate window's times, ascending, in seenTimes[seenStart, seenEnd). */
  seenTimes: Float64Array
  seenStart: number
  seenEnd: number
  /** Loaded from storage (until then it holds only what the feed gave). */
  loaded: boolean
  /** Bumped by every load: a load that is not the newest is discarded. */
  generation: number
  /** Bumped whenever what the memory holds changes: a computation reuses a station's state while it is the same (city-compute.ts). */
  changes: number
}

const NO_TIMES = new Float64Array(0)

export function newStationMemory(): StationMemory {
  return {
    rings: undefined,
    latestValue: new Array<number>(F).fill(Number.NaN),
    latestTime: new Array<number>(F).fill(Number.NEGATIVE_INFINITY),
    seenTimes: NO_TIMES,
    seenStart: 0,
    seenEnd: 0,
    loaded: false,
    generation: 0,
    changes: 0,
  }
}

/** A row in uint32 units: P sums (2 each), P counts, the key, rounded up to whole float64s. */
const ROW_U32 = (3 * P + 1 + 1) & ~1
const ROW_F64 = ROW_U32 / 2
const COUNTS = 2 * P
const KEY = 3 * P
const HOUR_ROWS_FROM = MINUTE_SLOTS

const sumAt = (row: number, p: number) => row * ROW_F64 + p
const countAt = (row: number, p: number) => row * ROW_U32 + COUNTS + p
const keyAt = (row: number) => row * ROW_U32 + KEY
/** The row of minute `minute` or of hour `hour`, whatever it holds now. */
const minuteRow = (minute: number) => minute % MINUTE_SLOTS
const hourRow = (hour: number) => HOUR_ROWS_FROM + (hour % HOUR_SLOTS)

function rings(m: StationMemory): Rings {
  if (m.rings) return m.rings
  // One buffer per station rather than one per array: with 10,000 stations, six small
  // allocations each fragmented the process's memory well beyond the rings' own size.
  const buffer = new ArrayBuffer((MINUTE_SLOTS + HOUR_SLOTS) * ROW_U32 * 4)
  m.rings = { sums: new Float64Array(buffer), cells: new Uint32Array(buffer) }
  return m.rings
}

/** Clears what a station remembers (before a load). */
function reset(m: StationMemory): void {
  m.changes += 1
  m.rings = undefined
  m.latestValue.fill(Number.NaN)
  m.latestTime.fill(Number.NEGATIVE_INFINITY)
  m.seenStart = 0
  m.seenEnd = 0
}

/**
 * Remembers a reading's time; false when it was already seen (a duplicate). The window's times are
 * kept sorted: a device's readings mostly come in time order, so a new time is appended after one
 * comparison; an earlier one is found by binary search and inserted (a shift, rare). Times leave
 * from the front as they fall out of the window. Amortized O(1) in time order, and no allocation
 * per reading (a Set of times boxed every one of them).
 */
function firstTime(m: StationMemory, time: number, now: number): boolean {
  const cutoff = now - DUPLICATE_WINDOW_MS
  if (time < cutoff) return true
  let times = m.seenTimes
  let start = m.seenStart
  let end = m.seenEnd
  while (start < end && times[start]! < cutoff) start++
  let at = end
  if (start < end && time <= times[end - 1]!) {
    let lo = start
    let hi = end
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (times[mid]! < time) lo = mid + 1
      else hi = mid
    }
    if (times[lo] === time) {
      m.seenStart = start
      return false
    }
    at = lo
  }
  // At the cap the oldest time is forgotten early.
  if (end - start >= DUPLICATE_CAP) {
    start++
    if (at < start) at = start
  }
  if (end === times.length) {
    const count = end - start
    if (count * 2 > times.length || times.length === 0) {
      // Grow: with room for twice what is kept, moving the times to the front is amortized O(1).
      const grown = new Float64Array(Math.min(Math.max(256, times.length * 2), 2 * DUPLICATE_CAP))
      grown.set(times.subarray(start, end))
      m.seenTimes = times = grown
    } else times.copyWithin(0, start, end)
    at -= start
    end = count
    start = 0
  }
  if (at < end) times.copyWithin(at + 1, at, end)
  times[at] = time
  m.seenStart = start
  m.seenEnd = end + 1
  return true
}

/**
 * The row of `index` (a minute or an hour) when it lies within [lo, hi]: a row still holding an
 * older index is cleared and taken; one already holding a newer index is not ours (-1), nor is an
 * index outside the range.
 */
function claimRow(r: Rings, row: number, index: number, lo: number, hi: number): number {
  if (index < lo || index > hi) return -1
  const key = r.cells[keyAt(row)]!
  if (key > index) return -1
  if (key < index) {
    r.cells[keyAt(row)] = index
    for (let p = 0; p < P; p++) {
      r.sums[sumAt(row, p)] = 0
      r.cells[countAt(row, p)] = 0
    }
  }
  return row
}

/**
 * Takes one reading: O(pollutants). `now` is the snapshots' clock, which decides what is too
 * old for the minute ring, the hour ring and the duplicate window. Returns the hour the reading
 * changed (for the city's history), or undefined when it changed nothing (a duplicate).
 */
export function addReading(m: StationMemory, reading: ValidReading, now: number): number | undefined {
  const time = reading.time
  if (!firstTime(m, time, now)) return undefined
  m.changes += 1
  const values = reading.values
  for (let f = 0; f < F; f++) {
    const v = values[PUBLIC_FIELDS[f]!]
    if (typeof v === 'number' && time >= m.latestTime[f]!) {
      m.latestTime[f] = time
      m.latestValue[f] = v
    }
  }
  const minute = Math.floor(time / MINUTE_MS)
  const nowMinute = Math.floor(now / MINUTE_MS)
  const hour = Math.floor(time / HOUR_MS)
  const nowHour = Math.floor(now / HOUR_MS)
  const inMinutes = minute >= nowMinute - 61 && minute <= nowMinute + 6
  const inHours = hour >= nowHour - HISTORY_HOURS && hour <= nowHour + 1
  if (!inMinutes && !inHours) return undefined
  const r = rings(m)
  const minuteAt = claimRow(r, minuteRow(minute), minute, nowMinute - 61, nowMinute + 6)
  const hourAt = claimRow(r, hourRow(hour), hour, nowHour - HISTORY_HOURS, nowHour + 1)
  if (minuteAt < 0 && hourAt < 0) return undefined
  for (let p = 0; p < P; p++) {
    const v = values[EAQI_POLLUTANTS[p]!]
    if (typeof v !== 'number') continue
    if (minuteAt >= 0) {
      r.sums[sumAt(minuteAt, p)] = r.sums[sumAt(minuteAt, p)]! + v
      r.cells[countAt(minuteAt, p)] = r.cells[countAt(minuteAt, p)]! + 1
    }
    if (hourAt >= 0) {
      r.sums[sumAt(hourAt, p)] = r.sums[sumAt(hourAt, p)]! + v
      r.cells[countAt(hourAt, p)] = r.cells[countAt(hourAt, p)]! + 1
    }
  }
  return hourAt >= 0 ? hour * HOUR_MS : undefined
}

/** The minutes the rolling window of a computation at `now` spans: it moves once a minute. */
export function rollingMinutes(now: number): { from: number; to: number } {
  return { from: Math.floor((now - HOUR_MS) / MINUTE_MS), to: Math.floor((now + FUTURE_MS - 1) / MINUTE_MS) }
}

/** Each pollutant's mean (rounded to 0.1) and count over the rolling window of a computation at `now`. */
export function rollingHour(m: StationMemory, now: number): Partial<Record<Pollutant, HourlyValue>> {
  const { from, to } = rollingMinutes(now)
  const sums = [0, 0, 0, 0, 0]
  const counts = [0, 0, 0, 0, 0]
  const r = m.rings
  if (!r) return {}
  for (let minute = from; minute <= to; minute++) {
    const row = minuteRow(minute)
    if (r.cells[keyAt(row)] !== minute) continue
    for (let p = 0; p < P; p++) {
      sums[p]! += r.sums[sumAt(row, p)]!
      counts[p]! += r.cells[countAt(row, p)]!
    }
  }
  const out: Partial<Record<Pollutant, HourlyValue>> = {}
  for (let p = 0; p < P; p++) if (counts[p]! > 0) out[EAQI_POLLUTANTS[p]!] = { mean: round1(sums[p]! / counts[p]!), count: counts[p]! }
  return out
}

/** Each pollutant's mean (rounded to 0.1) and count in the hour starting at `hourStart`. */
export function hourValues(m: StationMemory, hourStart: number): Partial<Record<Pollutant, HourlyValue>> {
  const hour = Math.floor(hourStart / HOUR_MS)
  const row = hourRow(hour)
  const out: Partial<Record<Pollutant, HourlyValue>> = {}
  const r = m.rings
  if (!r || r.cells[keyAt(row)] !== hour) return out
  for (let p = 0; p < P; p++) {
    const count = r.cells[countAt(row, p)]!
    if (count > 0) out[EAQI_POLLUTANTS[p]!] = { mean: round1(r.sums[sumAt(row, p)]! / count), count }
  }
  return out
}

/** The starts of the hours of the history window before `now` in which the station has readings. */
export function hoursWithData(m: StationMemory, now: number): number[] {
  const nowHour = Math.floor(now / HOUR_MS)
  const out: number[] = []
  const r = m.rings
  if (!r) return out
  for (let row = HOUR_ROWS_FROM; row < HOUR_ROWS_FROM + HOUR_SLOTS; row++) {
    const hour = r.cells[keyAt(row)]!
    if (hour < nowHour - HISTORY_HOURS || hour >= nowHour) continue
    for (let p = 0; p < P; p++) {
      if (r.cells[countAt(row, p)]! > 0) {
        out.push(hour * HOUR_MS)
        break
      }
    }
  }
  return out
}

/** The newest time and each public field's newest value. */
export function latestOf(m: StationMemory): { time: number | null; values: Record<string, number> } {
  let time = Number.NEGATIVE_INFINITY
  const values: Record<string, number> = {}
  for (let f = 0; f < F; f++) {
    if (Number.isNaN(m.latestValue[f]!)) continue
    values[PUBLIC_FIELDS[f]!] = m.latestValue[f]!
    if (m.latestTime[f]! > time) time = m.latestTime[f]!
  }
  return { time: time === Number.NEGATIVE_INFINITY ? null : time, values }
}

/**
 * Loads a station from storage into its memory: the hourly means and counts of the history
 * before the duplicate window (sums rebuilt as mean × count), the raw readings from the start of
 * the hour the duplicate window starts in (minute sums, their hours, the times seen) and each
 * field's newest value. One `latest`, then (when the newest reading is inside the week of
 * history) one `windows` and one `readings` for every pollutant at once: 3 calls, whatever the
 * station holds (16 when they were asked field by field and aggregate by aggregate).
 *
 * Merged into what the memory already took from the feed (a reload, `fresh`, clears it first):
 * storage's raw readings the feed already gave are skipped by their time. A reading older than
 * the duplicate window that the feed gave while this load ran and that storage had already
 * stored is counted twice in its hour until the next load (a backlog racing a load: rare).
 * Resolves false when a newer load of the same station superseded this one.
 */
export async function loadStation(m: StationMemory, storage: Pick<Storage, 'windows' | 'readings' | 'latest'>, deviceId: string, clock: () => number, fresh: boolean): Promise<boolean> {
  const generation = ++m.generation
  if (fresh) reset(m)
  const now = clock()
  const historyFrom = historyStart(now)
  const rawFrom = floorHour(now - DUPLICATE_WINDOW_MS)
  const rawTo = now + FUTURE_MS + 1
  const hoursLimit = Math.ceil((rawFrom - historyFrom) / HOUR_MS) + 1
  // The newest reading first: a station with nothing in the week of history (registered, never
  // reported, or silent for long) costs one call rather than 3 (10,000 of them at start).
  const latest = await storage.latest({ deviceId, type: TYPE })
  const recent = latest !== null && latest.time >= historyFrom
  const [hourly, raw] = recent
    ? await Promise.all([
        storage.windows({ deviceId, type: TYPE, fields: EAQI_POLLUTANTS, from: historyFrom, to: rawFrom, every: HOUR_MS, limit: hoursLimit }),
        storage.readings({ deviceId, type: TYPE, fields: EAQI_POLLUTANTS, from: rawFrom, to: rawTo, limit: RAW_LIMIT }),
      ])
    : [[], []]
  if (generation !== m.generation) return false
  const loadedAt = clock()
  const nowHour = Math.floor(loadedAt / HOUR_MS)
  // Closed hours before the duplicate window, from storage's hourly windows.
  for (const window of hourly) {
    const hour = Math.floor(window.time / HOUR_MS)
    for (let p = 0; p < P; p++) {
      const stats = window.fields[EAQI_POLLUTANTS[p]!]
      if (!stats || stats.count <= 0) continue
      const r = rings(m)
      const row = claimRow(r, hourRow(hour), hour, nowHour - HISTORY_HOURS, nowHour + 1)
      if (row < 0) continue
      r.sums[sumAt(row, p)] = r.sums[sumAt(row, p)]! + stats.mean * stats.count
      r.cells[countAt(row, p)] = r.cells[countAt(row, p)]! + stats.count
    }
  }
  // The raw readings, oldest first.
  for (const reading of raw) addReading(m, reading, loadedAt)
  // Fields the readings did not give (older, or not a pollutant): storage's newest value, dated
  // with its newest time (its contract gives no per-field time), as before.
  if (latest) seedLatest(m, latest)
  m.loaded = true
  m.changes += 1
  return true
}

/**
 * A station whose newest stored reading is older than the week of history: its newest values are
 * all a load would give, so warm-up hands them over from one grouped query instead of loading it.
 * Fields the memory already has (from the feed) keep theirs.
 */
export function seedLatest(m: StationMemory, newest: { time: number; values: Record<string, number> }): void {
  for (let f = 0; f < F; f++) {
    const v = newest.values[PUBLIC_FIELDS[f]!]
    if (typeof v === 'number' && m.latestTime[f] === Number.NEGATIVE_INFINITY) {
      m.latestTime[f] = newest.time
      m.latestValue[f] = v
    }
  }
  m.loaded = true
  m.changes += 1
}
