import Type, { type Static } from 'typebox'

/**
 * Notifications through contact points (dashboard/server/operations/notify/): the message a
 * webhook receives (its JSON body), contact points as the API shows them and takes them, and the
 * delivery log. Browser-safe: imports typebox only.
 */

export const CONTACT_POINT_KINDS = ['webhook', 'email'] as const
export type ContactPointKind = (typeof CONTACT_POINT_KINDS)[number]

/** A webhook target's address ranges that are refused (url-policy.ts), in the server's English words. */
export const NON_PUBLIC_RANGE_NAMES: Record<string, string> = {
  loopback: 'a loopback address',
  linkLocal: 'a link-local address (this includes cloud metadata services such as 169.254.169.254)',
  private: 'a private address',
  uniqueLocal: 'a private (unique local) address',
  unspecified: 'the unspecified address',
  carrierGradeNat: 'a carrier-grade NAT address',
  multicast: 'a multicast address',
  broadcast: 'the broadcast address',
}

export const NOTIFICATION_STATUSES = ['firing', 'resolved', 'test'] as const
export type NotificationStatus = (typeof NOTIFICATION_STATUSES)[number]

export const NotifiedDeviceSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  alertId: Type.Integer(),
  value: Type.Union([Type.Number(), Type.Null()], { description: 'The value that opened the alert.' }),
  openedAt: Type.String({ description: 'ISO 8601.' }),
  message: Type.String(),
})
export type NotifiedDevice = Static<typeof NotifiedDeviceSchema>

/**
 * One notification: a group of alerts (one rule, one city). The webhook's body is this JSON,
 * signed (headers X-Piazza-Timestamp and X-Piazza-Signature, see README).
 */
export const NotificationSchema = Type.Object({
  version: Type.Literal(1),
  id: Type.String({ description: 'Unique per notification; the same in every attempt and every contact point.' }),
  status: Type.Enum([...NOTIFICATION_STATUSES], {
    description: 'firing: alerts of the group are open (new ones since the last message); resolved: the group’s last alert resolved; test: sent from the API.',
  }),
  group: Type.Object({
    key: Type.String({ description: 'rule id and city, e.g. "7:firenze".' }),
    ruleId: Type.Integer(),
    ruleName: Type.String(),
    city: Type.String(),
    severity: Type.String(),
  }),
  count: Type.Integer({ minimum: 0, description: 'Alerts of the group active when sent (0 when resolved).' }),
  newAlerts: Type.Integer({ minimum: 0, description: 'Alerts opened since the group’s previous message (firing); alerts that resolved (resolved).' }),
  devices: Type.Array(NotifiedDeviceSchema, { description: 'Firing: the active alerts; resolved: the alerts that were notified. At most 100.' }),
  more: Type.Integer({ minimum: 0, description: 'Devices left out of `devices`.' }),
  summary: Type.String({ description: 'One line in English.' }),
  summaryIt: Type.String({ description: 'One line in Italian.' }),
  sentAt: Type.String({ description: 'ISO 8601.' }),
})
export type Notification = Static<typeof NotificationSchema>

const Name = Type.String({ minLength: 1, maxLength: 80 })
const WebhookUrl = Type.String({ minLength: 8, maxLength: 2000, pattern: '^https?://', description: 'http(s) URL the notifications are POSTed to.' })
const Secret = Type.String({ minLength: 16, maxLength: 256, description: 'HMAC-SHA256 key; never shown again. Default NOTIFY_WEBHOOK_SECRET.' })
const Address = Type.String({ minLength: 3, maxLength: 254, pattern: '^[^\\s@,<>]+@[^\\s@,<>]+\\.[^\\s@,<>]+$' })
const Addresses = Type.Array(Address, { minItems: 1, maxItems: 20, description: 'Recipients.' })

export const NewContactPointSchema = Type.Union([
  Type.Object({ kind: Type.Literal('webhook'), name: Name, url: WebhookUrl, secret: Type.Optional(Secret), enabled: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('email'), name: Name, addresses: Addresses, enabled: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
])
export type NewContactPoint = Static<typeof NewContactPointSchema>

export const ContactPointPatchSchema = Type.Object(
  {
    name: Type.Optional(Name),
    url: Type.Optional(WebhookUrl),
    secret: Type.Optional(Type.Union([Secret, Type.Null()], { description: 'null: use NOTIFY_WEBHOOK_SECRET.' })),
    addresses: Type.Optional(Addresses),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
)
export type ContactPointPatch = Static<typeof ContactPointPatchSchema>

export const ContactPointSchema = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  kind: Type.Enum([...CONTACT_POINT_KINDS]),
  url: Type.Union([Type.String(), Type.Null()], { description: 'Webhooks.' }),
  addresses: Type.Array(Type.String(), { description: 'E-mail.' }),
  secret: Type.Enum(['own', 'default'], { description: 'Webhooks: signed with their own secret or NOTIFY_WEBHOOK_SECRET. The secret itself is never shown.' }),
  enabled: Type.Boolean(),
  createdBy: Type.String(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
})
export type ContactPointView = Static<typeof ContactPointSchema>

export const DELIVERY_OUTCOMES = ['sending', 'delivered', 'failed'] as const
export type DeliveryOutcome = (typeof DELIVERY_OUTCOMES)[number]

export const DeliverySchema = Type.Object({
  id: Type.Integer(),
  contactPointId: Type.Integer(),
  notificationId: Type.String(),
  status: Type.Enum([...NOTIFICATION_STATUSES]),
  summary: Type.String(),
  outcome: Type.Enum([...DELIVERY_OUTCOMES]),
  attempts: Type.Integer({ minimum: 0 }),
  httpStatus: Type.Union([Type.Integer(), Type.Null()], { description: 'Webhooks: the last answer’s status.' }),
  error: Type.Union([Type.String(), Type.Null()], { description: 'Why the last attempt failed.' }),
  startedAt: Type.String(),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
})
export type DeliveryView = Static<typeof DeliverySchema>
