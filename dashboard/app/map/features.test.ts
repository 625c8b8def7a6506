import { describe, expect, it } from 'vitest'
import type { Device } from '../api/types.ts'
import type { DeviceState } from '../live/connection.ts'
import { createFeatureCache, deviceFeature, devicePosition } from './features.ts'
import { LEVELS, NO_DATA } from './levels.ts'

const device = (id: string, type: Device['type'], over: Partial<Device> = {}): Device => ({
  id,
  type,
  name: id,
  city: 'firenze',
  lat: 43.77,
  lon: 11.25,
  interval: 60,
  metadata: {},
  status: 'active',
  createdAt: '',
  updatedAt: '',
  createdBy: 'cli',
  ...over,
})
const state = (id: string, values: DeviceState['values']): DeviceState => ({ id, type: '', city: '', time: 1, values })

describe('device features', () => {
  it('places fixed devices at their registered spot and buses where they report', () => {
    expect(devicePosition(device('aq-1', 'air-quality'), state('aq-1', { pm25: 1 }))).toEqual([11.25, 43.77])
    expect(devicePosition(device('bus-1', 'bus'), state('bus-1', { lat: 43.8, lon: 11.3 }))).toEqual([11.3, 43.8])
  })

  it('colours by grade', () => {
    expect(deviceFeature(device('aq-1', 'air-quality'), state('aq-1', { pm25: 1 })).properties.color).toBe(LEVELS[0]!.color)
    expect(deviceFeature(device('aq-1', 'air-quality'), undefined).properties.color).toBe(NO_DATA.color)
    expect(deviceFeature(device('aq-1', 'air-quality', { status: 'revoked' }), state('aq-1', { pm25: 1 })).properties.color).toBe(NO_DATA.color)
  })

  it('the cache rebuilds only changed, known devices', () => {
    const states = new Map<string, DeviceState>()
    const cache = createFeatureCache((id) => states.get(id))
    cache.setDevices([device('aq-1', 'air-quality'), device('aq-2', 'air-quality')])
    const first = cache.collection().features
    expect(first.map((f) => f.properties.color)).toEqual([NO_DATA.color, NO_DATA.color])

    states.set('aq-2', state('aq-2', { pm25: 200 }))
    expect(cache.update(['unknown'])).toEqual([])
    const changed = cache.update(['aq-2'])
    expect(changed.map((f) => f.properties.id)).toEqual(['aq-2'])
    const second = cache.collection().features
    expect(second[0]).toBe(first[0])
    expect(second[1]!.properties.color).toBe(LEVELS[4]!.color)
  })
})
