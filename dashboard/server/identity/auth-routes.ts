import Type from 'typebox'
import { normalizeUsername, PASSWORD_MAX_LENGTH, UserSchema, type Accounts } from './accounts.ts'
import { SECURED, type Auth } from './auth.ts'
import { ScryptBusyError } from '../../../devices/secrets.ts'
import { ApiError, errorResponses, tooManyRequests, unauthorized } from '../http/errors.ts'
import type { LoginLimiter } from './login-limiter.ts'
import type { Api } from '../http/types.ts'
import { NoQuerySchema } from '../http/validation.ts'
import { words } from '../../shared/words.ts'

/** Login (cookie for browsers, bearer token for scripts), logout, and who am I. */

export const LoginBodySchema = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 64 }),
    password: Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH }),
  },
  { additionalProperties: false },
)

const SessionSchema = Type.Object({
  /** Send as `Authorization: Bearer <token>`; browsers get the same token as an httpOnly cookie. */
  token: Type.String({ description: 'Session token for Authorization: Bearer <token>.' }),
  expiresAt: Type.Integer({ description: 'Epoch ms; extended while the session is used.' }),
  user: UserSchema,
})

export interface AuthRouteDeps {
  accounts: Accounts
  auth: Auth
  limiter: LoginLimiter
  /** Ends the live-stream sockets opened with a session that just ended. */
  endLiveSession?(token: string): void
}

export function registerAuthRoutes(app: Api, deps: AuthRouteDeps): void {
  const { accounts, auth, limiter } = deps

  app.post(
    '/api/auth/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Log in with username and password',
        description: `Answers with a bearer token and sets an httpOnly session cookie. After ${limiter.maxFailures} failed attempts for a username from one address, further attempts get 429 for ${limiter.windowMs / 60_000} minutes; many failures from one address (whatever the usernames) or for one username (from any address) get 429 with a growing Retry-After. 503 with Retry-After when too many password checks are already waiting.`,
        querystring: NoQuerySchema,
        body: LoginBodySchema,
        response: { 200: SessionSchema, ...errorResponses(400, 401, 429, 503) },
      },
    },
    async (request, reply) => {
      const { username, password } = request.body
      const name = normalizeUsername(username)
      const check = limiter.check(name, request.ip)
      if (!check.allowed) {
        const seconds = Math.ceil(check.retryAfterMs / 1000)
        const wait = seconds >= 60 ? `${Math.ceil(seconds / 60)} minute${Math.ceil(seconds / 60) === 1 ? '' : 's'}` : `${seconds} second${seconds === 1 ? '' : 's'}`
        const who = check.scope === 'user-address' ? `for '${name}' from this address` : check.scope === 'address' ? 'from this address' : `for '${name}'`
        throw tooManyRequests(`too many failed logins ${who}; try again in ${wait}`, check.retryAfterMs / 1000, words('login-locked', { scope: check.scope, name, seconds }))
      }
      let user
      try {
        user = await accounts.verifyPassword(username, password)
      } catch (err) {
        if (!(err instanceof ScryptBusyError)) throw err
        // Password checks are queued full: refuse now rather than queue without end.
        limiter.busy()
        throw new ApiError(503, 'unavailable', 'too many logins at once; try again in a few seconds', { 'retry-after': '2' }, words('login-busy'))
      }
      if (!user) {
        limiter.fail(name, request.ip)
        throw unauthorized('wrong username or password', words('login-failed'))
      }
      limiter.succeed(name, request.ip)
      const { token, expiresAt } = await accounts.createSession(user.username)
      auth.setSessionCookie(reply, token, expiresAt)
      request.log.info({ user: user.username }, 'user logged in')
      return { token, expiresAt, user }
    },
  )

  app.post(
    '/api/auth/logout',
    {
      onRequest: auth.requireUser,
      schema: {
        tags: ['auth'],
        summary: 'End the current session (cookie or bearer token)',
        security: SECURED,
        querystring: NoQuerySchema,
        response: { 204: Type.Null({ description: 'Logged out.' }), ...errorResponses(401) },
      },
    },
    async (request, reply) => {
      await accounts.endSession(request.sessionToken!)
      deps.endLiveSession?.(request.sessionToken!)
      auth.clearSessionCookie(reply)
      return reply.status(204).send(null)
    },
  )

  app.get(
    '/api/auth/me',
    {
      onRequest: auth.requireUser,
      schema: {
        tags: ['auth'],
        summary: 'The logged-in user',
        security: SECURED,
        querystring: NoQuerySchema,
        response: { 200: Type.Object({ user: UserSchema, expiresAt: Type.Integer() }), ...errorResponses(401) },
      },
    },
    async (request) => ({ user: request.session!.user, expiresAt: request.session!.expiresAt }),
  )
}
