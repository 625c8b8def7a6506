import { describe, expect, it } from 'vitest'
import { BANDS as EAQI } from '../../../devices/aqi.ts'
import { NO_DATA, NOT_GRADED, SCALES, grade } from './levels.ts'
import { setAppLang } from '../locale.ts'

const name = (type: string, values: Record<string, number>) => grade(type, values).text

describe('value scales', () => {
  it('grades air quality by the EAQI band of the worst pollutant, with the EEA colours', () => {
    expect(grade('air-quality', { pm25: 3, pm10: 10 })).toMatchObject({ kind: 'level', text: 'Good', color: EAQI[0]!.color, detail: 'PM2.5 3 µg/m³' })
    // Boundaries belong to the worse band (devices/aqi.ts): PM2.5 = 5 is fair.
    expect(name('air-quality', { pm25: 5 })).toBe('Fair')
    // The worst pollutant sets it: NO₂ 80 is poor even with clean particles.
    expect(grade('air-quality', { pm25: 2, no2: 80 })).toMatchObject({ text: 'Poor', detail: 'NO₂ 80 µg/m³' })
    expect(name('air-quality', { pm10: 300 })).toBe('Extremely poor')
    // CO is not part of the index.
    expect(grade('air-quality', { co: 3 })).toMatchObject({ kind: 'no-data', color: NO_DATA.color })
  })

  it('grades noise in 5 dB(A) bands from the WHO guideline', () => {
    expect([50, 55, 62, 67, 72, 80].map((v) => name('noise', { LAeq: v }))).toEqual(['Quiet', 'Moderate', 'Noisy', 'Loud', 'Very loud', 'Extremely loud'])
  })

  it('grades traffic by congestion (loop occupancy, 0–1 on the wire)', () => {
    expect([0.05, 0.15, 0.3, 0.45, 0.6].map((o) => name('traffic-counter', { intensity: 1, occupancy: o }))).toEqual(['Free flow', 'Light', 'Moderate', 'Heavy', 'Congested'])
    expect(grade('traffic-counter', { intensity: 1, occupancy: 0.3, averageVehicleSpeed: 22 }).detail).toBe('30 % occupied, 22 km/h')
  })

  it('grades parking by occupancy, full when no spot is free, guarding a zero total', () => {
    expect(grade('parking', { availableSpotNumber: 80, totalSpotNumber: 100 })).toMatchObject({ text: 'Plenty of space', detail: '80 of 100 free' })
    expect(name('parking', { availableSpotNumber: 5, totalSpotNumber: 100 })).toBe('Nearly full')
    expect(name('parking', { availableSpotNumber: 0, totalSpotNumber: 100 })).toBe('Full')
    expect(grade('parking', { availableSpotNumber: 0, totalSpotNumber: 0 }).kind).toBe('no-data')
  })

  it('grades bike docks by bikes against free docks, and buses by delay', () => {
    expect(name('bike-dock', { availableBikeNumber: 0, freeSlotNumber: 20 })).toBe('No bikes')
    expect(name('bike-dock', { availableBikeNumber: 12, freeSlotNumber: 8 })).toBe('Bikes and docks free')
    expect(name('bike-dock', { availableBikeNumber: 20, freeSlotNumber: 0 })).toBe('No free dock')
    expect([-120, 30, 120, 240, 420, 900].map((d) => name('bus', { lat: 43.7, lon: 11.2, delay: d }))).toEqual(['Early', 'On time', 'Slightly late', 'Late', 'Very late', 'Severely late'])
    expect(grade('bus', { lat: 43.7, lon: 11.2, delay: 420 }).detail).toBe('7 min late')
  })

  it('weather is not graded; missing data and inactive devices are grey', () => {
    expect(grade('weather', { temperature: 20 })).toMatchObject({ kind: 'not-graded', color: NOT_GRADED.color })
    expect(grade('air-quality', undefined)).toMatchObject({ kind: 'no-data', color: NO_DATA.color })
    expect(grade('air-quality', { pm25: 3 }, false)).toMatchObject({ kind: 'inactive', color: NO_DATA.color, text: 'Inactive' })
  })

  it('every band has a name, a range and a distinct colour within its scale (colour is never alone)', () => {
    for (const scale of Object.values(SCALES)) {
      for (const b of scale.bands) {
        expect(b.name).not.toBe('')
        expect(b.range).not.toBe('')
        expect(b.ink).toMatch(/^#/)
      }
      expect(new Set(scale.bands.map((b) => b.color)).size, scale.type).toBe(scale.bands.length)
    }
  })
})

describe('grades in Italian', () => {
  it('names bands, scales and details in the app language, with a decimal comma', () => {
    try {
      setAppLang('it')
      const g = grade('noise', { LAeq: 62.35 })
      expect(g).toMatchObject({ text: 'Rumoroso', detail: 'LAeq 62,4 dB(A)' })
      expect(g.scale?.title).toBe('Rumore')
      expect(grade('bus', { delay: -90 }).detail).toBe('1,5 min di anticipo')
      expect(grade('parking', { availableSpotNumber: 10, totalSpotNumber: 200 }).detail).toBe('10 liberi su 200')
      expect(SCALES['air-quality']!.bands[0]!.range).toMatch(/^PM2,5/)
      expect(grade('weather', { temperature: 3 }).text).toBe('Trasmette (senza scala)')
    } finally {
      setAppLang('en')
    }
    expect(grade('noise', { LAeq: 62.35 })).toMatchObject({ text: 'Noisy', detail: 'LAeq 62.4 dB(A)' })
  })
})
