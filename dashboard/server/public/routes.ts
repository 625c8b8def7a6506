import type { FastifyReply } from 'fastify'
import Type, { type TSchema } from 'typebox'
import { EAQI_POLLUTANTS, EAQI_VERSION, type Pollutant } from '../../../devices/aqi.ts'
import { cities, findCity, type City } from '../../../devices/region.ts'
import type { Device, Registry } from '../../../devices/registry.ts'
import type { Storage } from '../../../ingest/storage/contract.ts'
import { badRequest, errorResponses, notFound } from '../http/errors.ts'
import { parseTime } from '../readings/routes.ts'
import type { Api } from '../http/types.ts'
import { DAY_MS, exportStream, parseFields, STEP_MS, type ExportStation, type Resolution } from './export.ts'
import { CONTENT_TYPES, createRenderCache, csvLine, negotiate, sendRendered, type Format } from './formats.ts'
import { licenseFields, type DataLicense } from './license.ts'
import { airQualityObserved } from './ngsi-ld.ts'
import {
  AirQualityResponseSchema,
  ExportResponseSchema,
  HistoryResponseSchema,
  PUBLIC_FIELDS,
  StationsResponseSchema,
  type CityAirQuality,
  type PublicField,
  type PublicStation,
} from './schemas.ts'
import type { CitySnapshot, Snapshots } from './snapshots.ts'

/**
 * The open-data API under /api/public: no login, CORS open, every answer naming its licence.
 * The air-quality, history and station answers are renderings of the snapshots (cached a few
 * seconds, ETag); the readings exports stream from storage with range caps.
 */

export interface PublicRouteDeps {
  registry: Pick<Registry, 'get' | 'list'>
  storage: Pick<Storage, 'series'>
  snapshots: Snapshots
  license: DataLicense
  /** Cache-Control max-age of snapshot answers, seconds. */
  maxAgeSeconds: number
  /** Per client address and window, for the exports (tighter than the rest). */
  exportRateLimit: { max: number; timeWindow: number }
}

/** An hourly export may cover at most this long… */
export const MAX_SPAN_MS: Record<Resolution, number> = { hour: 366 * DAY_MS, day: 3660 * DAY_MS }
/** …and, summed over its stations, this long (a year of hours for 10 stations). */
export const MAX_STATION_SPAN_MS: Record<Resolution, number> = { hour: 3660 * DAY_MS, day: 36600 * DAY_MS }
const DEFAULT_SPAN_MS: Record<Resolution, number> = { hour: DAY_MS, day: 30 * DAY_MS }
const EXPORT_MAX_AGE_SECONDS = 60
const TAG = 'open data'

const FIELD_LIST = PUBLIC_FIELDS.join(', ')
const FormatQuery = (formats: readonly Format[]) =>
  Type.Optional(
    Type.Enum([...formats], {
      description: `Answer format; otherwise chosen by the Accept header (${formats.map((f) => CONTENT_TYPES[f].split(';')[0]).join(', ')}), JSON by default.`,
    }),
  )
const CityQuery = Type.Optional(Type.String({ maxLength: 40, description: `A city id: ${cities.map((c) => c.id).join(', ')}` }))
const PollutantQuery = (fields: string) => Type.Optional(Type.String({ maxLength: 80, description: `Comma-separated, from: ${fields}. Default all.` }))
const TimeQuery = (what: string) => Type.Optional(Type.String({ maxLength: 40, description: what }))
const ResolutionQuery = Type.Optional(
  Type.Enum(['hour', 'day'], { description: 'hour (default): hourly means with reading counts and the hour’s EAQI; day: daily mean, min, max and count (UTC days).' }),
)

/** A 200 answer in several media types, for the OpenAPI document. */
function offered(json: TSchema, formats: readonly Format[], description: string) {
  const content: Record<string, { schema: TSchema }> = {}
  for (const f of formats) content[CONTENT_TYPES[f].split(';')[0]!] = { schema: f === 'json' ? json : f === 'csv' ? Type.String({ description: 'CSV, header row first' }) : Type.Array(Type.Object({}, { additionalProperties: true }), { description: 'NGSI-LD AirQualityObserved entities' }) }
  return { description, content }
}
const NotModified = Type.Null({ description: 'Not Modified: the ETag sent in If-None-Match is still current.' })

function cityOr400(value: string): City {
  const city = findCity(value)
  if (!city) throw badRequest(`unknown city '${value}'; cities: ${cities.map((c) => c.id).join(', ')}`)
  return city
}

function fieldsOr400(value: string | undefined, allowed: readonly PublicField[]): PublicField[] {
  const parsed = parseFields(value, allowed)
  if (typeof parsed === 'string') throw badRequest(`query parameter 'pollutant' has an unknown pollutant '${parsed}'; use any of ${allowed.join(', ')}`)
  return parsed
}

const iso = (t: number) => new Date(t).toISOString()

export function registerPublicRoutes(app: Api, deps: PublicRouteDeps): void {
  const { registry, storage, snapshots, license, maxAgeSeconds } = deps
  const memo = createRenderCache()
  const licensed = () => ({ ...licenseFields(license), indexVersion: EAQI_VERSION })
  const versions = (snaps: readonly CitySnapshot[]) => snaps.map((s) => `${s.city.id}:${s.version}`).join(',')
  const snapshotsFor = async (city: City | undefined, withHistory = true) => (city ? [await snapshots.city(city.id)] : snapshots.all({ withHistory }))

  // ---------------------------------------------------------------- air quality now

  function airQualityBody(snaps: readonly CitySnapshot[], format: Format, pollutants: readonly Pollutant[]): string {
    const items: CityAirQuality[] = snaps.map((s) => ({ ...s.airQuality, pollutants: s.airQuality.pollutants.filter((p) => pollutants.includes(p.pollutant)) }))
    if (format === 'json') return JSON.stringify({ ...licensed(), items })
    if (format === 'csv') {
      const head = ['city', 'name', 'status', 'eaqi_level', 'eaqi_band', 'eaqi_pollutant', 'eaqi_station', 'eaqi_version', 'last_update', 'window_from', 'window_to']
      for (const p of pollutants) head.push(p, `${p}_band`, `${p}_station`)
      let out = csvLine(head)
      for (const c of items) {
        const cells: unknown[] = [c.city, c.name, c.status, c.index.value, c.index.band, c.index.drivingPollutant, c.index.station, c.index.version, c.lastUpdate, c.window.from, c.window.to]
        for (const p of c.pollutants) cells.push(p.value, p.band, p.station)
        out += csvLine(cells)
      }
      return out
    }
    return JSON.stringify(snaps.flatMap((s) => stationEntities(s, s.stations, pollutants)))
  }

  /** NGSI-LD: each station's last hour, for stations that have readings in it. */
  function stationEntities(snap: CitySnapshot, stations: readonly PublicStation[], fields: readonly PublicField[]) {
    const to = Date.parse(snap.airQuality.window.to)
    const from = Date.parse(snap.airQuality.window.from)
    const out: Record<string, unknown>[] = []
    for (const s of stations) {
      const values: Partial<Record<PublicField, number>> = {}
      for (const h of s.hour) if (h.value !== null && fields.includes(h.pollutant)) values[h.pollutant] = h.value
      if (Object.keys(values).length === 0 || s.latest.time === null) continue
      const index = s.index ? { level: s.index.value, band: s.index.band, pollutant: s.index.drivingPollutant } : null
      out.push(airQualityObserved({ station: s, cityName: snap.city.name, observedAt: Math.min(Date.parse(s.latest.time), to), from, to, values, index, provider: license.attribution }))
    }
    return out
  }

  app.get(
    '/api/public/air-quality',
    {
      schema: {
        tags: [TAG],
        summary: 'The European Air Quality Index now, for every city or one',
        description:
          `For each city: the EAQI (${EAQI_VERSION}: the worst band of PM2.5, PM10, NO₂, O₃ and SO₂ hourly means at the city's worst station; an hour counts with ≥ 75 % of its expected readings; stale stations have no index), ` +
          'the driving pollutant, each pollutant against its bands, the stations and the last update. Served from snapshots refreshed as readings arrive: cache for a few seconds and revalidate with If-None-Match. ' +
          'CSV: one row per city. NGSI-LD: one AirQualityObserved entity per station (its last hour).',
        querystring: Type.Object(
          { city: CityQuery, pollutant: PollutantQuery(EAQI_POLLUTANTS.join(', ')), format: FormatQuery(['json', 'csv', 'ngsi-ld']) },
          { additionalProperties: false },
        ),
        response: { 200: offered(AirQualityResponseSchema, ['json', 'csv', 'ngsi-ld'], 'The index now'), 304: NotModified, ...errorResponses(400, 429, 503) },
      },
    },
    async (request, reply) => {
      const q = request.query
      const format = negotiate(q.format, request.headers.accept, ['json', 'csv', 'ngsi-ld'])
      const city = q.city === undefined ? undefined : cityOr400(q.city)
      const pollutants = fieldsOr400(q.pollutant, EAQI_POLLUTANTS) as Pollutant[]
      const snaps = await snapshotsFor(city, false)
      const r = memo(`aq|${format}|${pollutants}|${versions(snaps)}`, () => airQualityBody(snaps, format, pollutants))
      return sendRendered(request, reply as FastifyReply, r, format, maxAgeSeconds, `piazza-air-quality${city ? `-${city.id}` : ''}.csv`)
    },
  )

  // ---------------------------------------------------------------- 7-day history of a city

  app.get(
    '/api/public/air-quality/history',
    {
      schema: {
        tags: [TAG],
        summary: "A city's hourly index and pollutant values over the last 7 days",
        description: 'One entry per hour (start of the hour, UTC), oldest first: the city index of that hour and, per pollutant, the highest complete hourly mean among its stations. From the snapshots, like /api/public/air-quality.',
        querystring: Type.Object({ city: Type.String({ maxLength: 40, description: 'A city id' }), format: FormatQuery(['json', 'csv']) }, { additionalProperties: false }),
        response: { 200: offered(HistoryResponseSchema, ['json', 'csv'], 'Hourly history'), 304: NotModified, ...errorResponses(400, 429, 503) },
      },
    },
    async (request, reply) => {
      const format = negotiate(request.query.format, request.headers.accept, ['json', 'csv'])
      const city = cityOr400(request.query.city)
      const snap = await snapshots.city(city.id)
      const r = memo(`history|${format}|${versions([snap])}`, () => {
        if (format === 'json') return JSON.stringify({ ...licensed(), city: city.id, hours: snap.history })
        let out = csvLine(['time', 'eaqi_level', 'eaqi_band', 'eaqi_pollutant', 'eaqi_version', ...EAQI_POLLUTANTS])
        for (const h of snap.history) out += csvLine([h.time, h.index, h.band, h.drivingPollutant, h.index === null ? '' : EAQI_VERSION, ...EAQI_POLLUTANTS.map((p) => h.values[p])])
        return out
      })
      return sendRendered(request, reply as FastifyReply, r, format, maxAgeSeconds, `piazza-air-quality-history-${city.id}.csv`)
    },
  )

  // ---------------------------------------------------------------- stations

  app.get(
    '/api/public/stations',
    {
      schema: {
        tags: [TAG],
        summary: 'Active air-quality stations: location, type, status, index and latest values',
        description:
          'Filters: city, station (comma-separated ids), pollutant (stations that measure any of them; only those values are listed). ' +
          'CSV: one row per station with its latest values. NGSI-LD: one AirQualityObserved entity per station (its last hour).',
        querystring: Type.Object(
          {
            city: CityQuery,
            station: Type.Optional(Type.String({ maxLength: 2000, description: 'Comma-separated station ids' })),
            pollutant: PollutantQuery(FIELD_LIST),
            format: FormatQuery(['json', 'csv', 'ngsi-ld']),
          },
          { additionalProperties: false },
        ),
        response: { 200: offered(StationsResponseSchema, ['json', 'csv', 'ngsi-ld'], 'The stations'), 304: NotModified, ...errorResponses(400, 429, 503) },
      },
    },
    async (request, reply) => {
      const q = request.query
      const format = negotiate(q.format, request.headers.accept, ['json', 'csv', 'ngsi-ld'])
      const city = q.city === undefined ? undefined : cityOr400(q.city)
      const fields = fieldsOr400(q.pollutant, PUBLIC_FIELDS)
      const filtered = q.pollutant !== undefined
      const ids = q.station === undefined ? undefined : new Set(q.station.split(',').map((s) => s.trim()).filter(Boolean))
      const snaps = await snapshotsFor(city)
      const r = memo(`stations|${format}|${fields}|${filtered}|${ids ? [...ids].sort().join(',') : '*'}|${versions(snaps)}`, () => {
        const pick = (s: PublicStation) => (!ids || ids.has(s.id)) && (!filtered || fields.some((f) => f in s.latest.values))
        const trim = (s: PublicStation): PublicStation => ({
          ...s,
          hour: s.hour.filter((h) => fields.includes(h.pollutant)),
          latest: { time: s.latest.time, values: Object.fromEntries(Object.entries(s.latest.values).filter(([f]) => fields.includes(f as PublicField))) },
          units: Object.fromEntries(Object.entries(s.units).filter(([f]) => fields.includes(f as PublicField))),
        })
        if (format === 'ngsi-ld') return JSON.stringify(snaps.flatMap((snap) => stationEntities(snap, snap.stations.filter(pick), fields)))
        const items = snaps.flatMap((snap) => snap.stations.filter(pick).map(trim))
        if (format === 'json') return JSON.stringify({ ...licensed(), items })
        let out = csvLine(['id', 'name', 'type', 'city', 'lat', 'lon', 'interval_s', 'status', 'eaqi_level', 'eaqi_band', 'eaqi_pollutant', 'eaqi_version', 'last_reading', ...fields])
        for (const s of items) {
          out += csvLine([s.id, s.name, s.type, s.city, s.lat, s.lon, s.interval, s.status, s.index?.value, s.index?.band, s.index?.drivingPollutant, s.index ? EAQI_VERSION : '', s.latest.time, ...fields.map((f) => s.latest.values[f])])
        }
        return out
      })
      return sendRendered(request, reply as FastifyReply, r, format, maxAgeSeconds, 'piazza-stations.csv')
    },
  )

  // ---------------------------------------------------------------- exports (streamed)

  const exportQuery = {
    pollutant: PollutantQuery(FIELD_LIST),
    from: TimeQuery('ISO 8601 or epoch ms, inclusive, rounded down to the hour (day). Default: `to` minus 24 hours (30 days).'),
    to: TimeQuery('ISO 8601 or epoch ms, exclusive, rounded up to the hour (day). Default: now.'),
    resolution: ResolutionQuery,
    format: FormatQuery(['json', 'csv', 'ngsi-ld']),
  }
  const exportDescription =
    'Streamed from storage a chunk at a time. Hourly: mean and reading count per field and the hour’s EAQI (null when no pollutant was complete); daily: mean, min, max, count. Windows without readings are left out. ' +
    `Caps: ${MAX_SPAN_MS.hour / DAY_MS} days per request at hourly resolution, ${MAX_SPAN_MS.day / DAY_MS} days daily; summed over stations ${MAX_STATION_SPAN_MS.hour / DAY_MS} (hourly) / ${MAX_STATION_SPAN_MS.day / DAY_MS} (daily) station-days. ` +
    'CSV columns: time (or date), station, city, then <field>, <field>_count (hourly) or <field>_mean, _min, _max, _count (daily), then eaqi_level, eaqi_band, eaqi_pollutant, eaqi_version (hourly). ' +
    'NGSI-LD: one AirQualityObserved entity per station and hour (day).'

  function exportRange(q: { from?: string; to?: string; resolution?: Resolution }, stationCount: number) {
    const resolution = q.resolution ?? 'hour'
    const step = STEP_MS[resolution]
    const rawTo = q.to !== undefined ? parseTime('to', q.to) : Date.now()
    const to = Math.ceil(rawTo / step) * step
    const from = q.from !== undefined ? Math.floor(parseTime('from', q.from) / step) * step : to - DEFAULT_SPAN_MS[resolution]
    if (from >= to) throw badRequest(`'from' (${iso(from)}) must be before 'to' (${iso(to)})`)
    const days = (ms: number) => Math.round(ms / DAY_MS)
    if (to - from > MAX_SPAN_MS[resolution]) {
      throw badRequest(`the range is ${days(to - from)} days; at ${resolution}ly resolution one request covers at most ${days(MAX_SPAN_MS[resolution])} days: split it${resolution === 'hour' ? ', or ask for resolution=day' : ''}`)
    }
    if ((to - from) * stationCount > MAX_STATION_SPAN_MS[resolution]) {
      throw badRequest(`${stationCount} stations × ${days(to - from)} days is over the cap of ${days(MAX_STATION_SPAN_MS[resolution])} station-days per request at ${resolution}ly resolution: narrow the range or filter by city or station`)
    }
    return { from, to, resolution }
  }

  const toExportStation = (d: Device): ExportStation => ({ id: d.id, name: d.name, city: d.city, lat: d.lat, lon: d.lon, interval: d.interval })
  const isPublicStation = (d: Device | undefined): d is Device => d !== undefined && d.type === 'air-quality' && d.status === 'active'

  async function sendExport(request: { headers: { accept?: string } }, reply: FastifyReply, stations: Device[], q: { pollutant?: string; from?: string; to?: string; resolution?: Resolution; format?: Format }, name: string) {
    const format = negotiate(q.format, request.headers.accept, ['json', 'csv', 'ngsi-ld'])
    const fields = fieldsOr400(q.pollutant, PUBLIC_FIELDS)
    const range = exportRange(q, Math.max(1, stations.length))
    const stream = await exportStream(storage, { stations: stations.map(toExportStation), fields, ...range }, format, license)
    reply.header('cache-control', `public, max-age=${EXPORT_MAX_AGE_SECONDS}`).header('vary', 'Accept')
    if (format === 'csv') {
      const day = (t: number) => iso(t).slice(0, 10)
      reply.header('content-disposition', `attachment; filename="piazza-${name}-${range.resolution}-${day(range.from)}-${day(range.to)}.csv"`)
    }
    return reply.type(CONTENT_TYPES[format]).send(stream)
  }

  app.get(
    '/api/public/stations/:id/readings',
    {
      config: { rateLimit: deps.exportRateLimit },
      schema: {
        tags: [TAG],
        summary: "A station's hourly series or daily summaries",
        description: exportDescription,
        params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
        querystring: Type.Object(exportQuery, { additionalProperties: false }),
        response: { 200: offered(ExportResponseSchema, ['json', 'csv', 'ngsi-ld'], 'The series'), ...errorResponses(400, 404, 429, 503) },
      },
    },
    async (request, reply) => {
      const device = registry.get(request.params.id)
      if (!isPublicStation(device)) throw notFound(`no active air-quality station with id '${request.params.id}'`)
      return sendExport(request, reply as FastifyReply, [device], request.query, device.id)
    },
  )

  app.get(
    '/api/public/readings',
    {
      config: { rateLimit: deps.exportRateLimit },
      schema: {
        tags: [TAG],
        summary: 'Hourly series or daily summaries of several stations, filtered by city, station and pollutant',
        description: `Rows are ordered by station, then time. ${exportDescription}`,
        querystring: Type.Object(
          { city: CityQuery, station: Type.Optional(Type.String({ maxLength: 2000, description: 'Comma-separated station ids' })), ...exportQuery },
          { additionalProperties: false },
        ),
        response: { 200: offered(ExportResponseSchema, ['json', 'csv', 'ngsi-ld'], 'The series'), ...errorResponses(400, 429, 503) },
      },
    },
    async (request, reply) => {
      const q = request.query
      const city = q.city === undefined ? undefined : cityOr400(q.city)
      let stations = registry.list({ type: 'air-quality', status: 'active', ...(city ? { city: city.id } : {}) }).items
      if (q.station !== undefined) {
        const ids = [...new Set(q.station.split(',').map((s) => s.trim()).filter(Boolean))]
        for (const id of ids) if (!isPublicStation(registry.get(id))) throw badRequest(`unknown station '${id}': not an active air-quality station`)
        stations = stations.filter((s) => ids.includes(s.id))
      }
      return sendExport(request, reply as FastifyReply, stations, q, city ? city.id : 'stations')
    },
  )

}
