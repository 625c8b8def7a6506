/** The EAQI's ranges are computed from its thresholds: no range words. */
type BandWords = { name: string; range?: string }
type ScaleWords = { title: string; measure: string; bands: Record<string, BandWords> }

const en = {
  scales: {
    'air-quality': {
      title: 'European Air Quality Index',
      measure: 'band of the worst pollutant in the latest reading (indicative; the official index uses hourly means)',
      bands: {
        good: { name: 'Good' },
        fair: { name: 'Fair' },
        moderate: { name: 'Moderate' },
        poor: { name: 'Poor' },
        'very-poor': { name: 'Very poor' },
        'extremely-poor': { name: 'Extremely poor' },
      },
    },
    noise: {
      title: 'Noise',
      measure: 'LAeq, dB(A) (55 dB(A) is the WHO guideline for road traffic)',
      bands: {
        quiet: { name: 'Quiet', range: '< 55 dB(A)' },
        moderate: { name: 'Moderate', range: '55–60 dB(A)' },
        noisy: { name: 'Noisy', range: '60–65 dB(A)' },
        loud: { name: 'Loud', range: '65–70 dB(A)' },
        'very-loud': { name: 'Very loud', range: '70–75 dB(A)' },
        extreme: { name: 'Extremely loud', range: '≥ 75 dB(A)' },
      },
    },
    'traffic-counter': {
      title: 'Traffic congestion',
      measure: 'share of time the loop is occupied (above ~35 % the flow breaks down)',
      bands: {
        free: { name: 'Free flow', range: '≤ 10 % occupancy' },
        light: { name: 'Light', range: '10–20 %' },
        moderate: { name: 'Moderate', range: '20–35 %' },
        heavy: { name: 'Heavy', range: '35–50 %' },
        congested: { name: 'Congested', range: '> 50 %' },
      },
    },
    parking: {
      title: 'Parking occupancy',
      measure: 'share of spots taken',
      bands: {
        plenty: { name: 'Plenty of space', range: '≤ 50 % taken' },
        filling: { name: 'Filling up', range: '50–75 %' },
        busy: { name: 'Busy', range: '75–90 %' },
        'nearly-full': { name: 'Nearly full', range: '> 90 %, spots left' },
        full: { name: 'Full', range: 'no free spot' },
      },
    },
    'bike-dock': {
      title: 'Bike-sharing docks',
      measure: 'bikes available against free docks',
      bands: {
        balanced: { name: 'Bikes and docks free', range: '20–90 % of docks hold a bike' },
        'nearly-full': { name: 'Few free docks', range: '> 90 % hold a bike' },
        'few-bikes': { name: 'Few bikes', range: '< 20 % hold a bike' },
        'no-docks': { name: 'No free dock', range: 'every dock holds a bike' },
        empty: { name: 'No bikes', range: 'no bike to take' },
      },
    },
    bus: {
      title: 'Bus punctuality',
      measure: 'delay against the timetable',
      bands: {
        early: { name: 'Early', range: '> 1 min early' },
        'on-time': { name: 'On time', range: '±1 min' },
        'slightly-late': { name: 'Slightly late', range: '1–3 min late' },
        late: { name: 'Late', range: '3–5 min late' },
        'very-late': { name: 'Very late', range: '5–10 min late' },
        'severely-late': { name: 'Severely late', range: '> 10 min late' },
      },
    },
  } as Record<string, ScaleWords>,
  pollutants: { pm25: 'PM2.5', pm10: 'PM10', no2: 'NO₂', o3: 'O₃', so2: 'SO₂' } as Record<string, string>,
  occupied: (pct: string) => `${pct} % occupied`,
  freeOf: (free: string, total: string) => `${free} of ${total} free`,
  bikesDocks: (bikes: string, docks: string) => `${bikes} bikes, ${docks} free docks`,
  early: (amount: string) => `${amount} early`,
  late: (amount: string) => `${amount} late`,
  noData: 'No value yet',
  notGraded: 'Reporting (not graded)',
  stale: 'Value out of date',
  inactive: 'Inactive',
  noScaleValue: (title: string) => `No ${title.toLowerCase()} value yet`,
  legend: {
    title: 'Legend',
    activeAlert: 'Active alert',
    activeAlertTitle: 'an open or acknowledged alert',
    group: 'Group (zoom in)',
    groupTitle: 'several devices; the label counts them, a red ring means some are silent, orange late',
    coloursFor: 'Colours for',
    grey: 'grey: no value yet, or out of date (silent)',
  },
  map: {
    label: 'Map of devices. Arrow keys pan, plus and minus zoom; cluster buttons zoom in. Use the device list to pick a device with the keyboard.',
    devices: (n: number) => `${n} devices`,
    silent: (n: number) => `${n} silent`,
    late: (n: number) => `${n} late`,
    withAlerts: (n: number) => `${n} with alerts`,
    zoomIn: (what: string) => `${what}: zoom in`,
  },
}

const it: typeof en = {
  scales: {
    'air-quality': {
      title: 'Indice europeo di qualità dell’aria',
      measure: 'classe dell’inquinante peggiore nell’ultima lettura (indicativa; l’indice ufficiale usa medie orarie)',
      bands: {
        good: { name: 'Buona' },
        fair: { name: 'Discreta' },
        moderate: { name: 'Moderata' },
        poor: { name: 'Scadente' },
        'very-poor': { name: 'Molto scadente' },
        'extremely-poor': { name: 'Estremamente scadente' },
      },
    },
    noise: {
      title: 'Rumore',
      measure: 'LAeq, dB(A) (55 dB(A) è la soglia OMS per il traffico stradale)',
      bands: {
        quiet: { name: 'Silenzioso', range: '< 55 dB(A)' },
        moderate: { name: 'Moderato', range: '55–60 dB(A)' },
        noisy: { name: 'Rumoroso', range: '60–65 dB(A)' },
        loud: { name: 'Forte', range: '65–70 dB(A)' },
        'very-loud': { name: 'Molto forte', range: '70–75 dB(A)' },
        extreme: { name: 'Estremamente forte', range: '≥ 75 dB(A)' },
      },
    },
    'traffic-counter': {
      title: 'Congestione del traffico',
      measure: 'quota di tempo in cui la spira è occupata (oltre il 35 % circa il flusso si blocca)',
      bands: {
        free: { name: 'Scorrevole', range: '≤ 10 % di occupazione' },
        light: { name: 'Leggero', range: '10–20 %' },
        moderate: { name: 'Moderato', range: '20–35 %' },
        heavy: { name: 'Intenso', range: '35–50 %' },
        congested: { name: 'Congestionato', range: '> 50 %' },
      },
    },
    parking: {
      title: 'Occupazione dei parcheggi',
      measure: 'quota di posti occupati',
      bands: {
        plenty: { name: 'Molti posti liberi', range: '≤ 50 % occupati' },
        filling: { name: 'In riempimento', range: '50–75 %' },
        busy: { name: 'Affollato', range: '75–90 %' },
        'nearly-full': { name: 'Quasi pieno', range: '> 90 %, posti rimasti' },
        full: { name: 'Pieno', range: 'nessun posto libero' },
      },
    },
    'bike-dock': {
      title: 'Stazioni bike sharing',
      measure: 'bici disponibili rispetto agli stalli liberi',
      bands: {
        balanced: { name: 'Bici e stalli liberi', range: '20–90 % degli stalli con una bici' },
        'nearly-full': { name: 'Pochi stalli liberi', range: '> 90 % con una bici' },
        'few-bikes': { name: 'Poche bici', range: '< 20 % con una bici' },
        'no-docks': { name: 'Nessuno stallo libero', range: 'ogni stallo ha una bici' },
        empty: { name: 'Nessuna bici', range: 'nessuna bici disponibile' },
      },
    },
    bus: {
      title: 'Puntualità degli autobus',
      measure: 'ritardo rispetto all’orario',
      bands: {
        early: { name: 'In anticipo', range: '> 1 min di anticipo' },
        'on-time': { name: 'In orario', range: '±1 min' },
        'slightly-late': { name: 'Lieve ritardo', range: '1–3 min di ritardo' },
        late: { name: 'In ritardo', range: '3–5 min di ritardo' },
        'very-late': { name: 'Forte ritardo', range: '5–10 min di ritardo' },
        'severely-late': { name: 'Ritardo grave', range: '> 10 min di ritardo' },
      },
    },
  },
  pollutants: { pm25: 'PM2,5', pm10: 'PM10', no2: 'NO₂', o3: 'O₃', so2: 'SO₂' },
  occupied: (pct: string) => `${pct} % occupato`,
  freeOf: (free: string, total: string) => `${free} liberi su ${total}`,
  bikesDocks: (bikes: string, docks: string) => `${bikes} bici, ${docks} stalli liberi`,
  early: (amount: string) => `${amount} di anticipo`,
  late: (amount: string) => `${amount} di ritardo`,
  noData: 'Ancora nessun valore',
  notGraded: 'Trasmette (senza scala)',
  stale: 'Valore non aggiornato',
  inactive: 'Non attivo',
  noScaleValue: (title: string) => `Ancora nessun valore per ${title.charAt(0).toLowerCase()}${title.slice(1)}`,
  legend: {
    title: 'Legenda',
    activeAlert: 'Allarme attivo',
    activeAlertTitle: 'un allarme aperto o riconosciuto',
    group: 'Gruppo (ingrandisci)',
    groupTitle: 'più dispositivi; l’etichetta li conta, un anello rosso indica che alcuni sono silenti, arancione in ritardo',
    coloursFor: 'Colori per',
    grey: 'grigio: ancora nessun valore, o valore non aggiornato (silente)',
  },
  map: {
    label: 'Mappa dei dispositivi. Le frecce spostano la mappa, più e meno cambiano lo zoom; i pulsanti dei gruppi ingrandiscono. Usa l’elenco dei dispositivi per sceglierne uno da tastiera.',
    devices: (n: number) => `${n} dispositivi`,
    silent: (n: number) => `${n} silenti`,
    late: (n: number) => `${n} in ritardo`,
    withAlerts: (n: number) => `${n} con allarmi`,
    zoomIn: (what: string) => `${what}: ingrandisci`,
  },
}

/** The map's words: the grading scales (levels.ts), the legend, cluster labels and popups. */
export const MAP_STRINGS = { en, it }
