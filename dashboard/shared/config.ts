import Type, { type Static } from 'typebox'
import { DeviceTypeSchema, FamilySchema } from '../../devices/kinds.ts'
import { CitySchema } from '../../devices/region.ts'

/**
 * GET /api/config: what a browser needs to draw anything (map style, region, cities, and the
 * reading kinds with their fields, units and labels). The server (dashboard/server/http/config-routes.ts)
 * answers with it and validates its answer against it; the apps take their types from it.
 *
 * Browser-safe: it imports only typebox and devices/kinds.ts, devices/region.ts.
 */

export const ConfigFieldSchema = Type.Object({
  name: Type.String(),
  label: Type.String(),
  unit: Type.String(),
  minimum: Type.Number(),
  maximum: Type.Number(),
  integer: Type.Boolean(),
  /** Shown to visitors who are not logged in (the public room of the live stream). */
  public: Type.Boolean(),
})
export type ConfigField = Static<typeof ConfigFieldSchema>

export const ConfigTagSchema = Type.Object({ name: Type.String(), label: Type.String() })
export type ConfigTag = Static<typeof ConfigTagSchema>

export const BboxSchema = Type.Object({ west: Type.Number(), south: Type.Number(), east: Type.Number(), north: Type.Number() })
export type Bbox = Static<typeof BboxSchema>

export const ConfigKindSchema = Type.Object({
  type: DeviceTypeSchema,
  family: FamilySchema,
  label: Type.String(),
  model: Type.String(),
  defaultInterval: Type.Integer(),
  /** The field (nearly) every reading carries and a view shows first: readings are counted by it. */
  mainField: Type.String(),
  /** In the kind's order. */
  fields: Type.Array(ConfigFieldSchema),
  tags: Type.Array(ConfigTagSchema),
})
export type ConfigKind = Static<typeof ConfigKindSchema>

/**
 * The base map under the data (README "Base maps"), tried in this order: a style URL with
 * streets and places, a PMTiles archive served by this server (/tiles/base.pmtiles), and the
 * bundled outline, which says on the map that it is only an outline.
 */
export const BaseMapSchema = Type.Object({
  styleUrl: Type.Union([Type.String(), Type.Null()]),
  pmtilesUrl: Type.Union([Type.String(), Type.Null()]),
  /** Extra credit line (MAP_ATTRIBUTION), plain text, beside the sources' own attribution. */
  attribution: Type.Union([Type.String(), Type.Null()]),
})
export type BaseMap = Static<typeof BaseMapSchema>

export const ConfigSchema = Type.Object({
  baseMap: BaseMapSchema,
  region: Type.Object({ name: Type.String(), bbox: BboxSchema }),
  cities: Type.Array(CitySchema),
  kinds: Type.Array(ConfigKindSchema),
  live: Type.Object({ coalesceMs: Type.Integer(), publicType: DeviceTypeSchema }),
})
export type Config = Static<typeof ConfigSchema>
