import type { Lang } from '../i18n/lang.ts'

/** The words of "This year so far", the station panel, the overview and "nearest city", Italian and English. */

const STRINGS = {
  it: {
    title: (year: number) => `Quest’anno finora (${year})`,
    titleComplete: (year: number) => `Anno ${year}`,
    period: (from: string, to: string) => `Dal ${from} al ${to}, ora solare (UTC+1).`,
    cityNote: 'Per la città: ogni valore alla stazione dove è più alto.',
    stationNote: (name: string) => `Alla stazione ${name}.`,
    caption: (where: string, year: number) => `Statistiche ${year} per ${where} rispetto ai valori limite dell’UE`,
    figure: 'Indicatore',
    value: 'Valore',
    capture: 'Copertura dati',
    annualMean: (p: string) => `Media annua ${p}`,
    pm10Days: 'Giorni con PM10 sopra 50 µg/m³ (media giornaliera)',
    no2Hours: 'Ore con NO₂ sopra 200 µg/m³',
    o3Days: 'Giorni con O₃ sopra 120 µg/m³ (massima media mobile su 8 ore)',
    ofAllowed: (n: string, allowed: number) => `${n} su ${allowed} consentiti`,
    allowedAveraged: (n: string, allowed: number) => `${n} (consentiti ${allowed}, media su tre anni)`,
    limit: (v: string, unit: string) => `Valore limite ${v} ${unit}`,
    target: (v: string, unit: string) => `Valore obiettivo ${v} ${unit}`,
    perYear: (n: number) => `, al massimo ${n} volte l’anno`,
    from2030: (v: string, unit: string, allowed: number | null) => `dal 2030: ${v} ${unit}${allowed === null ? '' : `, al massimo ${allowed} volte`}`,
    at: (station: string) => `presso ${station}`,
    noValue: '—',
    indicative: (min: number) => `Con una copertura sotto il ${min} % i valori sono indicativi (Direttiva 2008/50/CE, allegato I).`,
    sources:
      'Fonti: Direttiva 2008/50/CE (allegati VII, XI e XIV) e la sua revisione, Direttiva (UE) 2024/2881 (allegato I, valori da raggiungere entro il 2030). Un’ora conta con almeno il 75 % delle misure attese, un giorno con almeno 18 ore valide.',
    loading: 'Caricamento delle statistiche dell’anno…',
    error: 'Impossibile caricare le statistiche dell’anno.',
    csv: 'Scarica le statistiche (CSV)',
    // station panel
    station: 'Stazione',
    close: 'Chiudi',
    lastReading: 'Ultima misura',
    openStation: (name: string) => `Apri la stazione ${name}`,
    cluster: (n: number) => `${n} stazioni vicine: ingrandisci`,
    // overview
    overview: 'Tutte le città',
    overviewNote: 'L’indice europeo adesso in ogni capoluogo toscano. Scegli una città per i dettagli.',
    citiesMap: 'Mappa dei capoluoghi toscani, colorati secondo l’indice',
    showCity: (city: string) => `Mostra ${city}`,
    // nearest
    nearest: 'Città più vicina',
    locating: 'Sto cercando la tua posizione…',
    nearestIs: (city: string, km: string) => `La città più vicina a te è ${city}, a ${km} km.`,
    denied: 'Posizione non disponibile: scegli la città dall’elenco.',
    noGeolocation: 'Questo browser non fornisce la posizione: scegli la città dall’elenco.',
  },
  en: {
    title: (year: number) => `This year so far (${year})`,
    titleComplete: (year: number) => `Year ${year}`,
    period: (from: string, to: string) => `From ${from} to ${to}, standard time (UTC+1).`,
    cityNote: 'For the city: each figure at the station where it is highest.',
    stationNote: (name: string) => `At the ${name} station.`,
    caption: (where: string, year: number) => `${year} statistics for ${where} against the EU limit values`,
    figure: 'Figure',
    value: 'Value',
    capture: 'Data capture',
    annualMean: (p: string) => `Annual mean ${p}`,
    pm10Days: 'Days with PM10 over 50 µg/m³ (daily mean)',
    no2Hours: 'Hours with NO₂ over 200 µg/m³',
    o3Days: 'Days with O₃ over 120 µg/m³ (maximum daily 8-hour mean)',
    ofAllowed: (n: string, allowed: number) => `${n} of ${allowed} allowed`,
    allowedAveraged: (n: string, allowed: number) => `${n} (${allowed} allowed, averaged over three years)`,
    limit: (v: string, unit: string) => `Limit value ${v} ${unit}`,
    target: (v: string, unit: string) => `Target value ${v} ${unit}`,
    perYear: (n: number) => `, at most ${n} times a year`,
    from2030: (v: string, unit: string, allowed: number | null) => `from 2030: ${v} ${unit}${allowed === null ? '' : `, at most ${allowed} times`}`,
    at: (station: string) => `at ${station}`,
    noValue: '—',
    indicative: (min: number) => `Below ${min} % data capture the figures are indicative (Directive 2008/50/EC, Annex I).`,
    sources:
      'Sources: Directive 2008/50/EC (Annexes VII, XI and XIV) and its revision, Directive (EU) 2024/2881 (Annex I, values to be met by 2030). An hour counts with at least 75 % of the expected readings, a day with at least 18 valid hours.',
    loading: 'Loading the year’s statistics…',
    error: 'Could not load the year’s statistics.',
    csv: 'Download the statistics (CSV)',
    station: 'Station',
    close: 'Close',
    lastReading: 'Last reading',
    openStation: (name: string) => `Open the ${name} station`,
    cluster: (n: number) => `${n} stations close together: zoom in`,
    overview: 'All cities',
    overviewNote: 'The European index now in every Tuscan provincial capital. Choose a city for its details.',
    citiesMap: 'Map of the Tuscan provincial capitals, coloured by index',
    showCity: (city: string) => `Show ${city}`,
    nearest: 'Nearest city',
    locating: 'Finding your position…',
    nearestIs: (city: string, km: string) => `The city nearest to you is ${city}, ${km} km away.`,
    denied: 'Position not available: choose the city from the list.',
    noGeolocation: 'This browser gives no position: choose the city from the list.',
  },
}

export type YearStrings = (typeof STRINGS)['en']

export function yearStrings(lang: Lang): YearStrings {
  return STRINGS[lang] as YearStrings
}

/** The API names its sources in English; the Italian page names them the Italian way. */
export function sourceName(lang: Lang, source: string): string {
  if (lang === 'en') return source
  return source
    .replace('Directive 2008/50/EC', 'Direttiva 2008/50/CE')
    .replace('Directive (EU) 2024/2881', 'Direttiva (UE) 2024/2881')
    .replace(/Annex/g, 'allegato')
    .replace('(days averaged over three years)', '(giorni, media su tre anni)')
}
