import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { DEVICE_TYPES, KINDS, type DeviceType } from '../devices/kinds.ts'
import { cities as allCities, findCity, type City } from '../devices/region.ts'
import type { Device, NewDevice, Registry } from '../devices/registry.ts'
import { streetName } from './streets.ts'
import { hashInts, hashString, mulberry32, offsetKm } from './values.ts'

/**
 * Fleet planning: which simulated devices exist, where, and with which credentials. Planned ids
 * are fixed (`sim-<type>-<city>-<n>`), so a second run finds the devices the first one registered
 * and reuses them instead of filling the registry with new ones.
 */

export type PlannedDevice = NewDevice & { id: string; lat: number; lon: number; metadata: Record<string, string | number | boolean> }
export interface FleetEntry {
  device: Device
  secret: string
}

/** Share of each type in a city's fleet: buses and counters are the bulk of a real deployment. */
export const TYPE_MIX: Record<DeviceType, number> = {
  bus: 0.25,
  'traffic-counter': 0.2,
  parking: 0.15,
  'air-quality': 0.12,
  noise: 0.1,
  'bike-dock': 0.1,
  weather: 0.08,
}

const ID_PREFIX: Record<DeviceType, string> = {
  'air-quality': 'aq',
  noise: 'noise',
  weather: 'wx',
  'traffic-counter': 'traffic',
  bus: 'bus',
  parking: 'park',
  'bike-dock': 'bike',
}

/** How far from the centre each type is placed, km. Counters sit on the ring roads, docks downtown. */
const RADIUS_KM: Record<DeviceType, number> = {
  'air-quality': 3,
  noise: 2.5,
  weather: 4,
  'traffic-counter': 4,
  bus: 0.3,
  parking: 2,
  'bike-dock': 2,
}

const BUS_ROUTES = ['1', '3', '6', '11', '14', '17', '23', 'LAM-A', 'LAM-B', '2', '4', '7']

/** Splits `total` in proportion to `weights` so the parts add up exactly (largest remainder). */
export function apportion(total: number, weights: number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0)
  const exact = weights.map((w) => (total * w) / sum)
  const parts = exact.map(Math.floor)
  let left = total - parts.reduce((a, b) => a + b, 0)
  const order = exact.map((e, i) => ({ i, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.i - b.i)
  for (const { i } of order) {
    if (left-- <= 0) break
    parts[i]!++
  }
  return parts
}

export function planFleet(options: { devices: number; seed: number; cities?: string[] }): PlannedDevice[] {
  const { devices, seed } = options
  if (!Number.isInteger(devices) || devices < 0) throw new Error(`devices must be a whole number ≥ 0, got ${devices}`)
  const chosen: City[] = options.cities
    ? options.cities.map((c) => {
        const city = findCity(c)
        if (!city) throw new Error(`unknown city '${c}'`)
        return city
      })
    : [...allCities]
  if (chosen.length === 0) throw new Error('no cities to plan for')

  const perCity = apportion(devices, chosen.map((c) => c.population))
  // Every city gets at least one device when there are enough to go round: take from the biggest.
  if (devices >= chosen.length) {
    for (let i = 0; i < perCity.length; i++) {
      if (perCity[i] === 0) {
        const biggest = perCity.indexOf(Math.max(...perCity))
        perCity[biggest]!--
        perCity[i] = 1
      }
    }
  }

  const types = [...DEVICE_TYPES].sort((a, b) => TYPE_MIX[b] - TYPE_MIX[a])
  const plan: PlannedDevice[] = []
  chosen.forEach((city, c) => {
    const counts = apportion(perCity[c]!, types.map((t) => TYPE_MIX[t]))
    const busCount = counts[types.indexOf('bus')]!
    types.forEach((type, t) => {
      for (let n = 1; n <= counts[t]!; n++) {
        const id = `sim-${ID_PREFIX[type]}-${city.id}-${n}`
        const rng = mulberry32(hashInts(seed, hashString(id)))
        // Uniform over a disc: radius ∝ √u.
        const r = RADIUS_KM[type] * Math.sqrt(rng())
        const angle = rng() * 2 * Math.PI
        const at = offsetKm(city.id, city.lat, city.lon, r * Math.cos(angle), r * Math.sin(angle))
        const metadata = plannedMetadata(type, n, busCount, rng)
        plan.push({
          id,
          type,
          city: city.id,
          name: plannedName(type, city, n, seed, metadata),
          lat: Math.round(at.lat * 1e6) / 1e6,
          lon: Math.round(at.lon * 1e6) / 1e6,
          interval: KINDS[type].defaultInterval,
          metadata,
        })
      }
    })
  })
  return plan
}

/** The Italian word an installer in Tuscany would put before the street, per kind ("Parcheggio …"). */
const ITALIAN_KIND: Record<Exclude<DeviceType, 'air-quality' | 'bus'>, string> = {
  noise: 'Fonometro',
  weather: 'Meteo',
  'traffic-counter': 'Conteggio traffico',
  parking: 'Parcheggio',
  'bike-dock': 'Bici',
}

/**
 * Devices are named in Italian, as an installer would, after their city and street: air-quality
 * stations (what citizens see on the public page) "Firenze – Viale Gramsci", the others with their
 * kind first ("Parcheggio Firenze – Piazza della Libertà"), buses after their line and vehicle
 * ("Bus Firenze – Linea 6, vettura 12"). Each kind walks the city's streets from its own place, so
 * a city's first car park and first counter are not on the same street; within a kind and city
 * names are distinct (streetName adds "(2)" once the list runs out), so all names are distinct.
 * Cities without a street list keep the generated English names.
 */
function plannedName(type: DeviceType, city: City, n: number, seed: number, metadata: Record<string, string | number | boolean>): string {
  if (type === 'bus') return `Bus ${city.name} – Linea ${metadata.route}, vettura ${n}`
  const street = streetName(city.id, n, type === 'air-quality' ? seed : hashInts(seed, hashString(type)))
  if (!street) return generatedName(type, city, n, metadata)
  return type === 'air-quality' ? `${city.name} – ${street}` : `${ITALIAN_KIND[type]} ${city.name} – ${street}`
}

/** The English name every simulated device had before devices got Italian names. */
function generatedName(type: DeviceType, city: City, n: number, metadata: Record<string, string | number | boolean>): string {
  return `${KINDS[type].label} ${city.name} ${type === 'bus' ? `line ${metadata.route} ` : ''}#${n}`
}

/** The name an earlier demo registered for this planned device, if it was generated (not one an operator gave). */
export function formerName(spec: PlannedDevice): string | undefined {
  const city = findCity(spec.city)
  const n = Number(spec.id.slice(spec.id.lastIndexOf('-') + 1))
  if (!city || !Number.isInteger(n)) return undefined
  const old = generatedName(spec.type, city, n, spec.metadata)
  return old === spec.name ? undefined : old
}

function plannedMetadata(type: DeviceType, n: number, busCount: number, rng: () => number): Record<string, string | number | boolean> {
  const base = { simulated: true }
  switch (type) {
    case 'bus': {
      // About three buses per line, so routes are shared the way real lines are.
      const routes = Math.max(1, Math.min(BUS_ROUTES.length, Math.ceil(busCount / 3)))
      return { ...base, route: BUS_ROUTES[(n - 1) % routes]! }
    }
    case 'traffic-counter':
      return { ...base, lanes: 2 + Math.floor(rng() * 3), speedLimit: rng() < 0.7 ? 50 : 70 }
    case 'air-quality':
      return { ...base, station: rng() < 0.5 ? 'traffic' : 'background' }
    case 'noise':
      return { ...base, site: rng() < 0.55 ? 'road' : rng() < 0.7 ? 'residential' : 'nightlife' }
    case 'parking':
      return { ...base, area: (['centre', 'residential', 'station'] as const)[Math.floor(rng() * 3)]!, totalSpots: 40 + Math.floor(rng() * 360) }
    case 'bike-dock':
      return { ...base, area: rng() < 0.55 ? 'residential' : rng() < 0.7 ? 'business' : 'station', docks: 12 + Math.floor(rng() * 19) }
    case 'weather':
      return base
  }
}

interface FleetFile {
  version: 1
  devices: Record<string, FleetEntry>
}

function readFleetFile(file: string): FleetFile {
  if (!existsSync(file)) return { version: 1, devices: {} }
  const data = JSON.parse(readFileSync(file, 'utf8')) as Partial<FleetFile>
  if (data.version !== 1 || typeof data.devices !== 'object' || data.devices === null) {
    throw new Error(`${file} is not a simulator fleet file`)
  }
  return data as FleetFile
}

/** Writes through a temporary file so a crash never leaves half a file; owner-only, it holds secrets. */
function writeFleetFile(file: string, data: FleetFile): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 })
  renameSync(tmp, file)
  chmodSync(file, 0o600)
}

/**
 * Makes sure every planned device exists in the registry and that its secret is known, keeping
 * the secrets in `file`. The registry shows a secret only once, so:
 * - in the registry and in the file: reused as is;
 * - in the registry but not in the file (file lost): the secret is rotated to learn a new one;
 * - not in the registry (fresh start, or the registry was wiped): registered.
 * Entries in the file for devices outside this plan are kept, so a smaller run doesn't forget them.
 * A device still carrying the English name an earlier version generated ("Parking area Firenze #3")
 * gets the planned Italian name;
 * a name an operator gave it is left alone.
 */
export async function ensureFleet(
  registry: Pick<Registry, 'get' | 'add' | 'rotate' | 'update'>,
  plan: PlannedDevice[],
  file: string,
  options: { createdBy?: string; concurrency?: number } = {},
): Promise<FleetEntry[]> {
  const stored = readFleetFile(file)
  const entries: FleetEntry[] = new Array(plan.length)
  let next = 0
  // Registering is quick (one HMAC a secret); a few in parallel do no harm.
  const worker = async () => {
    while (next < plan.length) {
      const i = next++
      const spec = plan[i]!
      let existing = registry.get(spec.id)
      if (existing && existing.name !== spec.name && existing.name === formerName(spec)) existing = await registry.update(spec.id, { name: spec.name })
      const known = stored.devices[spec.id]
      let entry: FleetEntry
      if (existing && known) entry = { device: existing, secret: known.secret }
      else if (existing) entry = await registry.rotate(spec.id)
      else entry = await registry.add(spec, options.createdBy ?? 'simulator')
      stored.devices[spec.id] = entry
      entries[i] = entry
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 4) }, worker))
  } finally {
    // Even after a failure, keep the secrets already obtained: they can't be read back later.
    writeFleetFile(file, stored)
  }
  return entries
}
