import { describe, expect, it } from 'vitest'
import { CITIES, distanceKm, nearestCity } from './cities.ts'

describe('nearestCity', () => {
  it('finds each city from its own centre and from a point near it', () => {
    for (const c of CITIES) expect(nearestCity(c.lat, c.lon).city.id).toBe(c.id)
    // Pisa's Leaning Tower, and the Piazza del Campo in Siena.
    expect(nearestCity(43.7230, 10.3966)).toMatchObject({ city: { id: 'pisa' } })
    expect(nearestCity(43.7183, 10.3966).km).toBeLessThan(2)
    expect(nearestCity(43.3184, 11.3316).city.id).toBe('siena')
    // Between Firenze and Prato, nearer Prato.
    expect(nearestCity(43.86, 11.12).city.id).toBe('prato')
  })

  it('measures great-circle distances', () => {
    // Firenze to Pisa, centre to centre: about 69 km.
    const firenze = CITIES.find((c) => c.id === 'firenze')!
    const pisa = CITIES.find((c) => c.id === 'pisa')!
    expect(distanceKm(firenze.lat, firenze.lon, pisa.lat, pisa.lon)).toBeGreaterThan(65)
    expect(distanceKm(firenze.lat, firenze.lon, pisa.lat, pisa.lon)).toBeLessThan(73)
    expect(distanceKm(43, 11, 43, 11)).toBe(0)
  })
})
