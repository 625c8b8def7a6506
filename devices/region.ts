import Type, { type Static } from 'typebox'
import regionData from './region.json' with { type: 'json' }

/** The reference deployment's region: its cities (ids are lowercase names) and bounding box. */
export const CitySchema = Type.Object({
  id: Type.String({ pattern: '^[a-z][a-z-]{1,31}$' }),
  name: Type.String(),
  province: Type.String(),
  lat: Type.Number(),
  lon: Type.Number(),
  population: Type.Integer(),
})
export type City = Static<typeof CitySchema>

export const region = regionData as { region: string; bbox: { west: number; south: number; east: number; north: number }; cities: City[] }
export const cities: readonly City[] = region.cities
export const cityIds: readonly string[] = cities.map((c) => c.id)

const byId = new Map(cities.map((c) => [c.id, c]))

/** Accepts a city's id or its name in any case ("Firenze", "firenze"). */
export function findCity(idOrName: string): City | undefined {
  return byId.get(idOrName.trim().toLowerCase())
}

export function isInRegion(lat: number, lon: number): boolean {
  const b = region.bbox
  return lat >= b.south && lat <= b.north && lon >= b.west && lon <= b.east
}

/** How far from its city's centre a device may stand and still be plausibly in that city (commissioning, import warnings). */
export const CITY_RADIUS_KM = 15

/** Great-circle distance, km. */
export function distanceKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180
  const dLat = (lat2 - lat1) * rad
  const dLon = (lon2 - lon1) * rad
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2
  return 2 * 6371.0088 * Math.asin(Math.min(1, Math.sqrt(a)))
}
