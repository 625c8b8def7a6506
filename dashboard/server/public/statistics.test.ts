import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { line, startTestApp, type TestApp } from '../../../testkit/test-app.ts'
import { linesToBatch } from '../../../devices/line-protocol.ts'

/**
 * The year's air-quality statistics through app.inject, against the real embedded store: three
 * seeded days (CET) at two stations of one city, read back from the hourly rollups.
 */

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
const CET = HOUR
type Json = Record<string, any>

/** Three whole CET days inside one calendar year and inside the 30-day raw retention. */
function seededDays(now: number): { first: number; year: number } {
  const today = Math.floor((now + CET) / DAY) * DAY - CET
  let first = today - 3 * DAY
  // Early January: the days before the new year instead, so all three share a year.
  if (new Date(first + CET).getUTCFullYear() !== new Date(today - DAY + CET).getUTCFullYear()) first = today - 20 * DAY
  return { first, year: new Date(first + CET).getUTCFullYear() }
}

describe('GET /api/public/air-quality/statistics', () => {
  let t: TestApp
  const ids: Record<string, string> = {}
  const { first, year } = seededDays(Date.now())

  beforeAll(async () => {
    t = await startTestApp({ deps: { publicData: { snapshots: { minIntervalMs: 0 }, rateLimit: { max: 10_000, exportMax: 10_000 } } } })
    const add = async (key: string, name: string) => {
      // Every 10 minutes: 6 readings an hour are expected, 5 needed.
      const { device } = await t.registry.add({ type: 'air-quality', city: 'prato', name, interval: 600, lat: undefined, lon: undefined }, 'test')
      ids[key] = device.id
      return device
    }
    const a = await add('a', 'Via Roma')
    const b = await add('b', 'Piazza Duomo')
    const lines: string[] = []
    for (let i = 0; i < 3 * 24 * 6; i++) {
      const time = first + i * 10 * MINUTE
      const day = Math.floor(i / 144)
      const hour = Math.floor(i / 6) % 24
      // A: PM10 day means 60, exactly 50, 30; NO2 over 200 in two hours, exactly 200 in one;
      // O3 at 130 for 8 hours of the first day (12:00–20:00).
      const no2 = day === 1 && (hour === 8 || hour === 9) ? 250 : day === 1 && hour === 10 ? 200 : 40
      const o3 = day === 0 && hour >= 12 && hour < 20 ? 130 : 60
      lines.push(line('air-quality', 'prato', a.id, time, { pm10: [60, 50, 30][day]!, no2, o3, pm25: 10 + day }))
      lines.push(line('air-quality', 'prato', b.id, time, { pm10: 55, no2: 20 }))
    }
    const { rejected } = await t.storage.write(linesToBatch(lines))
    expect(rejected).toEqual([])
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  it('answers per station and city: annual means, data capture, days and hours over the limit values, with their sources', async () => {
    const response = await t.app.inject(`/api/public/air-quality/statistics?year=${year}&city=prato`)
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8')
    const body = response.json() as Json
    expect(body.license).toEqual(expect.objectContaining({ id: expect.any(String) }))
    expect(body.year).toBe(year)
    expect(body.from).toBe(new Date(Date.UTC(year, 0, 1) - CET).toISOString())
    expect(body.minimumDataCapture).toBe(90)
    const pm10Day = body.limitValues.find((l: Json) => l.id === 'pm10-day')
    expect(pm10Day).toEqual({
      id: 'pm10-day',
      pollutant: 'pm10',
      averaging: 'day',
      kind: 'limit value',
      value: 50,
      unit: 'µg/m³',
      allowedPerYear: 35,
      source: 'Directive 2008/50/EC, Annex XI',
      from2030: { value: 45, allowedPerYear: 18, source: 'Directive (EU) 2024/2881, Annex I' },
    })
    expect(body.limitValues.map((l: Json) => l.id).sort()).toEqual(['no2-hour', 'no2-year', 'o3-8h', 'pm10-day', 'pm10-year', 'pm25-year'])

    expect(body.cities).toHaveLength(1)
    const city = body.cities[0]
    expect(city.city).toBe('prato')
    // Natural order by name.
    expect(city.stations.map((s: Json) => s.id)).toEqual([ids.b, ids.a])
    const a = city.stations.find((s: Json) => s.id === ids.a)
    expect(a.pollutants.pm10).toEqual({ mean: 46.7, validHours: 72, dataCapture: Math.round((1000 * 72) / body.hours) / 10 })
    expect(a.pollutants.pm25.mean).toBe(11)
    expect(a.pollutants.so2).toEqual({ mean: null, validHours: 0, dataCapture: 0 })
    expect({ over50: a.pm10DaysOver50, over45: a.pm10DaysOver45, days: a.pm10ValidDays }).toEqual({ over50: 1, over45: 2, days: 3 })
    expect(a.no2HoursOver200).toBe(2)
    expect({ over: a.o3DaysOver120, days: a.o3ValidDays }).toEqual({ over: 1, days: 3 })

    const b = city.stations.find((s: Json) => s.id === ids.b)
    expect(b.pm10DaysOver50).toBe(3)
    expect(b.o3ValidDays).toBe(0)
    expect(city.worst.pm10DaysOver50).toEqual({ value: 3, station: ids.b })
    expect(city.worst.no2HoursOver200).toEqual({ value: 2, station: ids.a })
    expect(city.worst.o3DaysOver120).toEqual({ value: 1, station: ids.a })
    expect(city.worst.pollutants.pm10).toEqual({ value: 55, station: ids.b })
  })

  it('answers CSV: a row per station, then the city’s worst figures', async () => {
    const response = await t.app.inject({ url: `/api/public/air-quality/statistics?year=${year}&city=prato`, headers: { accept: 'text/csv' } })
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toBe('text/csv; charset=utf-8; header=present')
    expect(response.headers['content-disposition']).toBe(`attachment; filename="piazza-air-quality-statistics-${year}-prato.csv"`)
    const rows = response.body.trim().split('\r\n').map((r) => r.split(','))
    const head = rows[0]!
    const col = (row: string[], name: string) => row[head.indexOf(name)]
    expect(rows).toHaveLength(4)
    expect(rows.slice(1).map((r) => [col(r, 'level'), col(r, 'station')])).toEqual([
      ['station', ids.b],
      ['station', ids.a],
      ['city', ''],
    ])
    expect(col(rows[2]!, 'pm10_days_over_50')).toBe('1')
    expect(col(rows[2]!, 'pm10_mean')).toBe('46.7')
    expect(col(rows[2]!, 'no2_hours_over_200')).toBe('2')
    expect(col(rows[3]!, 'pm10_days_over_50')).toBe('3')
  })

  it('lists every city with stations by default, and refuses a bad year or city', async () => {
    const all = (await t.app.inject(`/api/public/air-quality/statistics?year=${year}`)).json() as Json
    expect(all.cities.map((c: Json) => c.city)).toEqual(['prato'])
    const current = (await t.app.inject('/api/public/air-quality/statistics')).json() as Json
    expect(current.year).toBe(new Date(Date.now() + CET).getUTCFullYear())
    expect(current.complete).toBe(false)

    for (const [query, message] of [
      ['year=1999', /year must be from 2000/],
      [`year=${new Date().getUTCFullYear() + 2}`, /year must be from 2000/],
      ['year=20x5', /year/],
      ['city=atlantis', /unknown city 'atlantis'/],
    ] as const) {
      const response = await t.app.inject(`/api/public/air-quality/statistics?${query}`)
      expect(response.statusCode, query).toBe(400)
      expect((response.json() as Json).error.message).toMatch(message)
    }
  })
})
