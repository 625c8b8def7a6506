import { describe, expect, it } from 'vitest'
import { Compile } from 'typebox/compile'
import { ConfigSchema } from '../../shared/config.ts'
import { normaliseConfig, toMillis } from './client.ts'
import type { RawConfig } from './types.ts'

const cities = [{ id: 'firenze', name: 'Firenze', province: 'FI', lat: 43.77, lon: 11.26, population: 360000 }]
const bbox = { west: 9.68, south: 42.23, east: 12.38, north: 44.48 }
const intensity = { name: 'intensity', label: 'Vehicles in the interval', unit: 'vehicles', minimum: 0, maximum: 20000, integer: true, public: false }
const occupancy = { name: 'occupancy', label: 'Occupancy', unit: '0–1', minimum: 0, maximum: 1, integer: false, public: false }
const raw: RawConfig = {
  baseMap: { styleUrl: null, pmtilesUrl: null, attribution: null },
  region: { name: 'Toscana', bbox },
  cities,
  kinds: [
    {
      type: 'traffic-counter',
      family: 'traffic',
      label: 'Traffic counter',
      model: 'TrafficFlowObserved',
      defaultInterval: 60,
      mainField: 'intensity',
      fields: [intensity, occupancy],
      tags: [{ name: 'laneId', label: 'Lane' }],
    },
  ],
  live: { coalesceMs: 250, publicType: 'air-quality' },
}

describe('normaliseConfig', () => {
  it('keys the kinds by type and their fields by name, tags as name → label, bbox at the top', () => {
    const config = normaliseConfig(raw)
    expect(config.bbox).toEqual(bbox)
    expect(config.cities).toEqual(cities)
    expect(config.baseMap).toEqual({ styleUrl: null, pmtilesUrl: null, attribution: null })
    expect(config.kinds).toEqual({
      'traffic-counter': {
        type: 'traffic-counter',
        family: 'traffic',
        label: 'Traffic counter',
        model: 'TrafficFlowObserved',
        defaultInterval: 60,
        mainField: 'intensity',
        fields: { intensity, occupancy },
        tags: { laneId: 'Lane' },
      },
    })
    // Field order is kept: the first field is the one charted first.
    expect(Object.keys(config.kinds['traffic-counter']!.fields)).toEqual(['intensity', 'occupancy'])
  })

  it('matches what the server sends: the schema accepts the test config', () => {
    expect(Compile(ConfigSchema).Check(raw)).toBe(true)
  })
})

describe('toMillis', () => {
  it('accepts epoch ms and ISO strings', () => {
    expect(toMillis(1_700_000_000_000)).toBe(1_700_000_000_000)
    expect(toMillis('2026-01-01T00:00:00Z')).toBe(Date.UTC(2026, 0, 1))
    expect(toMillis(null)).toBeNaN()
  })
})
