import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { createRequire } from 'node:module'
import * as gbfsSuiteModule from 'gbfs-typescript-types/v3.0/test-type-checkers/gbfs-ti.ts'
import * as gbfsVersionsSuiteModule from 'gbfs-typescript-types/v3.0/test-type-checkers/gbfs_versions-ti.ts'
import * as manifestSuiteModule from 'gbfs-typescript-types/v3.0/test-type-checkers/manifest-ti.ts'
import * as stationInformationSuiteModule from 'gbfs-typescript-types/v3.0/test-type-checkers/station_information-ti.ts'
import * as stationStatusSuiteModule from 'gbfs-typescript-types/v3.0/test-type-checkers/station_status-ti.ts'
import * as systemInformationSuiteModule from 'gbfs-typescript-types/v3.0/test-type-checkers/system_information-ti.ts'
import jsonld from 'jsonld'
import { connect, type MqttClient } from 'mqtt'
import { createCheckers, type ITypeSuite } from 'ts-interface-checker'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { DeviceType } from '../../../devices/kinds.ts'
import { startTestApp, type TestApp } from '../../../testkit/test-app.ts'
import { FEEDS } from './catalog.ts'
import { GBFS_FILES } from './gbfs.ts'
import { rt } from './gtfs-rt.ts'
import { DATEX_NAMESPACES } from './parking.ts'

/**
 * The mobility feeds end to end: devices publish over real MQTT to the platform's broker, ingest
 * accepts, the live hub keeps the newest values, and the public routes answer from the mobility
 * snapshot. GTFS-Realtime answers are decoded with MobilityData's bindings.
 */

type Json = Record<string, any>
/** A checker module's type suite: its named exports (the generated `default` repeats them). */
const suiteOf = (module: object) => Object.fromEntries(Object.entries(module).filter(([k]) => k !== 'default')) as ITypeSuite
const gbfsSuite = suiteOf(gbfsSuiteModule)
const gbfsVersionsSuite = suiteOf(gbfsVersionsSuiteModule)
const manifestSuite = suiteOf(manifestSuiteModule)
const stationInformationSuite = suiteOf(stationInformationSuiteModule)
const stationStatusSuite = suiteOf(stationStatusSuiteModule)
const systemInformationSuite = suiteOf(systemInformationSuiteModule)

/**
 * GBFS 2.3 is checked with MobilityData's official JSON schemas as @entur/gbfs-validator ships
 * them (versions/schemas: a copy of MobilityData/gbfs-json-schema), through that package's own
 * validate function (ajv with ajv-formats and ajv-errors, as its validator runs them).
 */
const requireCjs = createRequire(import.meta.url)
type AjvError = { instancePath: string; keyword: string; message?: string; params: Record<string, unknown> }
type GbfsValidate = (schema: object, doc: unknown, options?: { addSchema?: object[] }) => { errors: false | AjvError[] }
const validateGbfs = requireCjs('@entur/gbfs-validator/validate.js') as GbfsValidate
const schema23 = (file: string) => requireCjs(`@entur/gbfs-validator/versions/schemas/v2.3/${file}.json`) as { $id: string }
/**
 * The official 2.3 gbfs_versions schema enumerates the versions that existed when it was written
 * (this copy: 1.1, 2.0, 2.1, 2.2 and "2.3-RC"; upstream later changed the last to "2.3"), so it
 * refuses "2.3" and "3.0", though the 2.3 specification asks only for "X.Y". This widens that one
 * enum, with the validator's own JSON-patch mechanism, and nothing else; a test below shows the
 * unpatched schema's only complaints about our gbfs_versions.json are that enum.
 */
const VERSIONS_ENUM = '/properties/data/properties/versions/items/properties/version/enum'
const versionsPatch = { $patch: { source: { $ref: schema23('gbfs_versions').$id }, with: [{ op: 'replace', path: VERSIONS_ENUM, value: ['1.1', '2.0', '2.1', '2.2', '2.3', '3.0'] }] } }
/** The official schema's errors for a 2.3 document (false when valid). */
const errors23 = (file: string, doc: unknown) => validateGbfs(schema23(file), doc, file === 'gbfs_versions' ? { addSchema: [versionsPatch] } : {}).errors

const FIRENZE = { lat: 43.7711, lon: 11.2486 }
const PISA = { lat: 43.7228, lon: 10.4017 }

describe('the mobility feeds', () => {
  let t: TestApp
  const clients: MqttClient[] = []
  const devices: Record<string, { id: string; secret: string }> = {}
  /** The `ts` of each device's latest reading sent. */
  const sentAt: Record<string, number> = {}

  async function add(key: string, type: DeviceType, city: string, name: string, interval: number, where = FIRENZE, metadata?: Record<string, string | number>) {
    const { device, secret } = await t.registry.add({ type, city, name, interval, lat: where.lat, lon: where.lon, metadata }, 'test')
    devices[key] = { id: device.id, secret }
    return device
  }

  /** Publishes one reading as the device, over MQTT with QoS 1 (resolves on PUBACK). */
  async function publish(key: string, reading: Record<string, number | string>) {
    const { id, secret } = devices[key]!
    const client = connect(`mqtt://127.0.0.1:${t.mqttPort}`, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000, clientId: id, username: id, password: secret })
    clients.push(client)
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve())
      client.once('error', reject)
    })
    const ts = Date.now()
    sentAt[key] = ts
    await client.publishAsync(`devices/${id}/telemetry`, JSON.stringify({ ts, ...reading }), { qos: 1 })
    await client.endAsync()
  }

  const get = (url: string, headers: Record<string, string> = {}) => t.app.inject({ method: 'GET', url, headers })
  const decode = (body: Buffer) => rt.FeedMessage.decode(body)
  const positions = async (query = '') => decode((await get(`/api/public/gtfs-rt/vehicle-positions${query}`)).rawPayload)
  const ids = (feed: { entity: { id: string }[] }) => feed.entity.map((e) => e.id).sort()

  /** Epoch seconds before the first reading: every snapshot the tests read was built after it. */
  let startedAt = 0

  beforeAll(async () => {
    startedAt = Math.floor(Date.now() / 1000)
    t = await startTestApp({ deps: { publicData: { rateLimit: { max: 10_000, exportMax: 10_000 }, contactEmail: 'mobilita@comune.example.it' } } })
    await add('bus14', 'bus', 'firenze', 'Bus 14 (vettura 3021)', 600)
    await add('bus23', 'bus', 'firenze', 'Bus 23', 600)
    await add('busPisa', 'bus', 'pisa', 'LAM Rossa', 600, PISA)
    await add('busQuick', 'bus', 'firenze', 'Navetta', 2)
    await add('busNever', 'bus', 'firenze', 'Bus mai sentito', 600)
    await publish('bus14', { route: '14', lat: 43.78, lon: 11.25, speed: 36, heading: 90, delay: 120 })
    await publish('bus23', { route: '23', lat: 43.76, lon: 11.24 })
    await publish('busPisa', { route: 'LAM-R', lat: 43.71, lon: 10.4, delay: -30 })
    await add('dockDuomo', 'bike-dock', 'firenze', 'Piazza del Duomo', 60)
    await add('dockSmn', 'bike-dock', 'firenze', 'Santa Maria Novella', 60, FIRENZE, { capacity: 20 })
    await add('dockNever', 'bike-dock', 'firenze', 'Fortezza', 60)
    await add('dockPisa', 'bike-dock', 'pisa', 'Stazione Centrale', 60, PISA)
    await add('parkFree', 'parking', 'firenze', 'Parcheggio Beccaria', 60)
    await add('parkAlmost', 'parking', 'firenze', 'Parcheggio S. Ambrogio', 60)
    await add('parkFull', 'parking', 'firenze', 'Parcheggio Parterre', 60, FIRENZE, { parking: 'on-street' })
    await add('parkNever', 'parking', 'firenze', 'Parcheggio <Oltrarno> & "Porta Romana"', 60)
    await add('parkPisa', 'parking', 'pisa', 'Parcheggio Pietrasantina', 60, PISA)
    await publish('dockDuomo', { availableBikeNumber: 7, freeSlotNumber: 5 })
    await publish('dockSmn', { availableBikeNumber: 3, freeSlotNumber: 15 })
    await publish('dockPisa', { availableBikeNumber: 0, freeSlotNumber: 10 })
    await publish('parkFree', { availableSpotNumber: 150, totalSpotNumber: 200 })
    await publish('parkAlmost', { availableSpotNumber: 5, totalSpotNumber: 100 })
    await publish('parkFull', { availableSpotNumber: 0, totalSpotNumber: 40 })
    await publish('parkPisa', { availableSpotNumber: 30, totalSpotNumber: 60 })
    await vi.waitFor(
      async () => {
        const body = (await get('/api/public/parking')).json() as Json
        expect(body.items.filter((p: Json) => p.status !== 'unknown')).toHaveLength(4)
        const status = (await get('/api/public/gbfs/firenze/station_status.json')).json() as Json
        expect(status.data.stations.filter((s: Json) => s.is_renting)).toHaveLength(2)
      },
      { timeout: 30_000, interval: 100 },
    )
    await vi.waitFor(async () => expect(ids(await positions())).toEqual([devices.bus14!.id, devices.bus23!.id, devices.busPisa!.id].sort()), { timeout: 30_000, interval: 100 })
  })

  afterAll(async () => {
    for (const c of clients) c.end(true)
    await t?.cleanup()
  })

  describe('GTFS-Realtime', () => {
    it('serves VehiclePositions as protobuf: header, FULL_DATASET, one entity per bus with position, speed, bearing, route', async () => {
      // The feed's timestamp is its snapshot's, built when the data last changed (maybe seconds ago on a busy machine).
      const before = startedAt
      const response = await get('/api/public/gtfs-rt/vehicle-positions')
      expect(response.statusCode).toBe(200)
      expect(response.headers['content-type']).toBe('application/x-protobuf')
      expect(response.headers['x-gtfs-static']).toMatch(/^none/)
      expect(response.headers.link).toMatch(/rel="license"/)
      expect(response.headers['x-ratelimit-limit']).toBe('10000')
      const feed = decode(response.rawPayload)
      expect(feed.header.gtfsRealtimeVersion).toBe('2.0')
      expect(feed.header.incrementality).toBe(rt.FeedHeader.Incrementality.FULL_DATASET)
      expect(Number(feed.header.timestamp)).toBeGreaterThanOrEqual(before)
      expect(Number(feed.header.timestamp)).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000))
      const bus14 = feed.entity.find((e) => e.id === devices.bus14!.id)!
      expect(bus14.vehicle!.vehicle).toMatchObject({ id: devices.bus14!.id, label: 'Bus 14 (vettura 3021)' })
      expect(bus14.vehicle!.trip!.routeId).toBe('14')
      expect(bus14.vehicle!.trip!.tripId).toBe('')
      expect(bus14.vehicle!.position!.latitude).toBeCloseTo(43.78, 4)
      expect(bus14.vehicle!.position!.longitude).toBeCloseTo(11.25, 4)
      expect(bus14.vehicle!.position!.speed).toBeCloseTo(10, 4)
      expect(bus14.vehicle!.position!.bearing).toBe(90)
      // The reading's own time (sent in beforeAll, which may have taken a while on a busy machine).
      expect(Number(bus14.vehicle!.timestamp)).toBe(Math.floor(sentAt.bus14! / 1000))
      const bus23 = feed.entity.find((e) => e.id === devices.bus23!.id)!
      expect(bus23.vehicle!.trip!.routeId).toBe('23')
      // Not reported: absent from the message, not zero.
      expect(rt.VehiclePosition.toObject(bus23.vehicle as never).position).toEqual({ latitude: expect.closeTo(43.76, 4), longitude: expect.closeTo(11.24, 4) })
    })

    it('serves the same feed as JSON with ?format=json, readable by the bindings, and says there is no static GTFS', async () => {
      const response = await get('/api/public/gtfs-rt/vehicle-positions?format=json')
      expect(response.statusCode).toBe(200)
      expect(response.headers['content-type']).toBe('application/json; charset=utf-8')
      const body = response.json() as Json
      expect(body.header).toMatchObject({ gtfsRealtimeVersion: '2.0', incrementality: 'FULL_DATASET', timestamp: expect.any(Number) })
      expect(body.piazza).toEqual({ staticGtfs: false, note: expect.stringMatching(/route_id only/) })
      const feed = rt.FeedMessage.fromObject(body)
      expect(ids(feed)).toEqual(ids(await positions()))
      expect(body.entity.find((e: Json) => e.id === devices.busPisa!.id).vehicle.trip).toEqual({ routeId: 'LAM-R' })
    })

    it('serves TripUpdates with each reporting bus’s delay; buses without a delay are left out', async () => {
      const response = await get('/api/public/gtfs-rt/trip-updates')
      expect(response.statusCode).toBe(200)
      const feed = decode(response.rawPayload)
      expect(feed.header.incrementality).toBe(rt.FeedHeader.Incrementality.FULL_DATASET)
      const delays = Object.fromEntries(feed.entity.map((e) => [e.id, [e.tripUpdate!.delay, e.tripUpdate!.trip.routeId, e.tripUpdate!.vehicle!.id]]))
      expect(delays).toEqual({
        [devices.bus14!.id]: [120, '14', devices.bus14!.id],
        [devices.busPisa!.id]: [-30, 'LAM-R', devices.busPisa!.id],
      })
      const json = (await get('/api/public/gtfs-rt/trip-updates?format=json')).json() as Json
      expect(json.entity.map((e: Json) => e.tripUpdate.delay).sort()).toEqual([-30, 120])
    })

    it('filters by city and refuses unknown cities and formats', async () => {
      expect(ids(await positions('?city=Pisa'))).toEqual([devices.busPisa!.id])
      expect(ids(await positions('?city=siena'))).toEqual([])
      const bad = await get('/api/public/gtfs-rt/vehicle-positions?city=atlantis')
      expect(bad.statusCode).toBe(400)
      expect((bad.json() as Json).error.message).toMatch(/unknown city 'atlantis'/)
      expect((await get('/api/public/gtfs-rt/trip-updates?format=xml')).statusCode).toBe(400)
    })

    it('keeps entity ids stable as a bus moves, and leaves out a bus silent for longer than 3 intervals', async () => {
      await publish('busQuick', { route: 'N1', lat: 43.77, lon: 11.26 })
      await vi.waitFor(async () => expect(ids(await positions())).toContain(devices.busQuick!.id), { timeout: 30_000, interval: 100 })
      await publish('bus14', { route: '14', lat: 43.79, lon: 11.26, delay: 180 })
      await vi.waitFor(
        async () => {
          const bus14 = (await positions()).entity.find((e) => e.id === devices.bus14!.id)
          expect(bus14?.vehicle!.position!.latitude).toBeCloseTo(43.79, 4)
        },
        { timeout: 30_000, interval: 100 },
      )
      // busQuick reports every 2 s: after 6 s without a reading it is no longer in the feed; the others stay.
      await vi.waitFor(async () => expect(ids(await positions())).toEqual([devices.bus14!.id, devices.bus23!.id, devices.busPisa!.id].sort()), { timeout: 30_000, interval: 200 })
      const updates = decode((await get('/api/public/gtfs-rt/trip-updates')).rawPayload)
      expect(updates.entity.find((e) => e.id === devices.bus14!.id)!.tripUpdate!.delay).toBe(180)
    })
  })

  describe('GBFS 3.0', () => {
    const check = (suite: ITypeSuite, name: string, doc: unknown) => createCheckers(suite)[name]!.strictCheck(doc)
    const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/
    const path = (url: string) => new URL(url).pathname

    it('publishes a manifest of every city’s system, valid against MobilityData’s GBFS 3.0 definitions', async () => {
      const response = await get('/api/public/gbfs/manifest.json')
      expect(response.statusCode).toBe(200)
      const manifest = response.json() as Json
      check(manifestSuite, 'Manifest', manifest)
      expect(manifest).toMatchObject({ version: '3.0', ttl: 60, last_updated: expect.stringMatching(RFC3339) })
      const firenze = manifest.data.datasets.find((d: Json) => d.system_id === 'piazza-firenze')
      expect(firenze.versions).toEqual([
        { version: '2.3', url: 'http://localhost:80/api/public/gbfs/2.3/firenze/gbfs.json' },
        { version: '3.0', url: 'http://localhost:80/api/public/gbfs/firenze/gbfs.json' },
      ])
    })

    it("serves a city's gbfs.json whose every listed file exists and validates", async () => {
      const discovery = (await get('/api/public/gbfs/firenze/gbfs.json')).json() as Json
      check(gbfsSuite, 'Gbfs', discovery)
      expect(discovery.data.feeds.map((f: Json) => f.name)).toEqual(['gbfs', 'gbfs_versions', 'system_information', 'station_information', 'station_status'])
      const suites: Record<string, [ITypeSuite, string]> = {
        gbfs: [gbfsSuite, 'Gbfs'],
        gbfs_versions: [gbfsVersionsSuite, 'GbfsVersions'],
        system_information: [systemInformationSuite, 'SystemInformation'],
        station_information: [stationInformationSuite, 'StationInformation'],
        station_status: [stationStatusSuite, 'StationStatus'],
      }
      for (const feed of discovery.data.feeds as Json[]) {
        const response = await get(path(feed.url))
        expect(response.statusCode, feed.url).toBe(200)
        const doc = response.json() as Json
        const [suite, name] = suites[feed.name]!
        check(suite, name, doc)
        expect(doc.version).toBe('3.0')
        expect(doc.last_updated).toMatch(RFC3339)
        expect(doc.ttl).toBeGreaterThan(0)
      }
    })

    it('the checkers refuse a broken document (so the checks above can fail)', async () => {
      const status = (await get('/api/public/gbfs/firenze/station_status.json')).json() as Json
      const [first, ...rest] = status.data.stations as Json[]
      const { station_id: _, ...withoutId } = first!
      expect(() => check(stationStatusSuite, 'StationStatus', { ...status, data: { stations: [withoutId, ...rest] } })).toThrow(/station_id/)
      expect(() => check(stationStatusSuite, 'StationStatus', { ...status, data: { stations: [{ ...first, num_vehicles_available: '7' }, ...rest] } })).toThrow(/num_vehicles_available/)
      const discovery = (await get('/api/public/gbfs/firenze/gbfs.json')).json() as Json
      expect(() => check(gbfsSuite, 'Gbfs', { ...discovery, ttl: undefined })).toThrow(/ttl/)
    })

    it('describes the system in Italian and English, with contact, timezone and licence', async () => {
      const info = (await get('/api/public/gbfs/firenze/system_information.json')).json() as Json
      expect(info.data).toMatchObject({
        system_id: 'piazza-firenze',
        languages: ['it', 'en'],
        name: [
          { language: 'it', text: 'Bike sharing di Firenze' },
          { language: 'en', text: 'Firenze bike share' },
        ],
        feed_contact_email: 'mobilita@comune.example.it',
        timezone: 'Europe/Rome',
        opening_hours: '24/7',
        license_id: 'CC-BY-4.0',
      })
      // GBFS 3.0 allows license_id or license_url, never both (the official schema's `oneOf`; the generated checkers cannot say it).
      expect(info.data.license_url).toBeUndefined()
    })

    it('lists the docks with their capacity, and their bikes and free docks; a dock never heard from is not renting', async () => {
      const stations = ((await get('/api/public/gbfs/firenze/station_information.json')).json() as Json).data.stations as Json[]
      expect(stations.map((s) => s.station_id).sort()).toEqual([devices.dockDuomo!.id, devices.dockSmn!.id, devices.dockNever!.id].sort())
      const byId = Object.fromEntries(stations.map((s) => [s.station_id, s]))
      expect(byId[devices.dockDuomo!.id]).toEqual({ station_id: devices.dockDuomo!.id, name: [{ text: 'Piazza del Duomo', language: 'it' }, { text: 'Piazza del Duomo', language: 'en' }], lat: FIRENZE.lat, lon: FIRENZE.lon, capacity: 12 })
      expect(byId[devices.dockSmn!.id].capacity).toBe(20)
      expect(byId[devices.dockNever!.id].capacity).toBeUndefined()
      const status = ((await get('/api/public/gbfs/firenze/station_status.json')).json() as Json).data.stations as Json[]
      const now = Object.fromEntries(status.map((s) => [s.station_id, s]))
      expect(now[devices.dockDuomo!.id]).toMatchObject({ num_vehicles_available: 7, num_docks_available: 5, is_installed: true, is_renting: true, is_returning: true })
      expect(now[devices.dockSmn!.id]).toMatchObject({ num_vehicles_available: 3, num_docks_available: 15 })
      expect(now[devices.dockNever!.id]).toMatchObject({ num_vehicles_available: 0, is_renting: false, is_returning: false })
      const pisa = ((await get('/api/public/gbfs/pisa/station_status.json')).json() as Json).data.stations as Json[]
      expect(pisa.map((s) => [s.station_id, s.num_vehicles_available, s.num_docks_available])).toEqual([[devices.dockPisa!.id, 0, 10]])
    })

    it('answers 404 for an unknown city and 400 for an unknown file', async () => {
      const unknown = await get('/api/public/gbfs/atlantis/gbfs.json')
      expect(unknown.statusCode).toBe(404)
      expect((unknown.json() as Json).error.code).toBe('not-found')
      expect((await get('/api/public/gbfs/firenze/free_bike_status.json')).statusCode).toBe(400)
    })
  })

  describe('GBFS 2.3, validated against MobilityData’s official JSON schemas', () => {
    const path = (url: string) => new URL(url).pathname
    const fetchJson = async (url: string) => {
      const response = await get(path(url))
      expect(response.statusCode, url).toBe(200)
      return response.json() as Json
    }

    it('serves every file of every city’s 2.3 feed, each valid against the official 2.3 schema of its kind', async () => {
      const validated = new Map<string, number>()
      for (const city of ['firenze', 'pisa']) {
        const discovery = await fetchJson(`http://localhost/api/public/gbfs/2.3/${city}/gbfs.json`)
        expect(errors23('gbfs', discovery)).toBe(false)
        expect(discovery).toMatchObject({ version: '2.3', ttl: 60 })
        // 2.3 keys the feeds by language; each language lists every file.
        expect(Object.keys(discovery.data)).toEqual(['it', 'en'])
        const urls = new Map<string, string>()
        for (const language of ['it', 'en']) {
          const feeds = discovery.data[language].feeds as Json[]
          expect(feeds.map((f) => f.name)).toEqual([...GBFS_FILES])
          for (const feed of feeds) urls.set(feed.url, feed.name)
        }
        // gbfs and gbfs_versions serve both languages; the three others are one per language.
        expect(urls.size).toBe(2 + 3 * 2)
        for (const [url, name] of urls) {
          const doc = await fetchJson(url)
          expect(errors23(name, doc), `${url}: ${JSON.stringify(errors23(name, doc))}`).toBe(false)
          expect(doc.version).toBe('2.3')
          expect(Number.isInteger(doc.last_updated)).toBe(true)
          expect(doc.last_updated).toBeGreaterThanOrEqual(startedAt)
          expect(doc.last_updated).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000))
          validated.set(name, (validated.get(name) ?? 0) + 1)
        }
      }
      expect(Object.fromEntries(validated)).toEqual({ gbfs: 2, gbfs_versions: 2, system_information: 4, station_information: 4, station_status: 4 })
    })

    it('says the same as the 3.0 feed, in 2.3’s words: one language per file, plain strings, POSIX seconds, num_bikes_available', async () => {
      const it23 = await fetchJson('http://localhost/api/public/gbfs/2.3/firenze/it/system_information.json')
      const en23 = await fetchJson('http://localhost/api/public/gbfs/2.3/firenze/en/system_information.json')
      expect(it23.data).toEqual({
        system_id: 'piazza-firenze',
        language: 'it',
        name: 'Bike sharing di Firenze',
        feed_contact_email: 'mobilita@comune.example.it',
        timezone: 'Europe/Rome',
        license_url: 'https://creativecommons.org/licenses/by/4.0/',
      })
      expect(en23.data).toMatchObject({ language: 'en', name: 'Firenze bike share' })

      const info23 = (await fetchJson('http://localhost/api/public/gbfs/2.3/firenze/en/station_information.json')).data.stations as Json[]
      const info30 = ((await get('/api/public/gbfs/firenze/station_information.json')).json() as Json).data.stations as Json[]
      expect(info23).toEqual(info30.map((s) => ({ ...s, name: s.name[0].text })))
      expect(info23.find((s) => s.station_id === devices.dockDuomo!.id)).toEqual({ station_id: devices.dockDuomo!.id, name: 'Piazza del Duomo', lat: FIRENZE.lat, lon: FIRENZE.lon, capacity: 12 })

      const status23 = (await fetchJson('http://localhost/api/public/gbfs/2.3/firenze/it/station_status.json')).data.stations as Json[]
      const byId = Object.fromEntries(status23.map((s) => [s.station_id, s]))
      expect(byId[devices.dockDuomo!.id]).toEqual({
        station_id: devices.dockDuomo!.id,
        num_bikes_available: 7,
        num_docks_available: 5,
        is_installed: true,
        is_renting: true,
        is_returning: true,
        last_reported: Math.floor(sentAt.dockDuomo! / 1000),
      })
      expect(byId[devices.dockNever!.id]).toMatchObject({ num_bikes_available: 0, is_renting: false, is_returning: false })
      // Same counts and flags as 3.0's, field for field.
      const status30 = ((await get('/api/public/gbfs/firenze/station_status.json')).json() as Json).data.stations as Json[]
      const counts = (s: Json) => [s.station_id, s.num_bikes_available ?? s.num_vehicles_available, s.num_docks_available, s.is_renting, s.is_returning]
      expect(status23.map(counts)).toEqual(status30.map(counts))
      expect(status30.map((s) => Date.parse(s.last_reported) / 1000)).toEqual(status23.map((s) => s.last_reported))
    })

    it('lists both versions in gbfs_versions.json of both feeds, and each listed discovery file answers', async () => {
      const v23 = await fetchJson('http://localhost/api/public/gbfs/2.3/firenze/gbfs_versions.json')
      const v30 = (await get('/api/public/gbfs/firenze/gbfs_versions.json')).json() as Json
      createCheckers(gbfsVersionsSuite).GbfsVersions!.strictCheck(v30)
      const expected = [
        { version: '2.3', url: 'http://localhost:80/api/public/gbfs/2.3/firenze/gbfs.json' },
        { version: '3.0', url: 'http://localhost:80/api/public/gbfs/firenze/gbfs.json' },
      ]
      expect(v23.data.versions).toEqual(expected)
      expect(v30.data.versions).toEqual(expected)
      expect(v30).toMatchObject({ version: '3.0', last_updated: expect.stringMatching(/Z$/) })
      for (const { url, version } of expected) expect((await fetchJson(url)).version).toBe(version)
    })

    it('the official schemas refuse broken documents (so the validation above can fail)', async () => {
      const status = await fetchJson('http://localhost/api/public/gbfs/2.3/firenze/it/station_status.json')
      const [first, ...rest] = status.data.stations as Json[]
      const stringCount = errors23('station_status', { ...status, data: { stations: [{ ...first, num_bikes_available: '7' }, ...rest] } })
      expect(stringCount).toContainEqual(expect.objectContaining({ instancePath: '/data/stations/0/num_bikes_available', keyword: 'type' }))
      // A 3.0 station in a 2.3 file: no num_bikes_available, an RFC 3339 last_reported.
      const { num_bikes_available: bikes, ...rest30 } = first!
      const as30 = { ...rest30, num_vehicles_available: bikes, last_reported: new Date(first!.last_reported * 1000).toISOString() }
      const wrongVersion = errors23('station_status', { ...status, data: { stations: [as30] } }) as AjvError[]
      expect(wrongVersion.map((e) => [e.instancePath, e.keyword])).toEqual(expect.arrayContaining([['/data/stations/0', 'required'], ['/data/stations/0/last_reported', 'type']]))
      // 3.0's gbfs.json shape (one feeds list, not keyed by language) and a system without its language.
      const discovery = await fetchJson('http://localhost/api/public/gbfs/2.3/firenze/gbfs.json')
      expect(errors23('gbfs', { ...discovery, data: { feeds: discovery.data.it.feeds } })).not.toBe(false)
      const info = await fetchJson('http://localhost/api/public/gbfs/2.3/firenze/it/system_information.json')
      const { language: _, ...withoutLanguage } = info.data
      expect(errors23('system_information', { ...info, data: withoutLanguage })).toContainEqual(expect.objectContaining({ keyword: 'required', params: { missingProperty: 'language' } }))
      // The unpatched gbfs_versions schema: its only complaint is the version enum (see versionsPatch).
      const versions = await fetchJson('http://localhost/api/public/gbfs/2.3/firenze/gbfs_versions.json')
      const unpatched = validateGbfs(schema23('gbfs_versions'), versions).errors as AjvError[]
      expect(unpatched.map((e) => [e.instancePath, e.keyword])).toEqual([
        ['/data/versions/0/version', 'enum'],
        ['/data/versions/1/version', 'enum'],
      ])
      expect(errors23('gbfs_versions', { ...versions, data: { versions: [{ version: '2.4', url: 'http://localhost/x' }] } })).not.toBe(false)
    })

    it('is cached and rate-limited like the other feeds; refuses unknown cities, languages and files', async () => {
      const url = '/api/public/gbfs/2.3/firenze/en/station_status.json'
      const first = await get(url)
      expect(first.headers['cache-control']).toBe('public, max-age=5')
      expect(first.headers['x-ratelimit-limit']).toBe('10000')
      expect(first.headers.link).toMatch(/rel="license"/)
      const etag = first.headers.etag as string
      expect(etag).toMatch(/^"/)
      await vi.waitFor(async () => {
        // Same snapshot → same body → 304 (a new snapshot may come with a newer last_updated: ask again).
        const again = await get(url)
        expect((await get(url, { 'if-none-match': again.headers.etag as string })).statusCode).toBe(304)
      })
      expect((await get('/api/public/gbfs/2.3/firenze/gbfs_versions.json')).headers['cache-control']).toBe('public, max-age=5')
      const unknown = await get('/api/public/gbfs/2.3/atlantis/gbfs.json')
      expect(unknown.statusCode).toBe(404)
      expect((unknown.json() as Json).error.message).toMatch(/no bike-share system for 'atlantis'/)
      expect((await get('/api/public/gbfs/2.3/firenze/de/station_status.json')).statusCode).toBe(400)
      // A per-language file asked without its language, and a file 2.3 has but Piazza does not serve.
      expect((await get('/api/public/gbfs/2.3/firenze/station_status.json')).statusCode).toBe(400)
      expect((await get('/api/public/gbfs/2.3/firenze/it/free_bike_status.json')).statusCode).toBe(400)
    })
  })

  describe('parking', () => {
    it('answers JSON: counts, occupancy and status per car park; unknown and without counts before the first reading', async () => {
      const response = await get('/api/public/parking?city=firenze')
      expect(response.statusCode).toBe(200)
      const body = response.json() as Json
      expect(body.license.id).toBe('CC-BY-4.0')
      const byId = Object.fromEntries((body.items as Json[]).map((p) => [p.id, p]))
      expect(Object.keys(byId).sort()).toEqual([devices.parkFree!.id, devices.parkAlmost!.id, devices.parkFull!.id, devices.parkNever!.id].sort())
      expect(byId[devices.parkFree!.id]).toMatchObject({ status: 'spacesAvailable', totalSpotNumber: 200, availableSpotNumber: 150, occupancy: 0.25, kind: 'off-street', observedAt: expect.any(String) })
      expect(byId[devices.parkAlmost!.id]).toMatchObject({ status: 'almostFull', occupancy: 0.95 })
      expect(byId[devices.parkFull!.id]).toMatchObject({ status: 'full', availableSpotNumber: 0, kind: 'on-street' })
      expect(byId[devices.parkNever!.id]).toMatchObject({ status: 'unknown', totalSpotNumber: null, availableSpotNumber: null, occupancy: null, observedAt: null })
    })

    it('answers CSV with a header row', async () => {
      const response = await get('/api/public/parking?format=csv&city=pisa')
      expect(response.headers['content-type']).toBe('text/csv; charset=utf-8; header=present')
      const rows = response.body.trim().split('\r\n').map((l) => l.split(','))
      expect(rows[0]).toEqual(['id', 'name', 'city', 'lat', 'lon', 'kind', 'status', 'total_spots', 'available_spots', 'occupancy', 'observed_at'])
      expect(rows.slice(1).map((r) => [r[0], r[2], r[6], r[7], r[8], r[9]])).toEqual([[devices.parkPisa!.id, 'pisa', 'spacesAvailable', '60', '30', '0.5']])
    })

    it('answers a DATEX II v3 ParkingStatusPublication: well-formed, namespaced, one ParkingSiteStatus per car park in the standard’s element order', async () => {
      const response = await get('/api/public/parking?format=datex&city=firenze')
      expect(response.headers['content-type']).toBe('application/xml; charset=utf-8')
      expect(XMLValidator.validate(response.body)).toBe(true)
      const ordered = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', preserveOrder: true }).parse(response.body) as Json[]
      const payload = ordered.find((n) => 'd2:payload' in n)!
      expect(payload[':@']).toMatchObject({
        '@xmlns:d2': DATEX_NAMESPACES.d2,
        '@xmlns:com': DATEX_NAMESPACES.com,
        '@xmlns:prk': DATEX_NAMESPACES.prk,
        '@xsi:type': 'prk:ParkingStatusPublication',
        '@lang': 'it',
        '@modelBaseVersion': '3',
      })
      const children = payload['d2:payload'] as Json[]
      const names = (nodes: Json[]) => nodes.map((n) => Object.keys(n).find((k) => k !== ':@'))
      // PayloadPublication first (publicationTime, publicationCreator), then the records.
      expect(names(children)).toEqual(['com:publicationTime', 'com:publicationCreator', ...Array(4).fill('prk:parkingRecordStatus')])
      const records = children.filter((n) => 'prk:parkingRecordStatus' in n)
      expect(records.map((r) => r[':@']['@xsi:type'])).toEqual(Array(4).fill('prk:ParkingSiteStatus'))
      const withCounts = records.map((r) => names(r['prk:parkingRecordStatus']))
      expect(withCounts).toContainEqual(['prk:parkingRecordReference', 'prk:parkingStatusOriginTime', 'prk:parkingOccupancy', 'prk:parkingSiteStatus'])
      expect(withCounts).toContainEqual(['prk:parkingRecordReference', 'prk:parkingStatusOriginTime', 'prk:parkingSiteStatus'])

      const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@' }).parse(response.body) as Json
      const byId = Object.fromEntries((doc['d2:payload']['prk:parkingRecordStatus'] as Json[]).map((r) => [r['prk:parkingRecordReference']['@id'], r]))
      expect(byId[devices.parkFree!.id]['prk:parkingRecordReference']).toMatchObject({ '@targetClass': 'prk:ParkingRecord', '@version': '1' })
      expect(byId[devices.parkFree!.id]['prk:parkingOccupancy']).toEqual({ 'prk:parkingNumberOfVacantSpaces': 150, 'prk:parkingNumberOfOccupiedSpaces': 50, 'prk:parkingOccupancy': 25 })
      expect(byId[devices.parkFull!.id]['prk:parkingSiteStatus']).toBe('full')
      expect(byId[devices.parkAlmost!.id]['prk:parkingSiteStatus']).toBe('almostFull')
      expect(byId[devices.parkNever!.id]['prk:parkingSiteStatus']).toBe('unknown')
      expect(doc['d2:payload']['com:publicationCreator']).toEqual({ 'com:country': 'it', 'com:nationalIdentifier': expect.any(String) })
      expect(Date.parse(doc['d2:payload']['com:publicationTime'])).toBeGreaterThan(0)
    })

    it('answers FIWARE OffStreetParking / OnStreetParking NGSI-LD entities', async () => {
      const response = await get('/api/public/parking?format=ngsi-ld&city=firenze')
      expect(response.headers['content-type']).toBe('application/ld+json; charset=utf-8')
      const entities = response.json() as Json[]
      const byId = Object.fromEntries(entities.map((e) => [e.id, e]))
      const free = byId[`urn:ngsi-ld:OffStreetParking:${devices.parkFree!.id}`]
      expect(free).toMatchObject({
        type: 'OffStreetParking',
        availableSpotNumber: { type: 'Property', value: 150, observedAt: expect.any(String) },
        totalSpotNumber: { type: 'Property', value: 200 },
        occupancy: { type: 'Property', value: 0.25 },
        status: { type: 'Property', value: ['spacesAvailable'] },
        location: { type: 'GeoProperty', value: { type: 'Point', coordinates: [FIRENZE.lon, FIRENZE.lat] } },
      })
      expect(free['@context']).toEqual([expect.stringMatching(/dataModel\.Parking/), expect.stringMatching(/ngsi-ld-core-context/)])
      expect(byId[`urn:ngsi-ld:OnStreetParking:${devices.parkFull!.id}`].type).toBe('OnStreetParking')
      const never = byId[`urn:ngsi-ld:OffStreetParking:${devices.parkNever!.id}`]
      expect(never.availableSpotNumber).toBeUndefined()
      expect(never.name.value).toBe('Parcheggio <Oltrarno> & "Porta Romana"')
    })
  })

  describe('the open-data catalogue', () => {
    it('is DCAT-AP_IT JSON-LD: expands, lists every feed with licence, frequency, theme and distributions that answer', async () => {
      const response = await get('/api/public/catalog')
      expect(response.statusCode).toBe(200)
      expect(response.headers['content-type']).toBe('application/ld+json; charset=utf-8')
      const expanded = (await jsonld.expand(response.json() as Json)) as Json[]
      const DCAT = 'http://www.w3.org/ns/dcat#'
      const DCT = 'http://purl.org/dc/terms/'
      const DCATAPIT = 'http://dati.gov.it/onto/dcatapit#'
      const typed = (type: string) => expanded.filter((n) => (n['@type'] as string[] | undefined)?.includes(type))
      const [cat] = typed(`${DCAT}Catalog`)
      expect(cat!['@type']).toContain(`${DCATAPIT}Catalog`)
      const datasets = typed(`${DCAT}Dataset`)
      expect(datasets).toHaveLength(FEEDS.length)
      expect(cat![`${DCAT}dataset`].map((d: Json) => d['@id']).sort()).toEqual(datasets.map((d) => d['@id']).sort())
      const ids = datasets.map((d) => d[`${DCT}identifier`][0]['@value'])
      expect(ids).toEqual(expect.arrayContaining(['piazza:gtfs-rt-vehicle-positions', 'piazza:gtfs-rt-trip-updates', 'piazza:gbfs', 'piazza:parking', 'piazza:air-quality-now']))
      for (const d of datasets) {
        expect(d['@type']).toContain(`${DCATAPIT}Dataset`)
        expect(d[`${DCT}title`].map((t: Json) => t['@language']).sort()).toEqual(['en', 'it'])
        expect(d[`${DCT}accrualPeriodicity`][0]['@id']).toMatch(/^http:\/\/publications\.europa\.eu\/resource\/authority\/frequency\/(UPDATE_CONT|HOURLY)$/)
        expect(d[`${DCAT}theme`][0]['@id']).toMatch(/data-theme\/(TRAN|ENVI)$/)
        expect(d[`${DCT}rightsHolder`][0]['@id']).toEqual(expect.any(String))
        expect(d[`${DCAT}contactPoint`][0]['@id']).toEqual(expect.any(String))
        const distributions = d[`${DCAT}distribution`] as Json[]
        expect(distributions.length).toBeGreaterThan(0)
        for (const dist of distributions) {
          expect(dist[`${DCT}license`][0]['@id']).toBe('https://creativecommons.org/licenses/by/4.0/')
          expect(dist[`${DCT}format`][0]['@id']).toMatch(/file-type\/[A-Z_]+$/)
          const url = dist[`${DCAT}accessURL`][0]['@id'] as string
          const answer = await get(new URL(url).pathname + new URL(url).search)
          expect(answer.statusCode, url).toBe(200)
        }
      }
      const [contact] = typed('http://www.w3.org/2006/vcard/ns#Organization')
      expect(contact!['http://www.w3.org/2006/vcard/ns#hasEmail'][0]['@id']).toBe('mailto:mobilita@comune.example.it')
    })
  })
})
