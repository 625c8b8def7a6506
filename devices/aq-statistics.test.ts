import { describe, expect, it } from 'vitest'
import { cityYear, LIMIT_VALUES, maxDaily8hMeans, stationYear, yearRange, type HourValue, type StationYear } from './aq-statistics.ts'

const HOUR = 3_600_000
const DAY = 24 * HOUR
const YEAR = 2025
const { from: Y0, to: Y1 } = yearRange(YEAR)
const FULL = 60 // readings in an hour at a 60 s interval
const MIN = 45

/** Every hour of the first `days` days of the year at `value`, with `count` readings. */
function hours(days: number, value: (day: number, hour: number) => number, count = FULL): HourValue[] {
  const out: HourValue[] = []
  for (let d = 0; d < days; d++) for (let h = 0; h < 24; h++) out.push({ time: Y0 + d * DAY + h * HOUR, mean: value(d, h), count })
  return out
}
const year = (input: Partial<Parameters<typeof stationYear>[0]>) => stationYear({ year: YEAR, hours: {}, minReadingsPerHour: MIN, now: Y1 + DAY, ...input })

describe('year range', () => {
  it('is the calendar year on Italian standard time (UTC+1), or on another offset', () => {
    expect(new Date(Y0).toISOString()).toBe('2024-12-31T23:00:00.000Z')
    expect(new Date(Y1).toISOString()).toBe('2025-12-31T23:00:00.000Z')
    expect(yearRange(YEAR, 0).from).toBe(Date.UTC(2025, 0, 1))
  })
})

describe('PM10 days over the daily limit value (50 µg/m³, 35 allowed)', () => {
  it('counts the 35th and the 36th day over 50, and not a day at exactly 50', () => {
    const pm10 = (over: number) => hours(365, (d) => (d < over ? 50.1 : d === over ? 50 : 20))
    const at35 = year({ hours: { pm10: pm10(35) } })
    expect(at35.pm10Days.over).toBe(35)
    expect(at35.pm10Days.over).toBeLessThanOrEqual(LIMIT_VALUES.find((l) => l.id === 'pm10-day')!.allowedPerYear!)
    const at36 = year({ hours: { pm10: pm10(36) } })
    expect(at36.pm10Days.over).toBe(36)
    expect(at36.pm10Days).toEqual({ validDays: 365, dataCapture: 100, over: 36, overFrom2030: 37 })
  })

  it('judges a day by its mean, counting only days with at least 18 hours that count', () => {
    // Day 0: 18 hours at 60 and 6 missing → counts (mean 60). Day 1: 17 hours → does not.
    // Day 2: 24 hours, 23 of them short of readings (not counted) → does not count.
    const pm10 = [
      ...hours(1, () => 60).filter((h) => h.time < Y0 + 18 * HOUR),
      ...hours(2, () => 60).filter((h) => h.time >= Y0 + DAY && h.time < Y0 + DAY + 17 * HOUR),
      ...hours(3, (d, h) => (h === 0 ? 60 : 90), FULL).map((h) => (h.time >= Y0 + 2 * DAY + HOUR ? { ...h, count: MIN - 1 } : h)).filter((h) => h.time >= Y0 + 2 * DAY),
      // A day with its peak hours: mean 49.5, not over even though some hours are.
      ...hours(4, (d, h) => (h < 12 ? 80 : 19)).filter((h) => h.time >= Y0 + 3 * DAY),
    ]
    const y = year({ hours: { pm10 } })
    expect(y.pm10Days.validDays).toBe(2)
    expect(y.pm10Days.over).toBe(1)
    expect(y.pm10Days.dataCapture).toBe(Math.round((1000 * 2) / 365) / 10)
  })
})

describe('NO₂ hours over the hourly limit value (200 µg/m³, 18 allowed)', () => {
  it('counts the 18th and 19th hour over 200, not an hour at exactly 200 nor an incomplete one', () => {
    const no2 = (over: number) =>
      hours(10, (d, h) => {
        const i = d * 24 + h
        return i < over ? 200.5 : i === over ? 200 : 40
      })
    expect(year({ hours: { no2: no2(18) } }).no2Hours.over).toBe(18)
    expect(year({ hours: { no2: no2(19) } }).no2Hours.over).toBe(19)
    const incomplete = no2(19).map((h, i) => (i === 0 ? { ...h, count: MIN - 1 } : h))
    expect(year({ hours: { no2: incomplete } }).no2Hours.over).toBe(18)
  })
})

describe('O₃ maximum daily 8-hour mean over the target value (120 µg/m³)', () => {
  it('gives an 8-hour mean to the day it ends in: 17:00–01:00 is the first of a day, 16:00–24:00 the last', () => {
    const day = Y0 + 5 * DAY
    const base = new Map<number, number>()
    for (let t = day - DAY; t < day + 2 * DAY; t += HOUR) base.set(t, 100)
    // 17:00–24:00 of the day before at 130: the 8-hour mean ending at 24:00 belongs to that day,
    // the ones ending 01:00–07:00 of `day` hold 7…1 of those hours.
    const evening = new Map(base)
    for (let h = 17; h < 24; h++) evening.set(day - DAY + h * HOUR, 130)
    evening.set(day, 130) // 00:00–01:00 of `day`: 17:00–01:00 is all 130
    const m = maxDaily8hMeans(evening, day - DAY, day + DAY)
    expect(m.get(day)).toBe(130)
    expect(m.get(day - DAY)).toBeCloseTo((7 * 130 + 100) / 8, 10)
  })

  it('needs 6 of 8 hours for an 8-hour mean and 18 of 24 such means for a day', () => {
    const day = Y0
    const all = new Map<number, number>()
    for (let t = day; t < day + DAY; t += HOUR) all.set(t, 121)
    // No hours before the day: the means ending 01:00–05:00 have 1–5 hours, so 19 count.
    expect(maxDaily8hMeans(all, day, day + DAY).get(day)).toBe(121)
    // Without 21:00–24:00 the means ending 23:00 and 24:00 have 6 and 5 hours: 18 of 24 count.
    for (const h of [21, 22, 23]) all.delete(day + h * HOUR)
    expect(maxDaily8hMeans(all, day, day + DAY).get(day)).toBe(121)
    // Without 20:00 too, the one ending 23:00 has 5 hours: 17 count, the day does not.
    all.delete(day + 20 * HOUR)
    expect(maxDaily8hMeans(all, day, day + DAY).has(day)).toBe(false)
  })

  it('counts days with their maximum 8-hour mean strictly over 120', () => {
    const o3 = hours(30, (d, h) => (h >= 12 && h < 20 ? (d < 26 ? 120.5 : 120) : 60))
    const y = year({ hours: { o3 } })
    expect(y.o3Days.over).toBe(26)
    expect(y.o3Days.validDays).toBe(30)
  })
})

describe('annual means and data capture', () => {
  it('averages the hours that count and states the share of the period they cover', () => {
    const pm25 = hours(73, (d) => (d % 2 === 0 ? 10 : 20)).map((h, i) => (i % 24 === 0 ? { ...h, count: 1 } : h))
    const y = year({ hours: { pm25 } })
    expect(y.hours).toBe(8760)
    expect(y.pollutants.pm25.validHours).toBe(73 * 23)
    expect(y.pollutants.pm25.dataCapture).toBe(19.2) // 1679 / 8760
    expect(y.pollutants.pm25.mean).toBeCloseTo((37 * 10 + 36 * 20) / 73, 10)
    expect(y.pollutants.so2).toEqual({ mean: null, validHours: 0, dataCapture: 0 })
  })

  it('so far: counts only the whole hours and days elapsed', () => {
    const pm10 = hours(365, () => 30)
    const now = Y0 + 10 * DAY + 5 * HOUR + 20 * 60_000
    const y = year({ hours: { pm10 }, now })
    expect(y.to).toBe(Y0 + 10 * DAY + 5 * HOUR)
    expect(y.hours).toBe(245)
    expect(y.days).toBe(10)
    expect(y.pollutants.pm10).toEqual({ mean: 30, validHours: 245, dataCapture: 100 })
    expect(y.pm10Days.validDays).toBe(10)
  })
})

describe('city', () => {
  it('takes each figure from its worst station', () => {
    const a = year({ hours: { pm10: hours(40, (d) => (d < 10 ? 60 : 20)), no2: hours(2, () => 30) } })
    const b = year({ hours: { pm10: hours(40, (d) => (d < 3 ? 60 : 35)) } })
    const c: StationYear = year({})
    const city = cityYear([
      { id: 'a', year: a },
      { id: 'b', year: b },
      { id: 'c', year: c },
    ])
    expect(city.stations).toBe(3)
    expect(city.pm10DaysOver).toEqual({ over: 10, station: 'a' })
    expect(city.pollutants.pm10.station).toBe('b')
    expect(city.pollutants.no2).toEqual({ mean: 30, station: 'a' })
    expect(city.pollutants.o3).toEqual({ mean: null, station: null })
    expect(city.o3DaysOver).toEqual({ over: 0, station: null })
  })
})
