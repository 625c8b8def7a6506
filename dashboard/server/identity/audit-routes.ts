import Type from 'typebox'
import { AUDIT_ACTIONS, AuditEntrySchema, AuditTargetTypeSchema, type AuditLog } from './audit.ts'
import { SECURED, type Auth } from './auth.ts'
import { badRequest, errorResponses } from '../http/errors.ts'
import type { Api } from '../http/types.ts'
import { parseTime } from '../readings/routes.ts'
import { words } from '../../shared/words.ts'

/** The audit log of changes to devices and users, newest first, filtered (admins only). */

const ACTION_FILTERS = [...AUDIT_ACTIONS, 'device.', 'user.', 'alert-rule.', 'alert.', 'silence.', 'contact-point.']

const AuditQuerySchema = Type.Object(
  {
    actor: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Who made the change (user name, or cli).' })),
    target: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Device id, user name, or an alert rule, alert or silence id.' })),
    targetType: Type.Optional(AuditTargetTypeSchema),
    action: Type.Optional(Type.String({ minLength: 1, maxLength: 40, description: `One of ${AUDIT_ACTIONS.join(', ')}; or device. / user. / alert-rule. / alert. / silence. for all of a kind.` })),
    from: Type.Optional(Type.String({ maxLength: 40, description: 'ISO 8601 or epoch ms, inclusive.' })),
    to: Type.Optional(Type.String({ maxLength: 40, description: 'ISO 8601 or epoch ms, exclusive.' })),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
    offset: Type.Integer({ minimum: 0, default: 0 }),
  },
  { additionalProperties: false },
)

export function registerAuditRoutes(app: Api, deps: { audit: AuditLog; auth: Auth }): void {
  const { audit, auth } = deps
  app.get(
    '/api/audit',
    {
      onRequest: auth.requireRole('admin'),
      schema: {
        tags: ['users'],
        summary: 'Who changed which device or user, when, and what changed (admin)',
        description: 'Newest first. Secrets and passwords are never recorded: a rotation or a password reset appears as the event alone.',
        security: SECURED,
        querystring: AuditQuerySchema,
        response: {
          200: Type.Object({ items: Type.Array(AuditEntrySchema), total: Type.Integer(), limit: Type.Integer(), offset: Type.Integer() }),
          ...errorResponses(400, 401, 403),
        },
      },
    },
    async (request) => {
      const q = request.query
      if (q.action !== undefined && !ACTION_FILTERS.includes(q.action)) {
        throw badRequest(`query parameter 'action' must be one of ${ACTION_FILTERS.join(', ')}; got "${q.action}"`)
      }
      const from = q.from !== undefined ? parseTime('from', q.from) : undefined
      const to = q.to !== undefined ? parseTime('to', q.to) : undefined
      if (from !== undefined && to !== undefined && from >= to) throw badRequest(`'from' (${new Date(from).toISOString()}) must be before 'to' (${new Date(to).toISOString()})`, words('from-after-to', { from: new Date(from).toISOString(), to: new Date(to).toISOString() }))
      const { items, total } = await audit.list({ actor: q.actor, target: q.target, targetType: q.targetType, action: q.action, from, to, limit: q.limit, offset: q.offset })
      return { items, total, limit: q.limit, offset: q.offset }
    },
  )
}
