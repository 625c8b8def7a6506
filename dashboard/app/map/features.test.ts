import { describe, expect, it } from 'vitest'
import type { Device } from '../api/types.ts'
import type { DeviceState } from '../live/connection.ts'
import type { DeviceHealth } from '../live/health.ts'
import { createFeatureCache, deviceFeature, devicePosition } from './features.ts'
import { grade, NO_DATA, STALE } from './levels.ts'

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
const state = (id: string, values: DeviceState['values'], time = 1): DeviceState => ({ id, type: 'air-quality', city: '', time, values })
const health = (id: string, s: DeviceHealth['state'], since = 1): DeviceHealth => ({ id, state: s, since, lastSeen: since, interval: 60 })

function sources() {
  const states = new Map<string, DeviceState>()
  const healths = new Map<string, DeviceHealth>()
  const alerts = new Set<string>()
  return { states, healths, alerts, sources: { getState: (id: string) => states.get(id), getHealth: (id: string) => healths.get(id), hasAlert: (id: string) => alerts.has(id) } }
}

describe('device features', () => {
  it('places fixed devices at their registered spot and buses where they report', () => {
    expect(devicePosition(device('aq-1', 'air-quality'), state('aq-1', { pm25: 1 }))).toEqual([11.25, 43.77])
    expect(devicePosition(device('bus-1', 'bus'), state('bus-1', { lat: 43.8, lon: 11.3 }))).toEqual([11.3, 43.8])
  })

  it('carries the value colour, the health state and the alert flag; silent devices are grey', () => {
    const aq = device('aq-1', 'air-quality')
    expect(deviceFeature(aq, state('aq-1', { pm25: 1 }), health('aq-1', 'live')).properties).toMatchObject({ color: grade('air-quality', { pm25: 1 }).color, state: 'live', alert: 0 })
    expect(deviceFeature(aq, undefined).properties).toMatchObject({ color: NO_DATA.color, state: 'pending' })
    expect(deviceFeature(aq, state('aq-1', { pm25: 1 }), health('aq-1', 'silent'), true).properties).toMatchObject({ color: STALE.color, state: 'silent', alert: 1 })
    // Decommissioned: inactive, whatever the server says.
    expect(deviceFeature(device('aq-2', 'air-quality', { status: 'decommissioned' }), undefined, health('aq-2', 'silent')).properties.state).toBe('inactive')
  })

  it('the cache sends only devices whose drawing changed, and follows the filter', () => {
    const s = sources()
    const cache = createFeatureCache(s.sources)
    cache.setDevices([device('aq-1', 'air-quality'), device('aq-2', 'air-quality', { city: 'pisa' }), device('bus-1', 'bus')])
    expect(cache.collection().features).toHaveLength(3)

    // A new reading in the same band changes nothing drawn: nothing to send.
    s.states.set('aq-1', state('aq-1', { pm25: 1 }))
    expect(cache.update(['aq-1']).add.map((f) => f.properties.id)).toEqual(['aq-1'])
    s.states.set('aq-1', state('aq-1', { pm25: 2 }, 2))
    expect(cache.update(['aq-1', 'unknown'])).toEqual({ add: [], remove: [] })
    // A bus that moves is sent; so is a device turning late.
    s.states.set('bus-1', state('bus-1', { lat: 43.8, lon: 11.3 }))
    s.healths.set('aq-2', health('aq-2', 'late'))
    expect(cache.update(['bus-1', 'aq-2']).add.map((f) => f.properties.id)).toEqual(['bus-1', 'aq-2'])

    // Only late devices: the others leave the source, and come back when they match.
    cache.setFilter((_d, h) => h?.state === 'late')
    expect(cache.collection().features.map((f) => f.properties.id)).toEqual(['aq-2'])
    expect(cache.shownCount()).toBe(1)
    s.healths.set('aq-2', health('aq-2', 'live', 5))
    s.healths.set('aq-1', health('aq-1', 'late', 5))
    const diff = cache.update(['aq-2', 'aq-1'])
    expect(diff.add.map((f) => f.properties.id)).toEqual(['aq-1'])
    expect(diff.remove).toEqual(['aq-2'])
    expect(cache.isShown('aq-1')).toBe(true)
    expect(cache.isShown('aq-2')).toBe(false)
  })
})
