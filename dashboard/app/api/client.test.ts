import { describe, expect, it } from 'vitest'
import { normaliseConfig, toMillis } from './client.ts'

const cities = [{ id: 'firenze', name: 'Firenze', province: 'FI', lat: 43.77, lon: 11.26, population: 360000 }]
const bbox = { west: 9.68, south: 42.23, east: 12.38, north: 44.48 }
const expected = {
  mapStyleUrl: null,
  cities,
  bbox,
  kinds: {
    'traffic-counter': {
      family: 'traffic',
      label: 'Traffic counter',
      fields: {
        intensity: { unit: 'vehicles', label: 'Vehicles in the interval', minimum: 0, maximum: 20000 },
        occupancy: { unit: '0–1', label: 'Occupancy', minimum: 0, maximum: 1 },
      },
      tags: { laneId: 'Lane' },
    },
  },
}

describe('normaliseConfig', () => {
  it('reads the shape dashboard/server sends (region.bbox, arrays of kinds, fields, tags)', () => {
    const raw = {
      mapStyleUrl: null,
      region: { name: 'Toscana', bbox },
      cities,
      kinds: [
        {
          type: 'traffic-counter',
          family: 'traffic',
          label: 'Traffic counter',
          model: 'TrafficFlowObserved',
          defaultInterval: 60,
          fields: [
            { name: 'intensity', label: 'Vehicles in the interval', unit: 'vehicles', minimum: 0, maximum: 20000, integer: true, public: false },
            { name: 'occupancy', label: 'Occupancy', unit: '0–1', minimum: 0, maximum: 1, integer: false, public: false },
          ],
          tags: [{ name: 'laneId', label: 'Lane' }],
        },
      ],
      live: { coalesceMs: 250, publicType: 'air-quality' },
    }
    const config = normaliseConfig(raw)
    expect(config).toEqual(expected)
    // Field order is kept: the first field is the one charted first.
    expect(Object.keys(config.kinds['traffic-counter']!.fields)).toEqual(['intensity', 'occupancy'])
  })

  it('reads the shape of the original contract (bbox, kinds and fields keyed by name)', () => {
    const raw = {
      mapStyleUrl: null,
      cities,
      bbox,
      kinds: {
        'traffic-counter': {
          family: 'traffic',
          label: 'Traffic counter',
          fields: {
            intensity: { unit: 'vehicles', label: 'Vehicles in the interval', minimum: 0, maximum: 20000 },
            occupancy: { unit: '0–1', label: 'Occupancy', minimum: 0, maximum: 1 },
          },
          tags: { laneId: { label: 'Lane' } },
        },
      },
    }
    expect(normaliseConfig(raw)).toEqual(expected)
  })

  it('refuses a config without a bbox', () => {
    expect(() => normaliseConfig({ cities, kinds: [] })).toThrow(/bbox/)
  })
})

describe('toMillis', () => {
  it('accepts epoch ms and ISO strings', () => {
    expect(toMillis(1_700_000_000_000)).toBe(1_700_000_000_000)
    expect(toMillis('2026-01-01T00:00:00Z')).toBe(Date.UTC(2026, 0, 1))
    expect(toMillis(null)).toBeNaN()
  })
})
