import type { FastifyRequest } from 'fastify'
import Type from 'typebox'
import type { DeviceType } from '../../../devices/kinds.ts'
import { DevicePatchSchema, DeviceSchema, type Device, type DeviceStatus, type Registry } from '../../../devices/registry.ts'
import { diff, type AuditAction, type AuditLog } from '../identity/audit.ts'
import { SECURED, type Auth } from '../identity/auth.ts'
import type { Commissioning } from './commissioning.ts'
import { CommissioningStateSchema } from '../../shared/commissioning.ts'
import { allExamples } from './examples.ts'
import { ApiError, badRequest, errorResponses, forbidden, notFound } from '../http/errors.ts'
import { actorOf, deviceRefusal } from '../identity/permissions.ts'
import type { Api } from '../http/types.ts'
import { NoQuerySchema } from '../http/validation.ts'
import { AUDITED_DEVICE_FIELDS, DeviceIdParamsSchema, DeviceViewSchema } from './routes.ts'
import { words } from '../../shared/words.ts'

/**
 * A device's life after registration: a new secret (rotate), refused from now on (revoke), out of
 * service for good with its history kept (decommission), and edits to its name, place, interval
 * and metadata. Plus where devices connect to (GET /api/mqtt), for connection sheets.
 *
 * Admins may do all of it to any device; installers to the devices they manage (see
 * permissions.ts); operators to none. Every change is written to the audit log.
 */

/** Where field devices reach the broker: the public host and ports, not the bind address. */
export interface MqttPublicInfo {
  host: string
  port: number
  wsPort?: number
  /** Default /mqtt. */
  wsPath?: string
  /** MQTT over TLS and over secure WebSocket (same path), when TLS is on. */
  tlsPort?: number
  wssPort?: number
}

export interface DeviceLifecycleDeps {
  registry: Registry
  auth: Auth
  audit: AuditLog
  /** Last seen and connected, as the feed says. */
  live: { lastSeen(deviceId: string): number | undefined; isConnected(deviceId: string): boolean }
  /** A value, or a function for when the ports are known only after the app is built (port 0). */
  mqttPublic?: MqttPublicInfo | (() => MqttPublicInfo | undefined)
  commissioning?: Commissioning
}

const MqttInfoSchema = Type.Object({
  host: Type.Union([Type.String(), Type.Null()], { description: 'Public host name of the MQTT broker; null when the server was not told (ask the administrator).' }),
  port: Type.Union([Type.Integer(), Type.Null()], { description: 'MQTT over TCP.' }),
  wsPort: Type.Union([Type.Integer(), Type.Null()], { description: 'MQTT over WebSocket.' }),
  wsPath: Type.String(),
  tlsPort: Type.Union([Type.Integer(), Type.Null()], { description: 'MQTT over TLS; null when TLS is off.' }),
  wssPort: Type.Union([Type.Integer(), Type.Null()], { description: 'MQTT over secure WebSocket (wss://, path wsPath); null when TLS is off.' }),
  protocol: Type.String({ description: 'MQTT 3.1.1 (protocol level 4).' }),
  topics: Type.Object({
    telemetry: Type.String(),
    status: Type.String(),
    errors: Type.String({ description: 'The broker tells the device here why readings were refused.' }),
  }),
  /** One example reading per device type, valid as it is. */
  examples: Type.Record(Type.String(), Type.Record(Type.String(), Type.Union([Type.Number(), Type.String()]))),
})

const RotatedSchema = Type.Object({ ...DeviceSchema.properties, secret: Type.String({ description: 'The new MQTT password; shown only this once.' }) })

export function registerDeviceLifecycleRoutes(app: Api, deps: DeviceLifecycleDeps): void {
  const { registry, auth, audit, live, commissioning } = deps

  const view = (device: Device) => {
    const out: Device & { connected?: boolean; lastSeen?: number } = { ...device }
    out.connected = live.isConnected(device.id)
    const seen = live.lastSeen(device.id)
    if (seen !== undefined) out.lastSeen = seen
    return out
  }

  /** The device, when it exists (404) and the user may manage it (403). */
  const manageable = (request: FastifyRequest, id: string): Device => {
    const device = registry.get(id)
    if (!device) throw notFound(`no device with id '${id}'`, words('no-device', { id }))
    const refusal = deviceRefusal(actorOf(request), device, 'manage')
    if (refusal) throw forbidden(refusal.message, refusal.words)
    return device
  }

  const record = (request: FastifyRequest, action: AuditAction, before: Device, after: Device) =>
    audit.record({ actor: request.session!.user.username, action, targetType: 'device', target: after.id, changes: diff(before, after, AUDITED_DEVICE_FIELDS) })

  app.get(
    '/api/mqtt',
    {
      onRequest: auth.requireUser,
      schema: {
        tags: ['devices'],
        summary: 'Where devices connect: broker host and ports, topics, an example reading per device type',
        security: SECURED,
        querystring: NoQuerySchema,
        response: { 200: MqttInfoSchema, ...errorResponses(400, 401) },
      },
    },
    async () => {
      const info = typeof deps.mqttPublic === 'function' ? deps.mqttPublic() : deps.mqttPublic
      return {
        host: info?.host ?? null,
        port: info?.port ?? null,
        wsPort: info?.wsPort ?? null,
        wsPath: info?.wsPath ?? '/mqtt',
        tlsPort: info?.tlsPort ?? null,
        wssPort: info?.wssPort ?? null,
        protocol: 'MQTT 3.1.1',
        topics: { telemetry: 'devices/{id}/telemetry', status: 'devices/{id}/status', errors: 'devices/{id}/errors' },
        examples: allExamples() as Record<DeviceType, Record<string, number | string>>,
      }
    },
  )

  if (commissioning) {
    app.get(
      '/api/devices/:id/commissioning',
      {
        onRequest: auth.requireUser,
        schema: {
          tags: ['devices'],
          summary: "A device's commissioning state: connection, first reading, refused payloads with their reasons, plausibility",
          description: 'The same state the live stream sends on `commissioning` after `commissioning:watch` { device }. Installers see their own devices only.',
          security: SECURED,
          params: DeviceIdParamsSchema,
          querystring: NoQuerySchema,
          response: { 200: CommissioningStateSchema, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const device = registry.get(request.params.id)
        if (!device) throw notFound(`no device with id '${request.params.id}'`, words('no-device', { id: request.params.id }))
        const refusal = deviceRefusal(actorOf(request), device, 'see')
        if (refusal) throw forbidden(refusal.message, refusal.words)
        return commissioning.state(device)
      },
    )
  }

  app.post(
    '/api/devices/:id/rotate',
    {
      onRequest: auth.requireRole('installer', 'admin'),
      schema: {
        tags: ['devices'],
        summary: 'Give a device a new secret (installer or admin)',
        description:
          'Answers with the device and its new MQTT secret, shown only this once. The old secret stops working at once and a live connection using it is dropped. A revoked or decommissioned device cannot be re-keyed (409).',
        security: SECURED,
        params: DeviceIdParamsSchema,
        querystring: NoQuerySchema,
        response: { 200: RotatedSchema, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const device = manageable(request, request.params.id)
      if (device.status !== 'active') {
        throw new ApiError(409, 'conflict', `device '${device.id}' is ${device.status}: it cannot get a new secret; register a new device instead`, {}, words('cannot-rotate', { id: device.id, status: device.status }))
      }
      const { device: after, secret } = await registry.rotate(device.id)
      await audit.record({ actor: request.session!.user.username, action: 'device.rotate', targetType: 'device', target: device.id, details: { note: 'secret replaced' } })
      request.log.info({ device: device.id }, 'device secret rotated')
      return { ...after, secret }
    },
  )

  const statusRoute = (path: '/api/devices/:id/revoke' | '/api/devices/:id/decommission', status: DeviceStatus, action: AuditAction, summary: string, description: string) => {
    app.post(
      path,
      {
        onRequest: auth.requireRole('installer', 'admin'),
        schema: {
          tags: ['devices'],
          summary,
          description,
          security: SECURED,
          params: DeviceIdParamsSchema,
          querystring: NoQuerySchema,
          response: { 200: DeviceViewSchema, ...errorResponses(400, 401, 403, 404, 409) },
        },
      },
      async (request) => {
        const device = manageable(request, request.params.id)
        if (device.status === status) return view(device)
        if (device.status === 'decommissioned') throw new ApiError(409, 'conflict', `device '${device.id}' is decommissioned already`, {}, words('decommissioned-already', { id: device.id }))
        const after = await registry.setStatus(device.id, status)
        await record(request, action, device, after)
        request.log.info({ device: device.id, status }, `device ${status}`)
        return view(after)
      },
    )
  }

  statusRoute(
    '/api/devices/:id/revoke',
    'revoked',
    'device.revoke',
    'Revoke a device (installer or admin)',
    'The device is refused from now on: its live MQTT connection is dropped within seconds and reconnects are refused. Its history stays. Revoking a revoked device changes nothing (200).',
  )
  statusRoute(
    '/api/devices/:id/decommission',
    'decommissioned',
    'device.decommission',
    'Decommission a device (installer or admin)',
    'Takes the device out of service for good: it can no longer connect and no longer counts as silent; its readings stay. Decommissioning it again changes nothing (200).',
  )

  app.patch(
    '/api/devices/:id',
    {
      onRequest: auth.requireRole('installer', 'admin'),
      schema: {
        tags: ['devices'],
        summary: "Edit a device's name, location, reporting interval or metadata (installer or admin)",
        description: 'Only the given fields change; `metadata` replaces the whole map. lat and lon go together. Type, city and id do not change: register a new device instead.',
        security: SECURED,
        params: DeviceIdParamsSchema,
        querystring: NoQuerySchema,
        body: DevicePatchSchema,
        response: { 200: DeviceViewSchema, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const body = request.body
      const device = manageable(request, request.params.id)
      if (Object.keys(body).length === 0) throw badRequest('give at least one of name, lat, lon, interval, metadata', words('device-patch-empty'))
      if ((body.lat === undefined) !== (body.lon === undefined)) throw badRequest('give both lat and lon, or neither', words('lat-lon-both'))
      if (device.status === 'decommissioned') throw new ApiError(409, 'conflict', `device '${device.id}' is decommissioned: it no longer changes`, {}, words('decommissioned-frozen', { id: device.id }))
      const after = await registry.update(device.id, body)
      const changes = diff(device, after, AUDITED_DEVICE_FIELDS)
      if (Object.keys(changes).length > 0) await audit.record({ actor: request.session!.user.username, action: 'device.update', targetType: 'device', target: device.id, changes })
      return view(after)
    },
  )
}

