import type { AppConfig, Device } from './api/types.ts'
import { isHealthState, type DeviceHealth, type HealthState } from './live/health.ts'

/**
 * What the operator is looking at, kept in the URL's query string so a link shows a colleague
 * the same view: filters (city, family, type, state, search), the selected device, the side
 * panel's tab and the map's centre and zoom. Defaults are left out of the URL.
 *
 *   /dashboard?city=firenze&type=air-quality&state=silent&q=gramsci&device=aq-1&tab=alerts&map=11.2558,43.7696,12.5
 */

export type SideTab = 'cities' | 'alerts' | 'rules'
export const SIDE_TABS: readonly SideTab[] = ['cities', 'alerts', 'rules']

export interface Filters {
  city: string
  family: string
  type: string
  state: HealthState | ''
  q: string
}

export interface MapView {
  lon: number
  lat: number
  zoom: number
}

export interface ViewState extends Filters {
  device: string | null
  tab: SideTab
  map: MapView | null
}

export const EMPTY_FILTERS: Filters = { city: '', family: '', type: '', state: '', q: '' }

export function parseView(search: string): ViewState {
  const p = new URLSearchParams(search)
  const text = (key: string, max = 100) => (p.get(key) ?? '').trim().slice(0, max)
  const state = text('state')
  const tab = text('tab') as SideTab
  return {
    city: text('city', 40).toLowerCase(),
    family: text('family', 40),
    type: text('type', 40),
    state: isHealthState(state) ? state : '',
    q: text('q'),
    device: text('device', 64) || null,
    tab: SIDE_TABS.includes(tab) ? tab : 'cities',
    map: parseMap(p.get('map')),
  }
}

function parseMap(value: string | null): MapView | null {
  if (!value) return null
  const [lon, lat, zoom] = value.split(',').map(Number)
  if (![lon, lat, zoom].every((n) => Number.isFinite(n))) return null
  if (Math.abs(lat!) > 85 || Math.abs(lon!) > 180 || zoom! < 0 || zoom! > 22) return null
  return { lon: lon!, lat: lat!, zoom: zoom! }
}

export function formatMap(m: MapView): string {
  return `${m.lon.toFixed(4)},${m.lat.toFixed(4)},${m.zoom.toFixed(2)}`
}

/** The query string for a view (with `?`, or '' when everything is default), other params kept. */
export function serializeView(view: Partial<ViewState>, base = ''): string {
  const p = new URLSearchParams(base)
  const put = (key: string, value: string | null | undefined, fallback = '') => {
    if (value === undefined) return
    if (value === null || value === fallback) p.delete(key)
    else p.set(key, value)
  }
  put('city', view.city)
  put('family', view.family)
  put('type', view.type)
  put('state', view.state)
  put('q', view.q)
  put('device', view.device)
  put('tab', view.tab, 'cities')
  if (view.map !== undefined) put('map', view.map && formatMap(view.map))
  const s = p.toString()
  return s ? `?${s}` : ''
}

/** Merges part of the view into the address bar without a navigation or a history entry. */
export function writeView(view: Partial<ViewState>): void {
  if (typeof window === 'undefined') return
  const search = serializeView(view, window.location.search)
  if (search === window.location.search) return
  window.history.replaceState(window.history.state, '', `${window.location.pathname}${search}${window.location.hash}`)
}

/** Search: every word must appear in the id, name, type label or city name (any case). */
export function matchesSearch(config: AppConfig, device: Device, q: string): boolean {
  const words = q.toLowerCase().split(/\s+/).filter(Boolean)
  if (words.length === 0) return true
  const hay = `${device.id} ${device.name} ${config.kinds[device.type]?.label ?? device.type} ${config.cities.find((c) => c.id === device.city)?.name ?? device.city}`.toLowerCase()
  return words.every((w) => hay.includes(w))
}

/** Whether a device passes the filters (its health from the server; unknown health counts as pending). */
export function matchesFilters(config: AppConfig, device: Device, health: DeviceHealth | undefined, f: Filters): boolean {
  if (f.city && device.city !== f.city) return false
  if (f.type && device.type !== f.type) return false
  if (f.family && config.kinds[device.type]?.family !== f.family) return false
  if (f.state && (health?.state ?? (device.status === 'active' ? 'pending' : 'inactive')) !== f.state) return false
  return matchesSearch(config, device, f.q)
}

export function hasFilters(f: Filters): boolean {
  return Boolean(f.city || f.family || f.type || f.state || f.q)
}
