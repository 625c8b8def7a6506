import Type, { type Static } from 'typebox'
import { DeviceRefSchema, DeviceStatusSchema, LoginRefusalSchema } from '../../devices/device-schemas.ts'
import { WordsSchema } from './words.ts'

/**
 * The commissioning view of one device (dashboard/server/devices/commissioning.ts): what an
 * installer needs to know in the minutes after mounting a sensor. Sent by
 * GET /api/devices/:id/commissioning and, live, as the `commissioning` Socket.IO event.
 */

export const CheckStateSchema = Type.Union([Type.Literal('pending'), Type.Literal('ok'), Type.Literal('warn'), Type.Literal('fail')])
export type CheckState = Static<typeof CheckStateSchema>

export const CheckSchema = Type.Object({
  state: CheckStateSchema,
  /** In English, for API clients and logs; the page words the check from `code` and `params` in its language. */
  message: Type.String(),
  code: Type.String({ description: 'what the check found, e.g. connected, login-refused, in-range, far-from-city' }),
  params: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number()]), { description: 'the figures and names the message gives (seconds, km, counts, ids)' }),
})
export type Check = Static<typeof CheckSchema>

export const StageSchema = Type.Union(
  [Type.Literal('waiting'), Type.Literal('connected'), Type.Literal('receiving'), Type.Literal('plausible'), Type.Literal('revoked'), Type.Literal('decommissioned')],
  { description: 'waiting → connected → receiving → plausible (or revoked / decommissioned).' },
)
export type Stage = Static<typeof StageSchema>

export const CommissioningReadingSchema = Type.Object({
  time: Type.Integer({ description: 'Device time, epoch ms.' }),
  receivedAt: Type.Integer(),
  /** The kind's fields and tags. */
  values: Type.Record(Type.String(), Type.Union([Type.Number(), Type.String()])),
})
export type CommissioningReading = Static<typeof CommissioningReadingSchema>

export const CommissioningRejectionSchema = Type.Object({
  /** When it was received, epoch ms. */
  at: Type.Integer(),
  code: Type.String(),
  reason: Type.String(),
  /** Position in a batch payload. */
  index: Type.Optional(Type.Integer()),
})
export type CommissioningRejection = Static<typeof CommissioningRejectionSchema>

export const CommissioningStateSchema = Type.Object({
  device: Type.Object({
    ...DeviceRefSchema.properties,
    name: Type.String(),
    cityName: Type.String(),
    lat: Type.Number(),
    lon: Type.Number(),
    interval: Type.Integer(),
    status: DeviceStatusSchema,
    createdBy: Type.String(),
  }),
  stage: StageSchema,
  connected: Type.Boolean(),
  /** Last login, epoch ms. */
  connectedAt: Type.Optional(Type.Integer()),
  disconnectedAt: Type.Optional(Type.Integer()),
  /** The newest refused login seen (wrong secret, wrong client id, revoked…), with what to change. */
  loginRefusal: Type.Optional(LoginRefusalSchema),
  firstReading: Type.Optional(CommissioningReadingSchema),
  lastReading: Type.Optional(CommissioningReadingSchema),
  /** Accepted readings and refused ones seen by this server. */
  accepted: Type.Integer(),
  rejected: Type.Integer(),
  /** Newest first. */
  rejections: Type.Array(CommissioningRejectionSchema),
  measuredInterval: Type.Optional(Type.Number({ description: 'Median gap between recent device timestamps, seconds.' })),
  checks: Type.Object({ connection: CheckSchema, reading: CheckSchema, values: CheckSchema, location: CheckSchema, interval: CheckSchema }),
  updatedAt: Type.Integer(),
})
export type CommissioningState = Static<typeof CommissioningStateSchema>

export const WatchAnswerSchema = Type.Union([
  Type.Object({ ok: Type.Literal(true), state: CommissioningStateSchema }),
  Type.Object({
    ok: Type.Literal(false),
    // words: as in the API's error body, for the page to word the refusal in its language.
    error: Type.Object({ status: Type.Integer(), code: Type.String(), message: Type.String(), words: Type.Optional(WordsSchema) }),
  }),
])
export type WatchAnswer = Static<typeof WatchAnswerSchema>
