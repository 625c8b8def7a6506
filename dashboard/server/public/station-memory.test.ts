import { describe, expect, it } from 'vitest'
import { EAQI_POLLUTANTS, HOUR_MS } from '../../../devices/aqi.ts'
import { mulberry32 } from '../../../simulator/values.ts'
import { addReading, DUPLICATE_CAP, DUPLICATE_WINDOW_MS, FUTURE_MS, hourValues, latestOf, MINUTE_MS, newStationMemory, rollingHour, round1 } from './station-memory.ts'

/** What one station's memory answers, against brute-force computations over the same readings. */

const MINUTE = MINUTE_MS
const HOUR = HOUR_MS

/** A small deterministic PRNG (mulberry32). */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type R = { time: number; values: Record<string, number> }

/** The mean (rounded to 0.1) and count of each pollutant over the readings in [from, to), each time once. */
function bruteForce(readings: R[], from: number, to: number) {
  const byTime = new Map<number, R>()
  for (const r of readings) if (r.time >= from && r.time < to && !byTime.has(r.time)) byTime.set(r.time, r)
  const out: Record<string, { mean: number; count: number }> = {}
  for (const p of EAQI_POLLUTANTS) {
    let sum = 0
    let count = 0
    for (const r of byTime.values()) {
      const v = r.values[p]
      if (typeof v === 'number') {
        sum += v
        count += 1
      }
    }
    if (count > 0) out[p] = { mean: round1(sum / count), count }
  }
  return out
}

describe('the rolling 60-minute mean', () => {
  it('equals the mean of the readings in the window, on random data with duplicates, gaps and missing fields', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rnd = random(seed)
      const start = Date.UTC(2025, 2, 10, 8, 0, 0) + Math.floor(rnd() * HOUR)
      const m = newStationMemory()
      const readings: R[] = []
      let now = start
      // Three hours of readings at random intervals (0.5–90 s), in order, some resent, some fields missing.
      while (now < start + 3 * HOUR) {
        now += Math.floor(500 + rnd() * 90_000)
        const values: Record<string, number> = {}
        for (const p of EAQI_POLLUTANTS) if (rnd() < 0.8) values[p] = Math.floor(rnd() * 200) // integers: sums are exact
        const time = now - Math.floor(rnd() * 3000)
        const r = { time, values }
        readings.push(r)
        addReading(m, r, now)
        if (rnd() < 0.1) {
          const again = readings[Math.max(0, readings.length - 1 - Math.floor(rnd() * 30))]!
          addReading(m, again, now) // a resend: counted once
        }
        if (rnd() < 0.05) {
          // Computed at a moment inside the run: the window is the minutes from the one containing
          // now − 60 min (whole) to the one containing now + 5 min.
          const from = Math.floor((now - HOUR) / MINUTE) * MINUTE
          const to = (Math.floor((now + FUTURE_MS - 1) / MINUTE) + 1) * MINUTE
          expect(rollingHour(m, now), `seed ${seed} at ${new Date(now).toISOString()}`).toEqual(bruteForce(readings, from, to))
        }
      }
    }
  })

  it('drops what left the window, and counts a reading a device clock sent from up to 5 minutes ahead', () => {
    const m = newStationMemory()
    const t0 = Date.UTC(2025, 2, 10, 8, 0, 30)
    addReading(m, { time: t0, values: { pm25: 10 } }, t0)
    addReading(m, { time: t0 + 4 * MINUTE, values: { pm25: 20 } }, t0)
    expect(rollingHour(m, t0)).toEqual({ pm25: { mean: 15, count: 2 } })
    expect(rollingHour(m, t0 + 61 * MINUTE)).toEqual({ pm25: { mean: 20, count: 1 } })
    expect(rollingHour(m, t0 + 66 * MINUTE)).toEqual({})
  })
})

describe('the hourly sums', () => {
  it('take a late reading into its past hour directly', () => {
    const m = newStationMemory()
    const now = Date.UTC(2025, 2, 10, 12, 30)
    const hour = Date.UTC(2025, 2, 10, 7)
    for (let i = 0; i < 5; i++) addReading(m, { time: hour + i * 10 * MINUTE, values: { pm25: 12, no2: 30 } }, now)
    expect(hourValues(m, hour)).toEqual({ pm25: { mean: 12, count: 5 }, no2: { mean: 30, count: 5 } })
    // A backlog reading for that hour, days later still inside the history: into its hour's sums.
    expect(addReading(m, { time: hour + 55 * MINUTE, values: { pm25: 72 } }, now)).toBe(hour)
    expect(hourValues(m, hour)).toEqual({ pm25: { mean: 22, count: 6 }, no2: { mean: 30, count: 5 } })
    // Older than the history: ignored here (storage has it).
    expect(addReading(m, { time: now - 170 * HOUR, values: { pm25: 1 } }, now)).toBeUndefined()
    expect(hourValues(m, floorTo(now - 170 * HOUR))).toEqual({})
    // The rolling window and the newest values are not moved by a late reading.
    expect(rollingHour(m, now)).toEqual({})
    expect(latestOf(m)).toEqual({ time: hour + 55 * MINUTE, values: { pm25: 72, no2: 30 } })
  })

  it('matches a brute-force hourly mean over a week of random readings', () => {
    const rnd = random(99)
    const m = newStationMemory()
    const now = Date.UTC(2025, 2, 17, 9, 20)
    const readings: R[] = []
    for (let i = 0; i < 3000; i++) {
      const r = { time: now - Math.floor(rnd() * 168 * HOUR), values: { pm25: Math.floor(rnd() * 100), o3: Math.floor(rnd() * 150) } }
      readings.push(r)
      addReading(m, r, now) // in random order: most of them "late"
    }
    for (let h = floorTo(now) - 168 * HOUR; h < floorTo(now); h += HOUR) {
      // Beyond the duplicate window a resent time counts again (documented); these times are distinct but for chance.
      expect(hourValues(m, h)).toEqual(bruteForceDistinctAware(readings, h, h + HOUR, now))
    }
  })
})

describe('memory', () => {
  it('allocates a station\'s rings with its first reading inside them, not before', () => {
    const now = Date.UTC(2026, 5, 1, 12, 30)
    const m = newStationMemory()
    expect(m.rings).toBeUndefined()
    expect(rollingHour(m, now)).toEqual({})
    expect(hourValues(m, now - HOUR)).toEqual({})
    // Older than the week of history: remembered as the newest value, no rings.
    addReading(m, { time: now - 8 * 24 * HOUR, values: { pm25: 12 } }, now)
    expect(m.rings).toBeUndefined()
    expect(latestOf(m).values).toEqual({ pm25: 12 })
    addReading(m, { time: now - 2 * HOUR, values: { pm25: 20 } }, now)
    expect(m.rings).toBeDefined()
    expect(hourValues(m, Math.floor((now - 2 * HOUR) / HOUR) * HOUR)).toEqual({ pm25: { mean: 20, count: 1 } })
  })
})

describe('duplicates', () => {
  it('count once within the duplicate window, and again beyond it (storage has them once; the next load corrects it)', () => {
    const m = newStationMemory()
    const now = Date.UTC(2025, 2, 10, 12, 30)
    const r = { time: now - 10 * MINUTE, values: { pm25: 40 } }
    expect(addReading(m, r, now)).toBe(Date.UTC(2025, 2, 10, 12))
    expect(addReading(m, r, now)).toBeUndefined()
    expect(addReading(m, { ...r, values: { pm25: 99 } }, now + 30 * MINUTE)).toBeUndefined()
    expect(rollingHour(m, now)).toEqual({ pm25: { mean: 40, count: 1 } })
    expect(hourValues(m, Date.UTC(2025, 2, 10, 12))).toEqual({ pm25: { mean: 40, count: 1 } })
    const old = { time: now - DUPLICATE_WINDOW_MS - 5 * MINUTE, values: { pm25: 10 } }
    addReading(m, old, now)
    addReading(m, old, now)
    expect(hourValues(m, floorTo(old.time)).pm25?.count).toBe(2)
  })

  it('keeps a bounded window of times under a flood', () => {
    const m = newStationMemory()
    const now = Date.UTC(2025, 2, 10, 12, 30)
    for (let i = 0; i < 20_000; i++) addReading(m, { time: now - 2 * HOUR + i * 300, values: { pm25: 1 } }, now)
    expect(m.seenEnd - m.seenStart).toBe(DUPLICATE_CAP)
    expect(m.seenTimes.length).toBeLessThanOrEqual(2 * DUPLICATE_CAP)
    // The newest DUPLICATE_CAP times are the ones kept: resent, they count once.
    expect(addReading(m, { time: now - 2 * HOUR + 19_999 * 300, values: { pm25: 1 } }, now)).toBeUndefined()
    expect(addReading(m, { time: now - 2 * HOUR + (20_000 - DUPLICATE_CAP) * 300, values: { pm25: 1 } }, now)).toBeUndefined()
  })

  it('finds a resent time whatever order the times came in, and forgets times as they leave the window', () => {
    const random = mulberry32(7)
    const m = newStationMemory()
    const now = Date.UTC(2025, 2, 10, 12, 30)
    const seen = new Set<number>()
    for (let i = 0; i < 3000; i++) {
      // Mostly in order, some late, some resent.
      const pick = random()
      const time = pick < 0.1 && seen.size ? [...seen][Math.floor(random() * seen.size)]! : pick < 0.3 ? now - Math.floor(random() * 90) * MINUTE - i : now - 2 * HOUR + 1 + i * 1000
      const expected = !seen.has(time)
      seen.add(time)
      expect(addReading(m, { time, values: { pm25: 1 } }, now) !== undefined).toBe(expected)
    }
    for (let i = m.seenStart + 1; i < m.seenEnd; i++) expect(m.seenTimes[i]!).toBeGreaterThan(m.seenTimes[i - 1]!)
    // An hour and a half later, times older than the window then are counted again, the others still once.
    const later = now + 90 * MINUTE
    const kept = [...seen].filter((t) => t >= later - DUPLICATE_WINDOW_MS)
    const gone = [...seen].filter((t) => t < later - DUPLICATE_WINDOW_MS)
    expect(kept.length).toBeGreaterThan(100)
    for (const time of kept) expect(addReading(m, { time, values: { pm25: 1 } }, later)).toBeUndefined()
    expect(m.seenTimes[m.seenStart]!).toBeGreaterThanOrEqual(later - DUPLICATE_WINDOW_MS)
    expect(m.seenEnd - m.seenStart).toBe(kept.length)
    for (const time of gone.slice(0, 50)) expect(addReading(m, { time, values: { pm25: 1 } }, later)).toBe(floorTo(time))
  })
})

const floorTo = (t: number) => Math.floor(t / HOUR) * HOUR

/** Brute force for readings added at `now`: times inside the duplicate window count once, older ones each time. */
function bruteForceDistinctAware(readings: R[], from: number, to: number, now: number) {
  const inWindow = readings.filter((r) => r.time >= now - DUPLICATE_WINDOW_MS)
  const older = readings.filter((r) => r.time < now - DUPLICATE_WINDOW_MS && r.time >= from && r.time < to)
  const out: Record<string, { mean: number; count: number }> = {}
  const distinct = new Map<number, R>()
  for (const r of inWindow) if (r.time >= from && r.time < to && !distinct.has(r.time)) distinct.set(r.time, r)
  for (const p of EAQI_POLLUTANTS) {
    let sum = 0
    let count = 0
    for (const r of [...distinct.values(), ...older]) {
      const v = r.values[p]
      if (typeof v === 'number') {
        sum += v
        count += 1
      }
    }
    if (count > 0) out[p] = { mean: round1(sum / count), count }
  }
  return out
}

