import type { Logger } from 'pino'
import Type, { type Static } from 'typebox'
import { DEVICE_TYPES, KINDS, type DeviceType } from '../../../devices/kinds.ts'
import { cities, CitySchema } from '../../../devices/region.ts'
import type { Registry } from '../../../devices/registry.ts'
import type { CityAggregate, Storage } from '../../../ingest/storage/contract.ts'
import { SECURED, type Auth } from '../identity/auth.ts'
import { errorResponses } from '../http/errors.ts'
import type { Api } from '../http/types.ts'
import { NoQuerySchema } from '../http/validation.ts'

/**
 * Per-city summaries: device counts by type and status, how many are connected, and a few
 * current aggregates over the last hour. Computed at most once per cacheMs (and again after a
 * registry change), so a room full of dashboards costs one computation.
 */

export interface CityRouteDeps {
  registry: Pick<Registry, 'list' | 'onChange'>
  storage: Pick<Storage, 'cityAggregates'>
  auth: Auth
  /** Which devices are logged in to the broker now (the feed's connection changes). */
  connections?: { isConnected(deviceId: string): boolean }
  logger: Logger
  cacheMs?: number
}

/** The aggregates shown per city: mean, min, max and count over the last hour. */
export const CITY_AGGREGATES: readonly { type: DeviceType; field: string }[] = [
  { type: 'air-quality', field: 'pm25' },
  { type: 'air-quality', field: 'pm10' },
  { type: 'air-quality', field: 'no2' },
  { type: 'weather', field: 'temperature' },
  { type: 'noise', field: 'LAeq' },
]
const AGGREGATE_WINDOW_MS = 3_600_000

const CountsSchema = Type.Record(Type.String(), Type.Integer())
const CitySummarySchema = Type.Object({
  ...CitySchema.properties,
  devices: Type.Object({
    total: Type.Integer(),
    /** Logged in to the broker now (omitted when the broker is not part of this process). */
    connected: Type.Optional(Type.Integer()),
    byType: CountsSchema,
    byStatus: CountsSchema,
  }),
  current: Type.Array(
    Type.Object({
      type: Type.String(),
      field: Type.String(),
      unit: Type.String(),
      label: Type.String(),
      mean: Type.Number(),
      min: Type.Number(),
      max: Type.Number(),
      count: Type.Integer(),
    }),
  ),
})
const CitiesSchema = Type.Object({
  items: Type.Array(CitySummarySchema),
  generatedAt: Type.Integer(),
  /** The aggregates' time range, epoch ms. */
  window: Type.Object({ from: Type.Integer(), to: Type.Integer() }),
  /** Set when storage could not answer; the device counts are still current. */
  aggregatesError: Type.Optional(Type.String()),
})

export function registerCityRoutes(app: Api, deps: CityRouteDeps): void {
  const { registry, storage, auth, connections, logger, cacheMs = 5000 } = deps
  let cached: { at: number; value: Promise<Static<typeof CitiesSchema>> } | undefined
  registry.onChange(() => {
    cached = undefined
  })

  async function compute() {
    const now = Date.now()
    const window = { from: now - AGGREGATE_WINDOW_MS, to: now }
    const summaries = new Map(
      cities.map((c) => [
        c.id,
        {
          ...c,
          devices: { total: 0, connected: connections ? 0 : undefined, byType: Object.fromEntries(DEVICE_TYPES.map((t) => [t, 0])), byStatus: { active: 0, revoked: 0, decommissioned: 0 } as Record<string, number> },
          current: [] as Static<typeof CitySummarySchema>['current'],
        },
      ]),
    )
    for (const device of registry.list().items) {
      const s = summaries.get(device.city)
      if (!s) continue
      s.devices.total += 1
      s.devices.byType[device.type] = (s.devices.byType[device.type] ?? 0) + 1
      s.devices.byStatus[device.status] = (s.devices.byStatus[device.status] ?? 0) + 1
      if (connections?.isConnected(device.id)) s.devices.connected! += 1
    }
    let aggregatesError: string | undefined
    try {
      const results = await Promise.all(CITY_AGGREGATES.map((a) => storage.cityAggregates({ type: a.type, field: a.field, ...window })))
      CITY_AGGREGATES.forEach((a, i) => {
        const spec = KINDS[a.type].fields[a.field]!
        for (const r of results[i] as CityAggregate[]) {
          summaries.get(r.city)?.current.push({ type: a.type, field: a.field, unit: spec.unit, label: spec.label, mean: r.mean, min: r.min, max: r.max, count: r.count })
        }
      })
    } catch (err) {
      aggregatesError = (err as Error).message
      logger.warn({ err }, 'city aggregates unavailable')
    }
    const items = [...summaries.values()].map((s) => {
      const devices: Static<typeof CitySummarySchema>['devices'] = { total: s.devices.total, byType: s.devices.byType, byStatus: s.devices.byStatus }
      if (s.devices.connected !== undefined) devices.connected = s.devices.connected
      return { ...s, devices }
    })
    return { items, generatedAt: now, window, ...(aggregatesError ? { aggregatesError } : {}) }
  }

  app.get(
    '/api/cities',
    {
      onRequest: auth.requireUser,
      schema: {
        tags: ['cities'],
        summary: 'Per-city summaries: devices by type and status, connected devices, last-hour aggregates',
        security: SECURED,
        querystring: NoQuerySchema,
        response: { 200: CitiesSchema, ...errorResponses(401) },
      },
    },
    async () => {
      const now = Date.now()
      if (!cached || now - cached.at >= cacheMs) {
        const value = compute()
        cached = { at: now, value }
        value.catch(() => {
          if (cached?.value === value) cached = undefined
        })
      }
      return cached.value
    },
  )
}
