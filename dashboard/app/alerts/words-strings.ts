import type { Words } from '../../shared/words.ts'

/** Figures, durations and names in the page's language, for the server's sentences (words.ts makes them). */
export interface WordFormat {
  n(value: string | number | undefined): string
  /** Seconds as "30 s", "5 min", "1 h", "2 d" (the largest unit that divides them). */
  dur(seconds: string | number | undefined): string
  /** The field's label: the kinds' dictionary, the pollutants' (map/strings.ts), the derived fields', else the server's English label. */
  label(p: Words['params']): string
  unit(unit: string | number | undefined): string
}

type SentenceWords = Record<string, (p: Words['params'], f: WordFormat) => string>

const withUnit = (p: Words['params'], f: WordFormat) => (p.unit ? ` ${f.unit(p.unit)}` : '')

/** Alert messages (views.ts alertWords) in English: the same sentences as the server's. */
const enAlert: SentenceWords = {
  threshold: (p, f) => {
    const unit = withUnit(p, f)
    const what = p.window !== undefined ? `${f.dur(p.window)} ${p.aggregate} ${f.label(p)}` : f.label(p)
    return `${what} ${f.n(p.value)}${unit} ${p.op} ${f.n(p.threshold)}${unit} at ${p.device}`
  },
  silent: (p, f) =>
    p.interval !== undefined
      ? `${p.device} is silent: nothing received for more than ${f.dur(5 * Number(p.interval))} (expected every ${f.dur(p.interval)})`
      : `${p.device} is silent: nothing received for more than 5 reporting intervals`,
}

const IT_AGGREGATES: Record<string, string> = { mean: 'media', min: 'minimo', max: 'massimo', count: 'numero di letture', last: 'ultimo valore' }

const itAlert: SentenceWords = {
  threshold: (p, f) => {
    const unit = withUnit(p, f)
    const what = p.window !== undefined ? `${IT_AGGREGATES[String(p.aggregate)] ?? p.aggregate} su ${f.dur(p.window)} di ${f.label(p)}` : f.label(p)
    return `${what} ${f.n(p.value)}${unit} ${p.op} ${f.n(p.threshold)}${unit} presso ${p.device}`
  },
  silent: (p, f) =>
    p.interval !== undefined
      ? `${p.device} è silente: nessuna lettura da più di ${f.dur(5 * Number(p.interval))} (prevista ogni ${f.dur(p.interval)})`
      : `${p.device} è silente: nessuna lettura da più di 5 intervalli di trasmissione`,
}

const EN_RULE_AGGREGATES: Record<string, string> = { mean: 'mean', min: 'minimum', max: 'maximum', count: 'count of readings', last: 'last value' }
const EN_TYPES: Record<string, string> = {
  'air-quality': 'air-quality stations',
  noise: 'noise meters',
  weather: 'weather stations',
  'traffic-counter': 'traffic counters',
  bus: 'bus trackers',
  parking: 'parking areas',
  'bike-dock': 'bike-sharing docks',
}
const IT_TYPES: Record<string, string> = {
  'air-quality': 'centraline qualità dell’aria',
  noise: 'fonometri',
  weather: 'stazioni meteo',
  'traffic-counter': 'contatori di traffico',
  bus: 'localizzatori autobus',
  parking: 'parcheggi',
  'bike-dock': 'stazioni bike sharing',
}

function enWhere(p: Words['params']): string {
  const who = p.deviceId !== undefined ? `device ${p.deviceId}` : p.type !== undefined ? (EN_TYPES[String(p.type)] ?? `${p.type}s`) : 'all devices'
  return p.city !== undefined ? `${who} in ${p.cityName ?? p.city}` : who
}
function itWhere(p: Words['params']): string {
  const who = p.deviceId !== undefined ? `dispositivo ${p.deviceId}` : p.type !== undefined ? (IT_TYPES[String(p.type)] ?? String(p.type)) : 'tutti i dispositivi'
  return p.city !== undefined ? `${who} a ${p.cityName ?? p.city}` : who
}

/** Rule descriptions (rules.ts ruleWords) in English: the same sentences as the server's. */
const enRule: SentenceWords = {
  silent: (p, f) => `Silent${Number(p.minDuration) > 0 ? ` for ${f.dur(p.minDuration)}` : ''}: ${enWhere(p)}`,
  threshold: (p, f) => {
    const what = p.window !== undefined ? `${f.dur(p.window)} ${EN_RULE_AGGREGATES[String(p.aggregate)] ?? p.aggregate} of ${f.label(p)}` : f.label(p)
    const lasting = Number(p.minDuration) > 0 ? ` for ${f.dur(p.minDuration)}` : ''
    return `${what} ${p.op} ${f.n(p.threshold)}${withUnit(p, f)}${lasting}: ${enWhere(p)}`
  },
}

const itRule: SentenceWords = {
  silent: (p, f) => `Silente${Number(p.minDuration) > 0 ? ` per ${f.dur(p.minDuration)}` : ''}: ${itWhere(p)}`,
  threshold: (p, f) => {
    const what = p.window !== undefined ? `${IT_AGGREGATES[String(p.aggregate)] ?? p.aggregate} su ${f.dur(p.window)} di ${f.label(p)}` : f.label(p)
    const lasting = Number(p.minDuration) > 0 ? ` per ${f.dur(p.minDuration)}` : ''
    return `${what} ${p.op} ${f.n(p.threshold)}${withUnit(p, f)}${lasting}: ${itWhere(p)}`
  },
}

const en = {
  alertText: enAlert,
  ruleText: enRule,
  /** The duration units formatDuration (rules.ts) writes. */
  units: { d: 'd', h: 'h', min: 'min', s: 's' },
  /** Derived fields (rules.ts DERIVED_FIELDS), which the kinds' dictionary does not have. */
  derived: { occupancyPercent: 'Occupancy', delayMinutes: 'Delay' } as Record<string, string>,
  unknownValue: '?',
}

const it: typeof en = {
  alertText: itAlert,
  ruleText: itRule,
  units: { d: 'g', h: 'h', min: 'min', s: 's' },
  derived: { occupancyPercent: 'Occupazione', delayMinutes: 'Ritardo' },
  unknownValue: '?',
}

/**
 * The sentences the server writes about alerts and rules (an alert's message, a rule's
 * description), worded from their code and figures. A code this page does not know shows the
 * server's English sentence.
 */
export const ALERT_WORD_STRINGS = { en, it }
