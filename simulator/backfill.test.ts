import { describe, expect, it } from 'vitest'
import { backfillReadings, backfillSpan, recentFrom } from './backfill.ts'
import { planFleet } from './fleet.ts'
import { localTime } from './values.ts'

const HOUR = 3_600_000
const now = Date.UTC(2026, 0, 14, 10, 37, 12)
/** A reading's time: an ISO string, or epoch ms for buses. */
const timeOf = (r: Record<string, unknown>): number => (typeof r.ts === 'number' ? r.ts : Date.parse(r.ts as string))
const plan = planFleet({ devices: 200, seed: 1 }).map((d) => ({ ...d, interval: d.interval ?? 60 }))

describe('back-fill readings', () => {
  it('air-quality: every hour of the last 7 days complete at the station interval, oldest first, ending now', () => {
    const station = plan.find((d) => d.type === 'air-quality')!
    const readings = backfillReadings(station, 1, now)
    const times = readings.map((r) => Date.parse(r.ts as string))
    expect(times[0]).toBe(Math.floor((now - 7 * 24 * HOUR) / HOUR) * HOUR)
    expect(times.at(-1)).toBeLessThanOrEqual(now)
    expect(times.at(-1)).toBeGreaterThan(now - station.interval * 1000)
    expect(times.every((t, i) => i === 0 || t - times[i - 1]! === station.interval * 1000)).toBe(true)
    const perHour = new Map<number, number>()
    for (const t of times) perHour.set(Math.floor(t / HOUR), (perHour.get(Math.floor(t / HOUR)) ?? 0) + 1)
    const full = [...perHour.entries()].filter(([h]) => (h + 1) * HOUR <= now)
    expect(full.length).toBe(7 * 24)
    for (const [, n] of full) expect(n).toBe(3600 / station.interval)
  })

  it('is deterministic, and other kinds go every 5 minutes over the last 24 hours, every 10 before (weather: 30 days)', () => {
    const wx = plan.find((d) => d.type === 'weather')!
    const counter = plan.find((d) => d.type === 'traffic-counter')!
    expect(backfillSpan('weather', wx.interval)).toEqual({ days: 30, stepS: 300, olderStepS: 600 })
    expect(backfillSpan('bus', 10)).toEqual({ days: 7, stepS: 300, olderStepS: 600 })
    expect(backfillReadings(wx, 1, now)).toEqual(backfillReadings(wx, 1, now))
    const lastDay = 24 * 12 + Math.floor((now % HOUR) / 300_000) + 1
    expect(backfillReadings(wx, 1, now).length).toBe(29 * 24 * 6 + lastDay)
    const lanes = counter.metadata.lanes as number
    expect(backfillReadings(counter, 1, now).length).toBe(lanes * (6 * 24 * 6 + lastDay))
    const times = backfillReadings(wx, 1, now).map((r) => Date.parse(r.ts as string))
    // Each step labelled by the reading it leaves from: the last older one steps 10 minutes onto the split.
    const steps = new Set(times.slice(1).map((t, i) => `${times[i]! >= recentFrom(now) ? 'recent' : 'older'} ${t - times[i]!}`))
    expect([...steps].sort()).toEqual(['older 600000', 'recent 300000'])
  })

  it("sends a history in two parts, the last 24 hours and the days before, that together are the whole of it", () => {
    for (const type of ['air-quality', 'weather', 'traffic-counter', 'bus'] as const) {
      const device = plan.find((d) => d.type === type)!
      const all = backfillReadings(device, 1, now)
      const recent = backfillReadings(device, 1, now, 'recent')
      const older = backfillReadings(device, 1, now, 'older')
      expect([...older, ...recent], type).toEqual(all)
      expect(recentFrom(now)).toBe(Math.floor((now - 24 * HOUR) / HOUR) * HOUR)
      expect(recent.every((r) => timeOf(r) >= recentFrom(now)), type).toBe(true)
      expect(older.every((r) => timeOf(r) < recentFrom(now)), type).toBe(true)
      expect(recent.length, type).toBeGreaterThan(0)
      expect(older.length, type).toBeGreaterThan(recent.length)
    }
    // An air-quality station's last 24 hours alone already hold 24 complete hours for the index.
    const station = plan.find((d) => d.type === 'air-quality')!
    const hours = new Map<number, number>()
    for (const r of backfillReadings(station, 1, now, 'recent')) {
      const h = Math.floor(Date.parse(r.ts as string) / HOUR)
      hours.set(h, (hours.get(h) ?? 0) + 1)
    }
    expect([...hours.entries()].filter(([h, n]) => (h + 1) * HOUR <= now && n === 3600 / station.interval).length).toBe(24)
  })

  it('values stay plausible over the week: NO2 at traffic stations peaks at rush hour, not at night', () => {
    const stations = plan.filter((d) => d.type === 'air-quality' && d.metadata.station === 'traffic')
    expect(stations.length).toBeGreaterThan(0)
    let rush = 0
    let night = 0
    let n = 0
    let negative = 0
    for (const s of stations) {
      for (const r of backfillReadings(s, 1, now)) {
        for (const v of ['pm25', 'pm10', 'no2', 'o3', 'so2', 'co']) if (!((r[v] as number) >= 0)) negative++
        const { hour, weekday } = localTime(Date.parse(r.ts as string))
        if (weekday === 0 || weekday === 6) continue
        if (hour >= 7.5 && hour < 9) rush += r.no2 as number
        if (hour >= 3 && hour < 4.5) night += r.no2 as number
        if (hour >= 3 && hour < 4.5) n++
      }
    }
    expect(negative).toBe(0)
    expect(n).toBeGreaterThan(0)
    expect(rush / night).toBeGreaterThan(1.5)
  })
})
