import type { BandId, Level, Pollutant } from '../../devices/aqi.ts'
import { LOCALES, TIME_ZONE, type Lang } from '../i18n/lang.ts'

const BAND_NAMES: Record<Lang, Record<BandId, string>> = {
  it: { good: 'Buona', fair: 'Discreta', moderate: 'Moderata', poor: 'Scadente', 'very-poor': 'Molto scadente', 'extremely-poor': 'Estremamente scadente' },
  en: { good: 'Good', fair: 'Fair', moderate: 'Moderate', poor: 'Poor', 'very-poor': 'Very poor', 'extremely-poor': 'Extremely poor' },
}

const POLLUTANT_NAMES: Record<Lang, Record<Pollutant, string>> = {
  it: { pm25: 'Particolato fine', pm10: 'Particolato', no2: 'Biossido di azoto', o3: 'Ozono', so2: 'Biossido di zolfo' },
  en: { pm25: 'Fine particles', pm10: 'Particles', no2: 'Nitrogen dioxide', o3: 'Ozone', so2: 'Sulphur dioxide' },
}

/**
 * Health advice per band, for everyone and for sensitive groups, modelled on the EEA's guidance
 * for the European Air Quality Index, with the everyday questions (a walk to school, a run) in mind.
 */
const ADVICE: Record<Lang, Record<BandId, { headline: string; general: string; sensitive: string }>> = {
  en: {
    good: {
      headline: 'A good day to be outdoors.',
      general: 'The air quality is good. Enjoy your usual outdoor activities: walking to school, cycling, a run.',
      sensitive: 'Enjoy your usual outdoor activities.',
    },
    fair: {
      headline: 'Fine for outdoor activities.',
      general: 'Enjoy your usual outdoor activities.',
      sensitive: 'Enjoy your usual outdoor activities.',
    },
    moderate: {
      headline: 'Fine for most people; sensitive people should listen to their body.',
      general: 'Enjoy your usual outdoor activities.',
      sensitive: 'Consider reducing intense outdoor activities, such as a run, if you have symptoms like coughing, a sore throat or shortness of breath.',
    },
    poor: {
      headline: 'Take it easier outdoors if you feel symptoms.',
      general: 'Consider reducing intense outdoor activities if you have symptoms such as sore eyes, a cough or a sore throat.',
      sensitive: 'Consider reducing physical activity, particularly outdoors, especially if you have symptoms. A walk to school is fine: prefer quieter streets away from traffic.',
    },
    'very-poor': {
      headline: 'Reduce intense activity outdoors.',
      general: 'Consider reducing intense outdoor activities, and moving a run to a cleaner hour, if you have symptoms such as sore eyes, a cough or a sore throat.',
      sensitive: 'Reduce physical activity, particularly outdoors, especially if you have symptoms. Keep outdoor play short and calm, and keep reliever medication at hand.',
    },
    'extremely-poor': {
      headline: 'Avoid exertion outdoors.',
      general: 'Reduce physical activity outdoors: postpone runs and outdoor sport until the air improves.',
      sensitive: 'Avoid physical activity outdoors and stay indoors as much as you can. Children should not do sport outside today.',
    },
  },
  it: {
    good: {
      headline: 'Una buona giornata per stare all’aperto.',
      general: 'La qualità dell’aria è buona. Goditi le tue normali attività all’aperto: andare a scuola a piedi, in bicicletta, una corsa.',
      sensitive: 'Puoi svolgere le tue normali attività all’aperto.',
    },
    fair: {
      headline: 'Va bene per le attività all’aperto.',
      general: 'Puoi svolgere le tue normali attività all’aperto.',
      sensitive: 'Puoi svolgere le tue normali attività all’aperto.',
    },
    moderate: {
      headline: 'Va bene per la maggior parte delle persone; chi è sensibile ascolti il proprio corpo.',
      general: 'Puoi svolgere le tue normali attività all’aperto.',
      sensitive: 'Valuta di ridurre le attività intense all’aperto, come la corsa, se hai sintomi come tosse, mal di gola o fiato corto.',
    },
    poor: {
      headline: 'All’aperto, rallenta se avverti sintomi.',
      general: 'Valuta di ridurre le attività intense all’aperto se hai sintomi come bruciore agli occhi, tosse o mal di gola.',
      sensitive: 'Valuta di ridurre l’attività fisica, soprattutto all’aperto, in particolare se hai sintomi. Andare a scuola a piedi va bene: preferite strade tranquille, lontane dal traffico.',
    },
    'very-poor': {
      headline: 'Riduci le attività intense all’aperto.',
      general: 'Valuta di ridurre le attività intense all’aperto, e di spostare la corsa a un’ora con aria migliore, se hai sintomi come bruciore agli occhi, tosse o mal di gola.',
      sensitive: 'Riduci l’attività fisica, soprattutto all’aperto, in particolare se hai sintomi. Giochi all’aperto brevi e tranquilli; tieni a portata di mano i farmaci al bisogno.',
    },
    'extremely-poor': {
      headline: 'Evita gli sforzi all’aperto.',
      general: 'Riduci l’attività fisica all’aperto: rimanda corse e sport all’aperto a quando l’aria migliora.',
      sensitive: 'Evita l’attività fisica all’aperto e resta al chiuso il più possibile. Oggi i bambini non dovrebbero fare sport all’aperto.',
    },
  },
}

const STRINGS = {
  it: {
    appTitle: 'Aria di Toscana',
    appSubtitle: 'La qualità dell’aria nei capoluoghi toscani, ora',
    skip: 'Vai al contenuto',
    language: 'Lingua',
    operators: 'Area operatori',
    openDashboard: 'Apri la dashboard',
    notFoundTitle: 'Pagina non trovata',
    notFoundText: 'Non c’è nessuna pagina a questo indirizzo: il link potrebbe essere vecchio o scritto male.',
    notFoundHome: 'Vai alla qualità dell’aria in Toscana',
    widgetUnknownCity: (city: string) => `Nessuna città “${city}”.`,
    city: 'Città',
    airIn: (city: string) => `Aria a ${city}`,
    indexName: 'Indice europeo della qualità dell’aria',
    indexOf: (level: number) => `${level} su 6`,
    drivenBy: 'Inquinante che determina l’indice',
    updated: 'Ultimo aggiornamento',
    updatedAt: (time: string, ago: string) => `${time} (${ago})`,
    noIndex: 'Indice non disponibile',
    stale: (time: string | null) =>
      time ? `Dati non aggiornati: le stazioni non inviano misure dalle ${time}. Non mostriamo un indice invece di indovinarlo.` : 'Le stazioni non hanno ancora inviato misure.',
    incomplete: 'Misure insufficienti nell’ultima ora per calcolare l’indice: servono almeno il 75 % delle misure attese.',
    noStations: (city: string) => `Non ci sono ancora stazioni di qualità dell’aria a ${city}.`,
    loading: 'Caricamento…',
    loadError: 'Impossibile caricare i dati. Nuovo tentativo tra poco.',
    forEveryone: 'Per tutti',
    forSensitive: 'Per le persone sensibili',
    sensitiveWho: 'Bambini, anziani, donne in gravidanza e persone con asma o malattie del cuore o dei polmoni.',
    pollutants: 'Inquinanti nell’ultima ora',
    pollutantsNote: 'Media dell’ultima ora alla stazione più esposta, con le fasce dell’indice europeo.',
    notEnoughData: 'dati insufficienti',
    noData: 'nessun dato',
    band: 'fascia',
    scaleOf: (name: string) => `Scala delle fasce per ${name}`,
    last24h: 'Ultime 24 ore',
    last24hNote: 'Indice ora per ora (1 buona … 6 estremamente scadente); l’ultima barra è l’indice di adesso.',
    now: 'ora',
    last7d: 'Ultimi 7 giorni',
    last7dNote: (p: string) => `Media oraria di ${p} (µg/m³), con le fasce dell’indice sullo sfondo.`,
    showTable: 'Mostra i dati in tabella',
    hour: 'Ora',
    index: 'Indice',
    value: 'Valore',
    chooseCharted: 'Inquinante nel grafico',
    stations: 'Stazioni',
    stationsMap: (city: string) => `Mappa delle stazioni di ${city}, colorate secondo l’indice`,
    stationStatus: { ok: '', incomplete: 'dati insufficienti', stale: 'dati non aggiornati', 'no-data': 'nessun dato' } as Record<string, string>,
    mapLoading: 'Caricamento della mappa…',
    chartsLoading: 'Caricamento dei grafici…',
    noHistory: 'Nessun dato orario completo in questo periodo.',
    openData: 'Dati aperti',
    openDataText: 'Tutti i dati sono dati aperti, scaricabili in JSON, CSV e NGSI-LD (FIWARE).',
    apiDocs: 'Documentazione dell’API',
    downloadCsv: 'Scarica CSV',
    license: 'Licenza',
    embed: 'Incorpora il riquadro nel tuo sito',
    about: (version: string) =>
      `Indice europeo della qualità dell’aria (${version}, Agenzia europea dell’ambiente): la fascia peggiore tra PM2,5, PM10, NO₂, O₃ e SO₂, alla stazione più esposta della città. Un’ora conta se ha almeno il 75 % delle misure attese.`,
    widgetDetails: 'Dettagli',
    ago: 'fa',
  },
  en: {
    appTitle: 'Tuscany Air',
    appSubtitle: 'Air quality in Tuscany’s provincial capitals, now',
    skip: 'Skip to content',
    language: 'Language',
    operators: 'Operators’ dashboard',
    openDashboard: 'Open the dashboard',
    notFoundTitle: 'Page not found',
    notFoundText: 'There is no page at this address: the link may be old or mistyped.',
    notFoundHome: 'Go to the air quality in Tuscany',
    widgetUnknownCity: (city: string) => `No city “${city}”.`,
    city: 'City',
    airIn: (city: string) => `Air in ${city}`,
    indexName: 'European Air Quality Index',
    indexOf: (level: number) => `${level} of 6`,
    drivenBy: 'Pollutant setting the index',
    updated: 'Last updated',
    updatedAt: (time: string, ago: string) => `${time} (${ago})`,
    noIndex: 'Index not available',
    stale: (time: string | null) =>
      time ? `Data out of date: the stations have not reported since ${time}. We show no index rather than guess one.` : 'The stations have not reported yet.',
    incomplete: 'Too few readings in the last hour to compute the index: at least 75 % of the expected readings are needed.',
    noStations: (city: string) => `There are no air-quality stations in ${city} yet.`,
    loading: 'Loading…',
    loadError: 'Could not load the data. Trying again shortly.',
    forEveryone: 'For everyone',
    forSensitive: 'For sensitive people',
    sensitiveWho: 'Children, older people, pregnant women and people with asthma, heart or lung conditions.',
    pollutants: 'Pollutants in the last hour',
    pollutantsNote: 'Mean of the last hour at the most exposed station, against the European index bands.',
    notEnoughData: 'not enough data',
    noData: 'no data',
    band: 'band',
    scaleOf: (name: string) => `Band scale for ${name}`,
    last24h: 'Last 24 hours',
    last24hNote: 'Index hour by hour (1 good … 6 extremely poor); the last bar is the index now.',
    now: 'now',
    last7d: 'Last 7 days',
    last7dNote: (p: string) => `Hourly mean of ${p} (µg/m³), with the index bands behind.`,
    showTable: 'Show the data as a table',
    hour: 'Hour',
    index: 'Index',
    value: 'Value',
    chooseCharted: 'Pollutant in the chart',
    stations: 'Stations',
    stationsMap: (city: string) => `Map of ${city}'s stations, coloured by index`,
    stationStatus: { ok: '', incomplete: 'not enough data', stale: 'out of date', 'no-data': 'no data' } as Record<string, string>,
    mapLoading: 'Loading the map…',
    chartsLoading: 'Loading the charts…',
    noHistory: 'No complete hourly data in this period.',
    openData: 'Open data',
    openDataText: 'All of this is open data, downloadable as JSON, CSV and NGSI-LD (FIWARE).',
    apiDocs: 'API documentation',
    downloadCsv: 'Download CSV',
    license: 'Licence',
    embed: 'Embed the card on your site',
    about: (version: string) =>
      `European Air Quality Index (${version}, European Environment Agency): the worst band of PM2.5, PM10, NO₂, O₃ and SO₂ at the city's most exposed station. An hour counts when it has at least 75 % of the expected readings.`,
    widgetDetails: 'Details',
    ago: 'ago',
  },
}

export type Strings = (typeof STRINGS)['en']

export function strings(lang: Lang): Strings {
  return STRINGS[lang] as Strings
}

export function bandName(lang: Lang, band: BandId): string {
  return BAND_NAMES[lang][band]
}

export function pollutantName(lang: Lang, p: Pollutant): string {
  return POLLUTANT_NAMES[lang][p]
}

/** PM2.5 is written PM2,5 in Italian. */
export function pollutantSymbol(lang: Lang, p: Pollutant, label: string): string {
  return lang === 'it' ? label.replace('2.5', '2,5') : label
}

export function advice(lang: Lang, band: BandId) {
  return ADVICE[lang][band]
}

export function formatNumber(lang: Lang, value: number): string {
  return new Intl.NumberFormat(LOCALES[lang], { maximumFractionDigits: 1 }).format(value)
}

export function formatTime(lang: Lang, iso: string, withDay = false): string {
  return new Intl.DateTimeFormat(LOCALES[lang], {
    timeZone: TIME_ZONE,
    hour: '2-digit',
    minute: '2-digit',
    ...(withDay ? { weekday: 'short', day: 'numeric', month: 'short' } : {}),
  }).format(new Date(iso))
}

export function formatAgo(lang: Lang, iso: string, now = Date.now()): string {
  const seconds = Math.round((Date.parse(iso) - now) / 1000)
  const rtf = new Intl.RelativeTimeFormat(LOCALES[lang], { numeric: 'auto' })
  const abs = Math.abs(seconds)
  if (abs < 60) return rtf.format(Math.min(0, seconds), 'second')
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), 'minute')
  if (abs < 86400) return rtf.format(Math.round(seconds / 3600), 'hour')
  return rtf.format(Math.round(seconds / 86400), 'day')
}

export type { Level }
