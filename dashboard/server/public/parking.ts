import Type, { type Static, type TSchema } from 'typebox'
import { region } from '../../../devices/region.ts'
import { csvLine } from './formats.ts'
import type { DataLicense } from './license.ts'
import type { MobilityItem, MobilitySnapshot } from './mobility-snapshot.ts'
import { NGSI_LD_CORE_CONTEXT } from './ngsi-ld.ts'
import { LicenseSchema } from './schemas.ts'

/**
 * Car-park availability from the parking devices, in four renderings of one list:
 *
 * - plain JSON and CSV;
 * - DATEX II v3 `ParkingStatusPublication` (XML, the parking namespace), the format national
 *   access points ask for under the ITS directive: one `ParkingSiteStatus` per car park with its
 *   vacant and occupied spaces, occupancy (%) and site status;
 * - FIWARE Smart Data Models `OffStreetParking` (or `OnStreetParking` for a device whose
 *   `parking` metadata is `on-street`) entities, NGSI-LD normalized form.
 *
 * Status: `full` with no free spot, `almostFull` at ≥ 90 % occupancy, `spacesAvailable`
 * otherwise; `unknown` while the device is silent (no reading within its interval × 3) or has
 * never reported, and then no counts are published.
 */

export const PARKING_CONTEXT = 'https://raw.githubusercontent.com/smart-data-models/dataModel.Parking/master/context.jsonld'
export const DATEX_NAMESPACES = {
  d2: 'http://datex2.eu/schema/3/d2Payload',
  com: 'http://datex2.eu/schema/3/common',
  prk: 'http://datex2.eu/schema/3/parking',
  xsi: 'http://www.w3.org/2001/XMLSchema-instance',
} as const
const ALMOST_FULL = 0.9

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

export const ParkingStatusSchema = Type.Union([Type.Literal('spacesAvailable'), Type.Literal('almostFull'), Type.Literal('full'), Type.Literal('unknown')])
export type ParkingStatus = Static<typeof ParkingStatusSchema>

export const CarParkSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  city: Type.String(),
  lat: Type.Number(),
  lon: Type.Number(),
  kind: Type.Union([Type.Literal('off-street'), Type.Literal('on-street')], { description: "From the device's `parking` metadata; off-street by default." }),
  status: ParkingStatusSchema,
  totalSpotNumber: Nullable(Type.Integer()),
  availableSpotNumber: Nullable(Type.Integer()),
  occupancy: Nullable(Type.Number({ minimum: 0, maximum: 1 })),
  observedAt: Nullable(Type.String({ format: 'date-time', description: "The newest reading's time; null before the first." })),
})
export type CarPark = Static<typeof CarParkSchema>

export const ParkingResponseSchema = Type.Object({
  license: LicenseSchema,
  attribution: Type.String(),
  updated: Type.String({ format: 'date-time' }),
  items: Type.Array(CarParkSchema),
})

const isoSeconds = (t: number) => new Date(Math.floor(t / 1000) * 1000).toISOString().replace('.000Z', 'Z')

export function carPark(item: MobilityItem): CarPark {
  const d = item.device
  const v = item.reading?.values
  const total = typeof v?.totalSpotNumber === 'number' ? v.totalSpotNumber : null
  const free = typeof v?.availableSpotNumber === 'number' ? v.availableSpotNumber : null
  const counted = item.fresh && total !== null && free !== null && total > 0
  const occupancy = counted ? Math.round(((total - free) / total) * 1000) / 1000 : null
  const status: ParkingStatus = !counted ? 'unknown' : free === 0 ? 'full' : occupancy! >= ALMOST_FULL ? 'almostFull' : 'spacesAvailable'
  return {
    id: d.id,
    name: d.name,
    city: d.city,
    lat: d.lat,
    lon: d.lon,
    kind: d.metadata.parking === 'on-street' ? 'on-street' : 'off-street',
    status,
    totalSpotNumber: counted ? total : null,
    availableSpotNumber: counted ? free : null,
    occupancy,
    observedAt: item.reading ? isoSeconds(item.reading.time) : null,
  }
}

export function carParks(snap: MobilitySnapshot, city?: string): CarPark[] {
  return snap.items.parking.filter((i) => city === undefined || i.device.city === city).map(carPark)
}

export const PARKING_CSV_HEADER = ['id', 'name', 'city', 'lat', 'lon', 'kind', 'status', 'total_spots', 'available_spots', 'occupancy', 'observed_at']

export function parkingCsv(parks: readonly CarPark[]): string {
  let out = csvLine(PARKING_CSV_HEADER)
  for (const p of parks) out += csvLine([p.id, p.name, p.city, p.lat, p.lon, p.kind, p.status, p.totalSpotNumber, p.availableSpotNumber, p.occupancy, p.observedAt])
  return out
}

const escapeXml = (s: string) => s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!)

/** DATEX II v3 ParkingStatusPublication. `publisher` is the national identifier of who publishes (the attribution). */
export function datexParkingStatus(parks: readonly CarPark[], at: number, publisher: string): string {
  const ns = DATEX_NAMESPACES
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<d2:payload xmlns:d2="${ns.d2}" xmlns:com="${ns.com}" xmlns:prk="${ns.prk}" xmlns:xsi="${ns.xsi}" xsi:type="prk:ParkingStatusPublication" lang="it" modelBaseVersion="3">`,
    `  <com:publicationTime>${isoSeconds(at)}</com:publicationTime>`,
    '  <com:publicationCreator>',
    '    <com:country>it</com:country>',
    `    <com:nationalIdentifier>${escapeXml(publisher)}</com:nationalIdentifier>`,
    '  </com:publicationCreator>',
  ]
  for (const p of parks) {
    lines.push('  <prk:parkingRecordStatus xsi:type="prk:ParkingSiteStatus">')
    lines.push(`    <prk:parkingRecordReference targetClass="prk:ParkingRecord" id="${escapeXml(p.id)}" version="1"/>`)
    lines.push(`    <prk:parkingStatusOriginTime>${p.observedAt ?? isoSeconds(at)}</prk:parkingStatusOriginTime>`)
    if (p.availableSpotNumber !== null && p.totalSpotNumber !== null) {
      lines.push('    <prk:parkingOccupancy>')
      lines.push(`      <prk:parkingNumberOfVacantSpaces>${p.availableSpotNumber}</prk:parkingNumberOfVacantSpaces>`)
      lines.push(`      <prk:parkingNumberOfOccupiedSpaces>${p.totalSpotNumber - p.availableSpotNumber}</prk:parkingNumberOfOccupiedSpaces>`)
      lines.push(`      <prk:parkingOccupancy>${Math.round(p.occupancy! * 1000) / 10}</prk:parkingOccupancy>`)
      lines.push('    </prk:parkingOccupancy>')
    }
    lines.push(`    <prk:parkingSiteStatus>${p.status}</prk:parkingSiteStatus>`)
    lines.push('  </prk:parkingRecordStatus>')
  }
  lines.push('</d2:payload>', '')
  return lines.join('\n')
}

/** FIWARE OffStreetParking / OnStreetParking, NGSI-LD normalized; counts only while the car park reports. */
export function parkingEntity(p: CarPark, license: DataLicense, cityName: string): Record<string, unknown> {
  const type = p.kind === 'on-street' ? 'OnStreetParking' : 'OffStreetParking'
  const observed = p.observedAt ?? undefined
  const entity: Record<string, unknown> = {
    id: `urn:ngsi-ld:${type}:${p.id}`,
    type,
    name: { type: 'Property', value: p.name },
    location: { type: 'GeoProperty', value: { type: 'Point', coordinates: [p.lon, p.lat] } },
    address: { type: 'Property', value: { addressLocality: cityName, addressRegion: region.region, addressCountry: 'IT' } },
    category: { type: 'Property', value: ['public', p.kind === 'on-street' ? 'onStreet' : 'offStreet'] },
    allowedVehicleType: { type: 'Property', value: ['car'] },
    status: { type: 'Property', value: [p.status], ...(observed ? { observedAt: observed } : {}) },
    refDevice: { type: 'Relationship', object: `urn:ngsi-ld:Device:${p.id}` },
    dataProvider: { type: 'Property', value: license.attribution },
  }
  if (p.totalSpotNumber !== null && p.availableSpotNumber !== null) {
    entity.totalSpotNumber = { type: 'Property', value: p.totalSpotNumber, observedAt: observed }
    entity.availableSpotNumber = { type: 'Property', value: p.availableSpotNumber, observedAt: observed }
    entity.occupancy = { type: 'Property', value: p.occupancy, observedAt: observed }
  }
  entity['@context'] = [PARKING_CONTEXT, NGSI_LD_CORE_CONTEXT]
  return entity
}
