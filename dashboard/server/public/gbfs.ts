import type { City } from '../../../devices/region.ts'
import type { DataLicense } from './license.ts'
import type { MobilityItem, MobilitySnapshot } from './mobility-snapshot.ts'

/**
 * GBFS (General Bikeshare Feed Specification) from the bike-dock devices: one system per city
 * (`piazza-<city>`), served in two versions made from the same snapshot by the same functions:
 *
 * - 3.0, the current version MobilityData recommends: localized strings (`[{ text, language }]`)
 *   carry Italian and English in one feed set, timestamps are RFC 3339, and a `manifest.json`
 *   lists every city's system;
 * - 2.3, what many consumers still read: one set of files per language (its `gbfs.json` keyed by
 *   language), plain strings, POSIX seconds, `num_bikes_available`, `license_url` only. It is also
 *   the newest version whose official JSON schemas ship in an npm package, so the tests validate
 *   it against MobilityData's own schemas.
 *
 * Files: `gbfs.json` (discovery), `gbfs_versions.json` (both versions, in both), and the city's
 * `system_information`, `station_information` and `station_status`. A dock is renting and
 * returning while it reports (a reading within its interval × 3); a silent one stays listed with
 * its last counts and both flags false. Capacity is the device's `capacity` metadata when set,
 * otherwise bikes + free docks of its newest reading.
 */

/** Ascending, as gbfs_versions.json must list them. */
export const GBFS_VERSIONS = ['2.3', '3.0'] as const
export type GbfsVersion = (typeof GBFS_VERSIONS)[number]
export const GBFS_LANGUAGES = ['it', 'en'] as const
export type GbfsLanguage = (typeof GBFS_LANGUAGES)[number]
export const GBFS_FILES = ['gbfs', 'gbfs_versions', 'system_information', 'station_information', 'station_status'] as const
export type GbfsFile = (typeof GBFS_FILES)[number]
/** The files 2.3 publishes once per language (their text is in one language); the others serve every language. */
export const GBFS_LOCALIZED_FILES = ['system_information', 'station_information', 'station_status'] as const satisfies readonly GbfsFile[]
export const isLocalized = (file: GbfsFile) => (GBFS_LOCALIZED_FILES as readonly GbfsFile[]).includes(file)
/** Seconds a client may keep each file (the status follows the readings; the rest changes rarely). */
export const GBFS_TTL: Record<GbfsFile | 'manifest', number> = { gbfs: 60, manifest: 60, gbfs_versions: 3600, system_information: 3600, station_information: 60, station_status: 5 }

/**
 * Which rendering: 3.0 carries every language in one document; 2.3 one language per document
 * (`language`; its gbfs.json and gbfs_versions.json, which serve every language, need none).
 */
export interface GbfsRendering {
  version: GbfsVersion
  language?: GbfsLanguage
}

/** SPDX ids GBFS 3.0 knows (its license_id list) that Piazza's licences use; any other licence goes by URL only. */
const GBFS_LICENSE_IDS = new Set(['CC-BY-4.0', 'CC-BY-SA-4.0', 'CC0-1.0', 'ODbL-1.0'])

const rfc3339 = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z')
/** A time as the version writes it: RFC 3339 in 3.0, POSIX seconds in 2.3. */
const time = (r: GbfsRendering, ms: number) => (r.version === '3.0' ? rfc3339(ms) : Math.floor(ms / 1000))
/** A text as the version writes it: every language in 3.0, the document's language in 2.3. */
const text = (r: GbfsRendering, t: Record<GbfsLanguage, string>) => (r.version === '3.0' ? GBFS_LANGUAGES.map((language) => ({ text: t[language], language })) : t[r.language ?? GBFS_LANGUAGES[0]])

export const systemId = (city: City) => `piazza-${city.id}`

/**
 * A file's URL. `base` is the public API's absolute URL prefix, e.g. https://piazza.example/api/public/gbfs:
 * 3.0 at `<base>/<city>/<file>.json`, 2.3 at `<base>/2.3/<city>/<file>.json` or, per language, `<base>/2.3/<city>/<language>/<file>.json`.
 */
export function gbfsUrl(base: string, city: City, file: GbfsFile, r: GbfsRendering): string {
  if (r.version === '3.0') return `${base}/${city.id}/${file}.json`
  return isLocalized(file) ? `${base}/2.3/${city.id}/${r.language ?? GBFS_LANGUAGES[0]}/${file}.json` : `${base}/2.3/${city.id}/${file}.json`
}

function envelope(snap: MobilitySnapshot, r: GbfsRendering, file: GbfsFile | 'manifest', data: unknown) {
  return { last_updated: time(r, snap.at), ttl: GBFS_TTL[file], version: r.version, data }
}

const docksOf = (snap: MobilitySnapshot, city: City) => snap.items['bike-dock'].filter((i) => i.device.city === city.id)

export function gbfsDiscovery(snap: MobilitySnapshot, city: City, base: string, version: GbfsVersion) {
  const feeds = (language?: GbfsLanguage) => GBFS_FILES.map((name) => ({ name, url: gbfsUrl(base, city, name, { version, language }) }))
  // 2.3 keys the feeds by language (each language its own files); 3.0 lists one set for all.
  const data = version === '3.0' ? { feeds: feeds() } : Object.fromEntries(GBFS_LANGUAGES.map((language) => [language, { feeds: feeds(language) }]))
  return envelope(snap, { version }, 'gbfs', data)
}

export function gbfsVersions(snap: MobilitySnapshot, city: City, base: string, version: GbfsVersion) {
  return envelope(snap, { version }, 'gbfs_versions', { versions: GBFS_VERSIONS.map((v) => ({ version: v, url: gbfsUrl(base, city, 'gbfs', { version: v }) })) })
}

/** 3.0 only: the manifest has no 2.3 counterpart. */
export function gbfsManifest(snap: MobilitySnapshot, cities: readonly City[], base: string) {
  return envelope(snap, { version: '3.0' }, 'manifest', {
    datasets: cities.map((city) => ({ system_id: systemId(city), versions: GBFS_VERSIONS.map((version) => ({ version, url: gbfsUrl(base, city, 'gbfs', { version }) })) })),
  })
}

export function systemInformation(snap: MobilitySnapshot, city: City, r: GbfsRendering, options: { license: DataLicense; contactEmail: string; manifestUrl: string }) {
  const { license } = options
  const common = {
    system_id: systemId(city),
    name: text(r, { it: `Bike sharing di ${city.name}`, en: `${city.name} bike share` }),
    feed_contact_email: options.contactEmail,
    timezone: 'Europe/Rome',
  }
  if (r.version === '2.3') return envelope(snap, r, 'system_information', { ...common, language: r.language ?? GBFS_LANGUAGES[0], license_url: license.url })
  return envelope(snap, r, 'system_information', {
    ...common,
    languages: [...GBFS_LANGUAGES],
    opening_hours: '24/7',
    manifest_url: options.manifestUrl,
    // One or the other: MobilityData's 3.0 system_information schema refuses both (its `oneOf`).
    ...(GBFS_LICENSE_IDS.has(license.id) ? { license_id: license.id } : { license_url: license.url }),
    attribution_organization_name: text(r, { it: license.attribution, en: license.attribution }),
  })
}

function capacity(item: MobilityItem): number | undefined {
  const meta = item.device.metadata.capacity
  if (typeof meta === 'number' && Number.isInteger(meta) && meta >= 0) return meta
  const v = item.reading?.values
  if (typeof v?.availableBikeNumber === 'number' && typeof v.freeSlotNumber === 'number') return v.availableBikeNumber + v.freeSlotNumber
  return undefined
}

export function stationInformation(snap: MobilitySnapshot, city: City, r: GbfsRendering) {
  const stations = docksOf(snap, city).map((item) => {
    const cap = capacity(item)
    return {
      station_id: item.device.id,
      name: text(r, { it: item.device.name, en: item.device.name }),
      lat: item.device.lat,
      lon: item.device.lon,
      ...(cap === undefined ? {} : { capacity: cap }),
    }
  })
  return envelope(snap, r, 'station_information', { stations })
}

export function stationStatus(snap: MobilitySnapshot, city: City, r: GbfsRendering) {
  const stations = docksOf(snap, city).map((item) => {
    const v = item.reading?.values ?? {}
    const count = (x: unknown) => (typeof x === 'number' ? x : 0)
    const bikes = count(v.availableBikeNumber)
    return {
      station_id: item.device.id,
      // 3.0 renamed bikes to vehicles.
      ...(r.version === '3.0' ? { num_vehicles_available: bikes } : { num_bikes_available: bikes }),
      num_docks_available: count(v.freeSlotNumber),
      is_installed: true,
      is_renting: item.fresh,
      is_returning: item.fresh,
      last_reported: time(r, item.reading?.time ?? Date.parse(item.device.createdAt)),
    }
  })
  return envelope(snap, r, 'station_status', { stations })
}

export function gbfsFile(snap: MobilitySnapshot, city: City, file: GbfsFile, r: GbfsRendering, options: { base: string; license: DataLicense; contactEmail: string }) {
  switch (file) {
    case 'gbfs':
      return gbfsDiscovery(snap, city, options.base, r.version)
    case 'gbfs_versions':
      return gbfsVersions(snap, city, options.base, r.version)
    case 'system_information':
      return systemInformation(snap, city, r, { license: options.license, contactEmail: options.contactEmail, manifestUrl: `${options.base}/manifest.json` })
    case 'station_information':
      return stationInformation(snap, city, r)
    case 'station_status':
      return stationStatus(snap, city, r)
  }
}
