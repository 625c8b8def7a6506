import { describe, expect, it } from 'vitest'
import type { DeviceType } from '../../../devices/kinds.ts'
import type { Device } from '../../../devices/registry.ts'
import { createMobilitySnapshots } from './mobility-snapshot.ts'

/** The mobility snapshot's timing and freshness, with a fake clock, registry and live hub. */

function device(id: string, type: DeviceType, interval: number): Device {
  return { id, type, city: 'firenze', name: id, lat: 43.77, lon: 11.25, interval, metadata: {}, status: 'active', createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z', createdBy: 'test' }
}

describe('the mobility snapshot', () => {
  const devices = [device('bus-a', 'bus', 10), device('bus-b', 'bus', 10), device('dock-a', 'bike-dock', 60)]
  let now = 1_000_000
  let builds = 0
  const received: Record<string, number> = { 'bus-a': now, 'dock-a': now - 170_000 }
  const snapshots = createMobilitySnapshots({
    registry: { list: (filter = {}) => ({ items: devices.filter((d) => d.type === filter.type), total: 0 }) },
    live: {
      readingsOf(type) {
        if (type === 'bus') builds += 1
        return devices.filter((d) => d.type === type && received[d.id] !== undefined).map((d) => ({ id: d.id, city: d.city, time: received[d.id]!, values: {}, receivedAt: received[d.id]! }))
      },
    },
    clock: () => now,
  })

  it('is rebuilt at most once per second, however often it is asked for', () => {
    const first = snapshots.current()
    for (let i = 0; i < 100; i++) {
      now += 9
      expect(snapshots.current()).toBe(first)
    }
    expect(builds).toBe(1)
    now = first.at + 1000
    const second = snapshots.current()
    expect(second).not.toBe(first)
    expect(second.version).toBe(first.version + 1)
    expect(builds).toBe(2)
  })

  it('marks a device fresh while heard from within 3 intervals, and lists devices never heard from', () => {
    now += 1000
    const snap = snapshots.current()
    const byId = Object.fromEntries([...snap.items.bus, ...snap.items['bike-dock']].map((i) => [i.device.id, i]))
    expect(byId['bus-a']!.fresh).toBe(true)
    expect(byId['bus-b']!.fresh).toBe(false)
    expect(byId['bus-b']!.reading).toBeUndefined()
    // 170 s + 2 s ago with a 60 s interval: within 180 s.
    expect(byId['dock-a']!.fresh).toBe(true)
    now += 30_000
    const later = snapshots.current()
    expect(later.items.bus.find((i) => i.device.id === 'bus-a')!.fresh).toBe(false)
    expect(later.items['bike-dock'][0]!.fresh).toBe(false)
  })
})
