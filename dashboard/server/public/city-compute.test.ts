import { describe, expect, it } from 'vitest'
import { EAQI_POLLUTANTS } from '../../../devices/aqi.ts'
import type { Device } from '../../../devices/registry.ts'
import { findCity } from '../../../devices/region.ts'
import { mulberry32 } from '../../../simulator/values.ts'
import { computeCityFromMemory, newCityCache } from './city-compute.ts'
import { addReading, MINUTE_MS, newStationMemory, type StationMemory } from './station-memory.ts'

/**
 * A recomputation reuses the state of every station whose memory, registry entry, rolling minute
 * and freshness did not move. Checked against the same city computed with every station's state
 * made afresh (a parallel memory fed the same readings, a new Device object each time), over a
 * random run of readings, clock steps across minutes and staleness, and registry changes.
 */

const firenze = findCity('firenze')!

function station(i: number, interval: number): Device {
  return {
    id: `aq-${String(i).padStart(3, '0')}`,
    type: 'air-quality',
    city: 'firenze',
    name: `Station ${i}`,
    lat: 43.77,
    lon: 11.25,
    interval,
    metadata: {},
    status: 'active',
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
    createdBy: 'test',
  }
}

describe('a city recomputed from memory', () => {
  it('answers exactly as a computation from scratch, and reuses the states of stations that did not change', () => {
    const rnd = mulberry32(7)
    const count = 30
    let devices = Array.from({ length: count }, (_, i) => station(i, rnd() < 0.5 ? 60 : 300))
    const cached: StationMemory[] = devices.map(() => newStationMemory())
    const reference: StationMemory[] = devices.map(() => newStationMemory())
    const cachedCity = newCityCache()
    const referenceCity = newCityCache()
    let now = Date.UTC(2025, 4, 6, 9, 0, 0)
    let reused = 0
    for (let step = 0; step < 400; step++) {
      // Mostly seconds, sometimes minutes (windows slide, stations go stale), now and then an hour.
      const r = rnd()
      now += r < 0.7 ? Math.floor(rnd() * 5_000) : r < 0.97 ? Math.floor(rnd() * 10 * MINUTE_MS) : 60 * MINUTE_MS
      const changed = new Set<number>()
      const readings = Math.floor(rnd() * 4)
      for (let k = 0; k < readings; k++) {
        const i = Math.floor(rnd() * count)
        const values: Record<string, number> = {}
        for (const p of EAQI_POLLUTANTS) if (rnd() < 0.9) values[p] = Math.floor(rnd() * 150)
        const reading = { time: now - Math.floor(rnd() * 3_000), values }
        addReading(cached[i]!, reading, now)
        addReading(reference[i]!, reading, now)
        changed.add(i)
      }
      if (rnd() < 0.03) {
        // A registry change: a new Device object (another interval), as the registry's change gives.
        const i = Math.floor(rnd() * count)
        devices = devices.map((d, j) => (j === i ? { ...d, interval: d.interval === 60 ? 300 : 60 } : d))
        changed.add(i)
        cachedCity.allDirty = true
        referenceCity.allDirty = true
      }
      const got = computeCityFromMemory(firenze, devices, cached, cachedCity, now, step)
      const want = computeCityFromMemory(firenze, devices.map((device) => ({ ...device })), reference, referenceCity, now, step)
      expect(JSON.parse(JSON.stringify(got))).toEqual(JSON.parse(JSON.stringify(want)))
      // Every station of the reference is made afresh (new Device objects); only the unchanged are reused.
      expect(referenceCity.reassessed).toBe(count)
      expect(cachedCity.reassessed).toBeGreaterThanOrEqual(changed.size)
      reused += count - cachedCity.reassessed
    }
    // Most steps are a few seconds with a reading or two: most stations' states are reused.
    expect(reused).toBeGreaterThan(count * 400 * 0.4)
  })
})
