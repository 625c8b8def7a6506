import type { FastifyRequest } from 'fastify'
import Type, { type Static } from 'typebox'
import { cityIds } from '../../../devices/region.ts'
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, RoleSchema, type Accounts, type User, type UserPatch } from './accounts.ts'
import { created, diff, type AuditLog, type Changes } from './audit.ts'
import { SECURED, type Auth } from './auth.ts'
import { ApiError, badRequest, errorResponses, notFound } from '../http/errors.ts'
import type { Api } from '../http/types.ts'
import { NoQuerySchema } from '../http/validation.ts'
import { naturalCompare } from '../../shared/natural-order.ts'
import { words } from '../../shared/words.ts'

/**
 * People and their roles (admins only): list, create, change role and cities, reset a password,
 * disable or enable. Any change to a user's rights or password ends their sessions, in the API
 * and on the live stream at once, so nobody keeps rights they no longer have. Every change goes
 * to the audit log; passwords never do.
 */

export const AdminUserSchema = Type.Object({
  username: Type.String(),
  role: RoleSchema,
  /** City ids an installer works in; absent when none are assigned. */
  cities: Type.Optional(Type.Array(Type.String())),
  disabled: Type.Boolean(),
  createdAt: Type.String(),
})
type AdminUser = Static<typeof AdminUserSchema>

const CitiesSchema = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 64, description: `City ids or names: ${cityIds.join(', ')}.` })

const NewUserBodySchema = Type.Object(
  {
    username: Type.String({ minLength: 2, maxLength: 64, description: "2–64 characters of a–z, 0–9, '.', '_' or '-'." }),
    password: Type.String({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH }),
    role: RoleSchema,
    cities: Type.Optional(CitiesSchema),
  },
  { additionalProperties: false },
)

const UserPatchBodySchema = Type.Object(
  {
    role: Type.Optional(RoleSchema),
    cities: Type.Optional(Type.Union([CitiesSchema, Type.Null()], { description: 'The installer\'s cities; null or [] removes the assignment.' })),
    disabled: Type.Optional(Type.Boolean({ description: 'A disabled user cannot log in; their sessions end at once.' })),
    password: Type.Optional(Type.String({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH, description: 'A new password (reset); their sessions end.' })),
  },
  { additionalProperties: false },
)

export const USER_SORTS = ['username', 'role', 'createdAt'] as const

const UserListQuerySchema = Type.Object(
  {
    search: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Substring of the user name, any case.' })),
    role: Type.Optional(RoleSchema),
    sort: Type.Union(USER_SORTS.map((s) => Type.Literal(s)), { default: 'username', description: 'username (default, natural order), role or createdAt; ties go by user name.' }),
    order: Type.Union([Type.Literal('asc'), Type.Literal('desc')], { default: 'asc' }),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 1000 }),
    offset: Type.Integer({ minimum: 0, default: 0 }),
  },
  { additionalProperties: false },
)

const UserParamsSchema = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, description: 'The user name.' }) }, { additionalProperties: false })

export interface UserRouteDeps {
  accounts: Accounts
  auth: Auth
  audit: AuditLog
  /** Ends the user's live-stream connections (their sessions were just ended). */
  endLiveSessions?(username: string): void
}

export const toAdminUser = (user: User): AdminUser => {
  const out: AdminUser = { username: user.username, role: user.role, disabled: user.disabled === true, createdAt: user.createdAt }
  if (user.cities) out.cities = user.cities
  return out
}

export function registerUserRoutes(app: Api, deps: UserRouteDeps): void {
  const { accounts, auth, audit } = deps
  const adminOnly = auth.requireRole('admin')
  const actor = (request: FastifyRequest) => request.session!.user.username

  app.get(
    '/api/users',
    {
      onRequest: adminOnly,
      schema: {
        tags: ['users'],
        summary: 'Users with role, cities and whether disabled, searched, sorted and paged (admin)',
        security: SECURED,
        querystring: UserListQuerySchema,
        response: {
          200: Type.Object({ items: Type.Array(AdminUserSchema), total: Type.Integer(), limit: Type.Integer(), offset: Type.Integer() }),
          ...errorResponses(400, 401, 403),
        },
      },
    },
    async (request) => {
      const { search, role, sort, order, limit, offset } = request.query
      const needle = search?.toLowerCase()
      const matching = accounts.list().filter((u) => (!needle || u.username.includes(needle)) && (!role || u.role === role))
      const key: (a: User, b: User) => number =
        sort === 'role' ? (a, b) => naturalCompare(a.role, b.role) : sort === 'createdAt' ? (a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt) : () => 0
      const sign = order === 'desc' ? -1 : 1
      matching.sort((a, b) => sign * (key(a, b) || naturalCompare(a.username, b.username)))
      return { items: matching.slice(offset, offset + limit).map(toAdminUser), total: matching.length, limit, offset }
    },
  )

  app.post(
    '/api/users',
    {
      onRequest: adminOnly,
      schema: {
        tags: ['users'],
        summary: 'Create a user (admin)',
        description: 'Roles: admin (everything), operator (sees everything, handles alerts), installer (registers and commissions devices; with cities, only in those).',
        security: SECURED,
        querystring: NoQuerySchema,
        body: NewUserBodySchema,
        response: { 201: AdminUserSchema, ...errorResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const user = await accounts.create(request.body)
      await audit.record({ actor: actor(request), action: 'user.create', targetType: 'user', target: user.username, changes: created(toAdminUser(user), ['role', 'cities']) })
      return reply.status(201).header('location', `/api/users/${user.username}`).send(toAdminUser(user))
    },
  )

  app.patch(
    '/api/users/:id',
    {
      onRequest: adminOnly,
      schema: {
        tags: ['users'],
        summary: "Change a user's role or cities, reset their password, disable or enable them (admin)",
        description: 'Any change ends the user\'s sessions (they log in again with their new rights). The last enabled admin cannot be demoted or disabled, and nobody can disable themselves (409).',
        security: SECURED,
        params: UserParamsSchema,
        querystring: NoQuerySchema,
        body: UserPatchBodySchema,
        response: { 200: AdminUserSchema, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const body = request.body
      if (Object.keys(body).length === 0) throw badRequest('give at least one of role, cities, disabled, password', words('user-patch-empty'))
      const existing = accounts.get(request.params.id)
      if (!existing) throw notFound(`no user '${request.params.id}'`, words('no-user', { name: request.params.id }))
      const me = actor(request)
      if (existing.username === me && body.disabled === true) throw new ApiError(409, 'conflict', 'you cannot disable your own account', {}, words('disable-self'))
      // Validate the password before changing anything, so a bad one leaves the user as it was.
      if (body.password !== undefined && body.password.trim().length === 0) throw badRequest('the password cannot be blank', words('blank-password'))
      const patch: UserPatch = {}
      if (body.role !== undefined) patch.role = body.role
      if (body.cities !== undefined) patch.cities = body.cities
      if (body.disabled !== undefined) patch.disabled = body.disabled
      const { before, after, sessionsEnded } = await accounts.update(existing.username, patch)
      const changes: Changes = diff(toAdminUser(before), toAdminUser(after), ['role', 'cities'])
      if (Object.keys(changes).length > 0) await audit.record({ actor: me, action: 'user.update', targetType: 'user', target: after.username, changes })
      if ((before.disabled === true) !== (after.disabled === true)) {
        await audit.record({ actor: me, action: after.disabled ? 'user.disable' : 'user.enable', targetType: 'user', target: after.username, changes: diff(toAdminUser(before), toAdminUser(after), ['disabled']) })
      }
      let ended = sessionsEnded
      if (body.password !== undefined) {
        await accounts.setPassword(existing.username, body.password)
        await audit.record({ actor: me, action: 'user.password-reset', targetType: 'user', target: after.username })
        ended = true
      }
      if (ended) deps.endLiveSessions?.(after.username)
      request.log.info({ user: after.username, by: me, fields: Object.keys(body).filter((k) => k !== 'password').concat(body.password ? ['password'] : []) }, 'user changed')
      return toAdminUser(accounts.get(after.username)!)
    },
  )
}
