import { EAQI_VERSION, type BandId, type Pollutant } from '../../../devices/aqi.ts'
import { KINDS } from '../../../devices/kinds.ts'
import { region } from '../../../devices/region.ts'
import { PUBLIC_FIELDS, type PublicField } from './schemas.ts'

/**
 * FIWARE Smart Data Models `AirQualityObserved` entities, NGSI-LD normalized form, with the
 * `@context` referenced by URL (the Environment domain's context, then the ETSI core context),
 * so the data loads into an NGSI-LD broker (Orion-LD, Scorpio, Stellio) or any JSON-LD tool.
 *
 * - id: `urn:ngsi-ld:AirQualityObserved:<station>:<time>`, time in ISO 8601 to the second (UTC);
 * - concentrations as Properties with UN/CEFACT `unitCode`: GQ = µg/m³, GP = mg/m³;
 * - `location` is a GeoProperty (GeoJSON Point, lon/lat);
 * - `airQualityIndex` / `airQualityLevel` carry the EAQI, with its version as a sub-property.
 */

export const SMART_DATA_MODELS_CONTEXT = 'https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/context.jsonld'
export const NGSI_LD_CORE_CONTEXT = 'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld'
export const NGSI_LD_CONTEXT = [SMART_DATA_MODELS_CONTEXT, NGSI_LD_CORE_CONTEXT] as const

/** UN/CEFACT common codes of the units our fields use. */
export const UNIT_CODES: Readonly<Record<string, string>> = { 'µg/m³': 'GQ', 'mg/m³': 'GP' }

export interface Observation {
  station: { id: string; name: string; lat: number; lon: number }
  cityName: string
  /** The instant the observation stands for (dateObserved). */
  observedAt: number
  /** The averaging period. */
  from: number
  to: number
  values: Partial<Record<PublicField, number>>
  index: { level: number; band: BandId; pollutant: Pollutant } | null
  /** Who publishes the data (the attribution line). */
  provider: string
}

const isoSeconds = (t: number) => new Date(Math.floor(t / 1000) * 1000).toISOString().replace('.000Z', 'Z')
const dateTime = (t: number) => ({ type: 'Property', value: { '@type': 'DateTime', '@value': isoSeconds(t) } })

export function entityId(stationId: string, observedAt: number): string {
  return `urn:ngsi-ld:AirQualityObserved:${stationId}:${isoSeconds(observedAt)}`
}

export function airQualityObserved(o: Observation): Record<string, unknown> {
  const observed = isoSeconds(o.observedAt)
  const entity: Record<string, unknown> = {
    id: entityId(o.station.id, o.observedAt),
    type: 'AirQualityObserved',
    dateObserved: dateTime(o.observedAt),
    dateObservedFrom: dateTime(o.from),
    dateObservedTo: dateTime(o.to),
    location: { type: 'GeoProperty', value: { type: 'Point', coordinates: [o.station.lon, o.station.lat] } },
    address: { type: 'Property', value: { addressLocality: o.cityName, addressRegion: region.region, addressCountry: 'IT' } },
    areaServed: { type: 'Property', value: o.cityName },
    name: { type: 'Property', value: o.station.name },
    typeofLocation: { type: 'Property', value: 'outdoor' },
    refDevice: { type: 'Relationship', object: `urn:ngsi-ld:Device:${o.station.id}` },
    dataProvider: { type: 'Property', value: o.provider },
  }
  const fields = KINDS['air-quality'].fields
  for (const f of PUBLIC_FIELDS) {
    const v = o.values[f]
    if (typeof v !== 'number') continue
    entity[f] = { type: 'Property', value: v, unitCode: UNIT_CODES[fields[f]!.unit], observedAt: observed }
  }
  if (o.index) {
    const version = { type: 'Property', value: EAQI_VERSION }
    entity.airQualityIndex = { type: 'Property', value: o.index.level, observedAt: observed, indexVersion: version }
    entity.airQualityLevel = { type: 'Property', value: o.index.band, observedAt: observed, indexVersion: version }
  }
  entity['@context'] = NGSI_LD_CONTEXT
  return entity
}
