import regionData from '../../devices/region.json' with { type: 'json' }

/** The region's cities, straight from devices/region.json (not region.ts: it pulls in TypeBox). */

export interface PublicCity {
  id: string
  name: string
  province: string
  lat: number
  lon: number
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
