import Fastify from 'fastify'
import { afterAll, describe, expect, it } from 'vitest'
import type { Device } from '../../../devices/registry.ts'
import { gtfsZip, minimalGtfs } from '../../../testkit/gtfs-zip.ts'
import type { Api } from '../http/types.ts'
import { typeboxValidatorCompiler } from '../http/validation.ts'
import { rt } from './gtfs-rt.ts'
import { parseGtfs, type GtfsIndex } from './gtfs-static.ts'
import { resolveLicense } from './license.ts'
import { registerMobilityRoutes } from './mobility-routes.ts'
import { createMobilitySnapshots } from './mobility-snapshot.ts'

/**
 * Trip matching runs once per mobility snapshot: the real GTFS-Realtime routes on a bare Fastify,
 * a fixed clock (so one snapshot serves every request), and a static GTFS store that counts the
 * lookups the matcher makes (one per bus matched).
 */

// Friday 4 December 2026, 06:30 in Firenze: minimalGtfs's trip T1 (06:00–07:00) is in progress.
const NOW = Date.UTC(2026, 11, 4, 5, 30)

function bus(id: string, city: string): Device {
  return { id, type: 'bus', city, name: id, lat: 43.77, lon: 11.25, interval: 60, metadata: {}, status: 'active', createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z', createdBy: 'test' }
}

describe('trip matching', () => {
  const buses = [bus('bus-a', 'firenze'), bus('bus-b', 'firenze'), bus('bus-p', 'pisa'), bus('bus-silent', 'firenze')]
  const readings: Record<string, { values: Record<string, number | string>; receivedAt: number }> = {
    'bus-a': { values: { route: '14', lat: 43.78, lon: 11.25, delay: 60 }, receivedAt: NOW },
    'bus-b': { values: { route: '14', lat: 43.76, lon: 11.24, delay: -30 }, receivedAt: NOW },
    'bus-p': { values: { route: '14', lat: 43.71, lon: 10.4, delay: 0 }, receivedAt: NOW },
    // Silent for longer than 3 intervals: not published, so not matched.
    'bus-silent': { values: { route: '14', lat: 43.7, lon: 11.2, delay: 0 }, receivedAt: NOW - 600_000 },
  }
  const snapshots = createMobilitySnapshots({
    registry: { list: (filter = {}) => ({ items: buses.filter((d) => d.type === filter.type), total: 0 }) },
    live: {
      readingsOf: (type) => (type === 'bus' ? buses.map((d) => ({ id: d.id, city: d.city, time: readings[d.id]!.receivedAt, ...readings[d.id]! })) : []),
    },
    clock: () => NOW,
  })
  const firenze = parseGtfs(gtfsZip(minimalGtfs('14')))
  let lookups = 0
  let version = 1
  const gtfs = {
    get(city: string): GtfsIndex | undefined {
      lookups += 1
      return city === 'firenze' ? firenze : undefined
    },
    cities: () => ['firenze'],
    version: () => version,
  }
  const app = Fastify({ logger: false }) as unknown as Api
  app.setValidatorCompiler(typeboxValidatorCompiler)
  registerMobilityRoutes(app, { snapshots, gtfs, license: resolveLicense(), contactEmail: 'test@piazza.invalid', maxAgeSeconds: 5 })
  afterAll(() => app.close())

  /** Every GTFS-Realtime answer: both feeds, both formats, all cities and each city. */
  async function everyAnswer() {
    const trips: Record<string, Set<string>> = {}
    for (const feed of ['vehicle-positions', 'trip-updates']) {
      for (const format of ['protobuf', 'json']) {
        for (const city of ['', '&city=firenze', '&city=pisa']) {
          const response = await app.inject({ method: 'GET', url: `/api/public/gtfs-rt/${feed}?format=${format}${city}` })
          expect(response.statusCode).toBe(200)
          const message = format === 'json' ? rt.FeedMessage.fromObject(response.json()) : rt.FeedMessage.decode(response.rawPayload)
          for (const e of message.entity) {
            const trip = e.vehicle?.trip ?? e.tripUpdate?.trip
            ;(trips[e.id] ??= new Set()).add(trip?.tripId ?? '')
          }
        }
      }
    }
    return trips
  }

  it('matches each published bus once per snapshot, for both feeds, both formats and every city', async () => {
    const trips = await everyAnswer()
    expect(trips).toEqual({ 'bus-a': new Set(['T1']), 'bus-b': new Set(['T1']), 'bus-p': new Set(['']) })
    // Three published buses, twelve answers: three lookups.
    expect(lookups).toBe(3)
    await everyAnswer()
    expect(lookups).toBe(3)
  })

  it('matches again after a new static GTFS', async () => {
    version += 1
    const trips = await everyAnswer()
    expect(trips['bus-a']).toEqual(new Set(['T1']))
    expect(lookups).toBe(6)
  })
})
