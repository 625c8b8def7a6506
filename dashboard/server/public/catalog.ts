import { cities } from '../../../devices/region.ts'
import type { DataLicense } from './license.ts'

/**
 * The open-data catalogue at /api/public/catalog: every public feed as a DCAT-AP_IT dataset
 * (the Italian profile of DCAT-AP that regional CKAN portals harvest), JSON-LD with its context
 * inline so it expands without fetching anything. Each dataset names its licence, update
 * frequency (EU frequency vocabulary), theme (EU data themes), publisher, rights holder and
 * contact point; each distribution its access URL, format (EU file types) and media type.
 */

export const DCAT_CONTEXT = {
  dcat: 'http://www.w3.org/ns/dcat#',
  dct: 'http://purl.org/dc/terms/',
  dcatapit: 'http://dati.gov.it/onto/dcatapit#',
  foaf: 'http://xmlns.com/foaf/0.1/',
  vcard: 'http://www.w3.org/2006/vcard/ns#',
  xsd: 'http://www.w3.org/2001/XMLSchema#',
} as const

const EU = 'http://publications.europa.eu/resource/authority'
type Frequency = 'UPDATE_CONT' | 'HOURLY'
type Theme = 'TRAN' | 'ENVI'
type FileType = 'JSON' | 'CSV' | 'XML' | 'JSON_LD' | 'BIN'

interface Distribution {
  path: string
  format: FileType
  mediaType: string
  title: string
}

export interface Feed {
  id: string
  title: { it: string; en: string }
  description: { it: string; en: string }
  theme: Theme
  frequency: Frequency
  keywords: string[]
  distributions: Distribution[]
  /** A standard the data conforms to (GTFS-Realtime, GBFS, DATEX II, NGSI-LD). */
  conformsTo?: string[]
}

/** Every feed the public API publishes. */
export const FEEDS: readonly Feed[] = [
  {
    id: 'air-quality-now',
    title: { it: "Qualità dell'aria ora, per città", en: 'Air quality now, per city' },
    description: {
      it: "Indice europeo di qualità dell'aria (EAQI) per città, inquinante determinante, valori per inquinante e stazioni, aggiornato all'arrivo delle letture.",
      en: 'European Air Quality Index per city, driving pollutant, values per pollutant and stations, updated as readings arrive.',
    },
    theme: 'ENVI',
    frequency: 'UPDATE_CONT',
    keywords: ['aria', 'air quality', 'EAQI'],
    distributions: [
      { path: '/api/public/air-quality', format: 'JSON', mediaType: 'application/json', title: 'JSON' },
      { path: '/api/public/air-quality?format=csv', format: 'CSV', mediaType: 'text/csv', title: 'CSV' },
      { path: '/api/public/air-quality?format=ngsi-ld', format: 'JSON_LD', mediaType: 'application/ld+json', title: 'NGSI-LD AirQualityObserved' },
    ],
  },
  {
    id: 'air-quality-readings',
    title: { it: "Serie orarie e giornaliere della qualità dell'aria", en: 'Hourly and daily air-quality series' },
    description: { it: 'Medie orarie o riepiloghi giornalieri per stazione.', en: 'Hourly means or daily summaries per station.' },
    theme: 'ENVI',
    frequency: 'HOURLY',
    keywords: ['aria', 'air quality', 'time series'],
    distributions: [
      { path: '/api/public/readings', format: 'JSON', mediaType: 'application/json', title: 'JSON' },
      { path: '/api/public/readings?format=csv', format: 'CSV', mediaType: 'text/csv', title: 'CSV' },
    ],
  },
  {
    id: 'gtfs-rt-vehicle-positions',
    title: { it: 'Posizioni degli autobus (GTFS-Realtime)', en: 'Bus positions (GTFS-Realtime)' },
    description: {
      it: 'Posizione, direzione, velocità e linea di ogni autobus che trasmette, in GTFS-Realtime VehiclePositions; con la corsa (trip_id) nelle città di cui è caricato il GTFS statico, altrove solo la linea.',
      en: 'Position, bearing, speed and route of every reporting bus, as GTFS-Realtime VehiclePositions; with the trip (trip_id) in cities whose static GTFS is loaded, elsewhere the route only.',
    },
    theme: 'TRAN',
    frequency: 'UPDATE_CONT',
    keywords: ['autobus', 'bus', 'GTFS-Realtime'],
    conformsTo: ['https://gtfs.org/documentation/realtime/reference/'],
    distributions: [
      { path: '/api/public/gtfs-rt/vehicle-positions', format: 'BIN', mediaType: 'application/x-protobuf', title: 'GTFS-Realtime (protobuf)' },
      { path: '/api/public/gtfs-rt/vehicle-positions?format=json', format: 'JSON', mediaType: 'application/json', title: 'GTFS-Realtime (JSON)' },
    ],
  },
  {
    id: 'gtfs-rt-trip-updates',
    title: { it: 'Ritardi degli autobus (GTFS-Realtime)', en: 'Bus delays (GTFS-Realtime)' },
    description: { it: 'Ritardo di ogni autobus che lo trasmette, in GTFS-Realtime TripUpdates.', en: 'Delay of every bus that reports one, as GTFS-Realtime TripUpdates.' },
    theme: 'TRAN',
    frequency: 'UPDATE_CONT',
    keywords: ['autobus', 'bus', 'ritardi', 'delays', 'GTFS-Realtime'],
    conformsTo: ['https://gtfs.org/documentation/realtime/reference/'],
    distributions: [
      { path: '/api/public/gtfs-rt/trip-updates', format: 'BIN', mediaType: 'application/x-protobuf', title: 'GTFS-Realtime (protobuf)' },
      { path: '/api/public/gtfs-rt/trip-updates?format=json', format: 'JSON', mediaType: 'application/json', title: 'GTFS-Realtime (JSON)' },
    ],
  },
  {
    id: 'gbfs',
    title: { it: 'Bike sharing: stazioni e disponibilità (GBFS 3.0 e 2.3)', en: 'Bike share: stations and availability (GBFS 3.0 and 2.3)' },
    description: {
      it: 'Stazioni di bike sharing, bici e stalli liberi, per città, in GBFS 3.0 (il manifest elenca i sistemi di tutte le città) e negli stessi dati in GBFS 2.3 (un gbfs.json per città).',
      en: 'Bike-share stations, bikes and free docks, per city, as GBFS 3.0 (the manifest lists every city’s system) and the same data as GBFS 2.3 (one gbfs.json per city).',
    },
    theme: 'TRAN',
    frequency: 'UPDATE_CONT',
    keywords: ['bici', 'bike share', 'GBFS'],
    conformsTo: ['https://github.com/MobilityData/gbfs/blob/v3.0/gbfs.md', 'https://github.com/MobilityData/gbfs/blob/v2.3/gbfs.md'],
    distributions: [
      { path: '/api/public/gbfs/manifest.json', format: 'JSON', mediaType: 'application/json', title: 'GBFS 3.0 manifest' },
      // 2.3 has no manifest: its entry point is each city's gbfs.json.
      ...cities.map((c): Distribution => ({ path: `/api/public/gbfs/2.3/${c.id}/gbfs.json`, format: 'JSON', mediaType: 'application/json', title: `GBFS 2.3 gbfs.json (${c.name})` })),
    ],
  },
  {
    id: 'parking',
    title: { it: 'Parcheggi: posti liberi', en: 'Car parks: free spaces' },
    description: { it: 'Posti liberi e totali, occupazione e stato di ogni parcheggio.', en: 'Free and total spaces, occupancy and status of every car park.' },
    theme: 'TRAN',
    frequency: 'UPDATE_CONT',
    keywords: ['parcheggi', 'parking', 'DATEX II'],
    conformsTo: ['https://datex2.eu/', 'https://smartdatamodels.org/dataModel.Parking/OffStreetParking'],
    distributions: [
      { path: '/api/public/parking', format: 'JSON', mediaType: 'application/json', title: 'JSON' },
      { path: '/api/public/parking?format=csv', format: 'CSV', mediaType: 'text/csv', title: 'CSV' },
      { path: '/api/public/parking?format=datex', format: 'XML', mediaType: 'application/xml', title: 'DATEX II ParkingStatusPublication' },
      { path: '/api/public/parking?format=ngsi-ld', format: 'JSON_LD', mediaType: 'application/ld+json', title: 'NGSI-LD OffStreetParking' },
    ],
  },
]

const lang = (t: { it: string; en: string }) => [
  { '@value': t.it, '@language': 'it' },
  { '@value': t.en, '@language': 'en' },
]

/** `base`: the server's absolute URL (scheme and host), e.g. https://piazza.example */
export function catalog(options: { base: string; license: DataLicense; contactEmail: string; modified: Date }): Record<string, unknown> {
  const { base, license } = options
  const day = options.modified.toISOString().slice(0, 10)
  const agent = {
    '@id': `${base}/#publisher`,
    '@type': ['foaf:Agent', 'dcatapit:Agent'],
    'foaf:name': license.attribution,
  }
  const contact = {
    '@id': `${base}/#contact`,
    '@type': ['vcard:Organization', 'dcatapit:Organization'],
    'vcard:fn': license.attribution,
    'vcard:hasEmail': { '@id': `mailto:${options.contactEmail}` },
  }
  const licenseDoc = { '@id': license.url, '@type': ['dct:LicenseDocument', 'dcatapit:LicenseDocument'], 'foaf:name': license.name }
  const datasets = FEEDS.map((f) => ({
    '@id': `${base}/api/public/catalog#${f.id}`,
    '@type': ['dcat:Dataset', 'dcatapit:Dataset'],
    'dct:identifier': `piazza:${f.id}`,
    'dct:title': lang(f.title),
    'dct:description': lang(f.description),
    'dct:modified': { '@value': day, '@type': 'xsd:date' },
    'dct:publisher': { '@id': agent['@id'] },
    'dct:rightsHolder': { '@id': agent['@id'] },
    'dcat:contactPoint': { '@id': contact['@id'] },
    'dcat:theme': { '@id': `${EU}/data-theme/${f.theme}` },
    'dct:accrualPeriodicity': { '@id': `${EU}/frequency/${f.frequency}` },
    'dct:language': [{ '@id': `${EU}/language/ITA` }, { '@id': `${EU}/language/ENG` }],
    'dcat:keyword': f.keywords,
    ...(f.conformsTo ? { 'dct:conformsTo': f.conformsTo.map((id) => ({ '@id': id, '@type': 'dct:Standard' })) } : {}),
    'dcat:distribution': f.distributions.map((d, i) => ({
      '@id': `${base}/api/public/catalog#${f.id}-${i + 1}`,
      '@type': ['dcat:Distribution', 'dcatapit:Distribution'],
      'dct:title': d.title,
      'dcat:accessURL': { '@id': `${base}${d.path}` },
      'dct:format': { '@id': `${EU}/file-type/${d.format}` },
      'dcat:mediaType': d.mediaType,
      'dct:license': { '@id': license.url },
    })),
  }))
  return {
    '@context': DCAT_CONTEXT,
    '@graph': [
      {
        '@id': `${base}/api/public/catalog`,
        '@type': ['dcat:Catalog', 'dcatapit:Catalog'],
        'dct:title': lang({ it: 'Piazza: dati aperti della città', en: 'Piazza: open city data' }),
        'dct:description': lang({
          it: "Qualità dell'aria, autobus, parcheggi e bike sharing in tempo reale.",
          en: 'Real-time air quality, buses, car parks and bike share.',
        }),
        'dct:modified': { '@value': day, '@type': 'xsd:date' },
        'dct:language': [{ '@id': `${EU}/language/ITA` }, { '@id': `${EU}/language/ENG` }],
        'dct:publisher': { '@id': agent['@id'] },
        'foaf:homepage': { '@id': `${base}/` },
        'dcat:dataset': datasets.map((d) => ({ '@id': d['@id'] })),
      },
      agent,
      contact,
      licenseDoc,
      ...datasets,
    ],
  }
}
