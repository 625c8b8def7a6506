import { connect, type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { DeviceType } from '../../../devices/kinds.ts'
import { startTestApp, type TestApp } from '../../../testkit/test-app.ts'
import { rt } from './gtfs-rt.ts'

/**
 * The mobility feeds end to end: devices publish over real MQTT to the platform's broker, ingest
 * accepts, the live hub keeps the newest values, and the public routes answer from the mobility
 * snapshot. GTFS-Realtime answers are decoded with MobilityData's bindings.
 */

type Json = Record<string, any>
const FIRENZE = { lat: 43.7711, lon: 11.2486 }
const PISA = { lat: 43.7228, lon: 10.4017 }

describe('the mobility feeds', () => {
  let t: TestApp
  const clients: MqttClient[] = []
  const devices: Record<string, { id: string; secret: string }> = {}

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
    await client.publishAsync(`devices/${id}/telemetry`, JSON.stringify({ ts: Date.now(), ...reading }), { qos: 1 })
    await client.endAsync()
  }

  const get = (url: string, headers: Record<string, string> = {}) => t.app.inject({ method: 'GET', url, headers })
  const decode = (body: Buffer) => rt.FeedMessage.decode(body)
  const positions = async (query = '') => decode((await get(`/api/public/gtfs-rt/vehicle-positions${query}`)).rawPayload)
  const ids = (feed: { entity: { id: string }[] }) => feed.entity.map((e) => e.id).sort()

  beforeAll(async () => {
    t = await startTestApp({ deps: { publicData: { rateLimit: { max: 10_000, exportMax: 10_000 }, contactEmail: 'mobilita@comune.example.it' } } })
    await add('bus14', 'bus', 'firenze', 'Bus 14 (vettura 3021)', 600)
    await add('bus23', 'bus', 'firenze', 'Bus 23', 600)
    await add('busPisa', 'bus', 'pisa', 'LAM Rossa', 600, PISA)
    await add('busQuick', 'bus', 'firenze', 'Navetta', 2)
    await add('busNever', 'bus', 'firenze', 'Bus mai sentito', 600)
    await publish('bus14', { route: '14', lat: 43.78, lon: 11.25, speed: 36, heading: 90, delay: 120 })
    await publish('bus23', { route: '23', lat: 43.76, lon: 11.24 })
    await publish('busPisa', { route: 'LAM-R', lat: 43.71, lon: 10.4, delay: -30 })
    await vi.waitFor(async () => expect(ids(await positions())).toEqual([devices.bus14!.id, devices.bus23!.id, devices.busPisa!.id].sort()), { timeout: 30_000, interval: 100 })
  })

  afterAll(async () => {
    for (const c of clients) c.end(true)
    await t?.cleanup()
  })

  describe('GTFS-Realtime', () => {
    it('serves VehiclePositions as protobuf: header, FULL_DATASET, one entity per bus with position, speed, bearing, route', async () => {
      const before = Math.floor(Date.now() / 1000) - 2
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
      expect(Number(bus14.vehicle!.timestamp)).toBeGreaterThanOrEqual(before)
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
})
