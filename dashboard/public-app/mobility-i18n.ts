import { formatNumber } from './i18n.ts'
import { type Lang } from '../i18n/lang.ts'

/** The "Getting around now" section's words, Italian and English. */

const STRINGS = {
  it: {
    title: (city: string) => `Muoversi ora a ${city}`,
    live: 'In diretta',
    connecting: 'Connessione in corso…',
    offline: 'Connessione persa: riprovo…',
    buses: 'Autobus',
    busesMap: (city: string) => `Posizione degli autobus a ${city}, schematica`,
    noBuses: 'Nessun autobus in servizio al momento.',
    route: (r: string) => `Linea ${r}`,
    onTime: 'in orario',
    late: (d: string) => `in ritardo di ${d}`,
    early: (d: string) => `in anticipo di ${d}`,
    noDelay: 'ritardo non disponibile',
    carParks: 'Parcheggi',
    noCarParks: 'Nessun parcheggio in questa città.',
    free: (n: string, total: string) => `${n} liberi su ${total}`,
    full: 'Completo',
    unknown: 'dato non disponibile',
    rising: 'in aumento',
    falling: 'in calo',
    steady: 'stabile',
    bikes: 'Bike sharing',
    noBikes: 'Nessuna stazione di bike sharing in questa città.',
    bikesDocks: (b: string, d: string) => `${b} bici · ${d} stalli liberi`,
    feeds: 'Dati aperti: GTFS-Realtime, GBFS, DATEX II',
  },
  en: {
    title: (city: string) => `Getting around ${city} now`,
    live: 'Live',
    connecting: 'Connecting…',
    offline: 'Connection lost: retrying…',
    buses: 'Buses',
    busesMap: (city: string) => `Where the buses are in ${city}, schematic`,
    noBuses: 'No buses in service right now.',
    route: (r: string) => `Route ${r}`,
    onTime: 'on time',
    late: (d: string) => `${d} late`,
    early: (d: string) => `${d} early`,
    noDelay: 'delay not available',
    carParks: 'Car parks',
    noCarParks: 'No car parks in this city.',
    free: (n: string, total: string) => `${n} free of ${total}`,
    full: 'Full',
    unknown: 'no data',
    rising: 'rising',
    falling: 'falling',
    steady: 'steady',
    bikes: 'Bike share',
    noBikes: 'No bike-share stations in this city.',
    bikesDocks: (b: string, d: string) => `${b} bikes · ${d} free docks`,
    feeds: 'Open data: GTFS-Realtime, GBFS, DATEX II',
  },
}

export type MobilityStrings = (typeof STRINGS)['en']

export function mobilityStrings(lang: Lang): MobilityStrings {
  return STRINGS[lang]
}

/** A delay in words: "in orario" within a minute, else minutes (or seconds under two minutes). */
export function delayText(lang: Lang, seconds: number | undefined): string {
  const t = STRINGS[lang]
  if (seconds === undefined) return t.noDelay
  if (Math.abs(seconds) < 60) return t.onTime
  const minutes = Math.round(Math.abs(seconds) / 60)
  const amount = `${formatNumber(lang, minutes)} min`
  return seconds > 0 ? t.late(amount) : t.early(amount)
}
