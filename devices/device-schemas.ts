import Type, { type Static } from 'typebox'
import { DeviceTypeSchema } from './kinds.ts'

/**
 * The shapes of a registered device, apart from the registry (registry.ts, SQLite) so that the
 * browser apps can import them too.
 */

export const DEVICE_ID_PATTERN = '^[a-z0-9][a-z0-9-]{2,62}$'
export const DeviceStatusSchema = Type.Union([Type.Literal('active'), Type.Literal('revoked'), Type.Literal('decommissioned')])
export type DeviceStatus = Static<typeof DeviceStatusSchema>

export const MetadataSchema = Type.Record(Type.String({ maxLength: 64 }), Type.Union([Type.String({ maxLength: 256 }), Type.Number(), Type.Boolean()]))

/** What identifies a device's readings everywhere: its id, its type and its city. */
export const DeviceRefSchema = Type.Object({
  id: Type.String({ pattern: DEVICE_ID_PATTERN }),
  type: DeviceTypeSchema,
  city: Type.String(),
})
export type DeviceRef = Static<typeof DeviceRefSchema>

export const DeviceSchema = Type.Object({
  ...DeviceRefSchema.properties,
  name: Type.String(),
  lat: Type.Number(),
  lon: Type.Number(),
  /** Expected reporting interval, seconds. */
  interval: Type.Integer({ minimum: 1 }),
  metadata: MetadataSchema,
  status: DeviceStatusSchema,
  createdAt: Type.String(),
  updatedAt: Type.String(),
  /** Who registered it: a user name, or 'cli'. */
  createdBy: Type.String(),
})
export type Device = Static<typeof DeviceSchema>

export const NewDeviceSchema = Type.Object(
  {
    id: Type.Optional(Type.String({ pattern: DEVICE_ID_PATTERN })),
    type: DeviceTypeSchema,
    city: Type.String({ minLength: 1 }),
    name: Type.String({ minLength: 1, maxLength: 120 }),
    lat: Type.Optional(Type.Number({ minimum: -90, maximum: 90 })),
    lon: Type.Optional(Type.Number({ minimum: -180, maximum: 180 })),
    interval: Type.Optional(Type.Integer({ minimum: 1, maximum: 86400 })),
    metadata: Type.Optional(MetadataSchema),
  },
  { additionalProperties: false },
)
export type NewDevice = Static<typeof NewDeviceSchema>

export const DevicePatchSchema = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 120 })),
    lat: Type.Optional(Type.Number({ minimum: -90, maximum: 90 })),
    lon: Type.Optional(Type.Number({ minimum: -180, maximum: 180 })),
    interval: Type.Optional(Type.Integer({ minimum: 1, maximum: 86400 })),
    metadata: Type.Optional(MetadataSchema),
  },
  { additionalProperties: false },
)
export type DevicePatch = Static<typeof DevicePatchSchema>

/**
 * A login the broker refused for a registered device (wrong secret, revoked, wrong client id…):
 * the installer commissioning it sees it live, with what to change.
 */
export const LoginRefusalSchema = Type.Object({
  deviceId: Type.String(),
  /** The broker's refusal reason (broker/refusals.ts), e.g. 'bad-secret'. */
  reason: Type.String(),
  /** What happened and what to do, for the installer. */
  message: Type.String(),
  /** Epoch ms. */
  at: Type.Integer(),
})
export type LoginRefusal = Static<typeof LoginRefusalSchema>
