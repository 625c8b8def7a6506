import Type from 'typebox'
import { DeviceTypeSchema } from '../../../devices/kinds.ts'
import { cityIds, findCity } from '../../../devices/region.ts'
import { DEVICE_ID_PATTERN, DeviceSchema, DeviceStatusSchema, NewDeviceSchema, type Device, type Registry } from '../../../devices/registry.ts'
import { created, type AuditLog } from '../identity/audit.ts'
import { SECURED, type Auth } from '../identity/auth.ts'
import { badRequest, errorResponses, forbidden, notFound } from '../http/errors.ts'
import { actorOf, deviceRefusal, registerRefusal, visibleTo } from '../identity/permissions.ts'
import type { Api } from '../http/types.ts'
import { NoQuerySchema } from '../http/validation.ts'
import { naturalCompare, type SortOrder } from '../../shared/natural-order.ts'
import { words } from '../../shared/words.ts'

/** The device registry over HTTP: list and filter, one device, register a new one. */

export interface DeviceRouteDeps {
  registry: Registry
  auth: Auth
  /** Last seen and connected, as the feed says. */
  live: { lastSeen(deviceId: string): number | undefined; isConnected(deviceId: string): boolean }
  /** Records registrations (who, when, what). */
  audit?: AuditLog
}

/** The fields of a device recorded in the audit log on creation. */
export const AUDITED_DEVICE_FIELDS = ['type', 'name', 'city', 'lat', 'lon', 'interval', 'metadata', 'status'] as const

export const DeviceViewSchema = Type.Object({
  ...DeviceSchema.properties,
  connected: Type.Optional(Type.Boolean({ description: 'Logged in to the MQTT broker now.' })),
  lastSeen: Type.Optional(
    Type.Integer({
      description:
        "When this server last received a reading from it, epoch ms. After a restart, until the device reports again, the time of its newest stored reading (the device's clock) stands in.",
    }),
  ),
})

export const DeviceIdParamsSchema = Type.Object({ id: Type.String({ pattern: DEVICE_ID_PATTERN }) }, { additionalProperties: false })

export const DEVICE_SORTS = ['id', 'name', 'city', 'type', 'status', 'lastSeen'] as const
export type DeviceSort = (typeof DEVICE_SORTS)[number]

/**
 * The registry pages by id in SQL; any other order needs every matching device, sorted here
 * (a few milliseconds for 5,000). lastSeen is the feed's, not the registry's, so it can only be here.
 */
export function sortDevices(devices: Device[], sort: DeviceSort, order: SortOrder, lastSeen: (id: string) => number | undefined): Device[] {
  const cityNames = new Map<string, string>()
  const cityName = (id: string) => {
    let name = cityNames.get(id)
    if (name === undefined) cityNames.set(id, (name = findCity(id)?.name ?? id))
    return name
  }
  const byName = (a: Device, b: Device) => naturalCompare(a.name, b.name) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  const key: (a: Device, b: Device) => number =
    sort === 'name'
      ? () => 0
      : sort === 'id'
        ? (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
        : sort === 'city'
          ? (a, b) => naturalCompare(cityName(a.city), cityName(b.city))
          : sort === 'type'
            ? (a, b) => naturalCompare(a.type, b.type)
            : sort === 'status'
              ? (a, b) => naturalCompare(a.status, b.status)
              : (a, b) => (lastSeen(a.id) ?? -Infinity) - (lastSeen(b.id) ?? -Infinity)
  const sign = order === 'desc' ? -1 : 1
  return devices.sort((a, b) => sign * (key(a, b) || byName(a, b)))
}

const ListQuerySchema = Type.Object(
  {
    city: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: `City id: ${cityIds.join(', ')}` })),
    type: Type.Optional(DeviceTypeSchema),
    status: Type.Optional(DeviceStatusSchema),
    search: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Substring of id or name, any case.' })),
    sort: Type.Union(DEVICE_SORTS.map((s) => Type.Literal(s)), {
      default: 'id',
      description: 'id (default), name, city (by city name), type, status or lastSeen; names compare naturally ("#2" before "#10"); ties go by name, then id, so pages never overlap.',
    }),
    order: Type.Union([Type.Literal('asc'), Type.Literal('desc')], { default: 'asc', description: 'asc (default) or desc, the exact reverse (ties included); for lastSeen, never-seen devices count as the oldest.' }),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
    offset: Type.Integer({ minimum: 0, default: 0 }),
  },
  { additionalProperties: false },
)

export function unknownCity(city: string): string {
  return `unknown city '${city}'; cities: ${cityIds.join(', ')}`
}
const unknownCityWords = (city: string) => words('unknown-city', { city, cities: cityIds.join(', ') })

export function registerDeviceRoutes(app: Api, deps: DeviceRouteDeps): void {
  const { registry, auth, live, audit } = deps

  const view = (device: Device) => {
    const out: typeof device & { connected?: boolean; lastSeen?: number } = { ...device }
    out.connected = live.isConnected(device.id)
    const seen = live.lastSeen(device.id)
    if (seen !== undefined) out.lastSeen = seen
    return out
  }

  app.get(
    '/api/devices',
    {
      onRequest: auth.requireUser,
      schema: {
        tags: ['devices'],
        summary: 'List devices, filtered, sorted and paged',
        description: 'Admins and operators see every device; an installer sees the devices they registered and those of their assigned cities.',
        security: SECURED,
        querystring: ListQuerySchema,
        response: {
          200: Type.Object({ items: Type.Array(DeviceViewSchema), total: Type.Integer(), limit: Type.Integer(), offset: Type.Integer() }),
          ...errorResponses(400, 401),
        },
      },
    },
    async (request) => {
      const { city, type, status, search, sort, order, limit, offset } = request.query
      if (city !== undefined && !findCity(city)) throw badRequest(unknownCity(city), unknownCityWords(city))
      const visible = visibleTo(actorOf(request))
      if (visible || sort !== 'id' || order !== 'asc') {
        // Installers see a few hundred devices at most, filtered here; other orders sort every match here.
        let matching = registry.list({ city, type, status, search }).items
        if (visible) matching = matching.filter(visible)
        if (sort !== 'id' || order !== 'asc') sortDevices(matching, sort, order, (id) => live.lastSeen(id))
        return { items: matching.slice(offset, offset + limit).map(view), total: matching.length, limit, offset }
      }
      const { items, total } = registry.list({ city, type, status, search, limit, offset })
      return { items: items.map(view), total, limit, offset }
    },
  )

  app.get(
    '/api/devices/:id',
    {
      onRequest: auth.requireUser,
      schema: {
        tags: ['devices'],
        summary: 'One device',
        security: SECURED,
        params: DeviceIdParamsSchema,
        querystring: NoQuerySchema,
        response: { 200: DeviceViewSchema, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const device = registry.get(request.params.id)
      if (!device) throw notFound(`no device with id '${request.params.id}'`, words('no-device', { id: request.params.id }))
      const refusal = deviceRefusal(actorOf(request), device, 'see')
      if (refusal) throw forbidden(refusal.message, refusal.words)
      return view(device)
    },
  )

  app.post(
    '/api/devices',
    {
      onRequest: auth.requireRole('installer', 'admin'),
      schema: {
        tags: ['devices'],
        summary: 'Register a device (installer or admin)',
        description:
          'Answers 201 with the device and its MQTT secret. The secret is shown only this once; only its hash is stored. Without lat/lon the device stands at the city centre; without id one is generated. An installer with assigned cities registers only in those cities.',
        security: SECURED,
        querystring: NoQuerySchema,
        body: NewDeviceSchema,
        response: {
          201: Type.Object({ ...DeviceSchema.properties, secret: Type.String({ description: 'MQTT password of the device; shown once.' }) }),
          ...errorResponses(400, 401, 403, 409, 413),
        },
      },
    },
    async (request, reply) => {
      const body = request.body
      if (!findCity(body.city)) throw badRequest(unknownCity(body.city), unknownCityWords(body.city))
      const actor = actorOf(request)
      const refusal = registerRefusal(actor, body.city)
      if (refusal) throw forbidden(refusal.message, refusal.words)
      const { device, secret } = await registry.add(body, actor.username)
      audit?.record({ actor: actor.username, action: 'device.create', targetType: 'device', target: device.id, changes: created(device, AUDITED_DEVICE_FIELDS) })
      request.log.info({ device: device.id, type: device.type, city: device.city }, 'device registered')
      return reply.status(201).header('location', `/api/devices/${device.id}`).send({ ...device, secret })
    },
  )
}
