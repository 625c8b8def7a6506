import type { Device as RegistryDevice } from '../../../devices/registry.ts'

/** Shapes of the HTTP API (dashboard/server). Devices come from the registry, the one source of truth. */

export type Role = string

export interface User {
  id?: string | number
  username: string
  role: Role
  /** City ids an installer works in; absent means every city. */
  cities?: string[]
}

export interface City {
  id: string
  name: string
  province: string
  lat: number
  lon: number
  population: number
}

export interface Bbox {
  west: number
  south: number
  east: number
  north: number
}

export interface FieldInfo {
  unit: string
  label: string
  minimum: number
  maximum: number
}

export interface KindInfo {
  family: string
  label: string
  /** In the kind's order (the first is the main one). */
  fields: Record<string, FieldInfo>
  /** Tag name → label, e.g. laneId → Lane, route → Route. */
  tags: Record<string, string>
}

/** The config as the app uses it; api/client.ts normalises what the server sends into this. */
export interface AppConfig {
  mapStyleUrl: string | null
  cities: City[]
  bbox: Bbox
  kinds: Record<string, KindInfo>
}

/** A reading's values: measured fields (numbers) and tags such as a bus route or lane. */
export type Values = Record<string, number | string | boolean | null>

export interface Latest {
  /** Null when the device has no reading yet. */
  time: string | number | null
  values: Values
}

/** A registry device as the API lists it: `connected` when a broker runs, `lastSeen` in epoch ms. */
export type Device = RegistryDevice & {
  connected?: boolean
  lastSeen?: string | number | null
}

export interface Point {
  time: number
  value: number
}
