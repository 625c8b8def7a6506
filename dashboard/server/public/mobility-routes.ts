import { createHash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import Type from 'typebox'
import { cities, findCity, type City } from '../../../devices/region.ts'
import { badRequest, errorResponses, notFound } from '../http/errors.ts'
import type { Api } from '../http/types.ts'
import { catalog } from './catalog.ts'
import { etagMatches } from './formats.ts'
import { GBFS_FILES, GBFS_LANGUAGES, GBFS_LOCALIZED_FILES, GBFS_TTL, gbfsFile, gbfsManifest, isLocalized, type GbfsFile, type GbfsRendering } from './gbfs.ts'
import { buildFeed, encodeFeed, feedJson, GTFS_FEEDS, staticHeader, tripMatches, type GtfsFeed } from './gtfs-rt.ts'
import type { GtfsStore } from './gtfs-static.ts'
import { licenseFields, type DataLicense } from './license.ts'
import { renderOnce, type MobilitySnapshots } from './mobility-snapshot.ts'
import { carParks, datexParkingStatus, parkingCsv, parkingEntity, ParkingResponseSchema } from './parking.ts'

/**
 * The mobility feeds under /api/public (GTFS-Realtime, GBFS, parking) and the open-data
 * catalogue. Every answer is a rendering of the mobility snapshot (rebuilt at most once a second,
 * mobility-snapshot.ts), made once per snapshot, sent with an ETag and a short max-age. They sit
 * in the public scope, so the per-address rate limit and the licence header apply.
 */

export interface MobilityRouteDeps {
  snapshots: MobilitySnapshots
  /** The static GTFS per city, for matching buses to trips. */
  gtfs?: Pick<GtfsStore, 'get' | 'cities' | 'version'>
  license: DataLicense
  contactEmail: string
  /** Cache-Control max-age of the answers, seconds. */
  maxAgeSeconds: number
}

const TAG = 'open data'
const PROTOBUF = 'application/x-protobuf'
const Anything = Type.Object({}, { additionalProperties: true })
const CityQuery = Type.Optional(Type.String({ maxLength: 40, description: `A city id: ${cities.map((c) => c.id).join(', ')}` }))
const NotModified = Type.Null({ description: 'Not Modified: the ETag sent in If-None-Match is still current.' })

interface Body {
  body: string | Buffer
  etag: string
}

const body = (content: string | Buffer): Body => ({ body: content, etag: `"${createHash('sha1').update(content).digest('base64url')}"` })

function cityOr400(value: string | undefined): City | undefined {
  if (value === undefined) return undefined
  const city = findCity(value)
  if (!city) throw badRequest(`unknown city '${value}'; cities: ${cities.map((c) => c.id).join(', ')}`)
  return city
}

/** The address clients reached this server by (behind a proxy with trustProxy set, the proxy's forwarded one). */
const origin = (request: FastifyRequest) => `${request.protocol}://${request.host}`

function send(request: FastifyRequest, reply: FastifyReply, r: Body, type: string, maxAgeSeconds: number): FastifyReply {
  reply.header('etag', r.etag).header('cache-control', `public, max-age=${maxAgeSeconds}`)
  if (etagMatches(request.headers['if-none-match'], r.etag)) return reply.code(304).send()
  return reply.type(type).send(r.body)
}

export function registerMobilityRoutes(app: Api, deps: MobilityRouteDeps): void {
  const { snapshots, license, contactEmail, maxAgeSeconds, gtfs } = deps

  // ---------------------------------------------------------------- GTFS-Realtime

  for (const feed of GTFS_FEEDS) {
    const what = feed === 'vehicle-positions' ? 'VehiclePositions: every bus heard from within its interval × 3, with position, bearing, speed and route' : 'TripUpdates: the delay (s) of every such bus that reports one'
    app.get(
      `/api/public/gtfs-rt/${feed}`,
      {
        schema: {
          tags: [TAG],
          summary: `GTFS-Realtime ${feed === 'vehicle-positions' ? 'vehicle positions' : 'trip updates'} of the buses`,
          description:
            `${what}. Protobuf (application/x-protobuf) by default, the bindings' JSON rendering with ?format=json. FULL_DATASET; entity ids are the device ids. ` +
            'In a city whose static GTFS an admin uploaded (PUT /api/admin/gtfs/{city}), each bus is matched to the trip of its route in progress now (trip_id, start_date, start_time); elsewhere vehicles carry route_id only. ' +
            'The X-GTFS-Static header says which (present; cities=… or none). Rebuilt at most once a second.',
          querystring: Type.Object({ format: Type.Optional(Type.Enum(['protobuf', 'json'])), city: CityQuery }, { additionalProperties: false }),
          response: {
            200: { description: 'The feed', content: { [PROTOBUF]: { schema: Type.String({ format: 'binary' }) }, 'application/json': { schema: Anything } } },
            304: NotModified,
            ...errorResponses(400, 429),
          },
        },
      },
      async (request, reply) => {
        const format = request.query.format ?? 'protobuf'
        const city = cityOr400(request.query.city)
        const snap = snapshots.current()
        const staticCities = (gtfs?.cities() ?? []).filter((c) => city === undefined || c === city.id)
        const r = renderOnce(snap, `gtfs|${feed}|${format}|${city?.id ?? '*'}|${gtfs?.version() ?? 0}`, () => {
          const message = buildFeed(snap, feed as GtfsFeed, city?.id, tripMatches(snap, gtfs))
          return body(format === 'json' ? feedJson(message, staticCities) : encodeFeed(message))
        })
        reply.header('x-gtfs-static', staticHeader(staticCities))
        return send(request, reply as FastifyReply, r, format === 'json' ? 'application/json; charset=utf-8' : PROTOBUF, maxAgeSeconds)
      },
    )
  }

  // ---------------------------------------------------------------- GBFS 3.0 and 2.3

  const gbfsBase = (request: FastifyRequest) => `${origin(request)}/api/public/gbfs`
  const GbfsFileResponse = { 200: { description: 'A GBFS file', content: { 'application/json': { schema: Anything } } }, 304: NotModified, ...errorResponses(400, 404, 429) }
  const GbfsCity = Type.String({ maxLength: 40, description: 'A city id' })
  const fileParam = (files: readonly GbfsFile[]) => Type.Enum(files.map((f) => `${f}.json`))

  /** One GBFS file of a city, in one rendering: made once per snapshot, like every feed here. */
  function sendGbfs(request: FastifyRequest, reply: FastifyReply, cityId: string, fileName: string, r: GbfsRendering) {
    const city = findCity(cityId)
    if (!city) throw notFound(`no bike-share system for '${cityId}'; cities: ${cities.map((c) => c.id).join(', ')}`)
    const file = fileName.replace(/\.json$/, '') as GbfsFile
    const snap = snapshots.current()
    const base = gbfsBase(request)
    // A file that serves every language is one rendering for all.
    const rendering = isLocalized(file) ? r : { version: r.version }
    const key = `gbfs|${rendering.version}|${rendering.language ?? '*'}|${city.id}|${file}|${base}`
    const rendered = renderOnce(snap, key, () => body(JSON.stringify(gbfsFile(snap, city, file, rendering, { base, license, contactEmail }))))
    return send(request, reply, rendered, 'application/json; charset=utf-8', Math.min(maxAgeSeconds, GBFS_TTL[file]))
  }

  app.get(
    '/api/public/gbfs/manifest.json',
    {
      schema: {
        tags: [TAG],
        summary: 'GBFS 3.0 manifest: the bike-share system of every city, with the URLs of its 2.3 and 3.0 feeds',
        response: { 200: { description: 'GBFS manifest.json', content: { 'application/json': { schema: Anything } } }, 304: NotModified, ...errorResponses(429) },
      },
    },
    async (request, reply) => {
      const snap = snapshots.current()
      const base = gbfsBase(request)
      const r = renderOnce(snap, `gbfs|manifest|${base}`, () => body(JSON.stringify(gbfsManifest(snap, cities, base))))
      return send(request, reply as FastifyReply, r, 'application/json; charset=utf-8', Math.min(maxAgeSeconds, GBFS_TTL.manifest))
    },
  )

  app.get(
    '/api/public/gbfs/:city/:file',
    {
      schema: {
        tags: [TAG],
        summary: "GBFS 3.0 files of a city's bike-share system",
        description:
          "gbfs.json (discovery), gbfs_versions.json, system_information.json, station_information.json, station_status.json, from the city's bike docks; names in Italian and English. " +
          'A dock is renting and returning while it reports (a reading within its interval × 3). Each file carries last_updated and ttl. The same data as GBFS 2.3: /api/public/gbfs/2.3/{city}/gbfs.json.',
        params: Type.Object({ city: GbfsCity, file: fileParam(GBFS_FILES) }),
        response: GbfsFileResponse,
      },
    },
    async (request, reply) => sendGbfs(request, reply as FastifyReply, request.params.city, request.params.file, { version: '3.0' }),
  )

  const GLOBAL_FILES = GBFS_FILES.filter((f) => !isLocalized(f))
  app.get(
    '/api/public/gbfs/2.3/:city/:file',
    {
      schema: {
        tags: [TAG],
        summary: "GBFS 2.3 discovery and versions of a city's bike-share system",
        description:
          'gbfs.json: the feeds of each language (it, en), keyed by language as 2.3 requires; gbfs_versions.json: the 2.3 and 3.0 discovery URLs. ' +
          'The same data as GBFS 3.0 (/api/public/gbfs/{city}/gbfs.json), for consumers that read 2.3.',
        params: Type.Object({ city: GbfsCity, file: fileParam(GLOBAL_FILES) }),
        response: GbfsFileResponse,
      },
    },
    async (request, reply) => sendGbfs(request, reply as FastifyReply, request.params.city, request.params.file, { version: '2.3' }),
  )

  app.get(
    '/api/public/gbfs/2.3/:city/:language/:file',
    {
      schema: {
        tags: [TAG],
        summary: "GBFS 2.3 files of a city's bike-share system, in one language",
        description: 'system_information.json, station_information.json, station_status.json in Italian (it) or English (en): plain strings, POSIX times, num_bikes_available.',
        params: Type.Object({ city: GbfsCity, language: Type.Enum([...GBFS_LANGUAGES]), file: fileParam(GBFS_LOCALIZED_FILES) }),
        response: GbfsFileResponse,
      },
    },
    async (request, reply) => sendGbfs(request, reply as FastifyReply, request.params.city, request.params.file, { version: '2.3', language: request.params.language }),
  )

  // ---------------------------------------------------------------- parking

  const PARKING_FORMATS = ['json', 'csv', 'datex', 'ngsi-ld'] as const
  const PARKING_TYPES: Record<(typeof PARKING_FORMATS)[number], string> = {
    json: 'application/json; charset=utf-8',
    csv: 'text/csv; charset=utf-8; header=present',
    datex: 'application/xml; charset=utf-8',
    'ngsi-ld': 'application/ld+json; charset=utf-8',
  }

  app.get(
    '/api/public/parking',
    {
      schema: {
        tags: [TAG],
        summary: 'Free spaces per car park, as JSON, CSV, DATEX II or NGSI-LD',
        description:
          'Every active parking device: total and free spaces, occupancy (0–1), status (spacesAvailable, almostFull ≥ 90 %, full, unknown while silent for more than its interval × 3, then without counts). ' +
          '?format=datex: DATEX II v3 ParkingStatusPublication (XML); ?format=ngsi-ld: FIWARE OffStreetParking (OnStreetParking for devices with metadata parking=on-street) entities; ?format=csv.',
        querystring: Type.Object({ city: CityQuery, format: Type.Optional(Type.Enum([...PARKING_FORMATS])) }, { additionalProperties: false }),
        response: {
          200: {
            description: 'The car parks',
            content: {
              'application/json': { schema: ParkingResponseSchema },
              'text/csv': { schema: Type.String() },
              'application/xml': { schema: Type.String({ description: 'DATEX II v3 d2:payload' }) },
              'application/ld+json': { schema: Type.Array(Anything) },
            },
          },
          304: NotModified,
          ...errorResponses(400, 429),
        },
      },
    },
    async (request, reply) => {
      const format = request.query.format ?? 'json'
      const city = cityOr400(request.query.city)
      const snap = snapshots.current()
      const r = renderOnce(snap, `parking|${format}|${city?.id ?? '*'}`, () => {
        const parks = carParks(snap, city?.id)
        if (format === 'csv') return body(parkingCsv(parks))
        if (format === 'datex') return body(datexParkingStatus(parks, snap.at, license.attribution))
        if (format === 'ngsi-ld') return body(JSON.stringify(parks.map((p) => parkingEntity(p, license, findCity(p.city)?.name ?? p.city))))
        return body(JSON.stringify({ ...licenseFields(license), updated: new Date(snap.at).toISOString(), items: parks }))
      })
      if (format === 'csv') reply.header('content-disposition', `attachment; filename="piazza-parking${city ? `-${city.id}` : ''}.csv"`)
      return send(request, reply as FastifyReply, r, PARKING_TYPES[format], maxAgeSeconds)
    },
  )

  // ---------------------------------------------------------------- catalogue

  app.get(
    '/api/public/catalog',
    {
      schema: {
        tags: [TAG],
        summary: 'The open-data catalogue: every feed as a DCAT-AP_IT dataset (JSON-LD)',
        description: 'For harvesting by a regional CKAN: each dataset with its licence, update frequency, theme, publisher, contact point and distributions (access URL, format, media type).',
        response: { 200: { description: 'DCAT-AP_IT catalogue', content: { 'application/ld+json': { schema: Anything } } }, 304: NotModified, ...errorResponses(429) },
      },
    },
    async (request, reply) => {
      const doc = catalog({ base: origin(request), license, contactEmail, modified: new Date() })
      return send(request, reply as FastifyReply, body(JSON.stringify(doc)), 'application/ld+json; charset=utf-8', 300)
    },
  )
}
