import { io as connect, type Socket as ClientSocket } from 'socket.io-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectError, startRolesApp, type Json, type RolesApp } from '../../../testkit/roles-app.ts'
import { ADMIN_PASSWORD } from '../../../testkit/test-app.ts'

describe('users and audit API', () => {
  let t: RolesApp
  const inject = (method: 'GET' | 'POST' | 'PATCH', url: string, token?: string, payload?: unknown) =>
    t.app.inject({ method, url, headers: token ? t.as(token) : {}, payload: payload as Json })
  const login = (username: string, password: string) => t.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password } })

  beforeAll(async () => {
    t = await startRolesApp({ realtime: { recheckSessionsMs: 60_000 } })
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  describe('GET /api/users', () => {
    it('lists every user with role, cities and disabled (admin)', async () => {
      const response = await inject('GET', '/api/users', t.tokens.admin)
      expect(response.statusCode).toBe(200)
      const items = (response.json() as Json).items as Json[]
      expect(items.map((u) => u.username)).toEqual(['admin', 'fred', 'ivan', 'olga'])
      expect(items.find((u) => u.username === 'ivan')).toEqual({ username: 'ivan', role: 'installer', cities: ['firenze'], disabled: false, createdAt: expect.any(String) })
      expect(JSON.stringify(items)).not.toMatch(/password|hash/)
    })

    it('answers 401 without a session and 403 for operators and installers', async () => {
      expectError(await inject('GET', '/api/users'), 401, 'unauthorized')
      expectError(await inject('GET', '/api/users', t.tokens.operator), 403, 'forbidden', /needs the role admin/)
      expectError(await inject('GET', '/api/users', t.tokens.installer), 403, 'forbidden')
    })
  })

  describe('POST /api/users', () => {
    it('creates a user with a role and cities (names accepted), who can log in; audited without the password', async () => {
      const response = await inject('POST', '/api/users', t.tokens.admin, { username: 'Nina', password: 'nina-password-1', role: 'installer', cities: ['Pisa', 'lucca'] })
      expect(response.statusCode, response.body).toBe(201)
      expect(response.headers.location).toBe('/api/users/nina')
      expect(response.json()).toEqual({ username: 'nina', role: 'installer', cities: ['pisa', 'lucca'], disabled: false, createdAt: expect.any(String) })
      expect((await login('nina', 'nina-password-1')).statusCode).toBe(200)
      const entry = (await t.audit.list({ target: 'nina' })).items[0]!
      expect(entry).toMatchObject({ actor: 'admin', action: 'user.create', targetType: 'user', changes: { role: { to: 'installer' }, cities: { to: ['pisa', 'lucca'] } } })
      expect(JSON.stringify(entry)).not.toContain('nina-password-1')
    })

    it('validates: role, short password, bad username, unknown city, unknown field, duplicates', async () => {
      const create = (payload: Json) => inject('POST', '/api/users', t.tokens.admin, payload)
      expectError(await create({ username: 'x1', password: 'long-enough', role: 'superuser' }), 400, 'validation', /field 'role' must be one of admin, operator, installer/)
      expectError(await create({ username: 'x1', password: 'short', role: 'operator' }), 400, 'validation', /field 'password' must have at least 8|password/)
      expectError(await create({ username: 'Bad Name!', password: 'long-enough', role: 'operator' }), 400, 'validation', /username 'Bad Name!' must be/)
      expectError(await create({ username: 'x2', password: 'long-enough', role: 'installer', cities: ['milano'] }), 400, 'validation', /unknown city 'milano'/)
      expectError(await create({ username: 'x3', password: 'long-enough', role: 'operator', admin: true }), 400, 'validation', /unknown field 'admin'/)
      expectError(await create({ username: 'ivan', password: 'long-enough', role: 'operator' }), 409, 'conflict', /already exists/)
    })

    it('answers 401 and 403', async () => {
      const payload = { username: 'x9', password: 'long-enough', role: 'admin' }
      expectError(await inject('POST', '/api/users', undefined, payload), 401, 'unauthorized')
      expectError(await inject('POST', '/api/users', t.tokens.installer, payload), 403, 'forbidden')
      expectError(await inject('POST', '/api/users', t.tokens.operator, payload), 403, 'forbidden')
    })
  })

  describe('PATCH /api/users/:id', () => {
    it('changes role and cities: audited field by field; the user\'s sessions end', async () => {
      await t.accounts.create({ username: 'paula', password: 'paula-password', role: 'operator' })
      const token = (await login('paula', 'paula-password')).json().token as string
      const response = await inject('PATCH', '/api/users/paula', t.tokens.admin, { role: 'installer', cities: ['siena'] })
      expect(response.statusCode, response.body).toBe(200)
      expect(response.json()).toMatchObject({ username: 'paula', role: 'installer', cities: ['siena'], disabled: false })
      expectError(await inject('GET', '/api/auth/me', token), 401, 'unauthorized')
      const me = (await inject('GET', '/api/auth/me', (await login('paula', 'paula-password')).json().token)).json() as Json
      expect(me.user).toMatchObject({ role: 'installer', cities: ['siena'] })
      expect((await t.audit.list({ target: 'paula', action: 'user.update' })).items[0]!.changes).toEqual({
        role: { from: 'operator', to: 'installer' },
        cities: { to: ['siena'] },
      })
      const cleared = await inject('PATCH', '/api/users/paula', t.tokens.admin, { cities: null })
      expect(cleared.json()).not.toHaveProperty('cities')
    })

    it('disables an account: no login, sessions and live sockets end at once; enabling lets them back', async () => {
      await t.accounts.create({ username: 'dora', password: 'dora-password', role: 'operator' })
      const token = (await login('dora', 'dora-password')).json().token as string
      await t.app.listen({ port: 0, host: '127.0.0.1' })
      const address = t.app.server.address()
      if (!address || typeof address === 'string') throw new Error('not listening')
      const socket: ClientSocket = connect(`http://127.0.0.1:${address.port}`, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { token } })
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve)
        socket.once('connect_error', reject)
      })
      let expired = false
      socket.on('session_expired', () => (expired = true))

      const response = await inject('PATCH', '/api/users/dora', t.tokens.admin, { disabled: true })
      expect(response.statusCode, response.body).toBe(200)
      expect(response.json()).toMatchObject({ username: 'dora', disabled: true })
      expectError(await inject('GET', '/api/auth/me', token), 401, 'unauthorized')
      expectError(await login('dora', 'dora-password'), 401, 'unauthorized', /wrong username or password/)
      await expect.poll(() => expired && socket.disconnected, { timeout: 20_000, message: 'the live socket to end' }).toBe(true)
      expect((await t.audit.list({ target: 'dora' })).items[0]).toMatchObject({ action: 'user.disable', changes: { disabled: { from: false, to: true } } })

      expect((await inject('PATCH', '/api/users/dora', t.tokens.admin, { disabled: false })).json()).toMatchObject({ disabled: false })
      expect((await login('dora', 'dora-password')).statusCode).toBe(200)
      expect((await t.audit.list({ target: 'dora' })).items[0]!.action).toBe('user.enable')
      socket.disconnect()
    })

    it('resets a password: the old one fails, the new one works, sessions end; the audit has no password', async () => {
      await t.accounts.create({ username: 'rita', password: 'rita-password-old', role: 'installer' })
      const token = (await login('rita', 'rita-password-old')).json().token as string
      const response = await inject('PATCH', '/api/users/rita', t.tokens.admin, { password: 'rita-password-new' })
      expect(response.statusCode, response.body).toBe(200)
      expectError(await inject('GET', '/api/auth/me', token), 401, 'unauthorized')
      expectError(await login('rita', 'rita-password-old'), 401, 'unauthorized')
      expect((await login('rita', 'rita-password-new')).statusCode).toBe(200)
      const entry = (await t.audit.list({ target: 'rita' })).items[0]!
      expect(entry).toMatchObject({ action: 'user.password-reset', changes: {} })
      expect(JSON.stringify((await t.audit.list()).items)).not.toContain('rita-password')
    })

    it('protects the last admin and one\'s own account; validates the patch', async () => {
      expectError(await inject('PATCH', '/api/users/admin', t.tokens.admin, { disabled: true }), 409, 'conflict', /cannot disable your own account/)
      expectError(await inject('PATCH', '/api/users/admin', t.tokens.admin, { role: 'operator' }), 409, 'conflict', /last enabled admin/)
      expectError(await inject('PATCH', '/api/users/ivan', t.tokens.admin, {}), 400, 'validation', /give at least one of role, cities, disabled, password/)
      expectError(await inject('PATCH', '/api/users/ivan', t.tokens.admin, { role: 'king' }), 400, 'validation', /field 'role' must be one of/)
      expectError(await inject('PATCH', '/api/users/ivan', t.tokens.admin, { password: 'short' }), 400, 'validation')
      expectError(await inject('PATCH', '/api/users/ivan', t.tokens.admin, { cities: ['atlantis'] }), 400, 'validation', /unknown city 'atlantis'/)
      expectError(await inject('PATCH', '/api/users/ivan', t.tokens.admin, { username: 'ivan2' }), 400, 'validation', /unknown field 'username'/)
      expectError(await inject('PATCH', '/api/users/nobody', t.tokens.admin, { role: 'operator' }), 404, 'not-found', /no user 'nobody'/)
      // A second admin makes the first one demotable.
      await inject('POST', '/api/users', t.tokens.admin, { username: 'second-admin', password: 'second-admin-pw', role: 'admin' })
      const second = (await login('second-admin', 'second-admin-pw')).json().token as string
      expect((await inject('PATCH', '/api/users/admin', second, { disabled: true })).statusCode).toBe(200)
      expect((await inject('PATCH', '/api/users/admin', second, { disabled: false })).statusCode).toBe(200)
      t.tokens.admin = (await login('admin', ADMIN_PASSWORD)).json().token
    })

    it('answers 401 and 403', async () => {
      expectError(await inject('PATCH', '/api/users/ivan', undefined, { role: 'admin' }), 401, 'unauthorized')
      expectError(await inject('PATCH', '/api/users/ivan', t.tokens.installer, { role: 'admin' }), 403, 'forbidden')
      expectError(await inject('PATCH', '/api/users/ivan', t.tokens.operator, { role: 'admin' }), 403, 'forbidden')
    })
  })

  describe('GET /api/audit', () => {
    it('lists changes newest first, filtered by actor, target, action and time', async () => {
      await inject('POST', '/api/devices', t.tokens.installer, { type: 'noise', city: 'firenze', name: 'Audited' })
      const get = async (query: string) => {
        const response = await inject('GET', `/api/audit${query}`, t.tokens.admin)
        expect(response.statusCode, response.body).toBe(200)
        return response.json() as Json
      }
      const all = await get('')
      expect(all.total).toBeGreaterThanOrEqual(8)
      expect(all.items.map((e: Json) => e.id)).toEqual([...all.items.map((e: Json) => e.id)].sort((a: number, b: number) => b - a))
      const byIvan = await get('?actor=ivan')
      expect(byIvan.items.every((e: Json) => e.actor === 'ivan')).toBe(true)
      expect(byIvan.items[0]).toMatchObject({ action: 'device.create', targetType: 'device' })
      expect((await get('?target=rita&action=user.password-reset')).total).toBe(1)
      expect((await get('?action=user.')).items.every((e: Json) => e.action.startsWith('user.'))).toBe(true)
      expect((await get('?targetType=device')).items.every((e: Json) => e.targetType === 'device')).toBe(true)
      const future = new Date(Date.now() + 3_600_000).toISOString()
      expect((await get(`?from=${future}`)).total).toBe(0)
      expect((await get(`?to=${future}&limit=2`)).items).toHaveLength(2)
    })

    it('validates its query and answers 401 and 403', async () => {
      expectError(await inject('GET', '/api/audit?action=device.explode', t.tokens.admin), 400, 'validation', /query parameter 'action' must be one of/)
      expectError(await inject('GET', '/api/audit?from=yesterday', t.tokens.admin), 400, 'validation', /query parameter 'from' must be an ISO 8601 time/)
      expectError(await inject('GET', '/api/audit?who=me', t.tokens.admin), 400, 'validation', /unknown query parameter 'who'/)
      expectError(await inject('GET', '/api/audit'), 401, 'unauthorized')
      expectError(await inject('GET', '/api/audit', t.tokens.operator), 403, 'forbidden')
      expectError(await inject('GET', '/api/audit', t.tokens.installer), 403, 'forbidden')
    })
  })
})
