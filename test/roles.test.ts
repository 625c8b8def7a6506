import type { InjectOptions } from 'fastify'
import { io as connect, type Socket as ClientSocket } from 'socket.io-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { gtfsZip, minimalGtfs } from '../testkit/gtfs-zip.ts'
import { startRolesApp, type Json, type RolesApp } from '../testkit/roles-app.ts'

/**
 * Roles, everywhere: every route the API registers (enumerated from the Fastify instance, so a
 * route added later cannot be forgotten) is called as nobody, admin, operator and installer, and
 * device routes also as an installer reaching for another city's device. Each answer must have
 * exactly the status in the table below. A route without an entry fails the test, and so does an
 * entry for a route that no longer exists.
 *
 * The installer `ivan` works in Firenze; "own" devices stand in Firenze, "foreign" ones in Prato.
 * HEAD routes (Fastify adds one per GET) are expected to answer like their GET; a HEAD without a
 * GET twin needs its own entry.
 */

type Who = 'anonymous' | 'admin' | 'operator' | 'installer'
const WHO: readonly Who[] = ['anonymous', 'admin', 'operator', 'installer']

interface Context {
  t: RolesApp
  /** A device in Firenze (the installer's city), fresh for routes that change it. */
  ownDevice(fresh?: boolean): Promise<string>
  /** A device in Prato, registered by an admin. */
  foreignDevice(fresh?: boolean): Promise<string>
  /** A new session of a role, for routes that end it. */
  freshToken(who: Who): Promise<string | undefined>
  unique(prefix: string): string
  /** A new alert rule (on the own device), by an admin. */
  freshRule(): Promise<number>
  /** A new open alert (a rule on the own device and a reading that breaks it). */
  freshAlert(): Promise<number>
}

type RequestSpec = Omit<InjectOptions, 'method'> & { url: string; token?: string | null }

interface Expectation {
  /** Builds the request; `foreign` asks for the other city's device. */
  request: (c: Context, who: Who, foreign: boolean) => Promise<RequestSpec> | RequestSpec
  expect: Record<Who, number>
  /** The installer on another city's device (device routes). */
  foreign?: number
}

const everyone = (status: number): Record<Who, number> => ({ anonymous: status, admin: status, operator: status, installer: status })
const loggedIn = (status: number): Record<Who, number> => ({ anonymous: 401, admin: status, operator: status, installer: status })
const adminOnly = (status: number): Record<Who, number> => ({ anonymous: 401, admin: status, operator: 403, installer: 403 })
const managers = (status: number): Record<Who, number> => ({ anonymous: 401, admin: status, operator: 403, installer: status })
const get = (url: string) => () => ({ url })
const device = (suffix: string, fresh = false) => async (c: Context, _who: Who, foreign: boolean) => ({
  url: `/api/devices/${foreign ? await c.foreignDevice(fresh) : await c.ownDevice(fresh)}${suffix}`,
})

const CSV = 'type,city,name\nnoise,firenze,Roles import row\n'

/** A new webhook contact point, by an admin. */
async function freshContactPoint(c: Context): Promise<number> {
  const payload = { kind: 'webhook', name: c.unique('Roles fixture hook'), url: 'http://127.0.0.1:9/hook', secret: 'a-secret-of-16-chars-or-more' }
  const response = await c.t.app.inject({ method: 'POST', url: '/api/contact-points', headers: c.t.as(c.t.tokens.admin), payload })
  if (response.statusCode !== 201) throw new Error(`fixture contact point: ${response.statusCode} ${response.body}`)
  return (response.json() as Json).id as number
}

export const EXPECTATIONS: Record<string, Expectation> = {
  // ---- public: operations, docs, config
  'GET /api/health': { request: get('/api/health'), expect: everyone(200) },
  'GET /metrics': { request: get('/metrics'), expect: everyone(200) },
  'GET /api/config': { request: get('/api/config'), expect: everyone(200) },
  'GET /api/docs': { request: get('/api/docs'), expect: everyone(200) },
  // swagger-ui adds a HEAD for the trailing-slash form only.
  'HEAD /api/docs/': { request: get('/api/docs/'), expect: everyone(200) },
  'GET /api/docs/json': { request: get('/api/docs/json'), expect: everyone(200) },
  'GET /api/docs/yaml': { request: get('/api/docs/yaml'), expect: everyone(200) },
  'GET /api/docs/static/index.html': { request: get('/api/docs/static/index.html'), expect: everyone(302) /* to /api/docs/ */ },
  'GET /api/docs/static/swagger-initializer.js': { request: get('/api/docs/static/swagger-initializer.js'), expect: everyone(200) },
  'GET /api/docs/static/*': { request: get('/api/docs/static/swagger-ui.css'), expect: everyone(200) },

  // ---- public pages and the open-data API (issue: public side)
  'GET /': { request: get('/'), expect: everyone(404) /* not built in this test: the page answers 404, for everyone alike */ },
  'GET /widget/:city': { request: get('/widget/firenze'), expect: everyone(404) /* not built in this test */ },
  'GET /api/public/air-quality': { request: get('/api/public/air-quality'), expect: everyone(200) },
  'GET /api/public/air-quality/history': { request: get('/api/public/air-quality/history?city=firenze'), expect: everyone(200) },
  'GET /api/public/air-quality/statistics': { request: get('/api/public/air-quality/statistics?city=firenze'), expect: everyone(200) },
  'GET /api/public/stations': { request: get('/api/public/stations'), expect: everyone(200) },
  'GET /api/public/stations/:id/readings': { request: async (c) => ({ url: `/api/public/stations/${await c.ownDevice()}/readings` }), expect: everyone(200) },
  'GET /api/public/readings': { request: get('/api/public/readings?city=firenze'), expect: everyone(200) },
  'GET /api/public/gtfs-rt/vehicle-positions': { request: get('/api/public/gtfs-rt/vehicle-positions'), expect: everyone(200) },
  'GET /api/public/gtfs-rt/trip-updates': { request: get('/api/public/gtfs-rt/trip-updates?format=json'), expect: everyone(200) },
  'GET /api/public/gbfs/manifest.json': { request: get('/api/public/gbfs/manifest.json'), expect: everyone(200) },
  'GET /api/public/gbfs/:city/:file': { request: get('/api/public/gbfs/firenze/station_status.json'), expect: everyone(200) },
  'GET /api/public/gbfs/2.3/:city/:file': { request: get('/api/public/gbfs/2.3/firenze/gbfs.json'), expect: everyone(200) },
  'GET /api/public/gbfs/2.3/:city/:language/:file': { request: get('/api/public/gbfs/2.3/firenze/it/station_status.json'), expect: everyone(200) },
  'GET /api/public/parking': { request: get('/api/public/parking?format=datex'), expect: everyone(200) },
  'GET /api/public/catalog': { request: get('/api/public/catalog'), expect: everyone(200) },

  // ---- auth
  'POST /api/auth/login': {
    request: (_c, who) => ({ url: '/api/auth/login', payload: who === 'anonymous' ? { username: 'nobody', password: 'wrong-password' } : { username: 'olga', password: 'operator-password' }, token: null }),
    expect: { anonymous: 401, admin: 200, operator: 200, installer: 200 },
  },
  'POST /api/auth/logout': { request: async (c, who) => ({ url: '/api/auth/logout', token: await c.freshToken(who) }), expect: loggedIn(204) },
  'GET /api/auth/me': { request: get('/api/auth/me'), expect: loggedIn(200) },

  // ---- devices
  'GET /api/devices': { request: get('/api/devices'), expect: loggedIn(200) },
  'POST /api/devices': {
    request: (c, _who, foreign) => ({ url: '/api/devices', payload: { type: 'noise', city: foreign ? 'prato' : 'firenze', name: c.unique('Roles device') } }),
    expect: managers(201),
    foreign: 403,
  },
  'GET /api/devices/:id': { request: device(''), expect: loggedIn(200), foreign: 403 },
  'PATCH /api/devices/:id': { request: async (c, who, foreign) => ({ ...(await device('')(c, who, foreign)), payload: { name: c.unique('Renamed') } }), expect: managers(200), foreign: 403 },
  'GET /api/devices/:id/readings': { request: device('/readings'), expect: loggedIn(200), foreign: 403 },
  'GET /api/devices/:id/latest': { request: device('/latest'), expect: loggedIn(200), foreign: 403 },
  'GET /api/devices/:id/commissioning': { request: device('/commissioning'), expect: loggedIn(200), foreign: 403 },
  'POST /api/devices/:id/rotate': { request: device('/rotate', true), expect: managers(200), foreign: 403 },
  'POST /api/devices/:id/revoke': { request: device('/revoke', true), expect: managers(200), foreign: 403 },
  'POST /api/devices/:id/decommission': { request: device('/decommission', true), expect: managers(200), foreign: 403 },
  'GET /api/devices/import/template': { request: get('/api/devices/import/template'), expect: managers(200) },
  'POST /api/devices/import': {
    request: () => ({ url: '/api/devices/import?dryRun=true', payload: CSV, headers: { 'content-type': 'text/csv' } }),
    expect: managers(200),
  },
  'GET /api/mqtt': { request: get('/api/mqtt'), expect: loggedIn(200) },
  'GET /api/dead-letters': {
    request: async (c, _who, foreign) => ({ url: foreign ? `/api/dead-letters?device=${await c.foreignDevice()}` : '/api/dead-letters' }),
    expect: loggedIn(200),
    foreign: 403,
  },
  'GET /api/cities': { request: get('/api/cities'), expect: loggedIn(200) },

  // ---- users and audit
  'GET /api/users': { request: get('/api/users'), expect: adminOnly(200) },
  'POST /api/users': {
    request: (c) => ({ url: '/api/users', payload: { username: c.unique('user').toLowerCase(), password: 'a-long-password', role: 'operator' } }),
    expect: adminOnly(201),
  },
  'PATCH /api/users/:id': {
    request: async (c) => {
      const username = c.unique('target').toLowerCase()
      await c.t.accounts.create({ username, password: 'a-long-password', role: 'operator' })
      return { url: `/api/users/${username}`, payload: { role: 'installer', cities: ['pisa'] } }
    },
    expect: adminOnly(200),
  },
  'GET /api/audit': { request: get('/api/audit'), expect: adminOnly(200) },

  // ---- contact points (alert notifications)
  'GET /api/contact-points': { request: get('/api/contact-points'), expect: adminOnly(200) },
  'POST /api/contact-points': {
    request: (c) => ({ url: '/api/contact-points', payload: { kind: 'webhook', name: c.unique('Roles hook'), url: 'http://127.0.0.1:9/hook', secret: 'a-secret-of-16-chars-or-more' } }),
    expect: adminOnly(201),
  },
  'PATCH /api/contact-points/:id': { request: async (c) => ({ url: `/api/contact-points/${await freshContactPoint(c)}`, payload: { enabled: false } }), expect: adminOnly(200) },
  'DELETE /api/contact-points/:id': { request: async (c) => ({ url: `/api/contact-points/${await freshContactPoint(c)}` }), expect: adminOnly(204) },
  // One attempt to a closed port: the answer is the failed delivery's log entry.
  'POST /api/contact-points/:id/test': { request: async (c) => ({ url: `/api/contact-points/${await freshContactPoint(c)}/test` }), expect: adminOnly(200) },
  'GET /api/contact-points/:id/deliveries': { request: async (c) => ({ url: `/api/contact-points/${await freshContactPoint(c)}/deliveries` }), expect: adminOnly(200) },
  'PUT /api/admin/gtfs/:city': {
    request: () => ({ url: '/api/admin/gtfs/firenze', payload: gtfsZip(minimalGtfs()), headers: { 'content-type': 'application/zip' } }),
    expect: adminOnly(200),
  },

  // ---- device health and alerts (operators edit rules and acknowledge alerts)
  'GET /api/device-states': { request: get('/api/device-states'), expect: loggedIn(200) },
  'GET /api/alert-rules': { request: get('/api/alert-rules'), expect: loggedIn(200) },
  'POST /api/alert-rules': {
    request: (c) => ({ url: '/api/alert-rules', payload: { name: c.unique('Roles rule'), field: 'pm25', op: '>', threshold: 100 } }),
    expect: { anonymous: 401, admin: 201, operator: 201, installer: 403 },
  },
  'PATCH /api/alert-rules/:id': {
    request: async (c) => ({ url: `/api/alert-rules/${await c.freshRule()}`, payload: { threshold: 120 } }),
    expect: { anonymous: 401, admin: 200, operator: 200, installer: 403 },
  },
  'DELETE /api/alert-rules/:id': {
    request: async (c) => ({ url: `/api/alert-rules/${await c.freshRule()}` }),
    expect: { anonymous: 401, admin: 204, operator: 204, installer: 403 },
  },
  'GET /api/alerts': { request: get('/api/alerts'), expect: loggedIn(200) },
  'POST /api/alerts/:id/ack': {
    request: async (c) => ({ url: `/api/alerts/${await c.freshAlert()}/ack` }),
    expect: { anonymous: 401, admin: 200, operator: 200, installer: 403 },
  },
  // ---- alerts as incidents (issue 13): staff act on them, everyone logged in reads
  'GET /api/alert-groups': { request: get('/api/alert-groups'), expect: loggedIn(200) },
  'POST /api/alerts/ack': {
    request: async (c) => ({ url: '/api/alerts/ack', payload: { ids: [await c.freshAlert()] } }),
    expect: { anonymous: 401, admin: 200, operator: 200, installer: 403 },
  },
  'GET /api/alerts/:id/timeline': { request: async (c) => ({ url: `/api/alerts/${await c.freshAlert()}/timeline` }), expect: loggedIn(200) },
  'POST /api/alerts/:id/comments': {
    request: async (c) => ({ url: `/api/alerts/${await c.freshAlert()}/comments`, payload: { text: 'Roles comment' } }),
    expect: { anonymous: 401, admin: 201, operator: 201, installer: 403 },
  },
  'PUT /api/alerts/:id/assignee': {
    request: async (c) => ({ url: `/api/alerts/${await c.freshAlert()}/assignee`, payload: { assignee: 'olga' } }),
    expect: { anonymous: 401, admin: 200, operator: 200, installer: 403 },
  },
  'GET /api/alert-assignees': { request: get('/api/alert-assignees'), expect: { anonymous: 401, admin: 200, operator: 200, installer: 403 } },
  'GET /api/alert-silences': { request: get('/api/alert-silences'), expect: { anonymous: 401, admin: 200, operator: 200, installer: 403 } },
  'POST /api/alert-silences': {
    request: (c) => ({ url: '/api/alert-silences', payload: { city: 'prato', reason: c.unique('Roles silence'), duration: '1h' } }),
    expect: { anonymous: 401, admin: 201, operator: 201, installer: 403 },
  },
  'DELETE /api/alert-silences/:id': {
    request: async (c) => {
      const response = await c.t.app.inject({
        method: 'POST',
        url: '/api/alert-silences',
        headers: c.t.as(c.t.tokens.admin),
        payload: { city: 'prato', reason: c.unique('Roles fixture silence'), duration: '1h' },
      })
      if (response.statusCode !== 201) throw new Error(`fixture silence: ${response.statusCode} ${response.body}`)
      return { url: `/api/alert-silences/${(response.json() as Json).id}` }
    },
    expect: { anonymous: 401, admin: 200, operator: 200, installer: 403 },
  },
}

describe('roles on every route and room', () => {
  let t: RolesApp
  let context: Context
  let url: string
  const sockets: ClientSocket[] = []

  beforeAll(async () => {
    // The contact points here name a closed loopback port, which the webhook URL policy refuses unless allowed.
    t = await startRolesApp({ live: { coalesceMs: 50 }, env: { NOTIFY_WEBHOOK_ALLOW: '127.0.0.1:9' } })
    let n = 0
    const unique = (prefix: string) => `${prefix}-${++n}`
    const make = async (city: string, token: string) => {
      const response = await t.app.inject({ method: 'POST', url: '/api/devices', headers: t.as(token), payload: { type: 'air-quality', city, name: unique(`Roles ${city}`) } })
      if (response.statusCode !== 201) throw new Error(`fixture device: ${response.statusCode} ${response.body}`)
      return (response.json() as Json).id as string
    }
    const own = await make('firenze', t.tokens.admin)
    const foreign = await make('prato', t.tokens.admin)
    const passwords: Record<Who, [string, string] | undefined> = {
      anonymous: undefined,
      admin: ['admin', 'admin-password-for-tests'],
      operator: ['olga', 'operator-password'],
      installer: ['ivan', 'installer-password'],
    }
    const freshRule = async (deviceId?: string) => {
      const payload = { name: unique('Roles fixture rule'), field: 'pm25', op: '>', threshold: 50, ...(deviceId ? { deviceId } : {}) }
      const response = await t.app.inject({ method: 'POST', url: '/api/alert-rules', headers: t.as(t.tokens.admin), payload })
      if (response.statusCode !== 201) throw new Error(`fixture rule: ${response.statusCode} ${response.body}`)
      return (response.json() as Json).id as number
    }
    context = {
      t,
      freshRule: () => freshRule(),
      async freshAlert() {
        const rule = await freshRule(own)
        const time = Date.now()
        t.feed.accepted({ id: own, type: 'air-quality', city: 'firenze' }, [{ time, values: { pm25: 80 } }], time)
        const response = await t.app.inject({ url: `/api/alerts?state=open&rule=${rule}`, headers: t.as(t.tokens.admin) })
        const alert = (response.json() as Json).items?.[0]
        if (!alert) throw new Error(`fixture alert: none open for rule ${rule}: ${response.body}`)
        return alert.id as number
      },
      ownDevice: (fresh) => (fresh ? make('firenze', t.tokens.admin) : Promise.resolve(own)),
      foreignDevice: (fresh) => (fresh ? make('prato', t.tokens.admin) : Promise.resolve(foreign)),
      freshToken: async (who) => (passwords[who] ? t.login(...passwords[who]) : undefined),
      unique,
    }
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    const address = t.app.server.address()
    if (!address || typeof address === 'string') throw new Error('not listening')
    url = `http://127.0.0.1:${address.port}`
  })
  afterAll(async () => {
    for (const socket of sockets) socket.disconnect()
    await t?.cleanup()
  })

  /** A route's entry; a HEAD route falls back to its GET's. */
  const entryFor = (route: string): Expectation | undefined => EXPECTATIONS[route] ?? (route.startsWith('HEAD ') ? EXPECTATIONS[`GET ${route.slice(5)}`] : undefined)

  const tokenOf = (who: Who): string | undefined => (who === 'anonymous' ? undefined : t.tokens[who])

  async function call(method: string, spec: RequestSpec, who: Who) {
    const { token, headers, ...rest } = spec
    const bearer = token === null ? undefined : (token ?? tokenOf(who))
    return t.app.inject({ ...rest, method: method as InjectOptions['method'], headers: { ...headers, ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) } })
  }

  it('has an expectation for every route the app registers, and none for a route that is gone', () => {
    const all = new Set(t.routes.map((r) => `${r.method} ${r.url}`))
    const missing = [...all].filter((route) => !entryFor(route))
    expect(missing, `routes without an entry in EXPECTATIONS (test/roles.test.ts): add one with the exact status per role`).toEqual([])
    const stale = Object.keys(EXPECTATIONS).filter((route) => !all.has(route))
    expect(stale, 'entries for routes the app no longer registers').toEqual([])
  })

  it('answers every route with exactly the expected status for each role', async () => {
    const failures: string[] = []
    for (const route of t.routes) {
      const entry = entryFor(`${route.method} ${route.url}`)
      if (!entry) continue // reported by the test above
      const cases: [Who, boolean, number][] = WHO.map((who) => [who, false, entry.expect[who]])
      if (entry.foreign !== undefined) cases.push(['installer', true, entry.foreign])
      for (const [who, foreign, expected] of cases) {
        const spec = await entry.request(context, who, foreign)
        const response = await call(route.method, spec, who)
        const label = `${route.method} ${route.url} as ${who}${foreign ? " on another city's device" : ''} (${spec.url})`
        if (response.statusCode !== expected) failures.push(`${label}: ${response.statusCode}, expected ${expected}: ${response.body.slice(0, 200)}`)
        else if (expected >= 400 && route.method !== 'HEAD' && response.headers['content-type']?.toString().startsWith('application/json')) {
          const body = response.json() as Json
          if (body?.error?.status !== expected) failures.push(`${label}: not in the error shape: ${response.body.slice(0, 200)}`)
        }
      }
    }
    expect(failures).toEqual([])
  })

  describe('live-stream rooms and the commissioning channel', () => {
    async function open(who: Who): Promise<ClientSocket> {
      const token = tokenOf(who)
      const socket = connect(url, { transports: ['websocket'], forceNew: true, reconnection: false, auth: token ? { token } : {} })
      sockets.push(socket)
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve)
        socket.once('connect_error', reject)
      })
      return socket
    }
    const ask = (socket: ClientSocket, event: string, payload: unknown) => socket.timeout(10_000).emitWithAck(event, payload) as Promise<Json>

    type Room = { event: 'subscribe' | 'commissioning:watch'; payload: (own: string, foreign: string) => Json; expect: Record<Who, number> }
    const ROOMS: Record<string, Room> = {
      'public room': { event: 'subscribe', payload: () => ({ public: true }), expect: everyone(200) },
      "the installer's city": { event: 'subscribe', payload: () => ({ city: 'firenze' }), expect: loggedIn(200) },
      'another city': { event: 'subscribe', payload: () => ({ city: 'prato' }), expect: { anonymous: 401, admin: 200, operator: 200, installer: 403 } },
      'a type across cities': { event: 'subscribe', payload: () => ({ type: 'air-quality' }), expect: { anonymous: 401, admin: 200, operator: 200, installer: 403 } },
      'own device': { event: 'subscribe', payload: (own) => ({ device: own }), expect: loggedIn(200) },
      "another city's device": { event: 'subscribe', payload: (_own, foreign) => ({ device: foreign }), expect: { anonymous: 401, admin: 200, operator: 200, installer: 403 } },
      'commissioning of own device': { event: 'commissioning:watch', payload: (own) => ({ device: own }), expect: loggedIn(200) },
      "commissioning of another city's device": {
        event: 'commissioning:watch',
        payload: (_own, foreign) => ({ device: foreign }),
        expect: { anonymous: 401, admin: 200, operator: 200, installer: 403 },
      },
    }

    it('answers every room with exactly the expected status for each role', async () => {
      const own = await context.ownDevice()
      const foreign = await context.foreignDevice()
      const failures: string[] = []
      for (const who of WHO) {
        const socket = await open(who)
        for (const [name, room] of Object.entries(ROOMS)) {
          const answer = await ask(socket, room.event, room.payload(own, foreign))
          const status = answer.ok ? 200 : answer.error?.status
          if (status !== room.expect[who]) failures.push(`${name} as ${who}: ${status}, expected ${room.expect[who]}: ${JSON.stringify(answer).slice(0, 200)}`)
        }
      }
      expect(failures).toEqual([])
    })
  })
})
