/**
 * The European Air Quality Index (EAQI), 2024 revision of the European Environment Agency.
 *
 * Pure functions, no imports: the server computes published index values with them and the
 * citizens' pages draw bands, colours and scales from the same tables.
 *
 * The rules, and the choices made where the EEA leaves room:
 *
 * - Five pollutants, hourly concentrations in µg/m³: PM2.5, PM10, NO₂, O₃, SO₂. (CO is measured
 *   by our stations and published as open data, but it is not part of the index.)
 * - Six bands per pollutant; a band's lower bound is inclusive, its upper bound exclusive, so a
 *   value exactly on a boundary belongs to the worse band (PM2.5 = 5 µg/m³ is "fair").
 * - A pollutant's hourly value counts only when the hour is complete enough: at least 75 % of
 *   the readings the station's reporting interval promises in an hour (interval 60 s → 60
 *   expected → 45 needed), and never fewer than one reading. See {@link minReadingsPerHour}.
 * - A station's index is the band of its worst pollutant among those with a complete hour; the
 *   pollutant that sets it is the "driving" pollutant (on a tie, the first in EAQI order:
 *   PM2.5, PM10, NO₂, O₃, SO₂).
 * - A station whose newest reading is older than {@link staleAfterMs} is stale: it has no index
 *   (it is shown as stale, never as "good"), whatever its last hour looked like.
 * - A city's index is its worst station's (the air a resident may actually breathe, as the EEA
 *   does for a station network), over the stations that have an index; when none has, the city
 *   has no index and says why (stale, incomplete, no stations).
 * - Every published value carries {@link EAQI_VERSION}, so a future revision of the bands can be
 *   added beside this one without silently rewriting history.
 */

export const EAQI_VERSION = 'EAQI-2024'

export const EAQI_POLLUTANTS = ['pm25', 'pm10', 'no2', 'o3', 'so2'] as const
export type Pollutant = (typeof EAQI_POLLUTANTS)[number]

export const BAND_IDS = ['good', 'fair', 'moderate', 'poor', 'very-poor', 'extremely-poor'] as const
export type BandId = (typeof BAND_IDS)[number]
/** 1 (good) … 6 (extremely poor). */
export type Level = 1 | 2 | 3 | 4 | 5 | 6

export interface Band {
  level: Level
  id: BandId
  /** English name, as the EEA writes it. */
  name: string
  /** The EEA's colour for the band. */
  color: string
  /** Text colour with at least 4.5:1 contrast on `color` (WCAG 2.1 AA). */
  textColor: string
}

export const BANDS: readonly Band[] = [
  { level: 1, id: 'good', name: 'Good', color: '#50F0E6', textColor: '#111111' },
  { level: 2, id: 'fair', name: 'Fair', color: '#50CCAA', textColor: '#111111' },
  { level: 3, id: 'moderate', name: 'Moderate', color: '#F0E641', textColor: '#111111' },
  { level: 4, id: 'poor', name: 'Poor', color: '#FF5050', textColor: '#111111' },
  { level: 5, id: 'very-poor', name: 'Very poor', color: '#960032', textColor: '#FFFFFF' },
  { level: 6, id: 'extremely-poor', name: 'Extremely poor', color: '#7D2181', textColor: '#FFFFFF' },
]

/**
 * Lower bounds (µg/m³, inclusive) of bands 2…6 per pollutant: a value below the first is band 1,
 * at or above the last is band 6.
 */
export const THRESHOLDS: Readonly<Record<Pollutant, readonly [number, number, number, number, number]>> = {
  pm25: [5, 15, 50, 90, 140],
  pm10: [15, 45, 120, 195, 270],
  no2: [10, 25, 60, 100, 150],
  o3: [60, 100, 120, 160, 180],
  so2: [20, 40, 125, 190, 275],
}

export const POLLUTANT_LABELS: Readonly<Record<Pollutant | 'co', string>> = {
  pm25: 'PM2.5',
  pm10: 'PM10',
  no2: 'NO₂',
  o3: 'O₃',
  so2: 'SO₂',
  co: 'CO',
}

export const HOUR_MS = 3_600_000
/** Share of an hour's expected readings needed for the hour to count. */
export const COMPLETENESS = 0.75
/** A station is stale when its newest reading is older than this many reporting intervals… */
export const STALE_INTERVALS = 3
/** …and never sooner than this. */
export const MIN_STALE_MS = 15 * 60_000

export function isPollutant(name: string): name is Pollutant {
  return (EAQI_POLLUTANTS as readonly string[]).includes(name)
}

export function band(level: Level): Band {
  return BANDS[level - 1]!
}

export function bandById(id: BandId): Band {
  return BANDS.find((b) => b.id === id)!
}

/** The band of one hourly concentration; undefined for a value that is not a finite number ≥ 0. */
export function levelFor(pollutant: Pollutant, value: number): Level | undefined {
  if (!Number.isFinite(value) || value < 0) return undefined
  const bounds = THRESHOLDS[pollutant]
  let level = 1
  for (const lower of bounds) if (value >= lower) level += 1
  return level as Level
}

/** The range of a band for a pollutant, µg/m³: `to` is undefined for the open top band. */
export function bandRange(pollutant: Pollutant, level: Level): { from: number; to: number | undefined } {
  const bounds = THRESHOLDS[pollutant]
  return { from: level === 1 ? 0 : bounds[level - 2]!, to: level === 6 ? undefined : bounds[level - 1] }
}

/** Readings expected in an hour from a device reporting every `intervalS` seconds (at least 1). */
export function expectedReadingsPerHour(intervalS: number): number {
  if (!(intervalS > 0)) return 1
  return Math.max(1, Math.floor(3600 / intervalS))
}

/** Readings needed for an hour to count: ⌈75 % of expected⌉, at least 1. */
export function minReadingsPerHour(intervalS: number): number {
  return Math.max(1, Math.ceil(COMPLETENESS * expectedReadingsPerHour(intervalS) - 1e-9))
}

/** How old a station's newest reading may be before the station is stale. */
export function staleAfterMs(intervalS: number): number {
  return Math.max(MIN_STALE_MS, STALE_INTERVALS * Math.max(1, intervalS) * 1000)
}

/** One pollutant's hourly mean and how many readings it is made of. */
export interface HourlyValue {
  mean: number
  count: number
}

export interface PollutantAssessment {
  pollutant: Pollutant
  /** The hourly mean, µg/m³; null when there were no readings. */
  value: number | null
  count: number
  /** Readings needed for the hour to count. */
  required: number
  complete: boolean
  /** Only when complete. */
  level: Level | null
}

export interface IndexResult {
  level: Level
  band: BandId
  pollutant: Pollutant
}

/** A station's status; the public schema and the snapshots' station table take the list from here. */
export const STATION_STATUSES = ['ok', 'incomplete', 'stale', 'no-data'] as const
export type StationStatus = (typeof STATION_STATUSES)[number]

export interface StationAssessment {
  status: StationStatus
  index: IndexResult | null
  pollutants: PollutantAssessment[]
  version: typeof EAQI_VERSION
}

/** One pollutant's hour, judged for completeness and banded when complete. */
export function assessPollutant(pollutant: Pollutant, hour: HourlyValue | undefined, intervalS: number): PollutantAssessment {
  const required = minReadingsPerHour(intervalS)
  const count = hour && Number.isFinite(hour.mean) ? hour.count : 0
  const value = count > 0 ? hour!.mean : null
  const complete = value !== null && count >= required
  const level = complete ? (levelFor(pollutant, value) ?? null) : null
  return { pollutant, value, count, required, complete: complete && level !== null, level }
}

/** The worst of some levels, with the first pollutant (in EAQI order) at that level. */
export function worst(items: readonly { pollutant: Pollutant; level: Level | null }[]): IndexResult | null {
  let best: IndexResult | null = null
  for (const p of EAQI_POLLUTANTS) {
    const item = items.find((i) => i.pollutant === p)
    if (!item || item.level === null) continue
    if (!best || item.level > best.level) best = { level: item.level, band: band(item.level).id, pollutant: p }
  }
  return best
}

/**
 * A station's index for one hour. `lastReadingAt` and `now` decide staleness; pass them for the
 * index "now", leave them out for a past hour (history is not stale, only incomplete).
 */
export function assessStation(
  hours: Partial<Record<Pollutant, HourlyValue>>,
  intervalS: number,
  freshness?: { lastReadingAt: number | null; now: number },
): StationAssessment {
  const pollutants = EAQI_POLLUTANTS.map((p) => assessPollutant(p, hours[p], intervalS))
  const base = { pollutants, version: EAQI_VERSION } as const
  if (freshness) {
    if (freshness.lastReadingAt === null) return { ...base, status: 'no-data', index: null }
    if (freshness.now - freshness.lastReadingAt > staleAfterMs(intervalS)) return { ...base, status: 'stale', index: null }
  }
  const index = worst(pollutants)
  if (index) return { ...base, status: 'ok', index }
  return { ...base, status: pollutants.some((p) => p.count > 0) || freshness ? 'incomplete' : 'no-data', index: null }
}

export interface CityAssessment {
  status: 'ok' | 'incomplete' | 'stale' | 'no-stations'
  index: (IndexResult & { station: string }) | null
  version: typeof EAQI_VERSION
}

/** A city's index: its worst station's among those with an index (see the module comment). */
export function assessCity(stations: readonly { id: string; assessment: Pick<StationAssessment, 'status' | 'index'> }[]): CityAssessment {
  const version = EAQI_VERSION
  if (stations.length === 0) return { status: 'no-stations', index: null, version }
  let index: CityAssessment['index'] = null
  for (const s of stations) {
    const i = s.assessment.index
    if (!i) continue
    if (!index || i.level > index.level || (i.level === index.level && EAQI_POLLUTANTS.indexOf(i.pollutant) < EAQI_POLLUTANTS.indexOf(index.pollutant))) {
      index = { ...i, station: s.id }
    }
  }
  if (index) return { status: 'ok', index, version }
  const anyIncomplete = stations.some((s) => s.assessment.status === 'incomplete')
  return { status: anyIncomplete ? 'incomplete' : 'stale', index: null, version }
}
