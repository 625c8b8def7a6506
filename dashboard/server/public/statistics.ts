import type { FastifyReply } from 'fastify'
import Type, { type Static } from 'typebox'
import {
  cityYear,
  LIMIT_VALUES,
  MIN_DATA_CAPTURE_PERCENT,
  STAT_POLLUTANTS,
  stationYear,
  yearRange,
  type HourValue,
  type StatPollutant,
  type StationYear,
} from '../../../devices/aq-statistics.ts'
import { HOUR_MS, minReadingsPerHour } from '../../../devices/aqi.ts'
import { cities, findCity, type City } from '../../../devices/region.ts'
import type { Device, Registry } from '../../../devices/registry.ts'
import type { Storage } from '../../../ingest/storage/contract.ts'
import { badRequest, errorResponses } from '../http/errors.ts'
import type { Api } from '../http/types.ts'
import { CONTENT_TYPES, csvLine, negotiate } from './formats.ts'
import { licenseFields, type DataLicense } from './license.ts'
import { round1 } from './snapshots.ts'

/**
 * Air-quality statistics of a calendar year (devices/aq-statistics.ts) per station and city, in
 * the open-data API. Read from the hourly rollups (two windowed series per pollutant and
 * station), so a year long past raw retention still answers; computed answers are kept
 * STATS_TTL_MS per (year, city), as they change only hour by hour.
 */

const STATS_TTL_MS = 10 * 60_000
/** Stations read from storage at once. */
const PARALLEL_STATIONS = 4
const FIRST_YEAR = 2000
/** Italian networks report in standard time (CET) all year. */
const UTC_OFFSET_HOURS = 1
const TAG = 'open data'

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()])

const PollutantYearSchema = Type.Object({
  mean: Nullable(Type.Number({ description: 'Mean of the hours that count, µg/m³ (CO mg/m³), 0.1' })),
  validHours: Type.Integer(),
  dataCapture: Type.Number({ description: 'Hours that count over the hours of the period, %' }),
})
const StationStatsSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  pollutants: Type.Record(Type.String(), PollutantYearSchema),
  pm10DaysOver50: Type.Integer({ description: 'Days whose PM10 daily mean is over 50 µg/m³ (35 allowed per year)' }),
  pm10DaysOver45: Type.Integer({ description: 'The same over 45 µg/m³, the value from 2030 (18 allowed)' }),
  pm10ValidDays: Type.Integer(),
  pm10DayCapture: Type.Number(),
  no2HoursOver200: Type.Integer({ description: 'Hours whose NO₂ mean is over 200 µg/m³ (18 allowed per year; 3 from 2030)' }),
  o3DaysOver120: Type.Integer({ description: 'Days whose maximum 8-hour O₃ mean is over 120 µg/m³ (25 allowed, averaged over 3 years; 18 from 2030)' }),
  o3ValidDays: Type.Integer(),
  o3DayCapture: Type.Number(),
})
const Worst = (what: string) => Type.Object({ value: Nullable(Type.Number()), station: Nullable(Type.String()) }, { description: `${what}, at the station where it is highest` })
const CityStatsSchema = Type.Object({
  city: Type.String(),
  name: Type.String(),
  stations: Type.Array(StationStatsSchema),
  worst: Type.Object({
    pollutants: Type.Record(Type.String(), Worst('Annual mean')),
    pm10DaysOver50: Worst('PM10 days over 50'),
    no2HoursOver200: Worst('NO₂ hours over 200'),
    o3DaysOver120: Worst('O₃ days over 120'),
  }),
})
const LimitValueSchema = Type.Object({
  id: Type.String(),
  pollutant: Type.String(),
  averaging: Type.String(),
  kind: Type.String(),
  value: Type.Number(),
  unit: Type.String(),
  allowedPerYear: Nullable(Type.Integer()),
  source: Type.String(),
  from2030: Type.Object({ value: Type.Number(), allowedPerYear: Nullable(Type.Integer()), source: Type.String() }),
})
export const StatisticsResponseSchema = Type.Object(
  {
    license: Type.Object({ id: Type.String(), name: Type.String(), url: Type.String() }),
    attribution: Type.String(),
    year: Type.Integer(),
    from: Type.String({ description: 'Start of the year, CET (UTC+1), as UTC ISO 8601' }),
    to: Type.String({ description: 'End of the period: the year’s end, or the last whole hour so far' }),
    complete: Type.Boolean({ description: 'false while the year is under way ("this year so far")' }),
    hours: Type.Integer(),
    days: Type.Integer(),
    minimumDataCapture: Type.Number({ description: '%, Directive 2008/50/EC Annex I: below it a figure is indicative' }),
    limitValues: Type.Array(LimitValueSchema),
    cities: Type.Array(CityStatsSchema),
  },
  { additionalProperties: true },
)
/** Also the citizens' page's type (imported type-only) for its "this year so far" section. */
export type StatisticsResponse = Static<typeof StatisticsResponseSchema>
type StationStats = Static<typeof StationStatsSchema>

export interface StatisticsDeps {
  registry: Pick<Registry, 'list'>
  storage: Pick<Storage, 'series'>
  license: DataLicense
  rateLimit: { max: number; timeWindow: number }
  clock?: () => number
}

/** The hourly means and counts of one station's pollutants over [from, to). */
async function stationHours(storage: Pick<Storage, 'series'>, station: Device, from: number, to: number) {
  const limit = Math.ceil((to - from) / HOUR_MS) + 1
  const hours: Partial<Record<StatPollutant, HourValue[]>> = {}
  await Promise.all(
    STAT_POLLUTANTS.map(async (field) => {
      const query = { deviceId: station.id, type: 'air-quality', field, from, to, every: HOUR_MS, limit }
      const [means, counts] = await Promise.all([storage.series({ ...query, aggregate: 'mean' }), storage.series({ ...query, aggregate: 'count' })])
      const countAt = new Map(counts.map((c) => [c.time, c.value ?? 0]))
      hours[field] = means.filter((m) => m.value !== null).map((m) => ({ time: m.time, mean: m.value!, count: countAt.get(m.time) ?? 0 }))
    }),
  )
  return hours
}

function stationStats(device: Device, y: StationYear): StationStats {
  const pollutants: StationStats['pollutants'] = {}
  for (const p of STAT_POLLUTANTS) {
    const v = y.pollutants[p]
    pollutants[p] = { mean: v.mean === null ? null : round1(v.mean), validHours: v.validHours, dataCapture: v.dataCapture }
  }
  return {
    id: device.id,
    name: device.name,
    pollutants,
    pm10DaysOver50: y.pm10Days.over,
    pm10DaysOver45: y.pm10Days.overFrom2030,
    pm10ValidDays: y.pm10Days.validDays,
    pm10DayCapture: y.pm10Days.dataCapture,
    no2HoursOver200: y.no2Hours.over,
    o3DaysOver120: y.o3Days.over,
    o3ValidDays: y.o3Days.validDays,
    o3DayCapture: y.o3Days.dataCapture,
  }
}

export function registerStatisticsRoutes(app: Api, deps: StatisticsDeps): void {
  const { registry, storage, license } = deps
  const clock = deps.clock ?? Date.now
  const cache = new Map<string, { at: number; body: Promise<StatisticsResponse> }>()

  const currentYear = () => new Date(clock() + UTC_OFFSET_HOURS * HOUR_MS).getUTCFullYear()

  async function compute(year: number, only: City | undefined): Promise<StatisticsResponse> {
    const now = clock()
    const range = yearRange(year, UTC_OFFSET_HOURS)
    const to = Math.min(range.to, now)
    const stations = registry.list({ type: 'air-quality', status: 'active', ...(only ? { city: only.id } : {}) }).items
    const years = new Map<string, StationYear>()
    for (let i = 0; i < stations.length; i += PARALLEL_STATIONS) {
      await Promise.all(
        stations.slice(i, i + PARALLEL_STATIONS).map(async (s) => {
          const hours = await stationHours(storage, s, range.from, to)
          years.set(s.id, stationYear({ year, hours, minReadingsPerHour: minReadingsPerHour(s.interval), now, utcOffsetHours: UTC_OFFSET_HOURS }))
        }),
      )
    }
    const anyYear = stationYear({ year, hours: {}, minReadingsPerHour: 1, now, utcOffsetHours: UTC_OFFSET_HOURS })
    const out: StatisticsResponse['cities'] = []
    for (const city of only ? [only] : cities) {
      const mine = stations.filter((s) => s.city === city.id).sort((a, b) => a.name.localeCompare(b.name, 'it', { numeric: true }))
      if (mine.length === 0 && !only) continue
      const c = cityYear(mine.map((s) => ({ id: s.id, year: years.get(s.id)! })))
      const pollutants: Record<string, { value: number | null; station: string | null }> = {}
      for (const p of STAT_POLLUTANTS) pollutants[p] = { value: c.pollutants[p].mean === null ? null : round1(c.pollutants[p].mean!), station: c.pollutants[p].station }
      const worst = (w: { over: number; station: string | null }) => ({ value: w.station === null ? null : w.over, station: w.station })
      out.push({
        city: city.id,
        name: city.name,
        stations: mine.map((s) => stationStats(s, years.get(s.id)!)),
        worst: { pollutants, pm10DaysOver50: worst(c.pm10DaysOver), no2HoursOver200: worst(c.no2HoursOver), o3DaysOver120: worst(c.o3DaysOver) },
      })
    }
    return {
      ...licenseFields(license),
      year,
      from: new Date(range.from).toISOString(),
      to: new Date(anyYear.to).toISOString(),
      complete: anyYear.to === range.to,
      hours: anyYear.hours,
      days: anyYear.days,
      minimumDataCapture: MIN_DATA_CAPTURE_PERCENT,
      limitValues: LIMIT_VALUES.map((l) => ({ ...l, from2030: { ...l.from2030 } })),
      cities: out,
    }
  }

  function statistics(year: number, city: City | undefined): Promise<StatisticsResponse> {
    const key = `${year}|${city?.id ?? '*'}`
    const hit = cache.get(key)
    if (hit && clock() - hit.at < STATS_TTL_MS) return hit.body
    const body = compute(year, city)
    cache.set(key, { at: clock(), body })
    body.catch(() => cache.delete(key))
    return body
  }

  app.get(
    '/api/public/air-quality/statistics',
    {
      config: { rateLimit: deps.rateLimit },
      schema: {
        tags: [TAG],
        summary: 'Air-quality statistics of a calendar year per station and city, against the EU limit values',
        description:
          'For a year (default the current one, so far): per station, the annual mean of each pollutant with its data capture, the days with a PM10 daily mean over 50 µg/m³ ' +
          '(35 allowed, Directive 2008/50/EC Annex XI; 45 µg/m³ and 18 from 2030, Directive (EU) 2024/2881 Annex I), the hours with an NO₂ mean over 200 µg/m³ (18 allowed; 3 from 2030), ' +
          'the days with a maximum daily 8-hour O₃ mean over 120 µg/m³ (target value, 25 days averaged over three years, Annex VII; 18 from 2030). ' +
          'Per city: each figure at its worst station. An hour counts with ≥ 75 % of its expected readings, a day with ≥ 18 such hours, an 8-hour mean with ≥ 6, a daily 8-hour maximum with ≥ 18 means. ' +
          'Days and years are CET (UTC+1, standard time). From the hourly rollups, so past years stay available. CSV: one row per station, then one per city (its worst figures).',
        querystring: Type.Object(
          {
            year: Type.Optional(Type.String({ pattern: '^\\d{4}$', description: `A calendar year from ${FIRST_YEAR}; default the current one` })),
            city: Type.Optional(Type.String({ maxLength: 40, description: `A city id: ${cities.map((c) => c.id).join(', ')}` })),
            format: Type.Optional(Type.Enum(['json', 'csv'], { description: 'Answer format; otherwise chosen by the Accept header, JSON by default.' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: {
            description: 'The statistics',
            content: { 'application/json': { schema: StatisticsResponseSchema }, 'text/csv': { schema: Type.String({ description: 'CSV, header row first' }) } },
          },
          ...errorResponses(400, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const q = request.query
      const format = negotiate(q.format, request.headers.accept, ['json', 'csv'])
      const year = q.year === undefined ? currentYear() : Number(q.year)
      if (year < FIRST_YEAR || year > currentYear()) throw badRequest(`year must be from ${FIRST_YEAR} to ${currentYear()}; got ${q.year}`)
      let city: City | undefined
      if (q.city !== undefined) {
        city = findCity(q.city)
        if (!city) throw badRequest(`unknown city '${q.city}'; cities: ${cities.map((c) => c.id).join(', ')}`)
      }
      const body = await statistics(year, city)
      ;(reply as FastifyReply).header('cache-control', 'public, max-age=600').header('vary', 'Accept')
      if (format === 'json') return reply.type(CONTENT_TYPES.json).send(JSON.stringify(body))
      reply.header('content-disposition', `attachment; filename="piazza-air-quality-statistics-${year}${city ? `-${city.id}` : ''}.csv"`)
      return reply.type(CONTENT_TYPES.csv).send(statisticsCsv(body))
    },
  )
}

/** One row per station, then one per city with its worst station's figures. */
export function statisticsCsv(body: StatisticsResponse): string {
  const head = ['level', 'city', 'station', 'name', 'year', 'from', 'to', 'complete']
  for (const p of STAT_POLLUTANTS) head.push(`${p}_mean`, `${p}_data_capture_pct`)
  head.push('pm10_days_over_50', 'pm10_days_over_45_from_2030', 'pm10_valid_days', 'pm10_day_capture_pct', 'no2_hours_over_200', 'o3_days_over_120', 'o3_valid_days', 'o3_day_capture_pct')
  let out = csvLine(head)
  const period = [body.year, body.from, body.to, body.complete]
  for (const c of body.cities) {
    for (const s of c.stations) {
      const cells: unknown[] = ['station', c.city, s.id, s.name, ...period]
      for (const p of STAT_POLLUTANTS) cells.push(s.pollutants[p]?.mean, s.pollutants[p]?.dataCapture)
      cells.push(s.pm10DaysOver50, s.pm10DaysOver45, s.pm10ValidDays, s.pm10DayCapture, s.no2HoursOver200, s.o3DaysOver120, s.o3ValidDays, s.o3DayCapture)
      out += csvLine(cells)
    }
    const cells: unknown[] = ['city', c.city, '', c.name, ...period]
    for (const p of STAT_POLLUTANTS) cells.push(c.worst.pollutants[p]?.value, '')
    cells.push(c.worst.pm10DaysOver50.value, '', '', '', c.worst.no2HoursOver200.value, c.worst.o3DaysOver120.value, '', '')
    out += csvLine(cells)
  }
  return out
}
