import { describe, expect, it } from 'vitest'
import { GRADINGS, LEVELS, NO_DATA, NOT_GRADED, grade, levelIndex, rangeText } from './levels.ts'

describe('levels', () => {
  it('levelIndex treats thresholds as inclusive upper bounds', () => {
    const t = [5, 15, 50, 90]
    expect([0, 5, 5.1, 15, 16, 50, 90, 90.5, 500].map((v) => levelIndex(v, t))).toEqual([0, 0, 1, 1, 2, 2, 3, 4, 4])
  })

  it('grades air quality by the PM2.5 band', () => {
    expect(grade('air-quality', { pm25: 3 }).level?.name).toBe('Good')
    expect(grade('air-quality', { pm25: 23.4, pm10: 40 }).level?.name).toBe('Moderate')
    expect(grade('air-quality', { pm25: 150 }).level?.name).toBe('Very poor')
    // Other pollutants alone do not grade it.
    expect(grade('air-quality', { no2: 40 })).toMatchObject({ kind: 'no-data', color: NO_DATA.color, text: 'No PM2.5 yet' })
  })

  it('grades traffic by occupancy (0–1 on the wire, percent in the bands)', () => {
    expect(grade('traffic-counter', { intensity: 10, occupancy: 0.05 }).level?.name).toBe('Good')
    expect(grade('traffic-counter', { intensity: 10, occupancy: 0.3 }).level?.name).toBe('Moderate')
    expect(grade('traffic-counter', { intensity: 10, occupancy: 0.6 }).level?.name).toBe('Very poor')
  })

  it('grades parking by the share of spots taken, guarding a zero total', () => {
    expect(grade('parking', { availableSpotNumber: 80, totalSpotNumber: 100 }).level?.name).toBe('Good')
    expect(grade('parking', { availableSpotNumber: 5, totalSpotNumber: 100 }).level?.name).toBe('Poor')
    expect(grade('parking', { availableSpotNumber: 0, totalSpotNumber: 100 }).level?.name).toBe('Very poor')
    expect(grade('parking', { availableSpotNumber: 0, totalSpotNumber: 0 }).kind).toBe('no-data')
  })

  it('grades bike docks, noise and buses', () => {
    expect(grade('bike-dock', { availableBikeNumber: 0, freeSlotNumber: 20 }).level?.name).toBe('Very poor')
    expect(grade('bike-dock', { availableBikeNumber: 12, freeSlotNumber: 8 }).level?.name).toBe('Good')
    expect(grade('noise', { LAeq: 68 }).level?.name).toBe('Moderate')
    expect(grade('bus', { lat: 43.7, lon: 11.2, delay: -40 }).level?.name).toBe('Good')
    expect(grade('bus', { lat: 43.7, lon: 11.2, delay: 400 }).level?.name).toBe('Poor')
  })

  it('weather is not graded, missing data and inactive devices are grey', () => {
    expect(grade('weather', { temperature: 20 })).toMatchObject({ kind: 'not-graded', color: NOT_GRADED.color })
    expect(grade('air-quality', undefined)).toMatchObject({ kind: 'no-data', color: NO_DATA.color })
    expect(grade('air-quality', { pm25: 3 }, false)).toMatchObject({ kind: 'inactive', color: NO_DATA.color, text: 'Inactive' })
  })

  it('every grade carries text, so colour is never the only signal', () => {
    for (const l of LEVELS) expect(l.name).not.toBe('')
    expect(new Set(LEVELS.map((l) => l.color)).size).toBe(LEVELS.length)
  })

  it('legend range text matches the thresholds', () => {
    const g = GRADINGS['air-quality']!
    expect(LEVELS.map((l) => rangeText(g, l.index))).toEqual(['≤ 5 µg/m³', '5–15 µg/m³', '15–50 µg/m³', '50–90 µg/m³', '> 90 µg/m³'])
    expect(rangeText(GRADINGS.parking!, 4)).toBe('> 97%')
  })
})
