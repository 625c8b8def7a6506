import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { gtfsTime, gtfsZip, minimalGtfs } from '../../../testkit/gtfs-zip.ts'
import { ADMIN_PASSWORD, startTestApp, type TestApp } from '../../../testkit/test-app.ts'
import { rt } from './gtfs-rt.ts'

/**
 * Static GTFS end to end: an admin uploads a city's zip (an installer may not; a broken one is
 * refused with the file and line), a bus tracker reports over real MQTT, and the GTFS-Realtime
 * feeds, decoded with MobilityData's bindings, carry the trip it is matched to. The zip survives a
 * restart of the platform on the same data directory.
 */

type Json = Record<string, any>

/** A timetable for route 14 around now (UTC clock, so the test does not depend on the machine's zone). */
function timetable(now: number): Record<string, string | undefined> {
  const midnight = Math.floor(now / 86_400_000) * 86_400_000
  let seconds = Math.floor((now - midnight) / 1000)
  // Just after midnight the trips belong to yesterday's service, with times past 24:00.
  const shift = seconds < 4 * 3600 ? 86_400 : 0
  seconds += shift
  const day = new Date(midnight - (shift ? 86_400_000 : 0)).toISOString().slice(0, 10).replaceAll('-', '')
  const trip = (id: string, from: number, to: number) => [`${id},${gtfsTime(seconds + from)},${gtfsTime(seconds + from)},A,1`, `${id},${gtfsTime(seconds + to)},${gtfsTime(seconds + to)},B,2`]
  return {
    ...minimalGtfs('14'),
    'agency.txt': 'agency_name,agency_url,agency_timezone\nATAF,https://example.org,UTC\n',
    'routes.txt': 'route_id,route_short_name,route_type\n14,14,3\n23,23,3\n',
    'calendar.txt': undefined,
    'calendar_dates.txt': `service_id,date,exception_type\nTODAY,${day},1\n`,
    'trips.txt': 'route_id,service_id,trip_id,direction_id\n14,TODAY,14-gone,0\n14,TODAY,14-early,0\n14,TODAY,14-now,1\n14,TODAY,14-next,0\n23,TODAY,23-now,0\n',
    'stop_times.txt': [
      'trip_id,arrival_time,departure_time,stop_id,stop_sequence',
      ...trip('14-gone', -3 * 3600, -2 * 3600),
      ...trip('14-early', -3600, 3600),
      ...trip('14-now', -600, 3000),
      ...trip('14-next', 1800, 5400),
      ...trip('23-now', -600, 3000),
    ].join('\n'),
  }
}

describe('static GTFS upload and trip matching', () => {
  const dir = mkdtempSync(join(tmpdir(), 'piazza-gtfs-'))
  let t: TestApp
  let admin: string
  let bus: { id: string; secret: string }

  const upload = (body: Buffer, token: string, city = 'firenze') =>
    t.app.inject({ method: 'PUT', url: `/api/admin/gtfs/${city}`, payload: body, headers: { ...t.bearer(token), 'content-type': 'application/zip' } })

  async function publish(reading: Record<string, number | string>) {
    const client = connect(`mqtt://127.0.0.1:${t.mqttPort}`, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000, clientId: bus.id, username: bus.id, password: bus.secret })
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve())
      client.once('error', reject)
    })
    await client.publishAsync(`devices/${bus.id}/telemetry`, JSON.stringify({ ts: Date.now(), ...reading }), { qos: 1 })
    await client.endAsync()
  }

  const positions = async () => {
    const response = await t.app.inject({ method: 'GET', url: '/api/public/gtfs-rt/vehicle-positions' })
    return { header: response.headers['x-gtfs-static'], feed: rt.FeedMessage.decode(response.rawPayload) }
  }
  const tripOf = async () => (await positions()).feed.entity.find((e) => e.id === bus.id)?.vehicle?.trip

  beforeAll(async () => {
    t = await startTestApp({ dir, deps: { publicData: { rateLimit: { max: 10_000, exportMax: 10_000 } } } })
    admin = await t.login('admin', ADMIN_PASSWORD)
    const { device, secret } = await t.registry.add({ type: 'bus', city: 'firenze', name: 'Bus 14 (vettura 3021)', interval: 600, lat: 43.77, lon: 11.25 }, 'test')
    bus = { id: device.id, secret }
  })

  afterAll(async () => {
    await t?.cleanup()
    rmSync(dir, { recursive: true, force: true })
  })

  it('is refused to an installer (403) and for a broken zip (400 naming file and line)', async () => {
    const created = await t.app.inject({ method: 'POST', url: '/api/users', headers: t.bearer(admin), payload: { username: 'ivan', password: 'installer-password', role: 'installer', cities: ['firenze'] } })
    expect(created.statusCode).toBe(201)
    const installer = await t.login('ivan', 'installer-password')
    expect((await upload(gtfsZip(timetable(Date.now())), installer)).statusCode).toBe(403)

    const files = timetable(Date.now())
    const broken = await upload(gtfsZip({ ...files, 'trips.txt': `${files['trips.txt']}99,TODAY,ghost,0\n` }), admin)
    expect(broken.statusCode).toBe(400)
    expect((broken.json() as Json).error.message).toBe("GTFS of firenze refused: trips.txt line 7: route_id '99' is not in routes.txt")
    const notZip = await upload(Buffer.from('route_id\n14\n'), admin)
    expect(notZip.statusCode).toBe(400)
    expect((notZip.json() as Json).error.message).toMatch(/^GTFS of firenze refused: not a readable zip file/)
    const json = await t.app.inject({ method: 'PUT', url: '/api/admin/gtfs/firenze', payload: { not: 'a zip' }, headers: t.bearer(admin) })
    expect(json.statusCode).toBe(415)
    expect((await upload(gtfsZip(files), admin, 'atlantis')).statusCode).toBe(404)
  })

  it('publishes route_id only before an upload, and the matched trip after', async () => {
    await publish({ route: '14', lat: 43.78, lon: 11.25, delay: 60 })
    await vi.waitFor(async () => expect(await tripOf()).toBeDefined(), { timeout: 30_000, interval: 100 })
    const before = await positions()
    expect(before.header).toMatch(/^none/)
    expect(before.feed.entity.find((e) => e.id === bus.id)!.vehicle!.trip!.tripId).toBe('')

    const response = await upload(gtfsZip(timetable(Date.now())), admin)
    expect(response.statusCode).toBe(200)
    expect(response.json()).toMatchObject({ city: 'firenze', routes: 2, trips: 5, services: 1, timezone: 'UTC' })
    await vi.waitFor(async () => expect((await tripOf())?.tripId).toBe('14-now'), { timeout: 10_000, interval: 100 })
    const after = await positions()
    expect(after.header).toBe('present; cities=firenze')
    const trip = after.feed.entity.find((e) => e.id === bus.id)!.vehicle!.trip!
    expect(trip.routeId).toBe('14')
    expect(trip.directionId).toBe(1)
    expect(trip.startDate).toMatch(/^\d{8}$/)
    expect(trip.startTime).toMatch(/^\d{2}:\d{2}:\d{2}$/)

    const updates = rt.FeedMessage.decode((await t.app.inject({ method: 'GET', url: '/api/public/gtfs-rt/trip-updates' })).rawPayload)
    const update = updates.entity.find((e) => e.id === bus.id)!.tripUpdate!
    expect([update.trip.tripId, update.trip.startDate, update.delay]).toEqual(['14-now', trip.startDate, 60])
    const json = (await t.app.inject({ method: 'GET', url: '/api/public/gtfs-rt/vehicle-positions?format=json&city=firenze' })).json() as Json
    expect(json.piazza.staticGtfs).toEqual(['firenze'])
    expect((await t.app.inject({ method: 'GET', url: '/api/public/gtfs-rt/vehicle-positions?city=pisa' })).headers['x-gtfs-static']).toMatch(/^none/)
  })

  it('keeps the upload across a restart of the platform', async () => {
    await t.cleanup()
    t = await startTestApp({ dir, deps: { publicData: { rateLimit: { max: 10_000, exportMax: 10_000 } } } })
    // Read back in the background: the feeds say so once it is parsed.
    await vi.waitFor(async () => expect((await positions()).header).toBe('present; cities=firenze'), { timeout: 60_000, interval: 100 })
    await publish({ route: '14', lat: 43.78, lon: 11.25, delay: 0 })
    await vi.waitFor(async () => expect((await tripOf())?.tripId).toBe('14-now'), { timeout: 30_000, interval: 100 })
  })
})
