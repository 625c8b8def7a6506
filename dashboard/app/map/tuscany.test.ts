import { describe, expect, it } from 'vitest'
import region from '../../../devices/region.json' with { type: 'json' }
import { TUSCANY_POINTS, tuscany } from './tuscany.ts'

/** Even-odd ray casting: enough for a simple polygon. */
function inside([x, y]: [number, number], ring: number[][]): boolean {
  let result = false
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i] as [number, number]
    const [xj, yj] = ring[j] as [number, number]
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) result = !result
  }
  return result
}

describe('Tuscany outline', () => {
  const mainland = tuscany.geometry.coordinates[0]![0]!

  it('is a closed ring of 40–80 points, within the region bbox', () => {
    expect(TUSCANY_POINTS).toBeGreaterThanOrEqual(40)
    expect(TUSCANY_POINTS).toBeLessThanOrEqual(100)
    expect(mainland[0]).toEqual(mainland.at(-1))
    const b = region.bbox
    for (const [lon, lat] of mainland as [number, number][]) {
      expect(lon).toBeGreaterThanOrEqual(b.west)
      expect(lon).toBeLessThanOrEqual(b.east)
      expect(lat).toBeGreaterThanOrEqual(b.south)
      expect(lat).toBeLessThanOrEqual(b.north)
    }
  })

  it('contains all ten provincial capitals', () => {
    for (const c of region.cities) expect(inside([c.lon, c.lat], mainland), c.name).toBe(true)
  })

  it('leaves out nearby cities of other regions', () => {
    const outside: [string, number, number][] = [
      ['La Spezia', 9.82, 44.1],
      ['Bologna', 11.34, 44.49],
      ['Perugia', 12.39, 43.11],
      ['Viterbo', 12.1, 42.42],
      ['Città di Castello', 12.24, 43.46],
    ]
    for (const [name, lon, lat] of outside) expect(inside([lon, lat], mainland), name).toBe(false)
  })
})
