import { band, EAQI_POLLUTANTS, EAQI_VERSION, STATION_STATUSES, type Level, type StationAssessment } from '../../../devices/aqi.ts'
import type { Device } from '../../../devices/registry.ts'
import { PUBLIC_FIELDS } from './schemas.ts'

/**
 * A city computation's station states as numbers, one row per station in one Float64Array, in
 * place of an object tree per station (assessment, its pollutants, the public view: about 30
 * objects, 2 KB).
 *
 * Why: a city is recomputed every 10 s with 1,000 stations, and each computation's states live
 * until the next one, long enough for the garbage collector to copy them and promote them to the
 * old generation. With 10,000 stations under load that was over half of everything the young
 * generation kept (a live-heap sample: 11.8 of 21.8 MB). A table's numbers live off the JS heap,
 * are never copied, and are dropped whole. The objects are made again from a row only when a
 * snapshot is read (`decodeState`), once per snapshot.
 *
 * A row also keeps what the state depended on (the memory's change count, the rolling window's
 * minutes, when it was made, until when it stays fresh), so the next computation copies the row of
 * a station that did not move instead of assessing it again.
 */

const P = EAQI_POLLUTANTS.length
const F = PUBLIC_FIELDS.length
// Row layout. Null is NaN.
const STATUS = 0
const INDEX_LEVEL = 1
const INDEX_POLLUTANT = 2
const LAST_READING = 3
/** Per pollutant: value, count, required, complete (0/1), level. */
const POLLUTANTS = 4
const PER_POLLUTANT = 5
/** Each public field's newest value. */
const LATEST = POLLUTANTS + P * PER_POLLUTANT
/** What the state depended on (StateKey). */
const KEY = LATEST + F
export const ROW = KEY + 5

/** What a row's state was made from: while these hold, it is the state it would be made again. */
export interface StateKey {
  changes: number
  /** The rolling window's minutes. */
  from: number
  to: number
  computedAt: number
  /** Until when a fresh station stays fresh without a reading (Infinity once stale or with none). */
  freshUntil: number
}

const orNaN = (v: number | null) => (v === null ? Number.NaN : v)
const orNull = (v: number) => (Number.isNaN(v) ? null : v)

/** Writes a station's state into row `i`. `latestValues` in PUBLIC_FIELDS order, NaN for none. */
export function encodeState(t: Float64Array, i: number, assessment: StationAssessment, lastReadingAt: number | null, latestValues: readonly number[], key: StateKey): void {
  const o = i * ROW
  t[o + STATUS] = STATION_STATUSES.indexOf(assessment.status)
  t[o + INDEX_LEVEL] = assessment.index ? assessment.index.level : Number.NaN
  t[o + INDEX_POLLUTANT] = assessment.index ? EAQI_POLLUTANTS.indexOf(assessment.index.pollutant) : Number.NaN
  t[o + LAST_READING] = orNaN(lastReadingAt)
  for (let p = 0; p < P; p++) {
    const a = assessment.pollutants[p]!
    if (a.pollutant !== EAQI_POLLUTANTS[p]) throw new Error(`assessment out of EAQI order: ${a.pollutant} at ${p}`)
    const q = o + POLLUTANTS + p * PER_POLLUTANT
    t[q] = orNaN(a.value)
    t[q + 1] = a.count
    t[q + 2] = a.required
    t[q + 3] = a.complete ? 1 : 0
    t[q + 4] = orNaN(a.level)
  }
  for (let f = 0; f < F; f++) t[o + LATEST + f] = latestValues[f]!
  t[o + KEY] = key.changes
  t[o + KEY + 1] = key.from
  t[o + KEY + 2] = key.to
  t[o + KEY + 3] = key.computedAt
  t[o + KEY + 4] = key.freshUntil
}

/** Copies row `j` of `from` into row `i` of `to`; a loop, where `to.set(from.subarray(…))` would make a view per station reused. */
export function copyRow(from: Float64Array, j: number, to: Float64Array, i: number): void {
  const a = j * ROW
  const b = i * ROW
  for (let k = 0; k < ROW; k++) to[b + k] = from[a + k]!
}

/** Whether row `i` was made from the same memory changes and window, and is still valid at `now`. */
export function rowHolds(t: Float64Array, i: number, changes: number, from: number, to: number, now: number): boolean {
  const o = i * ROW + KEY
  return t[o] === changes && t[o + 1] === from && t[o + 2] === to && now >= t[o + 3]! && now <= t[o + 4]!
}

/** The state in row `i`, as objects again (what cityNow and publicStation shape the answers from). */
export function decodeState(t: Float64Array, i: number, device: Device) {
  const o = i * ROW
  const pollutants: StationAssessment['pollutants'] = EAQI_POLLUTANTS.map((pollutant, p) => {
    const q = o + POLLUTANTS + p * PER_POLLUTANT
    return { pollutant, value: orNull(t[q]!), count: t[q + 1]!, required: t[q + 2]!, complete: t[q + 3] === 1, level: orNull(t[q + 4]!) as Level | null }
  })
  const level = t[o + INDEX_LEVEL]!
  const index = Number.isNaN(level) ? null : { level: level as Level, band: band(level as Level).id, pollutant: EAQI_POLLUTANTS[t[o + INDEX_POLLUTANT]!]! }
  const assessment: StationAssessment = { pollutants, version: EAQI_VERSION, status: STATION_STATUSES[t[o + STATUS]!]!, index }
  const lastReadingAt = orNull(t[o + LAST_READING]!)
  const values: Record<string, number> = {}
  for (let f = 0; f < F; f++) {
    const v = t[o + LATEST + f]!
    if (!Number.isNaN(v)) values[PUBLIC_FIELDS[f]!] = v
  }
  return { device, assessment, lastReadingAt, latest: { time: lastReadingAt, values } }
}
