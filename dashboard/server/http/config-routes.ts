import Type from 'typebox'
import { FamilySchema, KINDS } from '../../../devices/kinds.ts'
import { cities, CitySchema, region } from '../../../devices/region.ts'
import { PUBLIC_FIELDS, PUBLIC_TYPE } from '../realtime/live.ts'
import { errorResponses } from './errors.ts'
import type { Api } from './types.ts'
import { NoQuerySchema } from './validation.ts'

/**
 * What the browser needs to draw anything: map style, region, cities and the reading kinds with
 * their fields, units and labels, straight from devices/kinds.ts and devices/region.ts. Public.
 */

const FieldSchema = Type.Object({
  name: Type.String(),
  label: Type.String(),
  unit: Type.String(),
  minimum: Type.Number(),
  maximum: Type.Number(),
  integer: Type.Boolean(),
  /** Shown to visitors who are not logged in (the public room of the live stream). */
  public: Type.Boolean(),
})

export const ConfigSchema = Type.Object({
  mapStyleUrl: Type.Union([Type.String(), Type.Null()]),
  region: Type.Object({
    name: Type.String(),
    bbox: Type.Object({ west: Type.Number(), south: Type.Number(), east: Type.Number(), north: Type.Number() }),
  }),
  cities: Type.Array(CitySchema),
  kinds: Type.Array(
    Type.Object({
      type: Type.String(),
      family: FamilySchema,
      label: Type.String(),
      model: Type.String(),
      defaultInterval: Type.Integer(),
      fields: Type.Array(FieldSchema),
      tags: Type.Array(Type.Object({ name: Type.String(), label: Type.String() })),
    }),
  ),
  live: Type.Object({ coalesceMs: Type.Integer(), publicType: Type.String() }),
})

export function registerConfigRoutes(app: Api, deps: { mapStyleUrl?: string; coalesceMs: number }): void {
  const body = {
    mapStyleUrl: deps.mapStyleUrl ?? null,
    region: { name: region.region, bbox: region.bbox },
    cities: [...cities],
    kinds: Object.values(KINDS).map((k) => ({
      type: k.type,
      family: k.family,
      label: k.label,
      model: k.model,
      defaultInterval: k.defaultInterval,
      fields: k.fieldNames.map((name) => {
        const f = k.fields[name]!
        return { name, label: f.label, unit: f.unit, minimum: f.minimum, maximum: f.maximum, integer: f.integer, public: k.type === PUBLIC_TYPE && PUBLIC_FIELDS.includes(name) }
      }),
      tags: k.tagNames.map((name) => ({ name, label: k.tags[name]!.label })),
    })),
    live: { coalesceMs: deps.coalesceMs, publicType: PUBLIC_TYPE },
  }
  app.get(
    '/api/config',
    {
      schema: {
        tags: ['config'],
        summary: 'Map style, region, cities and reading kinds for the dashboard',
        querystring: NoQuerySchema,
        response: { 200: ConfigSchema, ...errorResponses(400) },
      },
    },
    async () => body,
  )
}
