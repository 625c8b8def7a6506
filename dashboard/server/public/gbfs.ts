import type { City } from '../../../devices/region.ts'
import type { DataLicense } from './license.ts'
import type { MobilityItem, MobilitySnapshot } from './mobility-snapshot.ts'

/**
 * GBFS 3.0 (General Bikeshare Feed Specification) from the bike-dock devices: one system per
 * city (`piazza-<city>`), its discovery file `gbfs.json`, `system_information`,
 * `station_information` and `station_status`, and a `manifest.json` listing every city's system.
 *
 * Why 3.0 rather than 2.3: it is the current version MobilityData recommends, and its localized
 * strings (`[{ text, language }]`) carry Italian and English in one feed set, where 2.3 needs one
 * gbfs.json per language. Timestamps are RFC 3339 strings, as 3.0 requires.
 *
 * A dock is renting and returning while it reports (a reading within its interval × 3); a silent
 * one stays listed with its last counts and both flags false. Capacity is the device's
 * `capacity` metadata when set, otherwise bikes + free docks of its newest reading.
 */

export const GBFS_VERSION = '3.0'
export const GBFS_LANGUAGES = ['it', 'en'] as const
export const GBFS_FILES = ['gbfs', 'system_information', 'station_information', 'station_status'] as const
export type GbfsFile = (typeof GBFS_FILES)[number]
/** Seconds a client may keep each file (the status follows the readings; the rest changes rarely). */
export const GBFS_TTL: Record<GbfsFile | 'manifest', number> = { gbfs: 60, manifest: 60, system_information: 3600, station_information: 60, station_status: 5 }

/** SPDX ids GBFS knows (its license_id list) that Piazza's licences use; any other licence goes by URL only. */
const GBFS_LICENSE_IDS = new Set(['CC-BY-4.0', 'CC-BY-SA-4.0', 'CC0-1.0', 'ODbL-1.0'])

const rfc3339 = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z')
const both = (it: string, en: string) => [
  { text: it, language: 'it' },
  { text: en, language: 'en' },
]

export const systemId = (city: City) => `piazza-${city.id}`

function envelope(snap: MobilitySnapshot, file: GbfsFile | 'manifest', data: unknown) {
  return { last_updated: rfc3339(snap.at), ttl: GBFS_TTL[file], version: GBFS_VERSION, data }
}

const docksOf = (snap: MobilitySnapshot, city: City) => snap.items['bike-dock'].filter((i) => i.device.city === city.id)

/** `base` is the public API's absolute URL prefix, e.g. https://piazza.example/api/public/gbfs */
export function gbfsDiscovery(snap: MobilitySnapshot, city: City, base: string) {
  const feeds = GBFS_FILES.map((name) => ({ name, url: `${base}/${city.id}/${name}.json` }))
  return envelope(snap, 'gbfs', { feeds })
}

export function gbfsManifest(snap: MobilitySnapshot, cities: readonly City[], base: string) {
  return envelope(snap, 'manifest', {
    datasets: cities.map((city) => ({ system_id: systemId(city), versions: [{ version: GBFS_VERSION, url: `${base}/${city.id}/gbfs.json` }] })),
  })
}

export function systemInformation(snap: MobilitySnapshot, city: City, options: { license: DataLicense; contactEmail: string; manifestUrl: string }) {
  const { license } = options
  return envelope(snap, 'system_information', {
    system_id: systemId(city),
    languages: [...GBFS_LANGUAGES],
    name: both(`Bike sharing di ${city.name}`, `${city.name} bike share`),
    opening_hours: '24/7',
    feed_contact_email: options.contactEmail,
    timezone: 'Europe/Rome',
    manifest_url: options.manifestUrl,
    // One or the other: MobilityData's system_information schema refuses both (its `oneOf`).
    ...(GBFS_LICENSE_IDS.has(license.id) ? { license_id: license.id } : { license_url: license.url }),
    attribution_organization_name: both(license.attribution, license.attribution),
  })
}

function capacity(item: MobilityItem): number | undefined {
  const meta = item.device.metadata.capacity
  if (typeof meta === 'number' && Number.isInteger(meta) && meta >= 0) return meta
  const v = item.reading?.values
  if (typeof v?.availableBikeNumber === 'number' && typeof v.freeSlotNumber === 'number') return v.availableBikeNumber + v.freeSlotNumber
  return undefined
}

export function stationInformation(snap: MobilitySnapshot, city: City) {
  const stations = docksOf(snap, city).map((item) => {
    const cap = capacity(item)
    return {
      station_id: item.device.id,
      name: both(item.device.name, item.device.name),
      lat: item.device.lat,
      lon: item.device.lon,
      ...(cap === undefined ? {} : { capacity: cap }),
    }
  })
  return envelope(snap, 'station_information', { stations })
}

export function stationStatus(snap: MobilitySnapshot, city: City) {
  const stations = docksOf(snap, city).map((item) => {
    const v = item.reading?.values ?? {}
    const count = (x: unknown) => (typeof x === 'number' ? x : 0)
    return {
      station_id: item.device.id,
      num_vehicles_available: count(v.availableBikeNumber),
      num_docks_available: count(v.freeSlotNumber),
      is_installed: true,
      is_renting: item.fresh,
      is_returning: item.fresh,
      last_reported: rfc3339(item.reading?.time ?? Date.parse(item.device.createdAt)),
    }
  })
  return envelope(snap, 'station_status', { stations })
}

export function gbfsFile(snap: MobilitySnapshot, city: City, file: GbfsFile, options: { base: string; license: DataLicense; contactEmail: string }) {
  switch (file) {
    case 'gbfs':
      return gbfsDiscovery(snap, city, options.base)
    case 'system_information':
      return systemInformation(snap, city, { license: options.license, contactEmail: options.contactEmail, manifestUrl: `${options.base}/manifest.json` })
    case 'station_information':
      return stationInformation(snap, city)
    case 'station_status':
      return stationStatus(snap, city)
  }
}
