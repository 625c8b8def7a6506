import { BANDS as EAQI_BANDS, EAQI_POLLUTANTS, POLLUTANT_LABELS, THRESHOLDS, levelFor } from '../../../devices/aqi.ts'
import type { Values } from '../api/types.ts'
import { appLang, cachedPerLocale } from '../locale.ts'
import { MAP_STRINGS } from './strings.ts'

/**
 * How a device's latest values are graded, one scale per device type so each speaks its own
 * language: the European Air Quality Index bands (with the EEA's colours) for air quality,
 * congestion for traffic counters, occupancy for parking and bike docks, delay for buses, dB(A)
 * bands for noise. Every band has a name, and the name is always shown as text next to the
 * colour (list, panel, tooltip, legend): colour is never the only signal.
 *
 * Outside the EAQI the scales share one ramp, blue (fine) → yellow → orange → red (bad), with
 * purple for the extreme end, so the ends stay apart for the common colour-vision deficiencies.
 */

export interface Band {
  id: string
  name: string
  /** Fill colour on the map and swatches. */
  color: string
  /** Text colour on that fill (chips), at least 4.5:1. */
  ink: string
  /** For the legend: the range in the scale's unit, e.g. "15–50 µg/m³". */
  range: string
  /** 0 = best; higher is worse (bike docks: higher is more unbalanced). */
  severity: number
}

export interface Scale {
  type: string
  /** What the scale is called in the legend. */
  title: string
  /** What is measured, e.g. "Worst pollutant, latest reading". */
  measure: string
  bands: readonly Band[]
  /** The band of these values, with the value and a short text ("PM10 62 µg/m³"); undefined when nothing to grade. */
  grade(values: Values): { band: Band; value: number; detail: string } | undefined
}

const RAMP = { blue: '#2c7bb6', light: '#8ecae6', yellow: '#f2d84b', orange: '#f08a3c', red: '#c8102e', purple: '#6a1b9a' } as const
const INK_DARK = '#111111'
const INK_LIGHT = '#ffffff'

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)
// Formatters are costly to build: one per precision and locale, made once (grade runs for every update).
const formats = cachedPerLocale((locale) => [0, 1].map((digits) => new Intl.NumberFormat(locale, { maximumFractionDigits: digits })))
const fmt = (v: number, digits = 0) => formats()[digits]!.format(v)
/** The map's words in the app's language. */
const words = () => MAP_STRINGS[appLang()]

/** Bands from upper bounds (inclusive): bands[i] holds values ≤ bounds[i]; the last band is open. */
function banded(bounds: readonly number[], bands: readonly Band[], value: number): Band {
  let i = 0
  while (i < bounds.length && value > bounds[i]!) i++
  return bands[i]!
}

/** A band whose name and range read in the app's language (the English ones here are the fallback). */
function band(id: string, name: string, color: string, range: string, severity: number, ink = INK_DARK, scale = ''): Band {
  return {
    id,
    get name() {
      return words().scales[scale]?.bands[id]?.name ?? name
    },
    color,
    ink,
    get range() {
      const r = words().scales[scale]?.bands[id]?.range ?? range
      return appLang() === 'it' ? r.replace('PM2.5', 'PM2,5') : r
    },
    severity,
  }
}

/** A scale's title and measure in the app's language. */
function scaleWords(type: string, scale: Omit<Scale, 'title' | 'measure'>): Scale {
  return Object.defineProperties(scale, {
    title: { get: () => words().scales[type]!.title, enumerable: true },
    measure: { get: () => words().scales[type]!.measure, enumerable: true },
  }) as Scale
}

// ---------------------------------------------------------------- air quality: EAQI

const eaqiBands: Band[] = EAQI_BANDS.map((b) => {
  const pm25 = THRESHOLDS.pm25
  const lower = b.level === 1 ? 0 : pm25[b.level - 2]!
  const upper = b.level === 6 ? undefined : pm25[b.level - 1]!
  return band(b.id, b.name, b.color, upper === undefined ? `PM2.5 ≥ ${lower}` : `PM2.5 ${lower}–${upper}`, b.level - 1, b.textColor, 'air-quality')
})

const airQuality: Scale = scaleWords('air-quality', {
  type: 'air-quality',
  bands: eaqiBands,
  grade(values) {
    let worst: { level: number; pollutant: (typeof EAQI_POLLUTANTS)[number]; value: number } | undefined
    for (const p of EAQI_POLLUTANTS) {
      const v = num(values[p])
      if (v === undefined) continue
      const level = levelFor(p, v)
      if (level !== undefined && (!worst || level > worst.level)) worst = { level, pollutant: p, value: v }
    }
    if (!worst) return undefined
    return { band: eaqiBands[worst.level - 1]!, value: worst.value, detail: `${words().pollutants[worst.pollutant] ?? POLLUTANT_LABELS[worst.pollutant]} ${fmt(worst.value, 1)} µg/m³` }
  },
})

// ---------------------------------------------------------------- noise: dB(A), 5 dB bands from the WHO guideline

const noiseBounds = [55, 60, 65, 70, 75]
const noiseBands = [
  band('quiet', 'Quiet', RAMP.blue, '< 55 dB(A)', 0, INK_LIGHT, 'noise'),
  band('moderate', 'Moderate', RAMP.light, '55–60 dB(A)', 1, INK_DARK, 'noise'),
  band('noisy', 'Noisy', RAMP.yellow, '60–65 dB(A)', 2, INK_DARK, 'noise'),
  band('loud', 'Loud', RAMP.orange, '65–70 dB(A)', 3, INK_DARK, 'noise'),
  band('very-loud', 'Very loud', RAMP.red, '70–75 dB(A)', 4, INK_LIGHT, 'noise'),
  band('extreme', 'Extremely loud', RAMP.purple, '≥ 75 dB(A)', 5, INK_LIGHT, 'noise'),
]
const noise: Scale = scaleWords('noise', {
  type: 'noise',
  bands: noiseBands,
  grade(values) {
    const v = num(values.LAeq)
    if (v === undefined) return undefined
    // Bands are [lower, upper): 55.0 is already "Moderate".
    return { band: banded(noiseBounds.map((b) => b - 1e-9), noiseBands, v), value: v, detail: `LAeq ${fmt(v, 1)} dB(A)` }
  },
})

// ---------------------------------------------------------------- traffic: congestion from loop occupancy

const trafficBounds = [10, 20, 35, 50]
const trafficBands = [
  band('free', 'Free flow', RAMP.blue, '≤ 10 % occupancy', 0, INK_LIGHT, 'traffic-counter'),
  band('light', 'Light', RAMP.light, '10–20 %', 1, INK_DARK, 'traffic-counter'),
  band('moderate', 'Moderate', RAMP.yellow, '20–35 %', 2, INK_DARK, 'traffic-counter'),
  band('heavy', 'Heavy', RAMP.orange, '35–50 %', 3, INK_DARK, 'traffic-counter'),
  band('congested', 'Congested', RAMP.red, '> 50 %', 4, INK_LIGHT, 'traffic-counter'),
]
const traffic: Scale = scaleWords('traffic-counter', {
  type: 'traffic-counter',
  bands: trafficBands,
  grade(values) {
    const o = num(values.occupancy)
    if (o === undefined) return undefined
    const pct = o * 100
    const speed = num(values.averageVehicleSpeed)
    return { band: banded(trafficBounds, trafficBands, pct), value: pct, detail: `${words().occupied(fmt(pct))}${speed === undefined ? '' : `, ${fmt(speed)} km/h`}` }
  },
})

// ---------------------------------------------------------------- parking: occupancy

const parkingBounds = [50, 75, 90]
const parkingBands = [
  band('plenty', 'Plenty of space', RAMP.blue, '≤ 50 % taken', 0, INK_LIGHT, 'parking'),
  band('filling', 'Filling up', RAMP.light, '50–75 %', 1, INK_DARK, 'parking'),
  band('busy', 'Busy', RAMP.yellow, '75–90 %', 2, INK_DARK, 'parking'),
  band('nearly-full', 'Nearly full', RAMP.orange, '> 90 %, spots left', 3, INK_DARK, 'parking'),
  band('full', 'Full', RAMP.red, 'no free spot', 4, INK_LIGHT, 'parking'),
]
const parking: Scale = scaleWords('parking', {
  type: 'parking',
  bands: parkingBands,
  grade(values) {
    const free = num(values.availableSpotNumber)
    const total = num(values.totalSpotNumber)
    if (free === undefined || !total) return undefined
    const pct = ((total - free) / total) * 100
    const b = free <= 0 ? parkingBands[4]! : banded(parkingBounds, parkingBands, pct)
    return { band: b, value: pct, detail: words().freeOf(fmt(free), fmt(total)) }
  },
})

// ---------------------------------------------------------------- bike docks: bikes against docks

const bikeBands = [
  band('balanced', 'Bikes and docks free', RAMP.blue, '20–90 % of docks hold a bike', 0, INK_LIGHT, 'bike-dock'),
  band('nearly-full', 'Few free docks', RAMP.light, '> 90 % hold a bike', 1, INK_DARK, 'bike-dock'),
  band('few-bikes', 'Few bikes', RAMP.yellow, '< 20 % hold a bike', 2, INK_DARK, 'bike-dock'),
  band('no-docks', 'No free dock', RAMP.orange, 'every dock holds a bike', 3, INK_DARK, 'bike-dock'),
  band('empty', 'No bikes', RAMP.red, 'no bike to take', 4, INK_LIGHT, 'bike-dock'),
]
const bikeDock: Scale = scaleWords('bike-dock', {
  type: 'bike-dock',
  bands: bikeBands,
  grade(values) {
    const bikes = num(values.availableBikeNumber)
    const free = num(values.freeSlotNumber)
    if (bikes === undefined || free === undefined || bikes + free === 0) return undefined
    const pct = (bikes / (bikes + free)) * 100
    const b = bikes === 0 ? bikeBands[4]! : free === 0 ? bikeBands[3]! : pct < 20 ? bikeBands[2]! : pct > 90 ? bikeBands[1]! : bikeBands[0]!
    return { band: b, value: pct, detail: words().bikesDocks(fmt(bikes), fmt(free)) }
  },
})

// ---------------------------------------------------------------- buses: delay

const busBounds = [-60, 60, 180, 300, 600]
const busBands = [
  band('early', 'Early', RAMP.light, '> 1 min early', 1, INK_DARK, 'bus'),
  band('on-time', 'On time', RAMP.blue, '±1 min', 0, INK_LIGHT, 'bus'),
  band('slightly-late', 'Slightly late', RAMP.yellow, '1–3 min late', 2, INK_DARK, 'bus'),
  band('late', 'Late', RAMP.orange, '3–5 min late', 3, INK_DARK, 'bus'),
  band('very-late', 'Very late', RAMP.red, '5–10 min late', 4, INK_LIGHT, 'bus'),
  band('severely-late', 'Severely late', RAMP.purple, '> 10 min late', 5, INK_LIGHT, 'bus'),
]
const bus: Scale = scaleWords('bus', {
  type: 'bus',
  bands: busBands,
  grade(values) {
    const d = num(values.delay)
    if (d === undefined) return undefined
    const minutes = d / 60
    const amount = Math.abs(d) < 60 ? `${fmt(Math.abs(d))} s` : `${fmt(Math.abs(minutes), 1)} min`
    const text = d < 0 ? words().early(amount) : words().late(amount)
    return { band: banded(busBounds, busBands, d), value: d, detail: text }
  },
})

export const SCALES: Readonly<Record<string, Scale>> = {
  'air-quality': airQuality,
  noise,
  'traffic-counter': traffic,
  parking,
  'bike-dock': bikeDock,
  bus,
}

/** Devices with nothing to grade yet, not graded (weather), or whose value is stale (silent). */
export const NO_DATA = {
  get name() {
    return words().noData
  },
  color: '#9aa0a6',
}
export const NOT_GRADED = {
  get name() {
    return words().notGraded
  },
  color: '#f4f1e8',
}
export const STALE = {
  get name() {
    return words().stale
  },
  color: '#9aa0a6',
}

export interface Grade {
  kind: 'level' | 'no-data' | 'not-graded' | 'inactive'
  band?: Band
  /** Alias of band (earlier name). */
  level?: Band
  value?: number
  scale?: Scale
  color: string
  ink: string
  /** The band's name, or why there is none. */
  text: string
  /** The measured value behind it, e.g. "PM10 62 µg/m³"; empty when none. */
  detail: string
}

/** Grades a device's latest values. `active` false (revoked, decommissioned) greys it out. */
export function grade(type: string, values: Values | undefined, active = true): Grade {
  if (!active) return { kind: 'inactive', color: NO_DATA.color, ink: INK_DARK, text: words().inactive, detail: '' }
  if (!values) return { kind: 'no-data', color: NO_DATA.color, ink: INK_DARK, text: NO_DATA.name, detail: '' }
  const scale = SCALES[type]
  if (!scale) return { kind: 'not-graded', color: NOT_GRADED.color, ink: INK_DARK, text: NOT_GRADED.name, detail: '' }
  const g = scale.grade(values)
  if (!g) return { kind: 'no-data', color: NO_DATA.color, ink: INK_DARK, scale, text: words().noScaleValue(scale.title), detail: '' }
  return { kind: 'level', band: g.band, level: g.band, value: g.value, scale, color: g.band.color, ink: g.band.ink, text: g.band.name, detail: g.detail }
}
