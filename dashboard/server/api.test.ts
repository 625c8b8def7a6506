import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { InjectOptions } from 'fastify'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRegistry, openRegistryDatabase } from '../../devices/registry.ts'
import { randomBytes } from 'node:crypto'
import { buildApp } from './app.ts'
import { createLocalFeed } from '../../feed/feed.ts'
import { ADMIN_PASSWORD, line, startTestApp, type TestApp } from '../../testkit/test-app.ts'
import { linesToBatch } from '../../devices/line-protocol.ts'

const OPERATOR = { username: 'olga', password: 'operator-password', role: 'operator' as const }
const INSTALLER = { username: 'ivan', password: 'installer-password', role: 'installer' as const, cities: ['firenze'] }
const MINUTE = 60_000
const HOUR = 60 * MINUTE

type Json = Record<string, any>

function expectError(response: { statusCode: number; json(): unknown }, status: number, code: string, message?: RegExp): Json {
  expect(response.statusCode).toBe(status)
  const body = response.json() as Json
  expect(Object.keys(body)).toEqual(['error'])
  // `words` (the message's code and figures, for the pages' languages) where the server gives them.
  const { words, ...rest } = body.error
  expect(Object.keys(rest).sort()).toEqual(['code', 'message', 'status'])
  if (words !== undefined) expect(Object.keys(words).sort()).toEqual(['code', 'params'])
  expect(body.error.status).toBe(status)
  expect(body.error.code).toBe(code)
  expect(typeof body.error.message).toBe('string')
  if (message) expect(body.error.message).toMatch(message)
  return body
}

/** Minimal ingest-like status objects, for health states the real ingest does not easily reach. */
function fakeIngest(health: { ok: boolean; storageOk: boolean; backlogBytes?: number; overBudget?: boolean; lastStoredAt?: number }) {
  return {
    counters: { messages: 0, readingsAccepted: 0, readingsRejected: 0, rejectedByCode: {}, walErrors: 0, deadLettersOverQuota: 0 },
    stats: () => ({ wal: { unconfirmedBytes: health.backlogBytes ?? 0, overBudget: health.overBudget ?? false } }),
    health: async () => ({
      ok: health.ok,
      storage: { kind: 'embedded', ok: health.storageOk, detail: health.storageOk ? 'ok' : 'SQLite database is not open' },
      backlogBytes: health.backlogBytes ?? 0,
      overBudget: health.overBudget ?? false,
      lastStoredAt: health.lastStoredAt,
    }),
  }
}

describe('dashboard API', () => {
  let t: TestApp
  let admin: string
  let operator: string
  let installer: string
  const inject = (options: InjectOptions) => t.app.inject(options)
  const as = (token: string) => ({ authorization: `Bearer ${token}` })

  beforeAll(async () => {
    t = await startTestApp({ deps: { citiesCacheMs: 0, map: { styleUrl: 'https://tiles.example.org/style.json', attribution: 'Tiles: Comune di Prova' } } })
    await t.accounts.create(OPERATOR)
    await t.accounts.create(INSTALLER)
    admin = await t.login('admin', ADMIN_PASSWORD)
    operator = await t.login(OPERATOR.username, OPERATOR.password)
    installer = await t.login(INSTALLER.username, INSTALLER.password)
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  describe('errors', () => {
    it('answers unknown routes with 404 in the error shape', async () => {
      expectError(await inject({ url: '/api/nope' }), 404, 'not-found', /GET \/api\/nope/)
      expectError(await inject({ method: 'DELETE', url: '/api/devices' }), 404, 'not-found')
    })

    it('refuses bodies over 1 MiB with 413', async () => {
      const big = { type: 'noise', city: 'firenze', name: 'x'.repeat(1024 * 1024 + 10) }
      expectError(await inject({ method: 'POST', url: '/api/devices', headers: as(admin), payload: big }), 413, 'payload-too-large', /1 MiB/)
    })

    it('refuses malformed JSON with 400 and non-JSON bodies with 415', async () => {
      const bad = await inject({ method: 'POST', url: '/api/auth/login', headers: { 'content-type': 'application/json' }, payload: '{"username":' })
      expectError(bad, 400, 'bad-request')
      const text = await inject({ method: 'POST', url: '/api/auth/login', headers: { 'content-type': 'text/plain' }, payload: 'admin' })
      expectError(text, 415, 'unsupported-media-type')
    })

    it('sets security headers, with a CSP fit for a Vite build and maplibre workers', async () => {
      const response = await inject({ url: '/api/config' })
      expect(response.headers['x-content-type-options']).toBe('nosniff')
      expect(response.headers['referrer-policy']).toBe('strict-origin-when-cross-origin')
      expect(response.headers['x-frame-options']).toBe('DENY')
      const csp = String(response.headers['content-security-policy'])
      expect(csp).toContain("default-src 'self'")
      expect(csp).toContain("script-src 'self'")
      expect(csp).toContain('worker-src')
      expect(csp).toMatch(/worker-src [^;]*blob:/)
      expect(csp).toContain('https://tiles.example.org')
      expect(response.headers['cache-control']).toBe('no-store')
    })
  })

  describe('first start', () => {
    it('creates admin with the given password once, and never again', async () => {
      const db = openRegistryDatabase(':memory:')
      const registry = createRegistry({ db, secretKey: randomBytes(32) })
      const deps = { registry, db, secretKey: randomBytes(32), storage: t.storage, ingestStatus: t.ingest, feed: createLocalFeed(), logger: pino({ level: 'silent' }) }
      const first = await buildApp({ ...deps, adminPassword: 'given-password-1' })
      expect(first.generatedAdminPassword).toBeUndefined()
      const login = await first.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin', password: 'given-password-1' } })
      expect(login.statusCode).toBe(200)
      expect(login.json().user).toMatchObject({ username: 'admin', role: 'admin' })
      await first.close()

      // Users exist now: a different password on a later start changes nothing.
      const second = await buildApp({ ...deps, feed: createLocalFeed(), adminPassword: 'other-password-2' })
      expect(second.generatedAdminPassword).toBeUndefined()
      expect(second.accounts.list()).toHaveLength(1)
      const old = await second.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin', password: 'given-password-1' } })
      expect(old.statusCode).toBe(200)
      await second.close()
      db.close()
    })

    it('generates a password when none is given and returns it for printing once', async () => {
      const db = openRegistryDatabase(':memory:')
      const registry = createRegistry({ db, secretKey: randomBytes(32) })
      const built = await buildApp({ secretKey: randomBytes(32), registry, db, storage: t.storage, ingestStatus: t.ingest, feed: createLocalFeed(), logger: pino({ level: 'silent' }) })
      expect(built.generatedAdminPassword).toMatch(/^[A-Za-z0-9_-]{24,}$/)
      const login = await built.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin', password: built.generatedAdminPassword } })
      expect(login.statusCode).toBe(200)
      // Only the hash is stored.
      const row = db.prepare('SELECT password_hash FROM users WHERE username = ?').get('admin') as { password_hash: string }
      expect(row.password_hash.startsWith('scrypt$')).toBe(true)
      expect(row.password_hash).not.toContain(built.generatedAdminPassword)
      await built.close()
      db.close()
    })
  })

  describe('auth', () => {
    it('logs in with a bearer token in the body and an httpOnly SameSite=Lax cookie', async () => {
      const response = await inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'OLGA', password: OPERATOR.password } })
      expect(response.statusCode).toBe(200)
      const body = response.json() as Json
      expect(body.token).toMatch(/^[A-Za-z0-9_-]{40,}$/)
      expect(body.expiresAt).toBeGreaterThan(Date.now() + 11 * HOUR)
      expect(body.user).toEqual({ username: 'olga', role: 'operator', createdAt: expect.any(String) })
      const cookie = String(response.headers['set-cookie'])
      expect(cookie).toContain(`piazza_session=${body.token}`)
      expect(cookie).toContain('HttpOnly')
      expect(cookie).toContain('SameSite=Lax')
      expect(cookie).toContain('Path=/')
      // The cookie alone works, as a browser sends it.
      const me = await inject({ url: '/api/auth/me', cookies: { piazza_session: body.token } })
      expect(me.statusCode).toBe(200)
      expect(me.json().user.username).toBe('olga')
    })

    it('stores sessions hashed', async () => {
      const rows = t.db.prepare('SELECT token_hash FROM user_sessions').all() as { token_hash: string }[]
      expect(rows.length).toBeGreaterThan(0)
      expect(rows.map((r) => r.token_hash)).not.toContain(admin)
    })

    it('answers /api/auth/me for a bearer token, 401 without, with a bad header, or with an unknown token', async () => {
      const me = await inject({ url: '/api/auth/me', headers: as(installer) })
      expect(me.statusCode).toBe(200)
      expect(me.json().user).toEqual({ username: 'ivan', role: 'installer', cities: ['firenze'], createdAt: expect.any(String) })
      const none = await inject({ url: '/api/auth/me' })
      expectError(none, 401, 'unauthorized', /log in/)
      expect(none.headers['www-authenticate']).toContain('Bearer')
      expectError(await inject({ url: '/api/auth/me', headers: { authorization: 'Basic YWRtaW46YWRtaW4=' } }), 401, 'unauthorized', /Bearer <token>/)
      expectError(await inject({ url: '/api/auth/me', headers: as('not-a-token') }), 401, 'unauthorized', /expired or was ended/)
    })

    it('refuses a wrong password with 401 and an invalid body with 400', async () => {
      expectError(await inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin', password: 'wrong-password' } }), 401, 'unauthorized', /wrong username or password/)
      expectError(await inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'nobody', password: 'wrong-password' } }), 401, 'unauthorized', /wrong username or password/)
      expectError(await inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin' } }), 400, 'validation', /missing required field 'password'/)
      expectError(
        await inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin', password: 'x', remember: true } }),
        400,
        'validation',
        /unknown field 'remember' \(allowed: username, password\)/,
      )
      expectError(await inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin', password: 12345678 } }), 400, 'validation', /field 'password' must be a string/)
    })

    it('logout ends the session: the token stops working and the cookie is cleared', async () => {
      const token = await t.login(OPERATOR.username, OPERATOR.password)
      expect((await inject({ url: '/api/auth/me', headers: as(token) })).statusCode).toBe(200)
      const out = await inject({ method: 'POST', url: '/api/auth/logout', headers: as(token) })
      expect(out.statusCode).toBe(204)
      expect(out.body).toBe('')
      expect(String(out.headers['set-cookie'])).toMatch(/piazza_session=;.*Expires=Thu, 01 Jan 1970/)
      expectError(await inject({ url: '/api/auth/me', headers: as(token) }), 401, 'unauthorized', /expired or was ended/)
      expectError(await inject({ method: 'POST', url: '/api/auth/logout', headers: as(token) }), 401, 'unauthorized')
      // By cookie, as the browser does.
      const viaCookie = await t.login(OPERATOR.username, OPERATOR.password)
      expect((await inject({ method: 'POST', url: '/api/auth/logout', cookies: { piazza_session: viaCookie } })).statusCode).toBe(204)
      const stale = await inject({ url: '/api/auth/me', cookies: { piazza_session: viaCookie } })
      expectError(stale, 401, 'unauthorized')
      expect(String(stale.headers['set-cookie'])).toContain('piazza_session=;')
    })

    it('expires sessions after their lifetime', async () => {
      let now = Date.now()
      const { createAccounts } = await import('./identity/accounts.ts')
      const accounts = createAccounts({ db: t.db, sessionTtlMs: HOUR, now: () => now })
      const { token } = await accounts.createSession('admin')
      now += 30 * MINUTE
      const slid = await accounts.authenticate(token) // slides to now + 1 h, so a cookie is renewed too
      expect(slid).toMatchObject({ user: { username: 'admin' }, expiresAt: now + HOUR, extended: true })
      expect((await accounts.authenticate(token))?.extended).toBeUndefined() // not again within the minute
      now += 50 * MINUTE
      expect(await accounts.authenticate(token, { touch: false })).not.toBeNull()
      now += 11 * MINUTE
      expect(await accounts.authenticate(token)).toBeNull()
    })

    it('limits failed logins per username and address: 429 with Retry-After, the right password included', async () => {
      await t.accounts.create({ username: 'victim', password: 'victim-password', role: 'operator' })
      const attempt = (password: string, remoteAddress = '10.0.0.1', username = 'victim') =>
        inject({ method: 'POST', url: '/api/auth/login', remoteAddress, payload: { username, password } })
      for (let i = 0; i < 5; i++) expectError(await attempt(`wrong-${i}`), 401, 'unauthorized')
      const limited = await attempt('wrong-again')
      expectError(limited, 429, 'too-many-requests', /too many failed logins for 'victim'.*15 minutes/)
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(14 * 60)
      expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(15 * 60)
      expectError(await attempt('victim-password'), 429, 'too-many-requests')
      // Another address, or another user from the same address, is not affected.
      expect((await attempt('victim-password', '10.0.0.2')).statusCode).toBe(200)
      expect((await attempt(OPERATOR.password, '10.0.0.1', OPERATOR.username)).statusCode).toBe(200)
    })

    it('a successful login clears the failures', async () => {
      await t.accounts.create({ username: 'forgetful', password: 'forgetful-password', role: 'operator' })
      const attempt = (password: string) => inject({ method: 'POST', url: '/api/auth/login', remoteAddress: '10.0.0.9', payload: { username: 'forgetful', password } })
      for (let i = 0; i < 4; i++) expect((await attempt('nope-nope')).statusCode).toBe(401)
      expect((await attempt('forgetful-password')).statusCode).toBe(200)
      for (let i = 0; i < 4; i++) expect((await attempt('nope-nope')).statusCode).toBe(401)
      expect((await attempt('forgetful-password')).statusCode).toBe(200)
    })

    it('limits an address spraying a new username at every attempt, with backoff, and counts it in /metrics', async () => {
      const spray = (i: number) =>
        inject({ method: 'POST', url: '/api/auth/login', remoteAddress: '10.0.0.66', payload: { username: `nobody-${i}`, password: 'a-guess-a-guess' } })
      // 20 free failures from one address, whatever the names; the 21st starts a backoff.
      for (let i = 0; i < 21; i++) expect((await spray(i)).statusCode).toBe(401)
      const limited = await spray(99)
      expectError(limited, 429, 'too-many-requests', /too many failed logins from this address; try again in \d+ seconds?/)
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1)
      // A real user from that address waits too; from elsewhere they are let in.
      expectError(await inject({ method: 'POST', url: '/api/auth/login', remoteAddress: '10.0.0.66', payload: { username: OPERATOR.username, password: OPERATOR.password } }), 429, 'too-many-requests')
      expect((await inject({ method: 'POST', url: '/api/auth/login', remoteAddress: '10.0.0.67', payload: { username: OPERATOR.username, password: OPERATOR.password } })).statusCode).toBe(200)

      const metrics = (await inject({ url: '/metrics' })).body
      expect(Number(/^piazza_login_failures_total\{protocol="http"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(21)
      expect(Number(/^piazza_login_throttled_total\{protocol="http",cause="throttled"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(2)
      expect(metrics).toMatch(/^piazza_login_failures_total\{protocol="mqtt"\} \d+$/m)
    })
  })

  describe('authorization of every protected route', () => {
    const protectedRoutes = [
      { method: 'GET', url: '/api/auth/me' },
      { method: 'POST', url: '/api/auth/logout' },
      { method: 'GET', url: '/api/devices' },
      { method: 'GET', url: '/api/devices/aq-firenze-001' },
      { method: 'POST', url: '/api/devices', payload: { type: 'noise', city: 'firenze', name: 'n' } },
      { method: 'GET', url: '/api/devices/aq-firenze-001/readings' },
      { method: 'GET', url: '/api/devices/aq-firenze-001/latest' },
      { method: 'GET', url: '/api/cities' },
      { method: 'GET', url: '/api/dead-letters' },
    ] as const

    for (const route of protectedRoutes) {
      it(`${route.method} ${route.url} answers 401 without a session or with an ended one`, async () => {
        const payload = 'payload' in route ? route.payload : undefined
        expectError(await inject({ method: route.method, url: route.url, payload }), 401, 'unauthorized')
        expectError(await inject({ method: route.method, url: route.url, payload, headers: as('x'.repeat(43)) }), 401, 'unauthorized')
      })
    }

    it('POST /api/devices answers 403 for an operator', async () => {
      expectError(
        await inject({ method: 'POST', url: '/api/devices', headers: as(operator), payload: { type: 'noise', city: 'firenze', name: 'n' } }),
        403,
        'forbidden',
        /installer or admin; user 'olga' is operator/,
      )
    })

    it('public routes need no login', async () => {
      for (const url of ['/api/health', '/api/config', '/metrics', '/api/docs/json']) {
        expect((await inject({ url })).statusCode, url).toBe(200)
      }
    })
  })

  describe('devices', () => {
    let aq: Json

    beforeAll(async () => {
      const create = (payload: Json) => inject({ method: 'POST', url: '/api/devices', headers: as(admin), payload })
      aq = (await create({ id: 'aq-firenze-001', type: 'air-quality', city: 'firenze', name: 'Firenze Gramsci' })).json()
      await create({ id: 'aq-prato-001', type: 'air-quality', city: 'prato', name: 'Prato Roma' })
      await create({ id: 'noise-firenze-001', type: 'noise', city: 'firenze', name: 'Firenze Santa Croce' })
      for (let i = 0; i < 5; i++) await create({ id: `park-pisa-00${i}`, type: 'parking', city: 'pisa', name: `Pisa park ${i}` })
      t.registry.setStatus('park-pisa-004', 'revoked')
    })

    it('an installer registers a device: 201 with its id, location and its secret once', async () => {
      const response = await inject({
        method: 'POST',
        url: '/api/devices',
        headers: as(installer),
        payload: { type: 'weather', city: 'Firenze', name: 'Firenze Careggi', lat: 43.8, lon: 11.25, interval: 30, metadata: { mast: 'north', height: 12, heated: true } },
      })
      expect(response.statusCode).toBe(201)
      const body = response.json() as Json
      expect(body).toMatchObject({ type: 'weather', city: 'firenze', name: 'Firenze Careggi', lat: 43.8, lon: 11.25, interval: 30, status: 'active', createdBy: 'ivan' })
      expect(body.metadata).toEqual({ mast: 'north', height: 12, heated: true })
      expect(body.id).toMatch(/^wx-firenze-[0-9a-f]{6}$/)
      expect(response.headers.location).toBe(`/api/devices/${body.id}`)
      expect(typeof body.secret).toBe('string')
      // The secret is the device's MQTT password, and is never shown again.
      expect(await t.registry.checkCredentials(body.id, body.secret)).toMatchObject({ ok: true })
      const again = await inject({ url: `/api/devices/${body.id}`, headers: as(installer) })
      expect(again.json()).not.toHaveProperty('secret')
    })

    it('refuses unknown cities and types, places outside the region, unknown fields and duplicate ids', async () => {
      const create = (payload: Json) => inject({ method: 'POST', url: '/api/devices', headers: as(admin), payload })
      expectError(await create({ type: 'noise', city: 'milano', name: 'n' }), 400, 'validation', /unknown city 'milano'; cities: firenze, prato/)
      expectError(await create({ type: 'submarine', city: 'firenze', name: 'n' }), 400, 'validation', /field 'type' must be one of air-quality, noise, .*; got "submarine"/)
      expectError(await create({ type: 'noise', city: 'firenze', name: 'n', lat: 45.46, lon: 9.19 }), 400, 'validation', /outside the region/)
      expectError(await create({ type: 'noise', city: 'firenze', name: 'n', lat: 43.7 }), 400, 'validation', /both lat and lon/)
      expectError(await create({ type: 'noise', city: 'firenze', name: 'n', secret: 'mine' }), 400, 'validation', /unknown field 'secret'/)
      expectError(await create({ type: 'noise', city: 'firenze', name: 'n', interval: 0 }), 400, 'validation', /field 'interval' must be >= 1; got 0/)
      expectError(await create({ type: 'noise', city: 'firenze', name: 'n', metadata: { a: [1] } }), 400, 'validation', /field 'metadata.a' must be a string or a number or a boolean/)
      expectError(await create({ type: 'noise', city: 'firenze' }), 400, 'validation', /missing required field 'name'/)
      expectError(await create([{ type: 'noise', city: 'firenze', name: 'n' }] as unknown as Json), 400, 'validation', /the body must be an object; got \[/)
      expectError(await inject({ method: 'POST', url: '/api/devices', headers: as(admin) }), 400, 'validation', /the body must be an object; got null/)
      expectError(await create({ id: 'aq-firenze-001', type: 'air-quality', city: 'firenze', name: 'again' }), 409, 'conflict', /already exists/)
    })

    it('lists with filters, search and paging, with total', async () => {
      const list = async (query: string) => {
        const response = await inject({ url: `/api/devices${query}`, headers: as(operator) })
        expect(response.statusCode, response.body).toBe(200)
        return response.json() as Json
      }
      const all = await list('')
      expect(all.total).toBeGreaterThanOrEqual(8)
      expect(all.limit).toBe(100)
      expect(all.offset).toBe(0)
      expect((await list('?city=firenze&type=air-quality')).items.map((d: Json) => d.id)).toEqual(['aq-firenze-001'])
      expect((await list('?city=Pisa&status=revoked')).items.map((d: Json) => d.id)).toEqual(['park-pisa-004'])
      expect((await list('?search=SANTA')).items.map((d: Json) => d.id)).toEqual(['noise-firenze-001'])
      const page = await list('?type=parking&limit=2&offset=2')
      expect(page.total).toBe(5)
      expect(page.items.map((d: Json) => d.id)).toEqual(['park-pisa-002', 'park-pisa-003'])
    })

    it('refuses bad list queries precisely', async () => {
      const list = (query: string) => inject({ url: `/api/devices${query}`, headers: as(operator) })
      expectError(await list('?limit=1001'), 400, 'validation', /query parameter 'limit' must be <= 1000; got 1001/)
      expectError(await list('?limit=ten'), 400, 'validation', /query parameter 'limit' must be an integer; got "ten"/)
      expectError(await list('?offset=-1'), 400, 'validation', /query parameter 'offset' must be >= 0/)
      expectError(await list('?colour=red'), 400, 'validation', /unknown query parameter 'colour' \(allowed: city, type, status, search, sort, order, limit, offset\)/)
      expectError(await list('?city=atlantis'), 400, 'validation', /unknown city 'atlantis'/)
      expectError(await list('?status=lost'), 400, 'validation', /query parameter 'status' must be one of active, revoked, decommissioned/)
    })

    it('shows live connection state and last seen', async () => {
      t.feed.connection('aq-firenze-001', true)
      t.feed.accepted({ id: 'aq-firenze-001', type: 'air-quality', city: 'firenze' }, [{ time: Date.now(), values: { pm25: 3 } }], 1_700_000_000_000)
      const one = (await inject({ url: '/api/devices/aq-firenze-001', headers: as(operator) })).json() as Json
      expect(one).toMatchObject({ id: 'aq-firenze-001', connected: true, lastSeen: 1_700_000_000_000 })
      const listed = (await inject({ url: '/api/devices?city=prato', headers: as(operator) })).json() as Json
      expect(listed.items[0]).toMatchObject({ id: 'aq-prato-001', connected: false })
      expect(listed.items[0]).not.toHaveProperty('lastSeen')
      t.feed.connection('aq-firenze-001', false)
    })

    it('gets one device: 404 when unknown, 400 for a malformed id', async () => {
      const response = await inject({ url: '/api/devices/aq-firenze-001', headers: as(operator) })
      expect(response.statusCode).toBe(200)
      expect(response.json()).toMatchObject({ id: aq.id, type: 'air-quality', city: 'firenze', name: 'Firenze Gramsci', status: 'active' })
      expectError(await inject({ url: '/api/devices/aq-nowhere-999', headers: as(operator) }), 404, 'not-found', /no device with id 'aq-nowhere-999'/)
      expectError(await inject({ url: '/api/devices/NOT_AN_ID', headers: as(operator) }), 400, 'validation', /path parameter 'id' must match/)
    })
  })

  describe('readings', () => {
    const now = Date.now()
    const base = Math.floor((now - 2 * HOUR) / HOUR) * HOUR

    beforeAll(async () => {
      // A reading a minute for the last two hours and a bit.
      const lines: string[] = []
      for (let time = base; time < now - MINUTE; time += MINUTE) {
        lines.push(line('air-quality', 'firenze', 'aq-firenze-001', time, { pm25: (time - base) / MINUTE, pm10: 40 }))
      }
      lines.push(line('air-quality', 'prato', 'aq-prato-001', now - 10 * MINUTE, { pm25: 30, no2: 50 }))
      expect(await t.storage.write(linesToBatch(lines))).toEqual({ rejected: [] })
    })

    const get = (url: string, token = operator) => inject({ url, headers: as(token) })

    it('answers the last hour of raw readings by default', async () => {
      const response = await get('/api/devices/aq-firenze-001/readings?field=pm25')
      expect(response.statusCode, response.body).toBe(200)
      const body = response.json() as Json
      expect(body).toMatchObject({ device: 'aq-firenze-001', type: 'air-quality', field: 'pm25', unit: 'µg/m³', every: null, aggregate: null })
      expect(body.to - body.from).toBe(HOUR)
      expect(body.points.length).toBeGreaterThanOrEqual(58)
      expect(body.points.length).toBeLessThanOrEqual(61)
      for (const p of body.points) expect(p.time).toBeGreaterThanOrEqual(body.from)
      expect(body.points.map((p: Json) => p.time)).toEqual([...body.points.map((p: Json) => p.time)].sort((a, b) => a - b))
    })

    it('aggregates by a window, with ISO or epoch bounds', async () => {
      const from = new Date(base).toISOString()
      const response = await get(`/api/devices/aq-firenze-001/readings?field=pm25&from=${from}&to=${base + HOUR}&every=15m`)
      expect(response.statusCode, response.body).toBe(200)
      const body = response.json() as Json
      expect(body.every).toBe(15 * MINUTE)
      expect(body.aggregate).toBe('mean')
      expect(body.points).toEqual([
        { time: base, value: 7 },
        { time: base + 15 * MINUTE, value: 22 },
        { time: base + 30 * MINUTE, value: 37 },
        { time: base + 45 * MINUTE, value: 52 },
      ])
      const max = await get(`/api/devices/aq-firenze-001/readings?field=pm25&from=${base}&to=${base + HOUR}&every=3600&aggregate=max`)
      expect(max.json().points).toEqual([{ time: base, value: 59 }])
    })

    it('caps the points: chooses a coarser window when the range would exceed 2000', async () => {
      const lines: string[] = []
      const start = now - HOUR
      for (let i = 0; i < 2500; i++) lines.push(line('air-quality', 'prato', 'aq-prato-001', start + i * 1000, { pm10: i }))
      expect(await t.storage.write(linesToBatch(lines))).toEqual({ rejected: [] })
      const raw = (await get(`/api/devices/aq-prato-001/readings?field=pm10&from=${start}&to=${start + HOUR}`)).json() as Json
      expect(raw.every).toBe(2000)
      expect(raw.aggregate).toBe('mean')
      expect(raw.points.length).toBeLessThanOrEqual(2000)
      expect(raw.points[0]).toEqual({ time: start - (start % 2000), value: expect.any(Number) })
      const tooFine = (await get(`/api/devices/aq-prato-001/readings?field=pm10&from=${start}&to=${start + 24 * HOUR}&every=1s`)).json() as Json
      expect(tooFine.every).toBe(60_000)
      expect(tooFine.points.length).toBeLessThanOrEqual(2000)
    })

    it('over more than a week, picks windows of whole hours (served by the rollups)', async () => {
      // Ten minutes into an hour, so both readings share it whatever minute the test runs at.
      const start = now - 20 * 24 * HOUR - (now % HOUR) + 10 * 60_000
      const lines = [line('air-quality', 'firenze', 'aq-firenze-001', start + 60_000, { so2: 4 }), line('air-quality', 'firenze', 'aq-firenze-001', start + 120_000, { so2: 8 })]
      expect(await t.storage.write(linesToBatch(lines))).toEqual({ rejected: [] })
      const month = (await get(`/api/devices/aq-firenze-001/readings?field=so2&from=${start}&to=${now}`)).json() as Json
      expect(month.every).toBe(HOUR)
      expect(month.points[0]).toEqual({ time: start - (start % HOUR), value: 6 })
      const asked = (await get(`/api/devices/aq-firenze-001/readings?field=so2&from=${start}&to=${now}&every=1m`)).json() as Json
      expect(asked.every).toBe(HOUR)
      // Within a week, raw readings as before.
      const week = (await get(`/api/devices/aq-firenze-001/readings?field=so2&from=${start}&to=${start + 7 * 24 * HOUR}`)).json() as Json
      expect(week.every).toBeNull()
      expect(week.points.map((p: Json) => p.value)).toEqual([4, 8])
    })

        it('validates field, times and window precisely', async () => {
      expectError(await get('/api/devices/aq-firenze-001/readings?field=LAeq'), 400, 'validation', /device 'aq-firenze-001' \(air-quality\) has no field 'LAeq'; fields: pm25, pm10, no2, o3, so2, co/)
      expectError(await get('/api/devices/aq-firenze-001/readings?from=yesterday'), 400, 'validation', /query parameter 'from' must be an ISO 8601 time/)
      expectError(await get(`/api/devices/aq-firenze-001/readings?from=${now}&to=${now - HOUR}`), 400, 'validation', /'from' .* must be before 'to'/)
      expectError(await get('/api/devices/aq-firenze-001/readings?every=fortnight'), 400, 'validation', /query parameter 'every' must be a window/)
      expectError(await get('/api/devices/aq-firenze-001/readings?every=500ms'), 400, 'validation', /between 1s and 366d/)
      expectError(await get('/api/devices/aq-firenze-001/readings?aggregate=median&every=1m'), 400, 'validation', /query parameter 'aggregate' must be one of mean, min, max, count, last/)
      expectError(await get('/api/devices/aq-firenze-001/readings?aggregate=max'), 400, 'validation', /'aggregate' needs 'every'/)
      expectError(await get('/api/devices/aq-firenze-001/readings?limit=5'), 400, 'validation', /unknown query parameter 'limit'/)
      expectError(await get('/api/devices/aq-nowhere-001/readings'), 404, 'not-found')
    })

    it('answers latest from storage, from the live stream when newer, or none', async () => {
      const stored = (await get('/api/devices/aq-prato-001/latest')).json() as Json
      expect(stored).toMatchObject({ device: 'aq-prato-001', type: 'air-quality', source: 'storage' })
      expect(stored.values).toMatchObject({ pm25: 30, no2: 50, pm10: 2499 })
      t.feed.accepted({ id: 'aq-prato-001', type: 'air-quality', city: 'prato' }, [{ time: now + 1000, values: { ts: now + 1000, pm25: 31 } }], now)
      const live = (await get('/api/devices/aq-prato-001/latest')).json() as Json
      expect(live).toEqual({ device: 'aq-prato-001', type: 'air-quality', time: now + 1000, source: 'live', values: { pm25: 31, no2: 50, pm10: 2499 } })
      const none = (await get('/api/devices/park-pisa-000/latest')).json() as Json
      expect(none).toEqual({ device: 'park-pisa-000', type: 'parking', time: null, values: {}, source: 'none' })
      expectError(await get('/api/devices/aq-nowhere-001/latest'), 404, 'not-found')
      expectError(await get('/api/devices/Bad!/latest'), 400, 'validation')
    })
  })

  describe('cities', () => {
    it('summarises the ten cities: devices by type and status, connected, last-hour aggregates', async () => {
      t.feed.connection('park-pisa-000', true)
      const response = await inject({ url: '/api/cities', headers: as(operator) })
      expect(response.statusCode, response.body).toBe(200)
      const body = response.json() as Json
      expect(body.items).toHaveLength(10)
      expect(body.window.to - body.window.from).toBe(HOUR)
      const pisa = body.items.find((c: Json) => c.id === 'pisa')
      expect(pisa).toMatchObject({ name: 'Pisa', devices: { total: 5, connected: 1 } })
      expect(pisa.devices.byType.parking).toBe(5)
      expect(pisa.devices.byStatus).toEqual({ active: 4, revoked: 1, decommissioned: 0 })
      const prato = body.items.find((c: Json) => c.id === 'prato')
      const pm25 = prato.current.find((a: Json) => a.field === 'pm25')
      expect(pm25).toMatchObject({ type: 'air-quality', unit: 'µg/m³', label: 'PM2.5', mean: 30, count: 1 })
      const lucca = body.items.find((c: Json) => c.id === 'lucca')
      expect(lucca).toMatchObject({ devices: { total: 0, connected: 0 }, current: [] })
      t.feed.connection('park-pisa-000', false)
    })

    it('refuses a query string', async () => {
      expectError(await inject({ url: '/api/cities?city=pisa', headers: as(operator) }), 400, 'validation', /unknown query parameter 'city'/)
    })
  })

  describe('dead letters', () => {
    beforeAll(async () => {
      const letter = (deviceId: string, receivedAt: number, code: string) => ({ deviceId, receivedAt, topic: `devices/${deviceId}/telemetry`, code, reason: `${code} happened`, payload: '{}' })
      await t.storage.writeDeadLetters([
        letter('aq-firenze-001', Date.now() - 3000, 'unknown-field'),
        letter('aq-firenze-001', Date.now() - 2000, 'out-of-range'),
        letter('noise-firenze-001', Date.now() - 1000, 'missing-field'),
      ])
    })

    it('lists refused payloads newest first, by device and limited', async () => {
      const all = (await inject({ url: '/api/dead-letters', headers: as(installer) })).json() as Json
      expect(all.items.map((l: Json) => l.code)).toEqual(['missing-field', 'out-of-range', 'unknown-field'])
      const one = (await inject({ url: '/api/dead-letters?device=aq-firenze-001&limit=1', headers: as(installer) })).json() as Json
      expect(one.items).toHaveLength(1)
      expect(one.items[0]).toMatchObject({ deviceId: 'aq-firenze-001', code: 'out-of-range', reason: 'out-of-range happened', topic: 'devices/aq-firenze-001/telemetry' })
    })

    it('validates its query', async () => {
      expectError(await inject({ url: '/api/dead-letters?limit=0', headers: as(installer) }), 400, 'validation', /query parameter 'limit' must be >= 1/)
      expectError(await inject({ url: '/api/dead-letters?device=../etc', headers: as(installer) }), 400, 'validation', /query parameter 'device' must match/)
    })
  })

  describe('limits', () => {
    it('limits every route per client address, answering 429 with Retry-After in the API error shape', async () => {
      const db = openRegistryDatabase(':memory:')
      const built = await buildApp({ secretKey: randomBytes(32), registry: createRegistry({ db, secretKey: randomBytes(32) }), db, storage: t.storage, ingestStatus: t.ingest, feed: createLocalFeed(), logger: pino({ level: 'silent' }), adminPassword: ADMIN_PASSWORD, rateLimit: { max: 5, windowMs: 60_000 } })
      const statuses: number[] = []
      for (let i = 0; i < 6; i++) statuses.push((await built.app.inject({ url: '/api/config' })).statusCode)
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429])
      const refused = await built.app.inject({ url: '/api/auth/me' })
      expectError(refused, 429, 'too-many-requests', /at most 5 per 60 s/)
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0)
      // Another address is not held back.
      expect((await built.app.inject({ url: '/api/config', remoteAddress: '127.0.0.2' })).statusCode).toBe(200)
      await built.close()
      db.close()
    })

    it('asks storage for its health at most once a second, however many ask', async () => {
      let calls = 0
      const ingest = fakeIngest({ ok: true, storageOk: true })
      const counted = { ...ingest, health: () => ((calls += 1), ingest.health()) }
      const db = openRegistryDatabase(':memory:')
      const built = await buildApp({ secretKey: randomBytes(32), registry: createRegistry({ db, secretKey: randomBytes(32) }), db, storage: t.storage, ingestStatus: counted, feed: createLocalFeed(), logger: pino({ level: 'silent' }), adminPassword: ADMIN_PASSWORD })
      const answers = await Promise.all(Array.from({ length: 50 }, () => built.app.inject({ url: '/api/health' })))
      expect(answers.every((a) => a.statusCode === 200)).toBe(true)
      expect(calls).toBe(1)
      await built.close()
      db.close()
    })
  })

  describe('health', () => {
    it('answers 200 with each part when ready', async () => {
      const response = await inject({ url: '/api/health' })
      expect(response.statusCode).toBe(200)
      const body = response.json() as Json
      expect(body).toMatchObject({
        ready: true,
        broker: { ok: true, connectedDevices: 0 },
        ingest: { ok: true, overBudget: false },
        storage: { ok: true, kind: 'embedded' },
        stream: { ok: true, sockets: 0 },
      })
      expect(typeof body.ingest.backlogBytes).toBe('number')
      expect(typeof body.ingest.lagMs).toBe('number')
    })

    it('answers 503 with the reason when storage is down, the log over budget or the broker not listening', async () => {
      const build = async (ingestStatus: ReturnType<typeof fakeIngest>, broker?: { connectedDevices(): number; isConnected(): boolean; listening(): boolean }) => {
        const db = openRegistryDatabase(':memory:')
        const built = await buildApp({ secretKey: randomBytes(32), registry: createRegistry({ db, secretKey: randomBytes(32) }), db, storage: t.storage, ingestStatus, broker, feed: createLocalFeed(), logger: pino({ level: 'silent' }), adminPassword: ADMIN_PASSWORD })
        const response = await built.app.inject({ url: '/api/health' })
        await built.close()
        db.close()
        return response
      }
      const down = await build(fakeIngest({ ok: false, storageOk: false, backlogBytes: 5000, lastStoredAt: Date.now() - 60_000 }))
      expect(down.statusCode).toBe(503)
      expect(down.json()).toMatchObject({ ready: false, ingest: { ok: false, backlogBytes: 5000, detail: 'storage is not accepting writes' }, storage: { ok: false, detail: 'SQLite database is not open' } })
      expect(down.json().ingest.lagMs).toBeGreaterThanOrEqual(60_000)
      const full = await build(fakeIngest({ ok: false, storageOk: true, backlogBytes: 10, overBudget: true }))
      expect(full.statusCode).toBe(503)
      expect(full.json().ingest.detail).toMatch(/over its disk budget/)
      const deaf = await build(fakeIngest({ ok: true, storageOk: true }), { connectedDevices: () => 0, isConnected: () => false, listening: () => false })
      expect(deaf.statusCode).toBe(503)
      expect(deaf.json().broker).toEqual({ ok: false, connectedDevices: 0, listening: false })
    })
  })

  describe('metrics', () => {
    it('exposes ingest, storage, broker, socket and process metrics in Prometheus text', async () => {
      const device = { id: 'aq-firenze-001', type: 'air-quality' as const, city: 'firenze' }
      const payload = Buffer.from(JSON.stringify([{ ts: Date.now(), pm25: 12 }, { ts: Date.now(), pm25: -5 }, { ts: Date.now(), dust: 1 }]))
      await new Promise<void>((resolve, reject) => t.ingest.accept(device, payload, Date.now(), (err) => (err ? reject(err) : resolve())))
      await expect.poll(() => t.ingest.stats().shipper?.storedReadings ?? 0, { timeout: 20_000, message: 'the reading to be stored' }).toBeGreaterThan(0)
      const response = await inject({ url: '/metrics' })
      expect(response.statusCode).toBe(200)
      expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/)
      const text = response.body
      const value = (name: string) => Number(new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1])
      expect(value('piazza_readings_accepted_total')).toBeGreaterThanOrEqual(1)
      expect(value('piazza_readings_rejected_total{code="out-of-range"}')).toBeGreaterThanOrEqual(1)
      expect(value('piazza_readings_rejected_total{code="unknown-field"}')).toBeGreaterThanOrEqual(1)
      expect(value('piazza_readings_stored_total')).toBeGreaterThanOrEqual(1)
      expect(value('piazza_storage_batches_total')).toBeGreaterThanOrEqual(1)
      expect(value('piazza_wal_backlog_bytes')).toBeGreaterThanOrEqual(0)
      expect(value('piazza_mqtt_connected_devices')).toBe(0)
      expect(value('piazza_socket_clients')).toBe(0)
      expect(text).toMatch(/^process_cpu_user_seconds_total /m)
      expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m)
      expect(text).toMatch(/^piazza_http_request_duration_seconds_count\{method="GET",route="\/api\/health",status="200"\} /m)
    })
  })

  describe('config', () => {
    it('serves map style, region, cities and kinds with fields, units and labels', async () => {
      const response = await inject({ url: '/api/config' })
      expect(response.statusCode).toBe(200)
      const body = response.json() as Json
      expect(body.baseMap).toEqual({ styleUrl: 'https://tiles.example.org/style.json', pmtilesUrl: null, attribution: 'Tiles: Comune di Prova' })
      expect(body.region).toEqual({ name: 'Toscana', bbox: { west: expect.any(Number), south: expect.any(Number), east: expect.any(Number), north: expect.any(Number) } })
      expect(body.cities).toHaveLength(10)
      const aqKind = body.kinds.find((k: Json) => k.type === 'air-quality')
      expect(aqKind.fields[0]).toEqual({ name: 'pm25', label: 'PM2.5', unit: 'µg/m³', minimum: 0, maximum: 1000, integer: false, public: true })
      const bus = body.kinds.find((k: Json) => k.type === 'bus')
      expect(bus.tags).toEqual([{ name: 'route', label: 'Route' }])
      expect(bus.fields.every((f: Json) => f.public === false)).toBe(true)
      expect(body.kinds.map((k: Json) => k.type)).toEqual(['air-quality', 'noise', 'weather', 'traffic-counter', 'bus', 'parking', 'bike-dock'])
    })

    it('refuses a query string', async () => {
      expectError(await inject({ url: '/api/config?x=1' }), 400, 'validation')
    })
  })

  describe('OpenAPI', () => {
    it('serves the document listing every route with schemas, and the UI', async () => {
      const response = await inject({ url: '/api/docs/json' })
      expect(response.statusCode).toBe(200)
      const doc = response.json() as Json
      expect(doc.openapi).toMatch(/^3\./)
      expect(Object.keys(doc.paths).sort()).toEqual(
        [
          '/api/admin/gtfs/{city}',
          '/api/auth/login',
          '/api/auth/logout',
          '/api/auth/me',
          '/api/cities',
          '/api/config',
          '/api/dead-letters',
          '/api/devices',
          '/api/devices/{id}',
          '/api/devices/{id}/latest',
          '/api/devices/{id}/readings',
          '/api/health',
          '/metrics',
          // Installers and roles (issue #6)
          '/api/audit',
          '/api/devices/import',
          '/api/devices/import/template',
          '/api/devices/{id}/commissioning',
          '/api/devices/{id}/decommission',
          '/api/devices/{id}/revoke',
          '/api/devices/{id}/rotate',
          '/api/mqtt',
          '/api/users',
          '/api/users/{id}',
          // Operators: device states and alerts (issue #4)
          '/api/alert-rules',
          '/api/alert-rules/{id}',
          '/api/alerts',
          '/api/alerts/{id}/ack',
          '/api/device-states',
          // Alerts as incidents (issue 13)
          '/api/alert-groups',
          '/api/alerts/ack',
          '/api/alerts/{id}/timeline',
          '/api/alerts/{id}/comments',
          '/api/alerts/{id}/assignee',
          '/api/alert-assignees',
          '/api/alert-silences',
          '/api/alert-silences/{id}',
          // Notifications through contact points (issue #13)
          '/api/contact-points',
          '/api/contact-points/{id}',
          '/api/contact-points/{id}/deliveries',
          '/api/contact-points/{id}/test',
          // Citizens and open data (issue #5)
          '/api/public/air-quality',
          '/api/public/air-quality/history',
          '/api/public/air-quality/statistics',
          '/api/public/readings',
          '/api/public/stations',
          '/api/public/stations/{id}/readings',
          // Infomobility feeds (issue #15)
          '/api/public/catalog',
          '/api/public/gbfs/manifest.json',
          '/api/public/gbfs/{city}/{file}',
          '/api/public/gbfs/2.3/{city}/{file}',
          '/api/public/gbfs/2.3/{city}/{language}/{file}',
          '/api/public/gtfs-rt/trip-updates',
          '/api/public/gtfs-rt/vehicle-positions',
          '/api/public/parking',
        ].sort(),
      )
      expect(Object.keys(doc.paths['/api/devices'])).toEqual(['get', 'post'])
      const post = doc.paths['/api/devices'].post
      expect(post.requestBody.content['application/json'].schema.additionalProperties).toBe(false)
      expect(Object.keys(post.responses)).toEqual(expect.arrayContaining(['201', '400', '401', '403', '409']))
      expect(post.security).toEqual([{ bearerAuth: [] }, { cookieAuth: [] }])
      expect(doc.components.securitySchemes.bearerAuth).toEqual({ type: 'http', scheme: 'bearer' })
      const ui = await inject({ url: '/api/docs' })
      expect([200, 302]).toContain(ui.statusCode)
    })
  })
})

describe('static dashboard', () => {
  let t: TestApp

  beforeAll(async () => {
    const { mkdtempSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const dist = mkdtempSync(join(tmpdir(), 'piazza-dist-'))
    mkdirSync(join(dist, 'assets'))
    writeFileSync(join(dist, 'index.html'), '<!doctype html><title>Piazza</title><div id="root"></div>')
    writeFileSync(join(dist, 'assets', 'index-3f9a1c.js'), 'console.log("piazza")')
    writeFileSync(join(dist, 'favicon.svg'), '<svg/>')
    t = await startTestApp({ deps: { staticDir: dist } })
    return () => rmSync(dist, { recursive: true, force: true })
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  it('serves index.html at / without caching and hashed assets for a year', async () => {
    const index = await t.app.inject({ url: '/' })
    expect(index.statusCode).toBe(200)
    expect(index.headers['content-type']).toMatch(/^text\/html/)
    expect(index.body).toContain('<div id="root">')
    expect(index.headers['cache-control']).toBe('no-cache')
    expect(index.headers['content-security-policy']).toContain("script-src 'self'")
    const asset = await t.app.inject({ url: '/assets/index-3f9a1c.js' })
    expect(asset.statusCode).toBe(200)
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    expect((await t.app.inject({ url: '/favicon.svg' })).headers['cache-control']).toBe('no-cache')
  })

  it('falls back to index.html for app routes, not for the API or missing files', async () => {
    const route = await t.app.inject({ url: '/cities/firenze?tab=air' })
    expect(route.statusCode).toBe(200)
    expect(route.body).toContain('<div id="root">')
    expect(route.headers['cache-control']).toBe('no-cache')
    expectError(await t.app.inject({ url: '/api/unknown' }), 404, 'not-found')
    expectError(await t.app.inject({ url: '/assets/missing-123.js' }), 404, 'not-found')
    expectError(await t.app.inject({ method: 'POST', url: '/cities/firenze', payload: {} }), 404, 'not-found')
  })
})
