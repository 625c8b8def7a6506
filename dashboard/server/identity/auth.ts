import { fastifyCookie } from '@fastify/cookie'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Accounts, Role, Session } from './accounts.ts'
import { forbidden, unauthorized } from '../http/errors.ts'
import { words } from '../../shared/words.ts'

/**
 * Who is asking: a session token from the httpOnly cookie (browsers) or from
 * `Authorization: Bearer <token>` (scripts); the bearer wins when both are present. Routes opt in
 * with `onRequest: auth.requireUser` or `auth.requireRole(...)`; public routes do nothing.
 */

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by requireUser / requireRole. */
    session?: Session
    /** The raw token the session was found by, for logout. */
    sessionToken?: string
  }
}

export const SESSION_COOKIE = 'piazza_session'

/** OpenAPI security requirement of routes that need a logged-in user (schemes declared in app.ts). */
export const SECURED: { [scheme: string]: string[] }[] = [{ bearerAuth: [] }, { cookieAuth: [] }]

export interface AuthOptions {
  accounts: Accounts
  /** Marks the cookie Secure (serve over HTTPS). */
  cookieSecure?: boolean
}

type Credential = { token: string; via: 'cookie' | 'bearer' }

export function createAuth(options: AuthOptions) {
  const { accounts, cookieSecure = false } = options

  function credentialOf(request: FastifyRequest): Credential | undefined {
    const header = request.headers.authorization
    if (header !== undefined) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
      if (!match) throw unauthorized('the Authorization header must be "Bearer <token>"', words('bearer-header'))
      return { token: match[1]!, via: 'bearer' }
    }
    const cookie = request.cookies[SESSION_COOKIE]
    return cookie ? { token: cookie, via: 'cookie' } : undefined
  }

  function setSessionCookie(reply: FastifyReply, token: string, expiresAt: number): void {
    reply.setCookie(SESSION_COOKIE, token, {
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      secure: cookieSecure,
      maxAge: Math.max(0, Math.floor((expiresAt - Date.now()) / 1000)),
    })
  }

  function clearSessionCookie(reply: FastifyReply): void {
    reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax', secure: cookieSecure })
  }

  async function requireUser(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const credential = credentialOf(request)
    if (!credential) throw unauthorized('log in first: POST /api/auth/login, then send the session cookie or Authorization: Bearer <token>', words('log-in-first'))
    const session = await accounts.authenticate(credential.token)
    if (!session) {
      if (credential.via === 'cookie') clearSessionCookie(reply)
      throw unauthorized('the session has expired or was ended; log in again', words('session-ended'))
    }
    // Sliding expiry: renew the cookie along with the session so the browser keeps it as long.
    if (session.extended && credential.via === 'cookie') setSessionCookie(reply, credential.token, session.expiresAt)
    request.session = session
    request.sessionToken = credential.token
  }

  return {
    requireUser,

    requireRole(...roles: Role[]) {
      return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
        await requireUser(request, reply)
        const role = request.session!.user.role
        const username = request.session!.user.username
        if (!roles.includes(role)) throw forbidden(`this needs the role ${roles.join(' or ')}; user '${username}' is ${role}`, words('needs-role', { roles: roles.join(','), username, role }))
      }
    },

    setSessionCookie,

    clearSessionCookie,

    /**
     * For the Socket.IO handshake: the session from an explicit token (`auth: { token }`) or
     * from the cookie header. An explicit token that is wrong is an error (null); a stale cookie
     * just means anonymous ('anonymous').
     */
    async handshake(input: { cookieHeader?: string; token?: unknown }): Promise<{ session: Session; token: string } | 'anonymous' | null> {
      if (input.token !== undefined) {
        if (typeof input.token !== 'string') return null
        const session = await accounts.authenticate(input.token)
        return session ? { session, token: input.token } : null
      }
      const cookie = input.cookieHeader ? fastifyCookie.parse(input.cookieHeader)[SESSION_COOKIE] : undefined
      if (!cookie) return 'anonymous'
      const session = await accounts.authenticate(cookie)
      return session ? { session, token: cookie } : 'anonymous'
    },
  }
}

export type Auth = ReturnType<typeof createAuth>
