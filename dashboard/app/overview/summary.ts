import { POLLUTANT_LABELS } from '../../../devices/aqi.ts'
import type { Alert, CityAirQuality } from '../api/ops.ts'
import type { Device, Values } from '../api/types.ts'
import { HEALTH_STATES, type DeviceHealth, type HealthState } from '../live/health.ts'
import { SCALES } from '../map/levels.ts'
import { appLang } from '../locale.ts'
import { OVERVIEW_STRINGS } from './strings.ts'

/**
 * The cities at a glance, computed in the browser from what it already holds (the live values,
 * the server's device health, the active alerts) plus the official air-quality index of the
 * public API. Only devices that are live or late count for the current values: a silent
 * device's numbers are out of date. Pure, so it is tested without a browser.
 */

export interface AirSummary {
  /** EAQI level 1–6, or null. */
  level: number | null
  label: string | null
  color: string | null
  ink: string | null
  /** Driving (worst) pollutant, as a label (PM10). */
  pollutant: string | null
  /** true when the official hourly index is not available and this is the latest readings' worst band. */
  indicative: boolean
  /** Why there is no value: 'no-stations', 'stale', 'incomplete', … */
  status: string
}

export interface AreaSummary {
  /** City id, or '' for the whole region. */
  id: string
  name: string
  air: AirSummary
  /** Mean loop occupancy of the counters reporting, percent, and the congestion band's name. */
  traffic: { occupancy: number | null; band: string | null; speed: number | null; counters: number }
  parking: { free: number; total: number; areas: number; full: number }
  buses: { onTime: number | null; meanDelay: number | null; buses: number; late: number }
  devices: Record<HealthState, number> & { total: number }
  alerts: { open: number; acknowledged: number; critical: number }
}

/** A bus counts as on time up to this delay (seconds). */
export const ON_TIME_S = 180

export interface SummaryInput {
  cities: readonly { id: string; name: string }[]
  devices: readonly Device[]
  values: (id: string) => Values | undefined
  health: (id: string) => DeviceHealth | undefined
  alerts: readonly Alert[]
  /** The official index per city id (from /api/public/air-quality); may be empty. */
  airQuality: ReadonlyMap<string, CityAirQuality>
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)

interface Acc {
  id: string
  name: string
  occSum: number
  occN: number
  speedSum: number
  speedN: number
  free: number
  total: number
  areas: number
  full: number
  busN: number
  busOnTime: number
  delaySum: number
  busLate: number
  worstAir: { level: number; pollutant: string } | null
  airStations: number
  devices: Record<HealthState, number> & { total: number }
  alerts: { open: number; acknowledged: number; critical: number }
}

function acc(id: string, name: string): Acc {
  const devices = Object.fromEntries(HEALTH_STATES.map((s) => [s, 0])) as Record<HealthState, number> & { total: number }
  devices.total = 0
  return {
    id,
    name,
    occSum: 0,
    occN: 0,
    speedSum: 0,
    speedN: 0,
    free: 0,
    total: 0,
    areas: 0,
    full: 0,
    busN: 0,
    busOnTime: 0,
    delaySum: 0,
    busLate: 0,
    worstAir: null,
    airStations: 0,
    devices,
    alerts: { open: 0, acknowledged: 0, critical: 0 },
  }
}

function air(a: Acc, official: CityAirQuality | undefined): AirSummary {
  const level = official?.index.value ?? null
  if (level !== null && level >= 1 && level <= 6) {
    const band = SCALES['air-quality']!.bands[level - 1]!
    const p = official!.index.drivingPollutant
    return { level, label: band.name, color: band.color, ink: band.ink, pollutant: p ? (POLLUTANT_LABELS as Record<string, string>)[p] ?? p : null, indicative: false, status: 'ok' }
  }
  if (a.worstAir) {
    const band = SCALES['air-quality']!.bands[a.worstAir.level - 1]!
    return { level: a.worstAir.level, label: band.name, color: band.color, ink: band.ink, pollutant: a.worstAir.pollutant, indicative: true, status: official?.status ?? 'indicative' }
  }
  return { level: null, label: null, color: null, ink: null, pollutant: null, indicative: false, status: official?.status ?? (a.airStations ? 'no-data' : 'no-stations') }
}

function finish(a: Acc, official: CityAirQuality | undefined): AreaSummary {
  const occupancy = a.occN ? a.occSum / a.occN : null
  return {
    id: a.id,
    name: a.name,
    air: air(a, official),
    traffic: {
      occupancy,
      band: occupancy === null ? null : (SCALES['traffic-counter']!.grade({ occupancy: occupancy / 100 })?.band.name ?? null),
      speed: a.speedN ? a.speedSum / a.speedN : null,
      counters: a.occN,
    },
    parking: { free: a.free, total: a.total, areas: a.areas, full: a.full },
    buses: { onTime: a.busN ? a.busOnTime / a.busN : null, meanDelay: a.busN ? a.delaySum / a.busN : null, buses: a.busN, late: a.busLate },
    devices: a.devices,
    alerts: a.alerts,
  }
}

/** One summary for the whole region (first) and one per city, in the cities' order. */
export function summarise(input: SummaryInput): AreaSummary[] {
  const region = acc('', OVERVIEW_STRINGS[appLang()].region)
  const byCity = new Map(input.cities.map((c) => [c.id, acc(c.id, c.name)]))
  const aqScale = SCALES['air-quality']!
  for (const d of input.devices) {
    const city = byCity.get(d.city)
    const targets = city ? [region, city] : [region]
    const state: HealthState = d.status !== 'active' ? 'inactive' : (input.health(d.id)?.state ?? 'pending')
    for (const t of targets) {
      t.devices[state] += 1
      t.devices.total += 1
    }
    if (state !== 'live' && state !== 'late') {
      if (d.type === 'air-quality') for (const t of targets) t.airStations += 1
      continue
    }
    const v = input.values(d.id)
    if (!v) continue
    switch (d.type) {
      case 'air-quality': {
        const g = aqScale.grade(v)
        for (const t of targets) {
          t.airStations += 1
          if (g) {
            const level = g.band.severity + 1
            if (!t.worstAir || level > t.worstAir.level) t.worstAir = { level, pollutant: g.detail.split(' ')[0]! }
          }
        }
        break
      }
      case 'traffic-counter': {
        const o = num(v.occupancy)
        const s = num(v.averageVehicleSpeed)
        for (const t of targets) {
          if (o !== undefined) {
            t.occSum += o * 100
            t.occN += 1
          }
          if (s !== undefined) {
            t.speedSum += s
            t.speedN += 1
          }
        }
        break
      }
      case 'parking': {
        const free = num(v.availableSpotNumber)
        const total = num(v.totalSpotNumber)
        if (free === undefined || total === undefined) break
        for (const t of targets) {
          t.free += free
          t.total += total
          t.areas += 1
          if (free <= 0) t.full += 1
        }
        break
      }
      case 'bus': {
        const delay = num(v.delay)
        if (delay === undefined) break
        for (const t of targets) {
          t.busN += 1
          t.delaySum += delay
          if (delay <= ON_TIME_S) t.busOnTime += 1
          else t.busLate += 1
        }
        break
      }
    }
  }
  for (const a of input.alerts) {
    const targets = [region, byCity.get(a.city)].filter((t): t is Acc => !!t)
    for (const t of targets) {
      if (a.state === 'open') t.alerts.open += 1
      else if (a.state === 'acknowledged') t.alerts.acknowledged += 1
      if (a.severity === 'critical') t.alerts.critical += 1
    }
  }
  // The region's official index: its worst city's.
  let regionAir: CityAirQuality | undefined
  for (const q of input.airQuality.values()) {
    if (q.index.value !== null && (!regionAir || q.index.value > (regionAir.index.value ?? 0))) regionAir = q
  }
  return [finish(region, regionAir), ...[...byCity.values()].map((c) => finish(c, input.airQuality.get(c.id)))]
}
