import Type from 'typebox'
import { KINDS } from '../../../devices/kinds.ts'
import type { Registry } from '../../../devices/registry.ts'
import { AGGREGATES, SeriesPointSchema, type Aggregate, type SeriesPoint, type Storage } from '../../../ingest/storage/contract.ts'
import { SECURED, type Auth } from '../identity/auth.ts'
import { badRequest, errorResponses, notFound } from '../http/errors.ts'
import type { Api } from '../http/types.ts'
import { NoQuerySchema } from '../http/validation.ts'
import { DeviceIdParamsSchema } from '../devices/routes.ts'
import { words } from '../../shared/words.ts'

/** A device's readings from storage: a time series of one field, and the latest values. */

export interface ReadingRouteDeps {
  registry: Pick<Registry, 'get'>
  storage: Pick<Storage, 'series' | 'latest'>
  auth: Auth
  live: { latest(deviceId: string): { time: number; values: Record<string, number> } | undefined }
}

/** At most this many points per series answer; a finer `every` (or none) is coarsened to fit. */
export const MAX_POINTS = 2000
const DEFAULT_RANGE_MS = 3_600_000
const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
const UNIT_MS: Record<string, number> = { ms: 1, s: SECOND, m: MINUTE, h: HOUR, d: DAY }
/** Windows chosen automatically, smallest first. */
const NICE_WINDOWS = [1, 2, 5, 10, 15, 30].map((s) => s * SECOND)
  .concat([1, 2, 5, 10, 15, 30].map((m) => m * MINUTE))
  .concat([1, 2, 3, 6, 12].map((h) => h * HOUR))
  .concat([1, 2, 7].map((d) => d * DAY))

const TIME_PATTERN = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/

export function parseTime(name: string, value: string): number {
  if (/^\d{1,15}$/.test(value)) return Number(value)
  const t = TIME_PATTERN.test(value) ? Date.parse(value) : Number.NaN
  if (!Number.isFinite(t)) {
    throw badRequest(`query parameter '${name}' must be an ISO 8601 time with a time zone (e.g. 2026-11-26T08:00:00Z) or epoch milliseconds; got "${value}"`, words('bad-query-time', { name, value }))
  }
  return t
}

export function parseEvery(value: string): number {
  const match = /^(\d{1,9})(ms|s|m|h|d)?$/.exec(value)
  const ms = match ? Number(match[1]) * UNIT_MS[match[2] ?? 's']! : Number.NaN
  if (!(ms >= SECOND && ms <= 366 * DAY)) {
    throw badRequest(`query parameter 'every' must be a window between 1s and 366d such as 30s, 5m, 1h, 1d or a number of seconds; got "${value}"`)
  }
  return ms
}

/** The smallest nice window that keeps the range within MAX_POINTS windows. */
const LONG_RANGE_MS = 7 * DAY

export function windowFor(rangeMs: number, atLeastMs = 0): number {
  const needed = Math.max(atLeastMs, Math.ceil(rangeMs / MAX_POINTS))
  return NICE_WINDOWS.find((w) => w >= needed) ?? Math.ceil(needed / DAY) * DAY
}

const SeriesQuerySchema = Type.Object(
  {
    field: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "One of the device kind's fields (see /api/config); default the first." })),
    from: Type.Optional(Type.String({ maxLength: 40, description: 'ISO 8601 or epoch ms, inclusive; default `to` minus 1 h.' })),
    to: Type.Optional(Type.String({ maxLength: 40, description: 'ISO 8601 or epoch ms, exclusive; default now.' })),
    every: Type.Optional(Type.String({ maxLength: 12, description: 'Aggregation window: 30s, 5m, 1h, 1d, or seconds. Coarsened when the range would exceed 2000 points.' })),
    aggregate: Type.Optional(Type.Union(AGGREGATES.map((a) => Type.Literal(a)), { description: 'With every: mean (default), min, max, count or last.' })),
  },
  { additionalProperties: false },
)

const SeriesSchema = Type.Object({
  device: Type.String(),
  type: Type.String(),
  field: Type.String(),
  unit: Type.String(),
  from: Type.Integer(),
  to: Type.Integer(),
  every: Type.Union([Type.Integer(), Type.Null()], { description: 'The window used, ms; null for raw readings.' }),
  aggregate: Type.Union([Type.String(), Type.Null()]),
  points: Type.Array(SeriesPointSchema),
})

const LatestViewSchema = Type.Object({
  device: Type.String(),
  type: Type.String(),
  time: Type.Union([Type.Integer(), Type.Null()], { description: 'Newest reading, epoch ms; null when there is none.' }),
  values: Type.Record(Type.String(), Type.Number()),
  source: Type.Union([Type.Literal('storage'), Type.Literal('live'), Type.Literal('none')], {
    description: 'live: received by this server and newer than what storage holds yet.',
  }),
})

export function registerReadingRoutes(app: Api, deps: ReadingRouteDeps): void {
  const { registry, storage, auth, live } = deps

  const deviceOr404 = (id: string) => {
    const device = registry.get(id)
    if (!device) throw notFound(`no device with id '${id}'`)
    return device
  }

  app.get(
    '/api/devices/:id/readings',
    {
      onRequest: auth.requireUser,
      schema: {
        tags: ['readings'],
        summary: 'A time series of one field of a device',
        security: SECURED,
        params: DeviceIdParamsSchema,
        querystring: SeriesQuerySchema,
        response: { 200: SeriesSchema, ...errorResponses(400, 401, 404, 503) },
      },
    },
    async (request) => {
      const device = deviceOr404(request.params.id)
      const kind = KINDS[device.type]
      const q = request.query
      const field = q.field ?? kind.fieldNames[0]!
      if (!kind.fieldNames.includes(field)) {
        throw badRequest(`device '${device.id}' (${device.type}) has no field '${field}'; fields: ${kind.fieldNames.join(', ')}`)
      }
      const to = q.to !== undefined ? parseTime('to', q.to) : Date.now()
      const from = q.from !== undefined ? parseTime('from', q.from) : to - DEFAULT_RANGE_MS
      if (from >= to) throw badRequest(`'from' (${new Date(from).toISOString()}) must be before 'to' (${new Date(to).toISOString()})`)
      if (q.aggregate !== undefined && q.every === undefined) throw badRequest("'aggregate' needs 'every' (the window to aggregate over)")
      const base = { deviceId: device.id, type: device.type, field, from, to }
      const range = to - from

      // Past a week, a window the server picks is whole hours, so the hourly (daily) rollups
      // answer it, also for times the raw readings are no longer kept.
      const pick = (atLeast = 0) => windowFor(range, range > LONG_RANGE_MS ? Math.max(atLeast, HOUR) : atLeast)
      let every = q.every !== undefined ? parseEvery(q.every) : undefined
      if (every !== undefined && range / every > MAX_POINTS) every = pick(every)
      if (every === undefined && range > LONG_RANGE_MS) every = pick()
      let points: SeriesPoint[] | undefined
      if (every === undefined) {
        points = await storage.series({ ...base, limit: MAX_POINTS + 1 })
        // More raw readings than the cap: aggregate instead of cutting the range short.
        if (points.length > MAX_POINTS) {
          points = undefined
          every = pick()
        }
      }
      const aggregate: Aggregate | null = every === undefined ? null : (q.aggregate ?? 'mean')
      if (every !== undefined) points = await storage.series({ ...base, every, aggregate: aggregate!, limit: MAX_POINTS })
      return { device: device.id, type: device.type, field, unit: kind.fields[field]!.unit, from, to, every: every ?? null, aggregate, points: points! }
    },
  )

  app.get(
    '/api/devices/:id/latest',
    {
      onRequest: auth.requireUser,
      schema: {
        tags: ['readings'],
        summary: "A device's newest value of each field",
        security: SECURED,
        params: DeviceIdParamsSchema,
        querystring: NoQuerySchema,
        response: { 200: LatestViewSchema, ...errorResponses(400, 401, 404, 503) },
      },
    },
    async (request) => {
      const device = deviceOr404(request.params.id)
      const stored = await storage.latest({ deviceId: device.id, type: device.type })
      const fresh = live.latest(device.id)
      const base = { device: device.id, type: device.type }
      if (fresh && (!stored || fresh.time > stored.time)) {
        return { ...base, time: fresh.time, values: { ...stored?.values, ...fresh.values }, source: 'live' as const }
      }
      if (stored) return { ...base, time: stored.time, values: stored.values, source: 'storage' as const }
      return { ...base, time: null, values: {}, source: 'none' as const }
    },
  )
}
