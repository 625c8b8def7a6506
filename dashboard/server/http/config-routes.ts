import { KINDS } from '../../../devices/kinds.ts'
import { cities, region } from '../../../devices/region.ts'
import { ConfigSchema, type Config } from '../../shared/config.ts'
import { PUBLIC_FIELDS, PUBLIC_TYPE } from '../../shared/realtime.ts'
import { errorResponses } from './errors.ts'
import { PMTILES_PATH } from './tiles-routes.ts'
import type { Api } from './types.ts'
import { NoQuerySchema } from './validation.ts'

/**
 * What the browser needs to draw anything: map style, region, cities and the reading kinds with
 * their fields, units and labels, straight from devices/kinds.ts and devices/region.ts. Public.
 * The answer's schema is dashboard/shared/config.ts, which the browser apps take their types from.
 */

export { ConfigSchema }

/** The base map as configured (cli/config.ts `map`): each part optional. */
export interface MapOptions {
  styleUrl?: string
  /** A PMTiles archive on this server's disk, served at /tiles/base.pmtiles. */
  pmtilesFile?: string
  attribution?: string
}

export function registerConfigRoutes(app: Api, deps: { map?: MapOptions; coalesceMs: number }): void {
  const body: Config = {
    baseMap: {
      styleUrl: deps.map?.styleUrl ?? null,
      pmtilesUrl: deps.map?.pmtilesFile ? PMTILES_PATH : null,
      attribution: deps.map?.attribution ?? null,
    },
    region: { name: region.region, bbox: region.bbox },
    cities: [...cities],
    kinds: Object.values(KINDS).map((k) => ({
      type: k.type,
      family: k.family,
      label: k.label,
      model: k.model,
      defaultInterval: k.defaultInterval,
      mainField: k.mainField,
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
        summary: 'Base map, region, cities and reading kinds for the dashboard',
        querystring: NoQuerySchema,
        response: { 200: ConfigSchema, ...errorResponses(400) },
      },
    },
    async () => body,
  )
}
