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
