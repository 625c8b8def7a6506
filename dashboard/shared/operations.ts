import Type, { type Static } from 'typebox'
import { WordsSchema } from './words.ts'

/**
 * The operators' side of the protocol between the server (dashboard/server/operations/) and the
 * browsers: device health, alerts and alert rules, as TypeBox schemas. The server's routes answer
 * with these schemas and its pushes carry them; the apps import the types (type-only).
 *
 * Pushes (Socket.IO events, server → client), each an emit to a room:
 *  - `device_states` (DeviceStatesMessage): health changes, coalesced per tick;
 *  - `alerts` (AlertsMessage): alert changes, coalesced per tick;
 *  - `alert_rules` (AlertRulesMessage): every rule, after a rule changed.
 * Staff (admins, operators) get one shared message; installers one of their own, cut to the
 * devices they may see (dropped when none of the changes is theirs).
 *
 * Browser-safe: imports typebox only.
 */

// ------------------------------------------------------------------ device health

export const HEALTH_STATES = ['live', 'late', 'silent', 'pending', 'inactive'] as const
export type HealthState = (typeof HEALTH_STATES)[number]
export const HealthStateSchema = Type.Enum([...HEALTH_STATES])

/** One device's health as the server judges it. */
export const DeviceStateSchema = Type.Object({
  id: Type.String(),
  state: HealthStateSchema,
  since: Type.Integer({ description: 'When it entered this state, epoch ms.' }),
  lastSeen: Type.Union([Type.Integer(), Type.Null()], {
    description:
      "When this server last received a reading from it, epoch ms; null while never seen. After a restart, until the device reports again, the time of its newest stored reading (the device's clock) stands in.",
  }),
  interval: Type.Integer({ description: 'Expected reporting interval, seconds.' }),
})
export type DeviceStateView = Static<typeof DeviceStateSchema>

/** `device_states`: the devices whose state changed since the last push (at most maxPerMessage); `more` were left for the next. */
export const DeviceStatesMessageSchema = Type.Object({
  items: Type.Array(DeviceStateSchema),
  more: Type.Integer({ minimum: 0, description: 'Changes left for the next push.' }),
})
export type DeviceStatesMessage = Static<typeof DeviceStatesMessageSchema>

// ------------------------------------------------------------------ alert rules

export const OPS = ['>', '>=', '<', '<='] as const
export type Op = (typeof OPS)[number]
export const RULE_AGGREGATES = ['mean', 'min', 'max', 'count', 'last'] as const
export type RuleAggregate = (typeof RULE_AGGREGATES)[number]
export const SEVERITIES = ['info', 'warning', 'critical'] as const
export type Severity = (typeof SEVERITIES)[number]
export const RULE_KINDS = ['threshold', 'silent'] as const
export type RuleKind = (typeof RULE_KINDS)[number]

/** A rule as the API shows it: its definition, its scope gathered, the field's unit and a sentence. */
export const RuleSchema = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  kind: Type.Enum([...RULE_KINDS]),
  field: Type.Union([Type.String(), Type.Null()]),
  op: Type.Union([Type.Enum([...OPS]), Type.Null()]),
  threshold: Type.Union([Type.Number(), Type.Null()]),
  deviceId: Type.Union([Type.String(), Type.Null()]),
  type: Type.Union([Type.String(), Type.Null()]),
  city: Type.Union([Type.String(), Type.Null()]),
  scope: Type.Object({ deviceId: Type.Optional(Type.String()), type: Type.Optional(Type.String()), city: Type.Optional(Type.String()) }),
  /** Seconds; null: each reading is judged. */
  window: Type.Union([Type.Integer(), Type.Null()]),
  aggregate: Type.Union([Type.Enum([...RULE_AGGREGATES]), Type.Null()]),
  /** Seconds. */
  minDuration: Type.Integer(),
  hysteresis: Type.Number(),
  severity: Type.Enum([...SEVERITIES]),
  enabled: Type.Boolean(),
  unit: Type.String({ description: "The field's unit." }),
  /** One sentence, in English: what the rule watches. */
  description: Type.String(),
  descriptionWords: Type.Optional(WordsSchema),
  createdBy: Type.String(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
})
export type RuleView = Static<typeof RuleSchema>

/** `alert_rules`: every rule, pushed after one changed. */
export const AlertRulesMessageSchema = Type.Object({ rules: Type.Array(RuleSchema) })
export type AlertRulesMessage = Static<typeof AlertRulesMessageSchema>

// ------------------------------------------------------------------ alerts

export const ALERT_STATES = ['open', 'acknowledged', 'resolved'] as const
export type AlertState = (typeof ALERT_STATES)[number]

const NullableString = Type.Union([Type.String(), Type.Null()])
const NullableNumber = Type.Union([Type.Number(), Type.Null()])

export const AlertSchema = Type.Object({
  id: Type.Integer(),
  ruleId: Type.Integer(),
  ruleName: Type.String(),
  kind: Type.Enum([...RULE_KINDS]),
  severity: Type.Enum([...SEVERITIES]),
  deviceId: Type.String(),
  deviceName: Type.String(),
  type: Type.String(),
  city: Type.String(),
  field: NullableString,
  op: Type.Union([Type.Enum([...OPS]), Type.Null()]),
  threshold: NullableNumber,
  unit: Type.String(),
  value: Type.Union([Type.Number(), Type.Null()], { description: 'The value that opened it (the aggregate, for windowed rules).' }),
  lastValue: Type.Union([Type.Number(), Type.Null()], { description: 'The newest value judged while it is active.' }),
  /** One sentence, in English: what opened it. */
  message: Type.String(),
  messageWords: Type.Optional(Type.Union([WordsSchema, Type.Null()], { description: 'The message as a code and its figures; null for alerts opened before servers kept them.' })),
  state: Type.Enum([...ALERT_STATES]),
  openedAt: Type.String({ description: 'ISO 8601' }),
  acknowledgedAt: NullableString,
  acknowledgedBy: NullableString,
  resolvedAt: NullableString,
  resolvedReason: Type.Union([Type.String(), Type.Null()], { description: 'cleared, reporting (a silent device reports again), rule-changed, rule-disabled, rule-deleted, device-inactive' }),
  assignee: Type.Union([Type.String(), Type.Null()], { description: 'The staff user name it is assigned to.' }),
  silenced: Type.Boolean({ description: 'A silence matches it now: it stays open but sends no notification.' }),
})
export type AlertView = Static<typeof AlertSchema>

// ------------------------------------------------------------------ groups

/**
 * Active alerts grouped by rule and city: a storm of one rule over fifty devices is one group.
 * Key `<ruleId>:<city>`.
 */
export const AlertGroupSchema = Type.Object({
  key: Type.String(),
  ruleId: Type.Integer(),
  ruleName: Type.String(),
  severity: Type.Enum([...SEVERITIES]),
  city: Type.String(),
  total: Type.Integer({ minimum: 0 }),
  open: Type.Integer({ minimum: 0 }),
  acknowledged: Type.Integer({ minimum: 0 }),
  silenced: Type.Integer({ minimum: 0, description: 'How many of them a silence matches now.' }),
  firstOpenedAt: Type.String({ description: 'ISO 8601: the oldest alert of the group.' }),
  lastOpenedAt: Type.String({ description: 'ISO 8601: the newest alert of the group.' }),
  alertIds: Type.Array(Type.Integer(), { description: 'Its alerts, most urgent first (open before acknowledged, newest first).' }),
})
export type AlertGroup = Static<typeof AlertGroupSchema>

const SEVERITY_RANK: Record<string, number> = { critical: 0, warning: 1, info: 2 }

export const groupKey = (a: { ruleId: number; city: string }) => `${a.ruleId}:${a.city}`

/**
 * Groups alerts by (rule, city), most urgent group first: more open alerts of a higher severity,
 * then the newest. Pure, shared by the API (GET /api/alert-groups) and the staff app (which
 * groups its live list the same way).
 */
export function groupAlerts(alerts: readonly AlertView[]): AlertGroup[] {
  const groups = new Map<string, AlertGroup & { members: AlertView[] }>()
  for (const a of alerts) {
    const key = groupKey(a)
    let g = groups.get(key)
    if (!g) {
      g = { key, ruleId: a.ruleId, ruleName: a.ruleName, severity: a.severity, city: a.city, total: 0, open: 0, acknowledged: 0, silenced: 0, firstOpenedAt: a.openedAt, lastOpenedAt: a.openedAt, alertIds: [], members: [] }
      groups.set(key, g)
    }
    g.total += 1
    if (a.state === 'open') g.open += 1
    else if (a.state === 'acknowledged') g.acknowledged += 1
    if (a.silenced) g.silenced += 1
    if (a.openedAt < g.firstOpenedAt) g.firstOpenedAt = a.openedAt
    if (a.openedAt > g.lastOpenedAt) {
      g.lastOpenedAt = a.openedAt
      // The newest alert names the group (a renamed rule shows its new name).
      g.ruleName = a.ruleName
      g.severity = a.severity
    }
    g.members.push(a)
  }
  const urgent = (a: AlertView, b: AlertView) =>
    (a.state === b.state ? 0 : a.state === 'open' ? -1 : 1) || b.openedAt.localeCompare(a.openedAt) || b.id - a.id
  return [...groups.values()]
    .map(({ members, ...g }) => ({ ...g, alertIds: members.sort(urgent).map((a) => a.id) }))
    .sort(
      (a, b) =>
        (a.open > 0 ? 0 : 1) - (b.open > 0 ? 0 : 1) ||
        (SEVERITY_RANK[a.severity] ?? 3) - (SEVERITY_RANK[b.severity] ?? 3) ||
        b.lastOpenedAt.localeCompare(a.lastOpenedAt) ||
        a.key.localeCompare(b.key),
    )
}

// ------------------------------------------------------------------ timeline

export const TIMELINE_KINDS = ['opened', 'acknowledged', 'comment', 'assigned', 'resolved'] as const
export type TimelineKind = (typeof TIMELINE_KINDS)[number]

/** One event in an alert's life. `actor` is null for what the engine did (opened, resolved). */
export const TimelineEventSchema = Type.Object({
  at: Type.String({ description: 'ISO 8601' }),
  kind: Type.Enum([...TIMELINE_KINDS]),
  actor: Type.Union([Type.String(), Type.Null()]),
  text: Type.Union([Type.String(), Type.Null()], { description: 'comment: its text; opened: the message (English); resolved: the reason (a code).' }),
  words: Type.Optional({ ...WordsSchema, description: 'opened: the message as a code and its figures, for a page to word in its language.' }),
  assignee: Type.Union([Type.String(), Type.Null()], { description: 'assigned: to whom (null: unassigned).' }),
})
export type TimelineEvent = Static<typeof TimelineEventSchema>

// ------------------------------------------------------------------ silences

/**
 * A silence mutes the alerts of a rule, a device and/or a city (every given matcher must match)
 * from startsAt to endsAt: they still open and show, marked silenced, but send no notification.
 */
export const SilenceSchema = Type.Object({
  id: Type.Integer(),
  ruleId: Type.Union([Type.Integer(), Type.Null()]),
  deviceId: Type.Union([Type.String(), Type.Null()]),
  city: Type.Union([Type.String(), Type.Null()]),
  reason: Type.String(),
  startsAt: Type.String({ description: 'ISO 8601' }),
  endsAt: Type.String({ description: 'ISO 8601; set to the time it was ended when ended early.' }),
  createdBy: Type.String(),
  createdAt: Type.String(),
  endedBy: Type.Union([Type.String(), Type.Null()], { description: 'Who ended it early, if anyone.' }),
  state: Type.Enum(['pending', 'active', 'expired'], { description: 'Now: not started yet, muting, or over.' }),
})
export type SilenceView = Static<typeof SilenceSchema>

/** Open and acknowledged alerts now (of the devices the reader may see). */
export const AlertCountsSchema = Type.Object({ open: Type.Integer(), acknowledged: Type.Integer() })
export type AlertCounts = Static<typeof AlertCountsSchema>

/**
 * `alerts`: one tick's alert changes, newest first, at most maxChangesPerMessage; `more` were
 * left out (refetch GET /api/alerts); counts now; how many opened, were acknowledged, resolved
 * this tick (over every device).
 */
export const AlertsMessageSchema = Type.Object({
  changes: Type.Array(AlertSchema),
  more: Type.Integer({ minimum: 0 }),
  counts: AlertCountsSchema,
  opened: Type.Integer({ minimum: 0 }),
  acknowledged: Type.Integer({ minimum: 0 }),
  resolved: Type.Integer({ minimum: 0 }),
})
export type AlertsMessage = Static<typeof AlertsMessageSchema>

// ------------------------------------------------------------------ events

/** The operations events by name, for a typed Socket.IO client or server. */
export interface OperationsServerEvents {
  device_states: (message: DeviceStatesMessage) => void
  alerts: (message: AlertsMessage) => void
  alert_rules: (message: AlertRulesMessage) => void
}

export const OPERATIONS_EVENTS = {
  device_states: DeviceStatesMessageSchema,
  alerts: AlertsMessageSchema,
  alert_rules: AlertRulesMessageSchema,
} as const
