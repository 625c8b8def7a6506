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

const MEDIA_TYPES: Record<FileType, string> = {
  JSON: 'application/json',
  CSV: 'text/csv',
  XML: 'application/xml',
  JSON_LD: 'application/ld+json',
  BIN: 'application/x-protobuf',
}

/** One way to fetch a feed; its media type follows from its format (MEDIA_TYPES). */
interface Distribution {
  path: string
  format: FileType
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

const distribution = (format: FileType, path: string, title: string = format): Distribution => ({ path, format, title })
/** The JSON answer of `path` and its `?format=csv` rendering. */
const jsonAndCsv = (path: string) => [distribution('JSON', path), distribution('CSV', `${path}?format=csv`)]
/** A GTFS-Realtime feed: protobuf, and its `?format=json` rendering. */
const gtfsRt = (path: string) => [distribution('BIN', path, 'GTFS-Realtime (protobuf)'), distribution('JSON', `${path}?format=json`, 'GTFS-Realtime (JSON)')]
const GTFS_RT_REFERENCE = 'https://gtfs.org/documentation/realtime/reference/'

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
    distributions: [...jsonAndCsv('/api/public/air-quality'), distribution('JSON_LD', '/api/public/air-quality?format=ngsi-ld', 'NGSI-LD AirQualityObserved')],
  },
  {
    id: 'air-quality-readings',
    title: { it: "Serie orarie e giornaliere della qualità dell'aria", en: 'Hourly and daily air-quality series' },
    description: { it: 'Medie orarie o riepiloghi giornalieri per stazione.', en: 'Hourly means or daily summaries per station.' },
    theme: 'ENVI',
    frequency: 'HOURLY',
    keywords: ['aria', 'air quality', 'time series'],
    distributions: jsonAndCsv('/api/public/readings'),
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
    conformsTo: [GTFS_RT_REFERENCE],
    distributions: gtfsRt('/api/public/gtfs-rt/vehicle-positions'),
  },
  {
    id: 'gtfs-rt-trip-updates',
    title: { it: 'Ritardi degli autobus (GTFS-Realtime)', en: 'Bus delays (GTFS-Realtime)' },
    description: { it: 'Ritardo di ogni autobus che lo trasmette, in GTFS-Realtime TripUpdates.', en: 'Delay of every bus that reports one, as GTFS-Realtime TripUpdates.' },
    theme: 'TRAN',
    frequency: 'UPDATE_CONT',
    keywords: ['autobus', 'bus', 'ritardi', 'delays', 'GTFS-Realtime'],
    conformsTo: [GTFS_RT_REFERENCE],
    distributions: gtfsRt('/api/public/gtfs-rt/trip-updates'),
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
      distribution('JSON', '/api/public/gbfs/manifest.json', 'GBFS 3.0 manifest'),
      // 2.3 has no manifest: its entry point is each city's gbfs.json.
      ...cities.map((c) => distribution('JSON', `/api/public/gbfs/2.3/${c.id}/gbfs.json`, `GBFS 2.3 gbfs.json (${c.name})`)),
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
      ...jsonAndCsv('/api/public/parking'),
      distribution('XML', '/api/public/parking?format=datex', 'DATEX II ParkingStatusPublication'),
      distribution('JSON_LD', '/api/public/parking?format=ngsi-ld', 'NGSI-LD OffStreetParking'),
    ],
  },
]

const lang = (t: { it: string; en: string }) => [
  { '@value': t.it, '@language': 'it' },
  { '@value': t.en, '@language': 'en' },
]
const ref = (id: string) => ({ '@id': id })
const LANGUAGES = [ref(`${EU}/language/ITA`), ref(`${EU}/language/ENG`)]

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
    'vcard:hasEmail': ref(`mailto:${options.contactEmail}`),
  }
  const licenseDoc = { '@id': license.url, '@type': ['dct:LicenseDocument', 'dcatapit:LicenseDocument'], 'foaf:name': license.name }
  const modified = { '@value': day, '@type': 'xsd:date' }
  const datasets = FEEDS.map((f) => ({
    '@id': `${base}/api/public/catalog#${f.id}`,
    '@type': ['dcat:Dataset', 'dcatapit:Dataset'],
    'dct:identifier': `piazza:${f.id}`,
    'dct:title': lang(f.title),
    'dct:description': lang(f.description),
    'dct:modified': modified,
    'dct:publisher': ref(agent['@id']),
    'dct:rightsHolder': ref(agent['@id']),
    'dcat:contactPoint': ref(contact['@id']),
    'dcat:theme': ref(`${EU}/data-theme/${f.theme}`),
    'dct:accrualPeriodicity': ref(`${EU}/frequency/${f.frequency}`),
    'dct:language': LANGUAGES,
    'dcat:keyword': f.keywords,
    ...(f.conformsTo ? { 'dct:conformsTo': f.conformsTo.map((id) => ({ '@id': id, '@type': 'dct:Standard' })) } : {}),
    'dcat:distribution': f.distributions.map((d, i) => ({
      '@id': `${base}/api/public/catalog#${f.id}-${i + 1}`,
      '@type': ['dcat:Distribution', 'dcatapit:Distribution'],
      'dct:title': d.title,
      'dcat:accessURL': ref(`${base}${d.path}`),
      'dct:format': ref(`${EU}/file-type/${d.format}`),
      'dcat:mediaType': MEDIA_TYPES[d.format],
      'dct:license': ref(license.url),
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
        'dct:modified': modified,
        'dct:language': LANGUAGES,
        'dct:publisher': ref(agent['@id']),
        'foaf:homepage': ref(`${base}/`),
        'dcat:dataset': datasets.map((d) => ref(d['@id'])),
      },
      agent,
      contact,
      licenseDoc,
      ...datasets,
    ],
  }
}
