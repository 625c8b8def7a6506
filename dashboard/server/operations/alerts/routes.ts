import Type from 'typebox'
import { cityIds, findCity } from '../../../../devices/region.ts'
import { DEVICE_ID_PATTERN } from '../../../../devices/registry.ts'
import { AlertConflictError, AlertNotFoundError, type AlertEngine } from './engine.ts'
import { DERIVED_FIELDS, NewRuleSchema, RuleError, RulePatchSchema } from './rules.ts'
import { ALERT_STATES, AlertCountsSchema, AlertSchema, RuleSchema } from '../../../shared/operations.ts'
import { SECURED, type Auth } from '../../identity/auth.ts'
import { ApiError, badRequest, errorResponses, notFound } from '../../http/errors.ts'
import { actorOf, visibleTo } from '../../identity/permissions.ts'
import type { Api } from '../../http/types.ts'
import { NoQuerySchema } from '../../http/validation.ts'

/**
 * Alert rules and alerts over HTTP. Everyone logged in reads them (installers only the alerts of
 * devices they may see); operators and admins edit rules and acknowledge alerts.
 */

export interface AlertRouteDeps {
  alerts: AlertEngine
  auth: Auth
  registry: { get(id: string): { id: string; city: string; createdBy: string } | undefined }
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

function mapErrors<T>(fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    if (err instanceof RuleError) throw badRequest(err.message)
    if (err instanceof AlertNotFoundError) throw notFound(err.message)
    if (err instanceof AlertConflictError) throw new ApiError(409, 'conflict', err.message)
    throw err
  }
}

export function registerAlertRoutes(app: Api, deps: AlertRouteDeps): void {
  const { alerts, auth, registry } = deps
  const editors = auth.requireRole('operator', 'admin')

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
      const rule = mapErrors(() => alerts.createRule(request.body, request.session!.user.username))
      request.log.info({ rule: rule.id, by: request.session!.user.username }, 'alert rule created')
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
    async (request) => mapErrors(() => alerts.updateRule(request.params.id, request.body)),
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
      mapErrors(() => alerts.deleteRule(request.params.id))
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
      if (city !== undefined && !cityId) throw badRequest(`unknown city '${city}'; cities: ${cityIds.join(', ')}`)
      const result = alerts.queryAlerts({ state, deviceId: device, city: cityId, ruleId: rule, limit, offset }, visibility(request))
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
    async (request) => mapErrors(() => alerts.acknowledge(request.params.id, request.session!.user.username)),
  )
}
