import { describe, expect, it } from 'vitest'
import { DEVICE_TYPES, type DeviceType } from '../devices/kinds.ts'
import { parseTelemetry } from '../devices/readings.ts'
import { findCity, isInRegion } from '../devices/region.ts'
import { planFleet } from './fleet.ts'
import { createValueModel, localTime, mulberry32, type ModelDevice, type Reading } from './values.ts'

const HOUR = 3_600_000
const DAY = 24 * HOUR
// Mondays at local midnight (CET in winter, CEST in summer).
const WINTER_MONDAY = Date.parse('2026-01-12T00:00:00+01:00')
const SUMMER_MONDAY = Date.parse('2026-07-13T00:00:00+02:00')

function device(type: DeviceType, city: string, id = `t-${type}-${city}`, metadata: ModelDevice['metadata'] = {}): ModelDevice {
  const c = findCity(city)!
  return { id, type, city: c.id, lat: c.lat, lon: c.lon, interval: 60, metadata }
}

/** Every planned device (all types, cities and metadata variants) plus one bare device per type. */
const devices: ModelDevice[] = [
  ...planFleet({ devices: 70, seed: 11 }).map((p) => ({ ...p, interval: p.interval ?? 60 })),
  ...DEVICE_TYPES.map((t) => device(t, 'grosseto', `bare-${t}`)),
]

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length

/** Sum of one field across a model's readings at the given local hour on each weekday of a week. */
function atHour(model: (t: number) => Reading[], monday: number, hour: number, field: string, weekdays = 5): number[] {
  const out: number[] = []
  for (let day = 0; day < weekdays; day++) {
    for (const minute of [0, 15, 30, 45]) {
      const readings = model(monday + day * DAY + hour * HOUR + minute * 60_000)
      out.push(readings.reduce((sum, r) => sum + (r[field] as number), 0))
    }
  }
  return out
}

describe('value models', () => {
  it('pass the ingest validator for every type, across a week, at all times of day, for several seeds', () => {
    expect(new Set(devices.map((d) => d.type))).toEqual(new Set(DEVICE_TYPES))
    let checked = 0
    for (const seed of [1, 2, 42]) {
      for (const d of devices) {
        const model = createValueModel(d, seed)
        for (const start of [WINTER_MONDAY, SUMMER_MONDAY]) {
          // Every 37 minutes for a week: drifts through every hour of the day and every weekday.
          for (let t = start; t < start + 7 * DAY; t += 37 * 60_000) {
            const readings = model(t)
            // Plain checks rather than expect() in this hot loop: it runs some 200,000 times.
            const lanes = d.type === 'traffic-counter' ? Number(d.metadata.lanes ?? 0) || readings.length : 1
            const parsed = parseTelemetry(d.type, JSON.stringify(readings.length === 1 ? readings[0] : readings), t)
            if (parsed.rejections.length > 0 || parsed.readings.length !== readings.length || readings.length !== lanes) {
              throw new Error(`${d.id} seed ${seed} at ${new Date(t).toISOString()}: ${JSON.stringify(parsed.rejections)} in ${JSON.stringify(readings)}`)
            }
            checked += readings.length
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(100_000)
  })

  it('uses the local clock, summer time included', () => {
    expect(localTime(Date.parse('2026-01-15T07:00:00Z')).hour).toBe(8)
    expect(localTime(Date.parse('2026-07-01T06:00:00Z')).hour).toBe(8)
    expect(localTime(Date.parse('2026-03-29T00:59:00Z')).hour).toBeCloseTo(1 + 59 / 60)
    expect(localTime(Date.parse('2026-03-29T01:00:00Z')).hour).toBe(3)
    expect(localTime(Date.parse('2026-10-25T00:30:00Z')).hour).toBe(2.5)
    expect(localTime(Date.parse('2026-10-25T01:30:00Z')).hour).toBe(2.5)
    expect(localTime(WINTER_MONDAY).weekday).toBe(1)
  })

  it('is deterministic: same seed, same values; another seed, other values', () => {
    for (const type of DEVICE_TYPES) {
      const d = device(type, 'firenze')
      const times = Array.from({ length: 200 }, (_, i) => WINTER_MONDAY + i * 7 * 60_000)
      const a = times.map(createValueModel(d, 7))
      const b = times.map(createValueModel(d, 7))
      const c = times.map(createValueModel(d, 8))
      expect(a).toEqual(b)
      expect(c).not.toEqual(a)
    }
  })

  it('gives traffic counters one reading per lane and far more vehicles at rush hour than at 3 am', () => {
    const d = device('traffic-counter', 'firenze', 'counter-1', { lanes: 3, speedLimit: 50 })
    const model = createValueModel(d, 3)
    const readings = model(WINTER_MONDAY + 8 * HOUR)
    expect(readings.map((r) => r.laneId)).toEqual([1, 2, 3])
    for (const monday of [WINTER_MONDAY, SUMMER_MONDAY]) {
      const rush = mean([...atHour(model, monday, 8, 'intensity'), ...atHour(model, monday, 18, 'intensity')])
      const night = mean(atHour(model, monday, 3, 'intensity'))
      expect(rush).toBeGreaterThan(5 * night)
      // Slower when the road is full.
      const speed = (h: number) => mean(atHour((t) => model(t).filter((r) => r.averageVehicleSpeed !== undefined), monday, h, 'averageVehicleSpeed').filter(Boolean))
      expect(speed(8)).toBeLessThan(speed(3))
    }
    // Lanes default to 2–4 when the registry has no metadata.
    for (let i = 0; i < 20; i++) {
      const lanes = createValueModel(device('traffic-counter', 'pisa', `bare-counter-${i}`), i)(WINTER_MONDAY).length
      expect(lanes).toBeGreaterThanOrEqual(2)
      expect(lanes).toBeLessThanOrEqual(4)
    }
  })

  it('follows the daily cycles of pollution and the differences between cities', () => {
    const firenze = createValueModel(device('air-quality', 'firenze', 'aq-f', { station: 'traffic' }), 5)
    const siena = createValueModel(device('air-quality', 'siena', 'aq-s', { station: 'traffic' }), 5)
    for (const monday of [WINTER_MONDAY, SUMMER_MONDAY]) {
      expect(mean(atHour(firenze, monday, 8, 'no2'))).toBeGreaterThan(mean(atHour(firenze, monday, 3, 'no2')))
      expect(mean(atHour(firenze, monday, 18.5, 'co'))).toBeGreaterThan(mean(atHour(firenze, monday, 3, 'co')))
      expect(mean(atHour(firenze, monday, 15, 'o3'))).toBeGreaterThan(mean(atHour(firenze, monday, 6, 'o3')))
    }
    // Ozone is a summer pollutant, particulate a winter one.
    expect(mean(atHour(firenze, SUMMER_MONDAY, 15, 'o3', 7))).toBeGreaterThan(mean(atHour(firenze, WINTER_MONDAY, 15, 'o3', 7)))
    const dailyPm = (model: typeof firenze, monday: number) => mean([0, 4, 8, 12, 16, 20].flatMap((h) => atHour(model, monday, h, 'pm10', 7)))
    expect(dailyPm(firenze, WINTER_MONDAY)).toBeGreaterThan(dailyPm(firenze, SUMMER_MONDAY))
    expect(mean(atHour(firenze, WINTER_MONDAY, 8, 'no2'))).toBeGreaterThan(mean(atHour(siena, WINTER_MONDAY, 8, 'no2')))
    expect(dailyPm(firenze, WINTER_MONDAY)).toBeGreaterThan(dailyPm(siena, WINTER_MONDAY))
  })

  it('makes noise follow traffic and weather follow the day', () => {
    const noise = createValueModel(device('noise', 'prato', 'noise-p', { site: 'road' }), 9)
    expect(mean(atHour(noise, WINTER_MONDAY, 8, 'LAeq'))).toBeGreaterThan(mean(atHour(noise, WINTER_MONDAY, 3, 'LAeq')) + 5)
    const weather = createValueModel(device('weather', 'firenze', 'wx-f'), 9)
    for (const monday of [WINTER_MONDAY, SUMMER_MONDAY]) {
      expect(mean(atHour(weather, monday, 15, 'temperature', 7))).toBeGreaterThan(mean(atHour(weather, monday, 5, 'temperature', 7)))
      expect(mean(atHour(weather, monday, 15, 'relativeHumidity', 7))).toBeLessThan(mean(atHour(weather, monday, 5, 'relativeHumidity', 7)))
    }
    expect(mean(atHour(weather, SUMMER_MONDAY, 12, 'temperature', 7))).toBeGreaterThan(mean(atHour(weather, WINTER_MONDAY, 12, 'temperature', 7)) + 10)
    // It rains now and then, but not all the time, over a season.
    let wet = 0
    let total = 0
    for (let t = WINTER_MONDAY; t < WINTER_MONDAY + 60 * DAY; t += HOUR) {
      total++
      if ((weather(t)[0]!.precipitation as number) > 0) wet++
    }
    expect(wet).toBeGreaterThan(0)
    expect(wet).toBeLessThan(total / 2)
  })

  it('moves buses along a route near the centre, inside the region, with a route tag', () => {
    for (const city of ['firenze', 'livorno', 'massa', 'grosseto']) {
      const c = findCity(city)!
      const model = createValueModel(device('bus', city, `bus-${city}`, { route: '14' }), 4)
      const positions: { lat: number; lon: number }[] = []
      for (let t = WINTER_MONDAY + 10 * HOUR; t < WINTER_MONDAY + 11 * HOUR; t += 10_000) {
        const [r] = model(t)
        expect(r!.route).toBe('14')
        const lat = r!.lat as number
        const lon = r!.lon as number
        expect(isInRegion(lat, lon)).toBe(true)
        const km = Math.hypot((lat - c.lat) * 111.32, (lon - c.lon) * 111.32 * Math.cos((c.lat * Math.PI) / 180))
        expect(km).toBeLessThan(3.5)
        positions.push({ lat, lon })
      }
      // It moves: many distinct positions, and several km covered in an hour.
      expect(new Set(positions.map((p) => `${p.lat},${p.lon}`)).size).toBeGreaterThan(300)
      let km = 0
      for (let i = 1; i < positions.length; i++) {
        const a = positions[i - 1]!
        const b = positions[i]!
        km += Math.hypot((b.lat - a.lat) * 111.32, (b.lon - a.lon) * 111.32 * Math.cos((c.lat * Math.PI) / 180))
      }
      expect(km).toBeGreaterThan(5)
      expect(km).toBeLessThan(25)
    }
    // Two buses on the same line share the streets; another line goes elsewhere.
    const route = (id: string, name: string) => {
      const model = createValueModel(device('bus', 'pisa', id, { route: name }), 4)
      return new Set(Array.from({ length: 400 }, (_, i) => model(WINTER_MONDAY + i * 30_000)[0]!).map((r) => `${(r.lat as number).toFixed(2)},${(r.lon as number).toFixed(2)}`))
    }
    const a = route('bus-a', 'LAM-A')
    const b = route('bus-b', 'LAM-A')
    const overlap = [...a].filter((p) => b.has(p)).length
    expect(overlap).toBeGreaterThan(a.size / 2)
  })

  it('fills centre car parks in working hours and never reports more free spots than the total', () => {
    const model = createValueModel(device('parking', 'firenze', 'park-c', { area: 'centre', totalSpots: 250 }), 6)
    const free = (h: number) => mean(atHour(model, WINTER_MONDAY, h, 'availableSpotNumber'))
    expect(free(11)).toBeLessThan(free(3) / 2)
    const rng = mulberry32(1)
    for (let i = 0; i < 50; i++) {
      const m = createValueModel(device('parking', 'lucca', `park-${i}`), i)
      for (let t = WINTER_MONDAY; t < WINTER_MONDAY + 7 * DAY; t += (5 + rng() * 60) * 60_000) {
        const [r] = m(t)
        expect(r!.availableSpotNumber as number).toBeLessThanOrEqual(r!.totalSpotNumber as number)
        expect(r!.availableSpotNumber as number).toBeGreaterThanOrEqual(0)
      }
    }
  })

  it('empties residential bike docks in the morning and fills business ones', () => {
    const home = createValueModel(device('bike-dock', 'firenze', 'bike-home', { area: 'residential', docks: 20 }), 2)
    const office = createValueModel(device('bike-dock', 'firenze', 'bike-office', { area: 'business', docks: 20 }), 2)
    const bikes = (m: typeof home, h: number) => mean(atHour(m, WINTER_MONDAY, h, 'availableBikeNumber'))
    expect(bikes(home, 11)).toBeLessThan(bikes(home, 5))
    expect(bikes(office, 11)).toBeGreaterThan(bikes(office, 5))
    const [r] = home(WINTER_MONDAY)
    expect((r!.availableBikeNumber as number) + (r!.freeSlotNumber as number)).toBeLessThanOrEqual(20)
  })
})
