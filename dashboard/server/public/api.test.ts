import type { InjectOptions } from 'fastify'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { StorageUnavailableError, type SeriesQuery } from '../../../ingest/storage/contract.ts'
import { line, startTestApp, type TestApp } from '../../../testkit/test-app.ts'
import { linesToBatch } from '../../../devices/line-protocol.ts'

/**
 * The open-data API through app.inject: every endpoint, filter, format, cap and the rate limit,
 * against the real embedded store.
 */

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
type Json = Record<string, any>

function expectError(response: { statusCode: number; json(): unknown }, status: number, code: string, message?: RegExp): Json {
  expect(response.statusCode).toBe(status)
  const body = response.json() as Json
  expect(Object.keys(body)).toEqual(['error'])
  // `words` (the message's code and figures, for the pages' languages) where the server gives them.
  const { words, ...rest } = body.error
  expect(rest).toEqual({ status, code, message: expect.any(String) })
  if (words !== undefined) expect(Object.keys(words).sort()).toEqual(['code', 'params'])
  if (message) expect(body.error.message).toMatch(message)
  return body
}

function csv(body: string): string[][] {
  return body
    .trim()
    .split('\r\n')
    .map((l) => l.split(','))
}

/** Readings every 10 minutes for `days`, newest a minute ago. */
async function seed(t: TestApp, device: { id: string; city: string }, days: number, values: Record<string, number>, now = Date.now()) {
  const lines: string[] = []
  for (let i = 0; i < days * 144; i++) lines.push(line('air-quality', device.city, device.id, now - MINUTE - i * 10 * MINUTE, values))
  const { rejected } = await t.storage.write(linesToBatch(lines))
  expect(rejected).toEqual([])
}

const ENTITY_ID = /^urn:ngsi-ld:AirQualityObserved:[a-z0-9-]+:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/

describe('the open-data API', () => {
  let t: TestApp
  const ids: Record<string, string> = {}
  const inject = (options: InjectOptions | string) => t.app.inject(options)
  let seededAt: number

  beforeAll(async () => {
    t = await startTestApp({ deps: { publicData: { snapshots: { minIntervalMs: 0 }, rateLimit: { max: 10_000, exportMax: 10_000 } } } })
    const add = async (key: string, type: 'air-quality' | 'noise', city: string, name: string) => {
      const { device } = await t.registry.add({ type, city, name, interval: 600, lat: undefined, lon: undefined }, 'test')
      ids[key] = device.id
      return device
    }
    seededAt = Date.now()
    await seed(t, await add('gramsci', 'air-quality', 'firenze', 'Viale Gramsci'), 3, { pm25: 12, pm10: 20, no2: 30, co: 0.5 }, seededAt)
    await seed(t, await add('boboli', 'air-quality', 'firenze', 'Boboli'), 3, { pm25: 4, o3: 50 }, seededAt)
    await seed(t, await add('pisa', 'air-quality', 'pisa', 'Lungarno'), 3, { pm25: 60 }, seededAt)
    await add('noise', 'noise', 'firenze', 'Piazza della Signoria')
    const revoked = await add('revoked', 'air-quality', 'lucca', 'Mura')
    t.registry.setStatus(revoked.id, 'revoked')
    // The snapshots pick up the seeded readings.
    await vi.waitFor(
      async () => {
        const body = (await inject('/api/public/air-quality')).json() as Json
        const level = (c: string) => body.items.find((x: Json) => x.city === c)?.index.value
        expect({ firenze: level('firenze'), pisa: level('pisa') }).toEqual({ firenze: 3, pisa: 4 })
      },
      { timeout: 30_000, interval: 50 },
    )
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  describe('GET /api/public/air-quality', () => {
    it('answers every city with index, band, driving pollutant, version and last update, naming the licence', async () => {
      const response = await inject('/api/public/air-quality')
      expect(response.statusCode).toBe(200)
      expect(response.headers['content-type']).toBe('application/json; charset=utf-8')
      expect(response.headers.link).toBe('<https://creativecommons.org/licenses/by/4.0/>; rel="license"; title="CC BY 4.0"')
      expect(response.headers['access-control-allow-origin']).toBe('*')
      expect(response.headers['cache-control']).toBe('public, max-age=5')
      expect(response.headers.vary).toBe('Accept')
      expect(response.headers.etag).toMatch(/^"[\w-]+"$/)
      const body = response.json() as Json
      expect(body.license).toEqual({ id: 'CC-BY-4.0', name: 'CC BY 4.0', url: 'https://creativecommons.org/licenses/by/4.0/' })
      expect(body.attribution).toEqual(expect.any(String))
      expect(body.indexVersion).toBe('EAQI-2024')
      expect(body.items.map((c: Json) => c.city)).toEqual(['firenze', 'prato', 'livorno', 'arezzo', 'pisa', 'pistoia', 'lucca', 'grosseto', 'massa', 'siena'])
      const firenze = body.items[0]
      expect(firenze.index).toEqual({ value: 3, band: 'moderate', label: 'Moderate', drivingPollutant: 'no2', station: ids.gramsci, version: 'EAQI-2024' })
      expect(firenze.status).toBe('ok')
      expect(Date.parse(firenze.lastUpdate)).toBe(seededAt - MINUTE)
      expect(firenze.pollutants.map((p: Json) => [p.pollutant, p.value, p.band])).toEqual([
        ['pm25', 12, 'fair'],
        ['pm10', 20, 'fair'],
        ['no2', 30, 'moderate'],
        ['o3', 50, 'good'],
        ['so2', null, null],
      ])
      // Only active air-quality stations: not the noise meter, not the revoked station.
      expect(firenze.stations.map((s: Json) => s.id).sort()).toEqual([ids.boboli, ids.gramsci].sort())
      expect(body.items.find((c: Json) => c.city === 'lucca')).toMatchObject({ status: 'no-stations', index: { value: null, band: null } })
    })

    it('filters by city (id or name) and pollutant, and refuses unknown ones with the one error shape', async () => {
      const one = (await inject('/api/public/air-quality?city=Pisa')).json() as Json
      expect(one.items).toHaveLength(1)
      expect(one.items[0]).toMatchObject({ city: 'pisa', index: { value: 4, band: 'poor', drivingPollutant: 'pm25' } })
      const some = (await inject('/api/public/air-quality?city=firenze&pollutant=no2,pm25')).json() as Json
      expect(some.items[0].pollutants.map((p: Json) => p.pollutant)).toEqual(['pm25', 'no2'])
      expectError(await inject('/api/public/air-quality?city=atlantis'), 400, 'validation', /unknown city 'atlantis'/)
      expectError(await inject('/api/public/air-quality?pollutant=pm25,radon'), 400, 'validation', /unknown pollutant 'radon'/)
      expectError(await inject('/api/public/air-quality?pollutant=co'), 400, 'validation', /unknown pollutant 'co'/)
      expectError(await inject('/api/public/air-quality?town=pisa'), 400, 'validation', /unknown query parameter 'town'/)
      expectError(await inject('/api/public/air-quality?format=xml'), 400, 'validation', /format/)
    })

    it('revalidates with ETag: 304 while unchanged, a new ETag once a reading changes the data', async () => {
      const first = await inject('/api/public/air-quality?city=pisa')
      const etag = first.headers.etag as string
      const again = await inject({ url: '/api/public/air-quality?city=pisa', headers: { 'if-none-match': etag } })
      expect(again.statusCode).toBe(304)
      expect(again.body).toBe('')
      expect(again.headers.etag).toBe(etag)
      expect(again.headers['cache-control']).toBe('public, max-age=5')
      const otherFormat = await inject({ url: '/api/public/air-quality?city=pisa&format=csv', headers: { 'if-none-match': etag } })
      expect(otherFormat.statusCode).toBe(200)

      await t.storage.write(linesToBatch([line('air-quality', 'pisa', ids.pisa!, Date.now() - 1000, { pm25: 61 })]))
      await t.registry.update(ids.pisa!, { name: 'Lungarno Pacinotti' }) // a registry change makes the city recompute
      // A new ETag: the old one no longer matches.
      await expect.poll(async () => (await inject({ url: '/api/public/air-quality?city=pisa', headers: { 'if-none-match': etag } })).statusCode, { timeout: 20_000 }).toBe(200)
    })

    it('serves visitors from the snapshot, never reading storage per request', async () => {
      await inject('/api/public/air-quality')
      const series = vi.spyOn(t.storage, 'series')
      const latest = vi.spyOn(t.storage, 'latest')
      try {
        for (let i = 0; i < 50; i++) expect((await inject('/api/public/air-quality')).statusCode).toBe(200)
        for (let i = 0; i < 20; i++) expect((await inject('/api/public/air-quality/history?city=firenze')).statusCode).toBe(200)
        for (let i = 0; i < 20; i++) expect((await inject('/api/public/stations')).statusCode).toBe(200)
        expect(series).not.toHaveBeenCalled()
        expect(latest).not.toHaveBeenCalled()
      } finally {
        series.mockRestore()
        latest.mockRestore()
      }
    })

    it('answers CSV for ?format=csv or Accept: text/csv', async () => {
      for (const request of [{ url: '/api/public/air-quality?format=csv' }, { url: '/api/public/air-quality', headers: { accept: 'text/csv' } }]) {
        const response = await inject(request)
        expect(response.headers['content-type']).toBe('text/csv; charset=utf-8; header=present')
        expect(response.headers['content-disposition']).toBe('attachment; filename="piazza-air-quality.csv"')
        expect(response.headers.link).toContain('rel="license"')
        const rows = csv(response.body)
        expect(rows[0]!.slice(0, 11)).toEqual(['city', 'name', 'status', 'eaqi_level', 'eaqi_band', 'eaqi_pollutant', 'eaqi_station', 'eaqi_version', 'last_update', 'window_from', 'window_to'])
        expect(rows[0]!.slice(11, 14)).toEqual(['pm25', 'pm25_band', 'pm25_station'])
        expect(rows).toHaveLength(11)
        const firenze = Object.fromEntries(rows[0]!.map((k, i) => [k, rows[1]![i]]))
        expect(firenze).toMatchObject({ city: 'firenze', status: 'ok', eaqi_level: '3', eaqi_band: 'moderate', eaqi_pollutant: 'no2', eaqi_version: 'EAQI-2024', no2: '30', no2_band: 'moderate' })
      }
      // A browser's Accept (HTML first) still gets JSON.
      const browser = await inject({ url: '/api/public/air-quality', headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } })
      expect(browser.headers['content-type']).toBe('application/json; charset=utf-8')
    })

    it('answers NGSI-LD AirQualityObserved entities for Accept: application/ld+json or ?format=ngsi-ld', async () => {
      for (const request of [{ url: '/api/public/air-quality?city=firenze', headers: { accept: 'application/ld+json' } }, { url: '/api/public/air-quality?city=firenze&format=ngsi-ld' }]) {
        const response = await inject(request)
        expect(response.headers['content-type']).toBe('application/ld+json; charset=utf-8')
        expect(response.headers.link).toContain('rel="license"')
        const entities = response.json() as Json[]
        expect(entities).toHaveLength(2)
        const gramsci = entities.find((e) => e.refDevice.object === `urn:ngsi-ld:Device:${ids.gramsci}`)!
        expect(gramsci.id).toMatch(ENTITY_ID)
        expect(gramsci.id.startsWith(`urn:ngsi-ld:AirQualityObserved:${ids.gramsci}:`)).toBe(true)
        expect(gramsci.type).toBe('AirQualityObserved')
        expect(gramsci['@context']).toEqual([
          'https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/context.jsonld',
          'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld',
        ])
        expect(gramsci.location).toEqual({ type: 'GeoProperty', value: { type: 'Point', coordinates: [11.2558, 43.7696] } })
        expect(gramsci.no2).toMatchObject({ type: 'Property', value: 30, unitCode: 'GQ' })
        expect(gramsci.pm25).toMatchObject({ type: 'Property', value: 12, unitCode: 'GQ' })
        expect(gramsci.airQualityIndex).toMatchObject({ type: 'Property', value: 3, indexVersion: { type: 'Property', value: 'EAQI-2024' } })
        expect(gramsci.airQualityLevel).toMatchObject({ type: 'Property', value: 'moderate' })
        expect(gramsci.dateObserved.value['@type']).toBe('DateTime')
        expect(gramsci.address.value).toEqual({ addressLocality: 'Firenze', addressRegion: 'Toscana', addressCountry: 'IT' })
      }
    })
  })

  describe('GET /api/public/air-quality/history', () => {
    it("answers a city's last 7 days hour by hour, in JSON and CSV", async () => {
      const body = (await inject('/api/public/air-quality/history?city=firenze')).json() as Json
      expect(body).toMatchObject({ city: 'firenze', indexVersion: 'EAQI-2024', license: { id: 'CC-BY-4.0' } })
      expect(body.hours).toHaveLength(168)
      const complete = body.hours.filter((h: Json) => h.index !== null)
      expect(complete.length).toBeGreaterThanOrEqual(70)
      expect(complete.at(-1)).toMatchObject({ index: 3, band: 'moderate', drivingPollutant: 'no2', values: { pm25: 12, no2: 30, o3: 50, so2: null } })
      const table = csv((await inject('/api/public/air-quality/history?city=firenze&format=csv')).body)
      expect(table[0]).toEqual(['time', 'eaqi_level', 'eaqi_band', 'eaqi_pollutant', 'eaqi_version', 'pm25', 'pm10', 'no2', 'o3', 'so2'])
      expect(table).toHaveLength(169)
      expectError(await inject('/api/public/air-quality/history'), 400, 'validation', /missing required query parameter 'city'/)
      expectError(await inject('/api/public/air-quality/history?city=firenze&format=ngsi-ld'), 400, 'validation', /format/)
    })
  })

  describe('GET /api/public/stations', () => {
    it('lists active air-quality stations with location, type, status, index and latest values', async () => {
      const body = (await inject('/api/public/stations')).json() as Json
      expect(body.license.id).toBe('CC-BY-4.0')
      expect(body.items.map((s: Json) => s.id).sort()).toEqual([ids.boboli, ids.gramsci, ids.pisa].sort())
      const gramsci = body.items.find((s: Json) => s.id === ids.gramsci)
      expect(gramsci).toMatchObject({
        name: 'Viale Gramsci',
        type: 'air-quality',
        city: 'firenze',
        lat: 43.7696,
        lon: 11.2558,
        interval: 600,
        status: 'ok',
        index: { value: 3, band: 'moderate', drivingPollutant: 'no2' },
        latest: { values: { pm25: 12, pm10: 20, no2: 30, co: 0.5 } },
        units: { pm25: 'µg/m³', co: 'mg/m³' },
      })
      expect(gramsci.hour.find((h: Json) => h.pollutant === 'pm25')).toEqual({ pollutant: 'pm25', value: 12, count: 6, required: 5, level: 2 })
    })

    it('filters by city, station and pollutant, in JSON, CSV and NGSI-LD', async () => {
      const ofPisa = (await inject('/api/public/stations?city=pisa')).json() as Json
      expect(ofPisa.items.map((s: Json) => s.id)).toEqual([ids.pisa])
      const chosen = (await inject(`/api/public/stations?station=${ids.pisa},${ids.boboli}`)).json() as Json
      expect(chosen.items.map((s: Json) => s.id).sort()).toEqual([ids.boboli, ids.pisa].sort())
      const ozone = (await inject('/api/public/stations?pollutant=o3')).json() as Json
      expect(ozone.items.map((s: Json) => s.id)).toEqual([ids.boboli])
      expect(ozone.items[0].latest.values).toEqual({ o3: 50 })
      expect(ozone.items[0].hour.map((h: Json) => h.pollutant)).toEqual(['o3'])

      const table = csv((await inject('/api/public/stations?city=firenze&format=csv')).body)
      expect(table[0]).toEqual(['id', 'name', 'type', 'city', 'lat', 'lon', 'interval_s', 'status', 'eaqi_level', 'eaqi_band', 'eaqi_pollutant', 'eaqi_version', 'last_reading', 'pm25', 'pm10', 'no2', 'o3', 'so2', 'co'])
      expect(table).toHaveLength(3)
      const co = (await inject({ url: '/api/public/stations?city=firenze&pollutant=co', headers: { accept: 'application/ld+json' } })).json() as Json[]
      // CO is published as open data (mg/m³: unitCode GP) but only EAQI pollutants have an hourly mean in "now".
      expect(co).toEqual([])
      const entities = (await inject({ url: '/api/public/stations?city=pisa', headers: { accept: 'application/ld+json' } })).json() as Json[]
      expect(entities).toHaveLength(1)
      expect(entities[0]).toMatchObject({ type: 'AirQualityObserved', pm25: { unitCode: 'GQ' }, airQualityLevel: { value: 'poor' } })
      expect(entities[0]!.pm25.value).toBeGreaterThanOrEqual(60) // 60, and one reading of 61 from the ETag test
      expectError(await inject('/api/public/stations?city=nowhere'), 400, 'validation')
    })
  })

  describe('GET /api/public/stations/:id/readings', () => {
    const url = (query: string, id = ids.gramsci) => `/api/public/stations/${id}/readings${query}`

    it('streams hourly means with counts and the hour’s index, last 24 hours by default', async () => {
      const response = await inject(url(''))
      expect(response.statusCode).toBe(200)
      expect(response.headers['transfer-encoding']).toBe('chunked')
      expect(response.headers['cache-control']).toBe('public, max-age=60')
      expect(response.headers.link).toContain('rel="license"')
      const body = response.json() as Json
      expect(body).toMatchObject({ license: { id: 'CC-BY-4.0' }, indexVersion: 'EAQI-2024', resolution: 'hour', fields: ['pm25', 'pm10', 'no2', 'o3', 'so2', 'co'], stations: [ids.gramsci] })
      expect(body.units).toMatchObject({ pm25: 'µg/m³', co: 'mg/m³' })
      expect(Date.parse(body.to) - Date.parse(body.from)).toBe(DAY)
      expect(Date.parse(body.from) % HOUR).toBe(0)
      expect(body.items.length).toBeGreaterThanOrEqual(23)
      const full = body.items.filter((r: Json) => r.values.pm25.count === 6)
      expect(full.length).toBeGreaterThanOrEqual(22)
      expect(full[0]).toEqual({
        time: expect.stringMatching(/:00:00\.000Z$/),
        station: ids.gramsci,
        city: 'firenze',
        values: { pm25: { mean: 12, count: 6 }, pm10: { mean: 20, count: 6 }, no2: { mean: 30, count: 6 }, co: { mean: 0.5, count: 6 } },
        index: { value: 3, band: 'moderate', drivingPollutant: 'no2' },
      })
    })

    it('filters by pollutant and time range', async () => {
      const from = new Date(seededAt - 2 * DAY).toISOString()
      const to = new Date(seededAt - DAY).toISOString()
      const body = (await inject(url(`?pollutant=pm25&from=${from}&to=${to}`))).json() as Json
      expect(body.fields).toEqual(['pm25'])
      expect(body.items).toHaveLength(25) // from rounded down, to rounded up to the hour
      expect(Object.keys(body.items[1].values)).toEqual(['pm25'])
      expect(body.items[1].index).toEqual({ value: 2, band: 'fair', drivingPollutant: 'pm25' })
      expect(Date.parse(body.from)).toBe(Math.floor((seededAt - 2 * DAY) / HOUR) * HOUR)
    })

    it('gives daily summaries: mean, min, max and count per UTC day', async () => {
      await t.storage.write(linesToBatch([line('air-quality', 'firenze', ids.gramsci!, seededAt - 2 * DAY + 30_000, { pm25: 30 })]))
      const body = (await inject(url(`?resolution=day&pollutant=pm25,no2&from=${new Date(seededAt - 5 * DAY).toISOString()}`))).json() as Json
      expect(body.resolution).toBe('day')
      const day = body.items.find((r: Json) => r.time === new Date(Math.floor((seededAt - 2 * DAY) / DAY) * DAY).toISOString())
      expect(day.values.pm25).toMatchObject({ min: 12, max: 30, count: expect.any(Number) })
      expect(day.values.pm25.mean).toBeGreaterThan(12)
      expect(day.index).toBeUndefined()
      const table = csv((await inject(url('?resolution=day&pollutant=pm25&format=csv'))).body)
      expect(table[0]).toEqual(['date', 'station', 'city', 'pm25_mean', 'pm25_min', 'pm25_max', 'pm25_count'])
      expect(table[1]![0]).toMatch(/^\d{4}-\d\d-\d\d$/)
    })

    it('streams CSV with a file name and NGSI-LD entities, one per station and hour', async () => {
      const response = await inject({ url: url('?pollutant=pm25,co'), headers: { accept: 'text/csv' } })
      expect(response.headers['content-type']).toBe('text/csv; charset=utf-8; header=present')
      expect(response.headers['content-disposition']).toMatch(new RegExp(`^attachment; filename="piazza-${ids.gramsci}-hour-\\d{4}-\\d\\d-\\d\\d-\\d{4}-\\d\\d-\\d\\d\\.csv"$`))
      const table = csv(response.body)
      expect(table[0]).toEqual(['time', 'station', 'city', 'pm25', 'pm25_count', 'co', 'co_count', 'eaqi_level', 'eaqi_band', 'eaqi_pollutant', 'eaqi_version'])
      expect(table.find((r) => r[4] === '6')).toEqual([expect.any(String), ids.gramsci, 'firenze', '12', '6', '0.5', '6', '2', 'fair', 'pm25', 'EAQI-2024'])

      const entities = (await inject(url('?format=ngsi-ld&pollutant=pm25,co'))).json() as Json[]
      expect(entities.length).toBeGreaterThanOrEqual(23)
      const e = entities.find((x) => x.pm25.value === 12 && x.airQualityIndex)!
      expect(e.id).toMatch(ENTITY_ID)
      expect(e.co).toMatchObject({ value: 0.5, unitCode: 'GP' })
      expect(Date.parse(e.dateObservedTo.value['@value']) - Date.parse(e.dateObservedFrom.value['@value'])).toBe(HOUR)
      expect(e.id.endsWith(`:${e.dateObservedTo.value['@value']}`)).toBe(true)
    })

    it('pages through storage two weeks at a time: a year of hours is never read at once', async () => {
      const series = vi.spyOn(t.storage, 'series')
      try {
        const response = await inject(url(`?from=${new Date(Date.now() - 365 * DAY).toISOString()}`))
        expect(response.statusCode).toBe(200)
        const queries = series.mock.calls.map(([q]) => q as SeriesQuery)
        expect(Math.max(...queries.map((q) => q.to - q.from))).toBeLessThanOrEqual(14 * DAY)
        expect(new Set(queries.map((q) => q.from)).size).toBe(27)
        expect(queries.every((q) => q.every === HOUR && q.limit <= 14 * 24 + 1)).toBe(true)
        const body = response.json() as Json
        expect(body.items.length).toBeGreaterThanOrEqual(72)
      } finally {
        series.mockRestore()
      }
    })

    it('caps the range, and refuses bad times, unknown and non-public stations', async () => {
      expectError(await inject(url(`?from=${new Date(Date.now() - 367 * DAY).toISOString()}`)), 400, 'validation', /at most 366 days.*resolution=day/)
      expectError(await inject(url(`?resolution=day&from=${new Date(Date.now() - 3700 * DAY).toISOString()}`)), 400, 'validation', /at most 3660 days/)
      expectError(await inject(url(`?from=${new Date().toISOString()}&to=${new Date(Date.now() - DAY).toISOString()}`)), 400, 'validation', /must be before/)
      expectError(await inject(url('?from=yesterday')), 400, 'validation', /ISO 8601/)
      expectError(await inject(url('?resolution=minute')), 400, 'validation', /resolution/)
      expectError(await inject(url('?pollutant=radon')), 400, 'validation', /unknown pollutant 'radon'/)
      expectError(await inject(url('', 'aq-nowhere-000000')), 404, 'not-found', /no active air-quality station/)
      expectError(await inject(url('', ids.noise)), 404, 'not-found')
      expectError(await inject(url('', ids.revoked)), 404, 'not-found')
    })

    it('answers 503 when storage is down, before sending anything', async () => {
      const series = vi.spyOn(t.storage, 'series').mockRejectedValue(new StorageUnavailableError('SQLite is busy'))
      try {
        expectError(await inject(url('')), 503, 'unavailable', /storage is unavailable/)
      } finally {
        series.mockRestore()
      }
    })
  })

  describe('GET /api/public/readings', () => {
    it("streams several stations' hours, filtered by city and station", async () => {
      const body = (await inject('/api/public/readings?city=firenze&pollutant=pm25')).json() as Json
      expect(body.stations.sort()).toEqual([ids.boboli, ids.gramsci].sort())
      const order = body.items.map((r: Json) => r.station)
      expect(order.indexOf(body.stations[1])).toBeGreaterThan(order.lastIndexOf(body.stations[0]))
      const one = (await inject(`/api/public/readings?station=${ids.pisa}&resolution=day&format=csv`)).body
      expect(csv(one).slice(1).every((r) => r[1] === ids.pisa)).toBe(true)
      const all = (await inject('/api/public/readings?pollutant=pm25')).json() as Json
      expect(all.stations).toHaveLength(3)
      expectError(await inject(`/api/public/readings?station=${ids.noise}`), 400, 'validation', /unknown station/)
      expectError(await inject('/api/public/readings?city=atlantis'), 400, 'validation')
    })
  })

  describe('OpenAPI', () => {
    it('documents the public API under /api/docs, with its formats', async () => {
      const doc = (await inject('/api/docs/json')).json() as Json
      for (const path of ['/api/public/air-quality', '/api/public/air-quality/history', '/api/public/stations', '/api/public/stations/{id}/readings', '/api/public/readings']) {
        expect(doc.paths[path]?.get?.tags, path).toEqual(['open data'])
      }
      const content = doc.paths['/api/public/air-quality'].get.responses['200'].content
      expect(Object.keys(content).sort()).toEqual(['application/json', 'application/ld+json', 'text/csv'])
      expect(doc.paths['/api/public/air-quality'].get.responses['429']).toBeDefined()
      expect(doc.paths['/']).toBeUndefined()
    })
  })
})

describe('open-data limits and licence', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await startTestApp({
      deps: { publicData: { license: 'CC0-1.0', attribution: 'Regione Toscana, dati Piazza', rateLimit: { max: 3, exportMax: 1, windowMs: 60_000 }, snapshots: { warm: false } } },
    })
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  it('names the configured licence and attribution', async () => {
    const response = await t.app.inject({ url: '/api/public/air-quality?city=siena', remoteAddress: '10.0.0.1' })
    expect(response.headers.link).toBe('<https://creativecommons.org/publicdomain/zero/1.0/>; rel="license"; title="CC0 1.0"')
    expect(response.json()).toMatchObject({ license: { id: 'CC0-1.0', name: 'CC0 1.0' }, attribution: 'Regione Toscana, dati Piazza' })
  })

  it('limits requests per client address with 429, Retry-After and the one error shape', async () => {
    const from = (remoteAddress: string) => t.app.inject({ url: '/api/public/air-quality?city=siena', remoteAddress })
    for (let i = 0; i < 3; i++) expect((await from('10.0.0.2')).statusCode).toBe(200)
    const refused = await from('10.0.0.2')
    expectError(refused, 429, 'too-many-requests', /at most 3 per 60 s/)
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0)
    expect(refused.headers.link).toContain('rel="license"')
    expect(refused.headers['access-control-allow-origin']).toBe('*')
    // Another address has its own budget; the rest of the API is not limited by it.
    expect((await from('10.0.0.3')).statusCode).toBe(200)
    expect((await t.app.inject({ url: '/api/config', remoteAddress: '10.0.0.2' })).statusCode).toBe(200)
  })

  it('limits exports more tightly, and caps station-days over several stations', async () => {
    for (let i = 0; i < 11; i++) await t.registry.add({ type: 'air-quality', city: 'siena', name: `Siena ${i}` })
    const exportFrom = (query: string, remoteAddress: string) => t.app.inject({ url: `/api/public/readings?city=siena${query}`, remoteAddress })
    expectError(await exportFrom(`&from=${new Date(Date.now() - 340 * DAY).toISOString()}`, '10.0.0.4'), 400, 'validation', /11 stations × 340 days is over the cap of 3660 station-days/)
    expect((await exportFrom('', '10.0.0.5')).statusCode).toBe(200)
    expectError(await exportFrom('', '10.0.0.5'), 429, 'too-many-requests', /at most 1 per 60 s/)
  })
})
