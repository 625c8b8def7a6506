import regionData from '../../devices/region.json' with { type: 'json' }

/** The region's cities, straight from devices/region.json (not region.ts: it pulls in TypeBox). */

export interface PublicCity {
  id: string
  name: string
  province: string
  lat: number
  lon: number
}

/** A city with its index level now (null: none), for the overview. */
export interface CityNow {
  id: string
  name: string
  lat: number
  lon: number
  level: number | null
}

export const CITIES: readonly PublicCity[] = (regionData as { cities: PublicCity[] }).cities
export const DEFAULT_CITY = 'firenze'
export const CITY_KEY = 'piazza.public.city'

export function findCity(id: string | null | undefined): PublicCity | undefined {
  return id ? CITIES.find((c) => c.id === id.toLowerCase()) : undefined
}

export function initialCity(): string {
  const fromUrl = findCity(new URLSearchParams(location.search).get('city'))
  if (fromUrl) return fromUrl.id
  try {
    const stored = findCity(localStorage.getItem(CITY_KEY))
    if (stored) return stored.id
  } catch {
    // no storage
  }
  return DEFAULT_CITY
}

export function rememberCity(id: string): void {
  try {
    localStorage.setItem(CITY_KEY, id)
  } catch {
    // ignore
  }
  const url = new URL(location.href)
  url.searchParams.set('city', id)
  history.replaceState(null, '', url)
}

const EARTH_KM = 6371

/** Great-circle distance, km. */
export function distanceKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180
  const dLat = (lat2 - lat1) * rad
  const dLon = (lon2 - lon1) * rad
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2
  return 2 * EARTH_KM * Math.asin(Math.min(1, Math.sqrt(a)))
}

/** The city whose centre is nearest to a position, and how far it is. */
export function nearestCity(lat: number, lon: number, cities: readonly PublicCity[] = CITIES): { city: PublicCity; km: number } {
  let best = { city: cities[0]!, km: Infinity }
  for (const city of cities) {
    const km = distanceKm(lat, lon, city.lat, city.lon)
    if (km < best.km) best = { city, km }
  }
  return best
}

export const STATION_PARAM = 'station'

/** The station open in its panel, from the address (so a link can open it). */
export function initialStation(): string | null {
  return new URLSearchParams(location.search).get(STATION_PARAM)
}

export function rememberStation(id: string | null): void {
  const url = new URL(location.href)
  if (id) url.searchParams.set(STATION_PARAM, id)
  else url.searchParams.delete(STATION_PARAM)
  history.replaceState(null, '', url)
}
