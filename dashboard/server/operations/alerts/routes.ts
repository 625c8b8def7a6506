import Type from 'typebox'
import { cityIds, findCity } from '../../../../devices/region.ts'
import { DEVICE_ID_PATTERN } from '../../../../devices/registry.ts'
import { AlertConflictError, AlertNotFoundError, type AlertEngine } from './engine.ts'
import { DERIVED_FIELDS, NewRuleSchema, parseDuration, RuleError, RulePatchSchema } from './rules.ts'
import { ALERT_STATES, AlertCountsSchema, AlertGroupSchema, AlertSchema, RuleSchema, SilenceSchema, TimelineEventSchema, type RuleView } from '../../../shared/operations.ts'
import { created, diff, type AuditLog, type AuditRecord } from '../../identity/audit.ts'
import type { Accounts } from '../../identity/accounts.ts'
import { SECURED, type Auth } from '../../identity/auth.ts'
import { ApiError, badRequest, errorResponses, notFound } from '../../http/errors.ts'
import { actorOf, visibleTo } from '../../identity/permissions.ts'
import type { Api } from '../../http/types.ts'
import { NoQuerySchema } from '../../http/validation.ts'
import { words } from '../../../shared/words.ts'

/**
 * Alert rules and alerts over HTTP. Everyone logged in reads them (installers only the alerts of
 * devices they may see); operators and admins edit rules and acknowledge alerts.
 */

export interface AlertRouteDeps {
  alerts: AlertEngine
  auth: Auth
  registry: { get(id: string): { id: string; city: string; createdBy: string } | undefined }
  /** Who alerts may be assigned to (staff accounts). */
  accounts: Pick<Accounts, 'get' | 'list'>
  /** Rule and silence changes, acknowledgements, comments and assignments are recorded here. */
  audit?: Pick<AuditLog, 'record'>
}

/** The parts of a rule the audit log records. */
const AUDITED_RULE_FIELDS = ['name', 'kind', 'field', 'op', 'threshold', 'deviceId', 'type', 'city', 'window', 'aggregate', 'minDuration', 'hysteresis', 'severity', 'enabled'] as const satisfies readonly (keyof RuleView)[]

const BulkAckSchema = Type.Union(
  [
    Type.Object({ ids: Type.Array(Type.Integer({ minimum: 1 }), { minItems: 1, maxItems: 1000, description: 'These alerts.' }) }, { additionalProperties: false }),
    Type.Object(
      {
        group: Type.Object(
          { ruleId: Type.Integer({ minimum: 1 }), city: Type.String({ minLength: 1, maxLength: 64 }) },
          { additionalProperties: false, description: 'Every active alert of this rule in this city (GET /api/alert-groups).' },
        ),
      },
      { additionalProperties: false },
    ),
  ],
  { description: '`{ "ids": [...] }` or `{ "group": { "ruleId", "city" } }`.' },
)

const CommentSchema = Type.Object({ text: Type.String({ minLength: 1, maxLength: 2000 }) }, { additionalProperties: false })
const AssignSchema = Type.Object(
  { assignee: Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()], { description: 'A staff (operator or admin) user name; null unassigns.' }) },
  { additionalProperties: false },
)
const SilenceIdParams = Type.Object({ id: Type.Integer({ minimum: 1, description: 'Silence id' }) }, { additionalProperties: false })
const NewSilenceSchema = Type.Object(
  {
    ruleId: Type.Optional(Type.Integer({ minimum: 1, description: 'Mute this rule.' })),
    deviceId: Type.Optional(Type.String({ pattern: DEVICE_ID_PATTERN, description: 'Mute this device.' })),
    city: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: `Mute this city: ${cityIds.join(', ')}` })),
    reason: Type.String({ minLength: 1, maxLength: 500 }),
    startsAt: Type.Optional(Type.String({ maxLength: 40, description: 'ISO 8601 with a time zone; default now (a later start makes a maintenance window ahead).' })),
    endsAt: Type.Optional(Type.String({ maxLength: 40, description: 'ISO 8601 with a time zone. This or duration.' })),
    duration: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1, maximum: 30 * 86400 }), Type.String({ pattern: '^\\d{1,7}(s|m|h|d)?$', maxLength: 9 })], {
        description: 'From the start: seconds, or 90s, 10m, 4h, 2d (at most 30 days). This or endsAt.',
      }),
    ),
  },
  { additionalProperties: false },
)

const MAX_SILENCE_MS = 30 * 86_400_000

function isoTime(name: string, value: string): number {
  const t = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value) ? Date.parse(value) : Number.NaN
  if (!Number.isFinite(t)) throw badRequest(`'${name}' must be an ISO 8601 time with a time zone (e.g. 2026-12-04T18:00:00Z); got "${value}"`, words('bad-time', { name, value }))
  return t
}

const RuleIdParams = Type.Object({ id: Type.Integer({ minimum: 1, description: 'Rule id' }) }, { additionalProperties: false })
const AlertIdParams = Type.Object({ id: Type.Integer({ minimum: 1, description: 'Alert id' }) }, { additionalProperties: false })

const AlertQuerySchema = Type.Object(
  {
    state: Type.Optional(Type.Enum([...ALERT_STATES], { description: 'Only alerts in this state; all when absent.' })),
    device: Type.Optional(Type.String({ pattern: DEVICE_ID_PATTERN, description: 'Only this device.' })),
    city: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: `A city id: ${cityIds.join(', ')}` })),
    rule: Type.Optional(Type.Integer({ minimum: 1, description: 'Only this rule.' })),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 200 }),
    offset: Type.Integer({ minimum: 0, default: 0 }),
  },
  { additionalProperties: false },
)

const AckBodySchema = Type.Union([Type.Object({}, { additionalProperties: false }), Type.Null()], { description: 'No body is needed.' })

async function mapErrors<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (err instanceof RuleError) throw badRequest(err.message, err.words)
    if (err instanceof AlertNotFoundError) throw notFound(err.message, err.words)
    if (err instanceof AlertConflictError) throw new ApiError(409, 'conflict', err.message, {}, err.words)
    throw err
  }
}

export function registerAlertRoutes(app: Api, deps: AlertRouteDeps): void {
  const { alerts, auth, registry, accounts } = deps
  const editors = auth.requireRole('operator', 'admin')
  const record = async (entry: AuditRecord) => {
    await deps.audit?.record(entry)
  }

  /** An installer's view: only alerts of devices they may see. */
  const visibility = (request: Parameters<typeof actorOf>[0]) => {
    const visible = visibleTo(actorOf(request))
    if (!visible) return undefined
    return (d: { id: string }) => {
      const device = registry.get(d.id)
      return device !== undefined && visible(device)
    }
  }

  app.get(
    '/api/alert-rules',
    {
      onRequest: auth.requireUser,
      schema: {
        tags: ['alerts'],
        summary: 'Alert rules',
        security: SECURED,
        querystring: NoQuerySchema,
        response: {
          200: Type.Object({
            items: Type.Array(RuleSchema),
            derivedFields: Type.Array(Type.Object({ name: Type.String(), type: Type.String(), label: Type.String(), unit: Type.String() }), {
              description: 'Fields rules may watch besides the kinds’ own (see /api/config).',
            }),
          }),
          ...errorResponses(400, 401),
        },
      },
    },
    async () => ({
      items: alerts.listRules(),
      derivedFields: Object.entries(DERIVED_FIELDS).map(([name, d]) => ({ name, type: d.type, label: d.label, unit: d.unit })),
    }),
  )

  app.post(
    '/api/alert-rules',
    {
      onRequest: editors,
      schema: {
        tags: ['alerts'],
        summary: 'Create an alert rule (operator or admin)',
        description:
          'A threshold rule: `{ "name", "field", "op": ">" | ">=" | "<" | "<=", "threshold" }`, optionally scoped by `deviceId`, `type` and/or `city` (or the same inside `scope`), with `window` (seconds or 10m, 1h) and `aggregate` (mean, min, max, count, last) to judge an aggregate instead of each reading, `minDuration` (how long the condition must hold), `hysteresis` (how far back past the threshold the value must go to resolve) and `severity`. A silent rule: `{ "name", "kind": "silent" }` plus scope and minDuration.',
        security: SECURED,
        querystring: NoQuerySchema,
        body: NewRuleSchema,
        response: { 201: RuleSchema, ...errorResponses(400, 401, 403, 413) },
      },
    },
    async (request, reply) => {
      const rule = await mapErrors(() => alerts.createRule(request.body, request.session!.user.username))
      request.log.info({ rule: rule.id, by: request.session!.user.username }, 'alert rule created')
      await record({ actor: request.session!.user.username, action: 'alert-rule.create', targetType: 'alert-rule', target: String(rule.id), changes: created(rule, AUDITED_RULE_FIELDS) })
      return reply.status(201).header('location', `/api/alert-rules/${rule.id}`).send(rule)
    },
  )

  app.patch(
    '/api/alert-rules/:id',
    {
      onRequest: editors,
      schema: {
        tags: ['alerts'],
        summary: 'Change an alert rule (operator or admin)',
        description:
          'Any of the fields of a new rule; null removes an optional one. A change to what the rule judges (field, op, threshold, scope, window, aggregate, minDuration, hysteresis) resolves its active alerts (reason rule-changed) and judges afresh; disabling resolves them (rule-disabled).',
        security: SECURED,
        params: RuleIdParams,
        querystring: NoQuerySchema,
        body: RulePatchSchema,
        response: { 200: RuleSchema, ...errorResponses(400, 401, 403, 404, 413) },
      },
    },
    async (request) => {
      const before = alerts.getRule(request.params.id)
      const rule = await mapErrors(() => alerts.updateRule(request.params.id, request.body))
      const changes = before ? diff(before, rule, AUDITED_RULE_FIELDS) : {}
      if (Object.keys(changes).length > 0) {
        await record({ actor: request.session!.user.username, action: 'alert-rule.update', targetType: 'alert-rule', target: String(rule.id), changes, details: { name: rule.name } })
      }
      return rule
    },
  )

  app.delete(
    '/api/alert-rules/:id',
    {
      onRequest: editors,
      schema: {
        tags: ['alerts'],
        summary: 'Delete an alert rule (operator or admin); its active alerts are resolved',
        security: SECURED,
        params: RuleIdParams,
        querystring: NoQuerySchema,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const before = alerts.getRule(request.params.id)
      await mapErrors(() => alerts.deleteRule(request.params.id))
      const changes = Object.fromEntries(AUDITED_RULE_FIELDS.map((k) => [k, { from: before![k] }]))
      await record({ actor: request.session!.user.username, action: 'alert-rule.delete', targetType: 'alert-rule', target: String(request.params.id), changes, details: { name: before!.name } })
      return reply.status(204).send(null)
    },
  )

  app.get(
    '/api/alerts',
    {
      onRequest: auth.requireUser,
      schema: {
        tags: ['alerts'],
        summary: 'Alerts, newest first (resolved ones by resolution time)',
        description: 'counts: open and acknowledged alerts now, whatever the filters. Installers see the alerts of devices they may see.',
        security: SECURED,
        querystring: AlertQuerySchema,
        response: {
          200: Type.Object({ items: Type.Array(AlertSchema), total: Type.Integer(), limit: Type.Integer(), offset: Type.Integer(), counts: AlertCountsSchema }),
          ...errorResponses(400, 401),
        },
      },
    },
    async (request) => {
      const { state, device, city, rule, limit, offset } = request.query
      const cityId = city === undefined ? undefined : findCity(city)?.id
      if (city !== undefined && !cityId) throw badRequest(`unknown city '${city}'; cities: ${cityIds.join(', ')}`, words('unknown-city', { city, cities: cityIds.join(', ') }))
      const result = await alerts.queryAlerts({ state, deviceId: device, city: cityId, ruleId: rule, limit, offset }, visibility(request))
      return { ...result, limit, offset }
    },
  )

  app.post(
    '/api/alerts/:id/ack',
    {
      onRequest: editors,
      schema: {
        tags: ['alerts'],
        summary: 'Acknowledge an alert (operator or admin)',
        description: 'Records who acknowledged it and when. Acknowledging an acknowledged alert changes nothing (the first acknowledgement stands); a resolved one answers 409.',
        security: SECURED,
        params: AlertIdParams,
        querystring: NoQuerySchema,
        body: Type.Optional(AckBodySchema),
        response: { 200: AlertSchema, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const by = request.session!.user.username
      const wasOpen = (await alerts.getAlert(request.params.id))?.state === 'open'
      const alert = await mapErrors(() => alerts.acknowledge(request.params.id, by))
      if (wasOpen) await record(ackEntry(by, alert))
      return alert
    },
  )

  const ackEntry = (by: string, alert: { id: number; ruleId: number; deviceId: string; city: string }, bulk?: number): AuditRecord => ({
    actor: by,
    action: 'alert.acknowledge',
    targetType: 'alert',
    target: String(alert.id),
    changes: { state: { from: 'open', to: 'acknowledged' } },
    details: { rule: alert.ruleId, device: alert.deviceId, city: alert.city, ...(bulk === undefined ? {} : { bulk }) },
  })

  app.get(
    '/api/alert-groups',
    {
      onRequest: auth.requireUser,
      schema: {
        tags: ['alerts'],
        summary: 'Active alerts grouped by rule and city, with counts',
        description:
          'One group per (rule, city) with open, acknowledged and silenced counts and its alert ids, most urgent first; a storm of one rule over many devices is one group. Expand a group with GET /api/alerts?rule=…&city=…. Installers see the groups of devices they may see.',
        security: SECURED,
        querystring: NoQuerySchema,
        response: { 200: Type.Object({ items: Type.Array(AlertGroupSchema), counts: AlertCountsSchema }), ...errorResponses(400, 401) },
      },
    },
    async (request) => {
      const visible = visibility(request)
      return { items: alerts.groups(visible).groups, counts: alerts.counts(visible) }
    },
  )

  app.post(
    '/api/alerts/ack',
    {
      onRequest: editors,
      schema: {
        tags: ['alerts'],
        summary: 'Acknowledge several alerts at once (operator or admin)',
        description:
          'A selection (`ids`) or a whole group (`group`: every active alert of the rule in the city). Open ones are acknowledged (each recorded in the audit log); the answer lists those, and the ids that were already acknowledged, resolved or unknown.',
        security: SECURED,
        querystring: NoQuerySchema,
        body: BulkAckSchema,
        response: {
          200: Type.Object({
            acknowledged: Type.Array(AlertSchema),
            already: Type.Array(Type.Integer()),
            resolved: Type.Array(Type.Integer()),
            missing: Type.Array(Type.Integer()),
          }),
          ...errorResponses(400, 401, 403, 413),
        },
      },
    },
    async (request) => {
      const by = request.session!.user.username
      const body = request.body
      let ids: number[]
      if ('group' in body) {
        const city = findCity(body.group.city)?.id
        if (!city) throw badRequest(`unknown city '${body.group.city}'; cities: ${cityIds.join(', ')}`, words('unknown-city', { city: body.group.city, cities: cityIds.join(', ') }))
        ids = alerts.groupIds(body.group.ruleId, city)
      } else ids = body.ids
      const result = await alerts.acknowledgeMany(ids, by)
      for (const a of result.acknowledged) await record(ackEntry(by, a, result.acknowledged.length))
      request.log.info({ by, acknowledged: result.acknowledged.length }, 'alerts acknowledged in bulk')
      return result
    },
  )

  app.get(
    '/api/alerts/:id/timeline',
    {
      onRequest: auth.requireUser,
      schema: {
        tags: ['alerts'],
        summary: "An alert's timeline: opened, acknowledged, comments, assignments, resolved",
        security: SECURED,
        params: AlertIdParams,
        querystring: NoQuerySchema,
        response: { 200: Type.Object({ alert: AlertSchema, events: Type.Array(TimelineEventSchema) }), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const result = await alerts.timeline(request.params.id)
      const visible = visibility(request)
      if (!result || (visible && !visible({ id: result.alert.deviceId }))) throw notFound(`no alert with id ${request.params.id}`, words('no-alert', { id: request.params.id }))
      return result
    },
  )

  app.post(
    '/api/alerts/:id/comments',
    {
      onRequest: editors,
      schema: {
        tags: ['alerts'],
        summary: 'Comment on an alert (operator or admin)',
        description: 'Added to its timeline and the audit log; resolved alerts take comments too.',
        security: SECURED,
        params: AlertIdParams,
        querystring: NoQuerySchema,
        body: CommentSchema,
        response: { 201: TimelineEventSchema, ...errorResponses(400, 401, 403, 404, 413) },
      },
    },
    async (request, reply) => {
      const by = request.session!.user.username
      const text = request.body.text.trim()
      if (!text) throw badRequest('the comment is empty', words('empty-comment'))
      const event = await mapErrors(() => alerts.comment(request.params.id, by, text))
      await record({ actor: by, action: 'alert.comment', targetType: 'alert', target: String(request.params.id), changes: { comment: { to: text } } })
      return reply.status(201).send(event)
    },
  )

  app.put(
    '/api/alerts/:id/assignee',
    {
      onRequest: editors,
      schema: {
        tags: ['alerts'],
        summary: 'Assign an active alert to a staff user, or unassign it (operator or admin)',
        description: 'The assignee must be an enabled operator or admin (GET /api/alert-assignees). Recorded in the timeline and the audit log.',
        security: SECURED,
        params: AlertIdParams,
        querystring: NoQuerySchema,
        body: AssignSchema,
        response: { 200: AlertSchema, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const by = request.session!.user.username
      let assignee = request.body.assignee
      if (assignee !== null) {
        const user = accounts.get(assignee)
        if (!user || user.disabled || (user.role !== 'operator' && user.role !== 'admin')) {
          throw badRequest(`'${assignee}' is not an enabled operator or admin; alerts are assigned to staff (GET /api/alert-assignees)`, words('not-assignable', { name: assignee }))
        }
        assignee = user.username
      }
      const before = await alerts.getAlert(request.params.id)
      const alert = await mapErrors(() => alerts.assign(request.params.id, by, assignee))
      if (before && before.assignee !== alert.assignee) {
        await record({ actor: by, action: 'alert.assign', targetType: 'alert', target: String(alert.id), changes: { assignee: { from: before.assignee, to: alert.assignee } } })
      }
      return alert
    },
  )

  app.get(
    '/api/alert-assignees',
    {
      onRequest: editors,
      schema: {
        tags: ['alerts'],
        summary: 'Who alerts may be assigned to: enabled operators and admins',
        security: SECURED,
        querystring: NoQuerySchema,
        response: { 200: Type.Object({ items: Type.Array(Type.Object({ username: Type.String(), role: Type.String() })) }), ...errorResponses(400, 401, 403) },
      },
    },
    async () => ({
      items: accounts
        .list()
        .filter((u) => !u.disabled && (u.role === 'operator' || u.role === 'admin'))
        .map((u) => ({ username: u.username, role: u.role })),
    }),
  )

  // ------------------------------------------------------------------ silences

  app.get(
    '/api/alert-silences',
    {
      onRequest: editors,
      schema: {
        tags: ['alerts'],
        summary: 'Silences: the pending and active ones by end, then the newest 50 over (operator or admin)',
        security: SECURED,
        querystring: NoQuerySchema,
        response: { 200: Type.Object({ items: Type.Array(SilenceSchema) }), ...errorResponses(400, 401, 403) },
      },
    },
    async () => ({ items: await alerts.listSilences() }),
  )

  app.post(
    '/api/alert-silences',
    {
      onRequest: editors,
      schema: {
        tags: ['alerts'],
        summary: 'Silence a rule, a device and/or a city for a time window (operator or admin)',
        description:
          'At least one of ruleId, deviceId, city (all given must match), a reason, and an end (`endsAt`, or `duration` from the start). Matching alerts still open and show, marked silenced; they send no notification. Recorded in the audit log.',
        security: SECURED,
        querystring: NoQuerySchema,
        body: NewSilenceSchema,
        response: { 201: SilenceSchema, ...errorResponses(400, 401, 403, 413) },
      },
    },
    async (request, reply) => {
      const by = request.session!.user.username
      const b = request.body
      if (b.ruleId === undefined && b.deviceId === undefined && b.city === undefined) throw badRequest('a silence needs at least one of ruleId, deviceId, city', words('silence-needs-matcher'))
      if (b.ruleId !== undefined && !alerts.getRule(b.ruleId)) throw badRequest(`no alert rule with id ${b.ruleId}`, words('no-rule', { id: b.ruleId }))
      if (b.deviceId !== undefined && !registry.get(b.deviceId)) throw badRequest(`no device with id '${b.deviceId}'`, words('no-device', { id: b.deviceId }))
      const city = b.city === undefined ? null : (findCity(b.city)?.id ?? null)
      if (b.city !== undefined && !city) throw badRequest(`unknown city '${b.city}'; cities: ${cityIds.join(', ')}`, words('unknown-city', { city: b.city, cities: cityIds.join(', ') }))
      const reason = b.reason.trim()
      if (!reason) throw badRequest('give the reason for the silence', words('silence-needs-reason'))
      if ((b.endsAt === undefined) === (b.duration === undefined)) throw badRequest('give the end of the silence: endsAt or duration (one of them)', words('silence-needs-end'))
      const now = alerts.now()
      const startsAt = b.startsAt === undefined ? now : isoTime('startsAt', b.startsAt)
      let endsAt: number
      if (b.endsAt !== undefined) endsAt = isoTime('endsAt', b.endsAt)
      else endsAt = startsAt + await mapErrors(() => parseDuration('duration', b.duration!)) * 1000
      if (endsAt <= now) throw badRequest(`the silence ends in the past (${new Date(endsAt).toISOString()})`, words('silence-ends-past', { endsAt: new Date(endsAt).toISOString() }))
      if (!(endsAt > startsAt)) throw badRequest('the silence must end after it starts', words('silence-ends-before-start'))
      if (endsAt - startsAt > MAX_SILENCE_MS) throw badRequest('a silence lasts at most 30 days', words('silence-too-long'))
      const silence = await alerts.createSilence({ ruleId: b.ruleId ?? null, deviceId: b.deviceId ?? null, city, reason, startsAt, endsAt }, by)
      await record({
        actor: by,
        action: 'silence.create',
        targetType: 'silence',
        target: String(silence.id),
        changes: created(silence, ['ruleId', 'deviceId', 'city', 'reason', 'startsAt', 'endsAt']),
      })
      return reply.status(201).header('location', `/api/alert-silences/${silence.id}`).send(silence)
    },
  )

  app.delete(
    '/api/alert-silences/:id',
    {
      onRequest: editors,
      schema: {
        tags: ['alerts'],
        summary: 'End a silence now (operator or admin)',
        description: 'It stays listed, as expired, with who ended it. Ending one already over changes nothing. Recorded in the audit log.',
        security: SECURED,
        params: SilenceIdParams,
        querystring: NoQuerySchema,
        response: { 200: SilenceSchema, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const by = request.session!.user.username
      const before = await alerts.getSilence(request.params.id)
      if (!before) throw notFound(`no silence with id ${request.params.id}`, words('no-silence', { id: request.params.id }))
      const silence = (await alerts.endSilence(request.params.id, by))!
      if (before.state !== 'expired') {
        await record({ actor: by, action: 'silence.expire', targetType: 'silence', target: String(silence.id), changes: { endsAt: { from: before.endsAt, to: silence.endsAt } } })
      }
      return silence
    },
  )
}
