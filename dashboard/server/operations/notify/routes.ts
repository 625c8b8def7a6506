import Type from 'typebox'
import { ContactPointPatchSchema, ContactPointSchema, DeliverySchema, NewContactPointSchema } from '../../../shared/notify.ts'
import { SECURED, type Auth } from '../../identity/auth.ts'
import { created, diff, type AuditLog } from '../../identity/audit.ts'
import { badRequest, errorResponses, notFound } from '../../http/errors.ts'
import type { Api } from '../../http/types.ts'
import { NoQuerySchema } from '../../http/validation.ts'
import { ContactPointError, type Notifications } from './notify.ts'
import { contactPointView } from './store.ts'
import { words } from '../../../shared/words.ts'

/** Contact points over HTTP (admins): list, create, change, delete, send a test, read the delivery log. Every change is audited. */

const IdParams = Type.Object({ id: Type.Integer({ minimum: 1, description: 'Contact point id' }) }, { additionalProperties: false })
const DeliveriesQuery = Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 1000, default: 50 }) }, { additionalProperties: false })
const EmptyBody = Type.Union([Type.Object({}, { additionalProperties: false }), Type.Null()], { description: 'No body is needed.' })
const AUDITED = ['name', 'kind', 'url', 'addresses', 'secret', 'enabled'] as const

export function registerNotifyRoutes(app: Api, deps: { notifications: Notifications; auth: Auth; audit: AuditLog }): void {
  const { notifications, auth, audit } = deps
  const adminOnly = auth.requireRole('admin')
  const me = (request: { session?: { user: { username: string } } }) => request.session!.user.username
  const checked = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn()
    } catch (err) {
      if (err instanceof ContactPointError) throw badRequest(err.message, err.words)
      throw err
    }
  }
  const existing = async (id: number) => {
    const cp = await notifications.contactPoints.get(id)
    if (!cp) throw notFound(`no contact point with id ${id}`, words('no-contact-point', { id }))
    return cp
  }

  app.get(
    '/api/contact-points',
    {
      onRequest: adminOnly,
      schema: {
        tags: ['alerts'],
        summary: 'Contact points alerts are notified through (admin)',
        security: SECURED,
        querystring: NoQuerySchema,
        response: {
          200: Type.Object({
            items: Type.Array(ContactPointSchema),
            email: Type.Boolean({ description: 'Whether SMTP_URL is set (e-mail contact points can deliver).' }),
            defaultSecret: Type.Boolean({ description: 'Whether NOTIFY_WEBHOOK_SECRET is set.' }),
          }),
          ...errorResponses(400, 401, 403),
        },
      },
    },
    async () => ({ items: (await notifications.contactPoints.list()).map(contactPointView), email: notifications.emailConfigured, defaultSecret: notifications.defaultSecret }),
  )

  app.post(
    '/api/contact-points',
    {
      onRequest: adminOnly,
      schema: {
        tags: ['alerts'],
        summary: 'Create a contact point (admin)',
        description: 'A webhook `{ "kind": "webhook", "name", "url", "secret"? }` (signed with its secret, or NOTIFY_WEBHOOK_SECRET) or an e-mail `{ "kind": "email", "name", "addresses": [...] }` (needs SMTP_URL). A webhook URL whose host resolves to a loopback, link-local, private or unspecified address is refused (400, naming why) unless NOTIFY_WEBHOOK_ALLOW lets it through.',
        security: SECURED,
        querystring: NoQuerySchema,
        body: NewContactPointSchema,
        response: { 201: ContactPointSchema, ...errorResponses(400, 401, 403, 413) },
      },
    },
    async (request, reply) => {
      const cp = await checked(() => notifications.contactPoints.create(request.body, me(request)))
      await audit.record({ actor: me(request), action: 'contact-point.create', targetType: 'contact-point', target: String(cp.id), changes: created(contactPointView(cp), ['name', 'kind', 'url', 'addresses', 'enabled']) })
      return reply.status(201).header('location', `/api/contact-points/${cp.id}`).send(contactPointView(cp))
    },
  )

  app.patch(
    '/api/contact-points/:id',
    {
      onRequest: adminOnly,
      schema: {
        tags: ['alerts'],
        summary: 'Change a contact point (admin)',
        description: 'url and secret apply to webhooks, addresses to e-mail. A new secret is recorded in the audit log as changed, never its value.',
        security: SECURED,
        params: IdParams,
        querystring: NoQuerySchema,
        body: ContactPointPatchSchema,
        response: { 200: ContactPointSchema, ...errorResponses(400, 401, 403, 404, 413) },
      },
    },
    async (request) => {
      const before = await existing(request.params.id)
      const after = await checked(() => notifications.contactPoints.update(before.id, request.body))
      const changes = diff(contactPointView(before), contactPointView(after), [...AUDITED].filter((k) => k !== 'secret'))
      // The secret's value never reaches the log: only that it changed.
      if (request.body.secret !== undefined) changes.signing = { to: request.body.secret === null ? 'default secret' : 'new secret' }
      if (Object.keys(changes).length > 0) await audit.record({ actor: me(request), action: 'contact-point.update', targetType: 'contact-point', target: String(after.id), changes })
      return contactPointView(after)
    },
  )

  app.delete(
    '/api/contact-points/:id',
    {
      onRequest: adminOnly,
      schema: {
        tags: ['alerts'],
        summary: 'Delete a contact point and its delivery log (admin)',
        security: SECURED,
        params: IdParams,
        querystring: NoQuerySchema,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const cp = await existing(request.params.id)
      await notifications.contactPoints.remove(cp.id)
      await audit.record({ actor: me(request), action: 'contact-point.delete', targetType: 'contact-point', target: String(cp.id), changes: diff(contactPointView(cp), { ...contactPointView(cp), name: null as never }, ['name']), details: { kind: cp.kind } })
      return reply.status(204).send(null)
    },
  )

  app.post(
    '/api/contact-points/:id/test',
    {
      onRequest: adminOnly,
      schema: {
        tags: ['alerts'],
        summary: 'Send a test notification now, one attempt (admin)',
        description: 'Answers the delivery log entry: delivered, or failed with the reason. Works on a disabled contact point too.',
        security: SECURED,
        params: IdParams,
        querystring: NoQuerySchema,
        body: Type.Optional(EmptyBody),
        response: { 200: DeliverySchema, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const cp = await existing(request.params.id)
      const delivery = await notifications.test(cp)
      await audit.record({ actor: me(request), action: 'contact-point.test', targetType: 'contact-point', target: String(cp.id), details: { outcome: delivery.outcome } })
      return delivery
    },
  )

  app.get(
    '/api/contact-points/:id/deliveries',
    {
      onRequest: adminOnly,
      schema: {
        tags: ['alerts'],
        summary: 'The contact point’s newest deliveries (admin)',
        description: 'Newest first; the log keeps the last NOTIFY_DELIVERY_LOG per contact point.',
        security: SECURED,
        params: IdParams,
        querystring: DeliveriesQuery,
        response: { 200: Type.Object({ items: Type.Array(DeliverySchema) }), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => ({ items: await notifications.contactPoints.deliveries((await existing(request.params.id)).id, request.query.limit) }),
  )

}
