import Type, { type Static } from 'typebox'
import { DeviceTypeSchema, type DeviceType } from '../../devices/kinds.ts'
import { DEVICE_ID_PATTERN, DeviceRefSchema } from '../../devices/device-schemas.ts'
import { WordsSchema } from './words.ts'

/**
 * The realtime protocol between the server (dashboard/server/realtime/) and the browsers: every
 * Socket.IO event, in both directions, as a TypeBox schema. The server validates what browsers
 * send against these; the apps import the types (type-only) and check what they receive.
 *
 * Every push is an emit to a room (rooms.ts names them), so with a Socket.IO adapter it reaches
 * browsers connected to any node.
 */

/** The citizens' live room carries this type's readings by default (`{ public: true }`), and only these fields. */
export const PUBLIC_TYPE: DeviceType = 'air-quality'
export const PUBLIC_FIELDS: readonly string[] = ['pm25', 'pm10', 'no2', 'o3', 'so2', 'co']
/**
 * Every type the citizens' rooms carry (`{ public: true, type }`), with the tags and fields they
 * may see: air quality, and the mobility types of the "Getting around now" section.
 */
export const PUBLIC_VIEWS: Readonly<Partial<Record<DeviceType, readonly string[]>>> = {
  'air-quality': PUBLIC_FIELDS,
  bus: ['route', 'lat', 'lon', 'heading', 'speed', 'delay'],
  parking: ['availableSpotNumber', 'totalSpotNumber'],
  'bike-dock': ['availableBikeNumber', 'freeSlotNumber'],
}
export const PUBLIC_TYPES = Object.keys(PUBLIC_VIEWS) as DeviceType[]

export const ErrorBodySchema = Type.Object({ status: Type.Integer(), code: Type.String(), message: Type.String(), words: Type.Optional(WordsSchema) })
export type ErrorBody = Static<typeof ErrorBodySchema>

// ------------------------------------------------------------------ client → server

/** A live subscription: every given key must match; `public: true` is the citizens' room (air quality, or with `type` a mobility type). */
export const SubscriptionSchema = Type.Object(
  {
    public: Type.Optional(Type.Boolean()),
    city: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    type: Type.Optional(DeviceTypeSchema),
    device: Type.Optional(Type.String({ pattern: DEVICE_ID_PATTERN })),
  },
  { additionalProperties: false },
)
export type SubscriptionRequest = Static<typeof SubscriptionSchema>

/** Without a payload (or null): drop every subscription. */
export const UnsubscribeSchema = Type.Union([SubscriptionSchema, Type.Null(), Type.Undefined()])

export const WatchSchema = Type.Object({ device: Type.String({ pattern: DEVICE_ID_PATTERN }) }, { additionalProperties: false })
export type WatchRequest = Static<typeof WatchSchema>

// ------------------------------------------------------------------ server → client

export const LiveUpdateSchema = Type.Object({
  ...DeviceRefSchema.properties,
  /** Device time of the newest reading, epoch ms. */
  time: Type.Integer(),
  /** The kind's fields (numbers) and tags (lane, route). */
  values: Type.Record(Type.String(), Type.Union([Type.Number(), Type.String()])),
})
export type LiveUpdate = Static<typeof LiveUpdateSchema>

/**
 * One tick's changes for one room. `seq` counts the messages a hub sent to that room: a browser
 * that sees a gap (the server drops a tick for a socket that cannot take it, rather than queue it)
 * subscribes again and gets the room's current state in the answer.
 */
export const UpdateMessageSchema = Type.Object({
  room: Type.String(),
  hub: Type.String(),
  seq: Type.Integer({ minimum: 1 }),
  updates: Type.Array(LiveUpdateSchema),
})
export type UpdateMessage = Static<typeof UpdateMessageSchema>

export const ConnectionStatusSchema = Type.Object({
  ...DeviceRefSchema.properties,
  connected: Type.Boolean(),
  /** When it changed, epoch ms. */
  at: Type.Integer(),
})
export type ConnectionStatus = Static<typeof ConnectionStatusSchema>

export const StatusMessageSchema = Type.Object({ room: Type.String(), items: Type.Array(ConnectionStatusSchema) })
export type StatusMessage = Static<typeof StatusMessageSchema>

export const SubscribeAnswerSchema = Type.Union([
  Type.Object({ ok: Type.Literal(true), subscription: SubscriptionSchema, snapshot: Type.Array(LiveUpdateSchema) }),
  Type.Object({ ok: Type.Literal(false), error: ErrorBodySchema }),
])
export type SubscribeAnswer = Static<typeof SubscribeAnswerSchema>

export const UnsubscribeAnswerSchema = Type.Union([
  Type.Object({ ok: Type.Literal(true), removed: Type.Integer() }),
  Type.Object({ ok: Type.Literal(false), error: ErrorBodySchema }),
])
export type UnsubscribeAnswer = Static<typeof UnsubscribeAnswerSchema>

/** An event that came without an ack callback and was refused. */
export const EventErrorSchema = Type.Object({ event: Type.String(), ok: Type.Literal(false), error: ErrorBodySchema })
export type EventError = Static<typeof EventErrorSchema>
