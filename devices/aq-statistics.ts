/**
 * Air-quality statistics for a calendar year (or the part of it so far), as EU air-quality law
 * assesses a sampling point: annual means, days over the PM10 daily limit value, hours over the
 * NO₂ hourly limit value, days with the O₃ maximum daily 8-hour mean over the target value, each
 * with its data capture. Pure functions over hourly means (the hourly rollups), no imports.
 *
 * Sources (values in µg/m³ unless noted):
 * - Directive 2008/50/EC, Annex XI (limit values): PM10 1 day 50, not to be exceeded more than
 *   35 times a calendar year; PM10 year 40; NO₂ 1 hour 200, not more than 18 times; NO₂ year 40.
 *   Annex XIV: PM2.5 year 25. Annex VII (O₃ target value): maximum daily 8-hour mean 120, not
 *   more than 25 days per calendar year averaged over three years. Annex I: minimum data capture
 *   90 % for fixed measurements.
 * - Directive (EU) 2024/2881 (the recast, limit values to be attained by 1 January 2030), Annex I:
 *   PM10 1 day 45, not more than 18 times, year 20; NO₂ 1 hour 200, not more than 3 times, year
 *   20; PM2.5 year 10; O₃ target value 120, not more than 18 days averaged over three years.
 *
 * How the values are formed (2008/50/EC Annex VII and the usual 75 % rules):
 * - An hour counts when it holds at least `minReadingsPerHour` readings (75 % of what the
 *   station's interval promises, the rule the index uses); its value is the mean of them.
 * - A daily mean counts when at least 18 of the day's 24 hours count (75 %).
 * - An 8-hour mean counts when at least 6 of its 8 hours count; it belongs to the day in which
 *   it ends (the first of a day covers 17:00–01:00, the last 16:00–24:00). A day's maximum
 *   8-hour mean counts when at least 18 of its 24 8-hour means count.
 * - Exceeding means strictly above the value (50.0 is not over 50).
 * - Days and years are those of a clock `utcOffsetHours` ahead of UTC: Italian networks report
 *   in standard time (CET, UTC+1) all year, hence the default 1.
 * - Data capture: hours (days) that count over the hours (days) of the period, in %.
 */

export const STAT_POLLUTANTS = ['pm25', 'pm10', 'no2', 'o3', 'so2', 'co'] as const
export type StatPollutant = (typeof STAT_POLLUTANTS)[number]

const HOUR_MS = 3_600_000
const DAY_MS = 86_400_000
const HOURS_FOR_DAY = 18
const HOURS_FOR_8H = 6
const EIGHT_HOUR_MEANS_FOR_DAY = 18

export interface LimitValue {
  id: 'pm10-day' | 'pm10-year' | 'pm25-year' | 'no2-hour' | 'no2-year' | 'o3-8h'
  pollutant: StatPollutant
  /** What the value applies to. */
  averaging: 'hour' | 'day' | 'year' | 'max-daily-8h-mean'
  kind: 'limit value' | 'target value'
  value: number
  unit: string
  /** Exceedances allowed per calendar year (for O₃: averaged over three years); null for annual means. */
  allowedPerYear: number | null
  source: string
  /** The same value in Directive (EU) 2024/2881, to be attained by 1 January 2030. */
  from2030: { value: number; allowedPerYear: number | null; source: string }
}

const D2008 = 'Directive 2008/50/EC'
const D2024 = 'Directive (EU) 2024/2881, Annex I'
export const LIMIT_VALUES: readonly LimitValue[] = [
  {
    id: 'pm10-day',
    pollutant: 'pm10',
    averaging: 'day',
    kind: 'limit value',
    value: 50,
    unit: 'µg/m³',
    allowedPerYear: 35,
    source: `${D2008}, Annex XI`,
    from2030: { value: 45, allowedPerYear: 18, source: D2024 },
  },
  { id: 'pm10-year', pollutant: 'pm10', averaging: 'year', kind: 'limit value', value: 40, unit: 'µg/m³', allowedPerYear: null, source: `${D2008}, Annex XI`, from2030: { value: 20, allowedPerYear: null, source: D2024 } },
  { id: 'pm25-year', pollutant: 'pm25', averaging: 'year', kind: 'limit value', value: 25, unit: 'µg/m³', allowedPerYear: null, source: `${D2008}, Annex XIV`, from2030: { value: 10, allowedPerYear: null, source: D2024 } },
  {
    id: 'no2-hour',
    pollutant: 'no2',
    averaging: 'hour',
    kind: 'limit value',
    value: 200,
    unit: 'µg/m³',
    allowedPerYear: 18,
    source: `${D2008}, Annex XI`,
    from2030: { value: 200, allowedPerYear: 3, source: D2024 },
  },
  { id: 'no2-year', pollutant: 'no2', averaging: 'year', kind: 'limit value', value: 40, unit: 'µg/m³', allowedPerYear: null, source: `${D2008}, Annex XI`, from2030: { value: 20, allowedPerYear: null, source: D2024 } },
  {
    id: 'o3-8h',
    pollutant: 'o3',
    averaging: 'max-daily-8h-mean',
    kind: 'target value',
    value: 120,
    unit: 'µg/m³',
    allowedPerYear: 25,
    source: `${D2008}, Annex VII (days averaged over three years)`,
    from2030: { value: 120, allowedPerYear: 18, source: `${D2024} (days averaged over three years)` },
  },
]
export const MIN_DATA_CAPTURE_PERCENT = 90

const limit = (id: LimitValue['id']): LimitValue => LIMIT_VALUES.find((l) => l.id === id)!

export interface HourValue {
  /** Start of the hour, epoch ms (UTC, on a whole hour). */
  time: number
  mean: number
  count: number
}

export interface PollutantYear {
  /** Mean of the hours that count; null when none does. */
  mean: number | null
  validHours: number
  /** validHours over the hours of the period, %, one decimal. */
  dataCapture: number
}

export interface StationYear {
  year: number
  /** [from, to) epoch ms: the year, or its part up to `now`. */
  from: number
  to: number
  hours: number
  days: number
  pollutants: Record<StatPollutant, PollutantYear>
  pm10Days: { validDays: number; dataCapture: number; over: number; overFrom2030: number }
  no2Hours: { over: number }
  o3Days: { validDays: number; dataCapture: number; over: number }
}

export interface YearInput {
  year: number
  /** Hourly means per pollutant; hours outside the year are ignored. */
  hours: Partial<Record<StatPollutant, readonly HourValue[]>>
  minReadingsPerHour: number
  /** The period ends at this time when it falls inside the year ("this year so far"). */
  now: number
  utcOffsetHours?: number
}

/** [from, to) of a calendar year on a clock `offsetHours` ahead of UTC, epoch ms. */
export function yearRange(year: number, offsetHours = 1): { from: number; to: number } {
  const shift = offsetHours * HOUR_MS
  return { from: Date.UTC(year, 0, 1) - shift, to: Date.UTC(year + 1, 0, 1) - shift }
}

const percent = (part: number, whole: number): number => (whole > 0 ? Math.round((1000 * part) / whole) / 10 : 0)

export function stationYear(input: YearInput): StationYear {
  const offset = (input.utcOffsetHours ?? 1) * HOUR_MS
  const year = yearRange(input.year, input.utcOffsetHours ?? 1)
  // Whole hours (days) elapsed: the hour (day) under way is not yet part of the period.
  const to = Math.max(year.from, Math.min(year.to, Math.floor((input.now - year.from) / HOUR_MS) * HOUR_MS + year.from))
  const hours = Math.round((to - year.from) / HOUR_MS)
  const days = Math.floor((to - year.from) / DAY_MS)
  const daysEnd = year.from + days * DAY_MS

  /** Hour-start → mean of the hours that count, within the period. */
  const valid = (p: StatPollutant): Map<number, number> => {
    const out = new Map<number, number>()
    for (const h of input.hours[p] ?? []) {
      if (h.time >= year.from && h.time < to && h.count >= input.minReadingsPerHour && Number.isFinite(h.mean)) out.set(h.time, h.mean)
    }
    return out
  }
  const dayOf = (time: number) => Math.floor((time + offset) / DAY_MS) * DAY_MS - offset

  const pollutants = {} as Record<StatPollutant, PollutantYear>
  const validByPollutant = new Map<StatPollutant, Map<number, number>>()
  for (const p of STAT_POLLUTANTS) {
    const v = valid(p)
    validByPollutant.set(p, v)
    let sum = 0
    for (const x of v.values()) sum += x
    pollutants[p] = { mean: v.size > 0 ? sum / v.size : null, validHours: v.size, dataCapture: percent(v.size, hours) }
  }

  // PM10 daily means over whole days of the period.
  const pm10 = dailyMeans(validByPollutant.get('pm10')!, dayOf, daysEnd)
  const pm10Day = limit('pm10-day')
  const pm10Days = {
    validDays: pm10.size,
    dataCapture: percent(pm10.size, days),
    over: [...pm10.values()].filter((m) => m > pm10Day.value).length,
    overFrom2030: [...pm10.values()].filter((m) => m > pm10Day.from2030.value).length,
  }

  const no2Hour = limit('no2-hour')
  const no2Hours = { over: [...validByPollutant.get('no2')!.values()].filter((m) => m > no2Hour.value).length }

  const o3 = maxDaily8hMeans(validByPollutant.get('o3')!, year.from, daysEnd)
  const o3Days = { validDays: o3.size, dataCapture: percent(o3.size, days), over: [...o3.values()].filter((m) => m > limit('o3-8h').value).length }

  return { year: input.year, from: year.from, to, hours, days, pollutants, pm10Days, no2Hours, o3Days }
}

/** Day start → mean of its hours, for days (before `end`) with at least 18 hours that count. */
export function dailyMeans(hours: ReadonlyMap<number, number>, dayOf: (time: number) => number, end: number): Map<number, number> {
  const sums = new Map<number, { sum: number; n: number }>()
  for (const [time, mean] of hours) {
    const day = dayOf(time)
    if (day + DAY_MS > end) continue
    const s = sums.get(day) ?? { sum: 0, n: 0 }
    s.sum += mean
    s.n++
    sums.set(day, s)
  }
  const out = new Map<number, number>()
  for (const [day, s] of sums) if (s.n >= HOURS_FOR_DAY) out.set(day, s.sum / s.n)
  return out
}

/**
 * Day start → maximum daily 8-hour mean, for the whole days in [from, end) (from on a day start)
 * whose maximum counts. The 8-hour means ending in the first hours of the first day reach back
 * into the day before, whose hours are used when given.
 */
export function maxDaily8hMeans(hours: ReadonlyMap<number, number>, from: number, end: number): Map<number, number> {
  const out = new Map<number, number>()
  for (let day = from; day + DAY_MS <= end; day += DAY_MS) {
    let valid = 0
    let max = -Infinity
    // The 8-hour mean whose last hour starts at day + k hours (k = 0 … 23).
    for (let k = 0; k < 24; k++) {
      let sum = 0
      let n = 0
      for (let j = 0; j < 8; j++) {
        const v = hours.get(day + (k - j) * HOUR_MS)
        if (v !== undefined) {
          sum += v
          n++
        }
      }
      if (n < HOURS_FOR_8H) continue
      valid++
      max = Math.max(max, sum / n)
    }
    if (valid >= EIGHT_HOUR_MEANS_FOR_DAY) out.set(day, max)
  }
  return out
}

/** A city's year: each figure from its worst station (the zone is judged by its worst-exposed point). */
export interface CityYear {
  stations: number
  pollutants: Record<StatPollutant, { mean: number | null; station: string | null }>
  pm10DaysOver: { over: number; station: string | null }
  no2HoursOver: { over: number; station: string | null }
  o3DaysOver: { over: number; station: string | null }
}

export function cityYear(stations: readonly { id: string; year: StationYear }[]): CityYear {
  const worst = (value: (y: StationYear) => number | null): { value: number | null; station: string | null } => {
    let best: { value: number | null; station: string | null } = { value: null, station: null }
    for (const s of stations) {
      const v = value(s.year)
      if (v !== null && (best.value === null || v > best.value)) best = { value: v, station: s.id }
    }
    return best
  }
  const pollutants = {} as CityYear['pollutants']
  for (const p of STAT_POLLUTANTS) {
    const w = worst((y) => y.pollutants[p].mean)
    pollutants[p] = { mean: w.value, station: w.station }
  }
  const count = (value: (y: StationYear) => number | null) => {
    const w = worst(value)
    return { over: w.value ?? 0, station: w.station }
  }
  return {
    stations: stations.length,
    pollutants,
    pm10DaysOver: count((y) => (y.pm10Days.validDays > 0 ? y.pm10Days.over : null)),
    no2HoursOver: count((y) => (y.pollutants.no2.validHours > 0 ? y.no2Hours.over : null)),
    o3DaysOver: count((y) => (y.o3Days.validDays > 0 ? y.o3Days.over : null)),
  }
}
