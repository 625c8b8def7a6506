import { describe, expect, it } from 'vitest'
import type { Alert, CityAirQuality } from '../api/ops.ts'
import type { Device, Values } from '../api/types.ts'
import type { DeviceHealth } from '../live/health.ts'
import { summarise } from './summary.ts'

const cities = [
  { id: 'firenze', name: 'Firenze' },
  { id: 'pisa', name: 'Pisa' },
]
let n = 0
const device = (type: Device['type'], city: string, over: Partial<Device> = {}): Device => ({
  id: `${type}-${city}-${++n}`,
  type,
  name: 'x',
  city,
  lat: 43.7,
  lon: 11.2,
  interval: 60,
  metadata: {},
  status: 'active',
  createdAt: '',
  updatedAt: '',
  createdBy: 'cli',
  ...over,
})

function run(entries: [Device, Values | undefined, DeviceHealth['state']][], extra: { alerts?: Partial<Alert>[]; air?: CityAirQuality[] } = {}) {
  const values = new Map(entries.map(([d, v]) => [d.id, v]))
  const health = new Map(entries.map(([d, , s]) => [d.id, { id: d.id, state: s, since: 1, lastSeen: 1, interval: 60 }]))
  return summarise({
    cities,
    devices: entries.map(([d]) => d),
    values: (id) => values.get(id),
    health: (id) => health.get(id),
    alerts: (extra.alerts ?? []) as Alert[],
    airQuality: new Map((extra.air ?? []).map((a) => [a.city, a])),
  })
}

describe('cities at a glance', () => {
  it('sums traffic, parking, buses and device states per city and for the region', () => {
    const [region, firenze, pisa] = run([
      [device('traffic-counter', 'firenze'), { intensity: 10, occupancy: 0.3, averageVehicleSpeed: 30 }, 'live'],
      [device('traffic-counter', 'firenze'), { intensity: 10, occupancy: 0.1, averageVehicleSpeed: 50 }, 'late'],
      [device('parking', 'firenze'), { availableSpotNumber: 0, totalSpotNumber: 100 }, 'live'],
      [device('parking', 'pisa'), { availableSpotNumber: 40, totalSpotNumber: 50 }, 'live'],
      [device('bus', 'pisa'), { lat: 43.7, lon: 10.4, delay: 60 }, 'live'],
      [device('bus', 'pisa'), { lat: 43.7, lon: 10.4, delay: 600 }, 'live'],
      // A silent device's values are out of date: counted as silent, not in the figures.
      [device('parking', 'pisa'), { availableSpotNumber: 999, totalSpotNumber: 999 }, 'silent'],
      [device('air-quality', 'pisa', { status: 'decommissioned' }), undefined, 'inactive'],
    ])
    expect(firenze).toMatchObject({ traffic: { occupancy: 20, band: 'Light', speed: 40, counters: 2 }, parking: { free: 0, total: 100, areas: 1, full: 1 } })
    expect(firenze!.devices).toMatchObject({ live: 2, late: 1, silent: 0, total: 3 })
    expect(pisa).toMatchObject({ parking: { free: 40, total: 50 }, buses: { onTime: 0.5, meanDelay: 330, buses: 2, late: 1 } })
    expect(pisa!.devices).toMatchObject({ live: 3, silent: 1, inactive: 1, total: 5 })
    expect(region).toMatchObject({ id: '', parking: { free: 40, total: 150, full: 1 }, devices: { live: 5, late: 1, silent: 1, inactive: 1, total: 8 } })
  })

  it('takes the official EAQI when there is one, else the latest readings’ worst band, marked indicative', () => {
    const air: CityAirQuality[] = [{ city: 'firenze', status: 'ok', index: { value: 3, band: 'moderate', label: 'Moderate', drivingPollutant: 'no2' } }]
    const [region, firenze, pisa] = run(
      [
        [device('air-quality', 'firenze'), { pm25: 2 }, 'live'],
        [device('air-quality', 'pisa'), { pm25: 2, pm10: 130 }, 'live'],
      ],
      { air },
    )
    expect(firenze!.air).toMatchObject({ level: 3, label: 'Moderate', pollutant: 'NO₂', indicative: false })
    expect(pisa!.air).toMatchObject({ level: 4, label: 'Poor', pollutant: 'PM10', indicative: true })
    // The region: its worst official city index.
    expect(region!.air).toMatchObject({ level: 3, indicative: false })
    expect(run([])[1]!.air).toMatchObject({ level: null, status: 'no-stations' })
  })

  it('counts open and acknowledged alerts per city', () => {
    const [region, firenze, pisa] = run([], {
      alerts: [
        { city: 'firenze', state: 'open', severity: 'critical' },
        { city: 'firenze', state: 'acknowledged', severity: 'warning' },
        { city: 'pisa', state: 'open', severity: 'info' },
      ],
    })
    expect(firenze!.alerts).toEqual({ open: 1, acknowledged: 1, critical: 1 })
    expect(pisa!.alerts).toEqual({ open: 1, acknowledged: 0, critical: 0 })
    expect(region!.alerts).toEqual({ open: 2, acknowledged: 1, critical: 1 })
  })
})
