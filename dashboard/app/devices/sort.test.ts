import { describe, expect, it } from 'vitest'
import { testConfig } from '../api/fixtures.ts'
import type { Device } from '../api/types.ts'
import type { HealthState } from '../live/health.ts'
import { sortDevices } from './sort.ts'

const config = testConfig(
  {
    bus: { family: 'infomobility', label: 'Bus tracker', fields: {} },
    'air-quality': { family: 'environment', label: 'Air-quality station', fields: {} },
  },
  [
    { id: 'pisa', name: 'Pisa', province: 'PI', lat: 43.7, lon: 10.4, population: 1 },
    { id: 'firenze', name: 'Firenze', province: 'FI', lat: 43.77, lon: 11.26, population: 1 },
  ],
)
const device = (id: string, name: string, city: string, type: string) => ({ id, name, city, type }) as Device
const devices = [device('b10', 'Bus line 10', 'pisa', 'bus'), device('aq2', 'air station', 'firenze', 'air-quality'), device('b9', 'Bus line 9', 'firenze', 'bus'), device('aq1', 'Air station', 'pisa', 'air-quality')]
const states: Record<string, HealthState> = { b10: 'live', aq2: 'silent', b9: 'late', aq1: 'pending' }
const ids = (sorted: Device[]) => sorted.map((d) => d.id)

describe('sorting the device list', () => {
  it('by name, numbers as numbers, ties by id', () => {
    expect(ids(sortDevices(config, devices, 'name', (d) => states[d.id]!))).toEqual(['aq1', 'aq2', 'b9', 'b10'])
  })
  it('by city, type and problems first, then by name', () => {
    expect(ids(sortDevices(config, devices, 'city', (d) => states[d.id]!))).toEqual(['aq2', 'b9', 'aq1', 'b10'])
    expect(ids(sortDevices(config, devices, 'type', (d) => states[d.id]!))).toEqual(['aq1', 'aq2', 'b9', 'b10'])
    expect(ids(sortDevices(config, devices, 'state', (d) => states[d.id]!))).toEqual(['aq2', 'b9', 'aq1', 'b10'])
  })
  it('leaves the input alone', () => {
    const copy = [...devices]
    sortDevices(config, devices, 'name', () => 'live')
    expect(devices).toEqual(copy)
  })
})
