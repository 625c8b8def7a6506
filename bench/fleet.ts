import { KINDS, type DeviceType } from '../devices/kinds.ts'
import { cities } from '../devices/region.ts'
import { apportion, planFleet, type PlannedDevice } from '../simulator/fleet.ts'
import { hashString, mulberry32, offsetKm } from '../simulator/values.ts'

/**
 * The benchmark's fleets: every connection is its own registered device, spread over the region's
 * ten cities by population.
 * - mixed: every device type in the simulator's proportions (planFleet, simulator/fleet.ts);
 * - air-quality: every device an air-quality station, each city's monitoring network (the public
 *   snapshots' costly path: many cities, many stations).
 */

export const FLEETS = ['mixed', 'air-quality'] as const
export type FleetName = (typeof FLEETS)[number]

const SEED = 20_240_601

export function benchFleet(fleet: FleetName, size: number): PlannedDevice[] {
  if (fleet === 'mixed') return planFleet({ devices: size, seed: SEED })
  const perCity = apportion(size, cities.map((c) => c.population))
  // Every city has a network when there are enough stations to go round.
  if (size >= cities.length) {
    for (let i = 0; i < perCity.length; i++) {
      if (perCity[i] === 0) {
        perCity[perCity.indexOf(Math.max(...perCity))]!--
        perCity[i] = 1
      }
    }
  }
  const plan: PlannedDevice[] = []
  cities.forEach((city, c) => {
    for (let n = 1; n <= perCity[c]!; n++) {
      const id = `bench-aq-${city.id}-${n}`
      const rng = mulberry32(hashString(id) ^ SEED)
      const r = 4 * Math.sqrt(rng())
      const angle = rng() * 2 * Math.PI
      const at = offsetKm(city.id, city.lat, city.lon, r * Math.cos(angle), r * Math.sin(angle))
      plan.push({
        id,
        type: 'air-quality',
        city: city.id,
        name: `Bench station ${city.name} #${n}`,
        lat: Math.round(at.lat * 1e6) / 1e6,
        lon: Math.round(at.lon * 1e6) / 1e6,
        interval: KINDS['air-quality'].defaultInterval,
        metadata: { station: rng() < 0.5 ? 'traffic' : 'background' },
      })
    }
  })
  return plan
}

/** The types a fleet holds, with the field each reading of that type always carries (readings are counted by it). */
export function countedFields(types: Iterable<DeviceType>): { type: DeviceType; field: string }[] {
  return [...new Set(types)].sort().map((type) => ({ type, field: KINDS[type].mainField }))
}
