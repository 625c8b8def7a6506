import { io as connect, type Socket as ClientSocket } from 'socket.io-client'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { Device } from '../../../../devices/registry.ts'
import { expectError, registerDevices, startRolesApp, type Json, type RolesApp } from '../../../../testkit/roles-app.ts'

/**
 * The alert API as a contract: every route's success, validation error and authorization error,
 * and the live push of alerts and device states to a logged-in socket.
 */

let t: RolesApp
const devices: Record<string, Device> = {}

beforeAll(async () => {
  t = await startRolesApp({ deps: { operations: { alerts: { tickMs: 20 }, states: { pushMs: 20, checkMs: 50 } } } })
  Object.assign(
    devices,
    await registerDevices(t, {
      fi: { id: 'aq-firenze-api', type: 'air-quality', city: 'firenze', name: 'Viale Gramsci' },
      pi: { id: 'aq-pisa-api', type: 'air-quality', city: 'pisa', name: 'Lungarno' },
      park: { id: 'park-firenze-api', type: 'parking', city: 'firenze', name: 'Parcheggio Stazione' },
    }),
  )
})

afterAll(async () => {
  await t?.cleanup()
})

const reading = (d: Device, values: Record<string, number>, time = Date.now()) => t.feed.accepted(d, [{ time, values }], time)

const inject = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, token?: string, payload?: unknown) =>
  t.app.inject({ method, url, headers: token ? t.as(token) : {}, ...(payload === undefined ? {} : { payload: payload as object }) })

async function createRule(body: Json, token = t.tokens.operator): Promise<Json> {
  const response = await inject('POST', '/api/alert-rules', token, body)
  expect(response.statusCode, response.body).toBe(201)
  return response.json() as Json
}

describe('alert rules API', () => {
  it('POST creates a rule (operator and admin), with defaults and a location', async () => {
    const response = await inject('POST', '/api/alert-rules', t.tokens.operator, { name: 'PM10 high', field: 'pm10', op: '>', threshold: 50 })
    expect(response.statusCode).toBe(201)
    const rule = response.json() as Json
    expect(response.headers.location).toBe(`/api/alert-rules/${rule.id}`)
    expect(rule).toMatchObject({
      name: 'PM10 high',
      kind: 'threshold',
      field: 'pm10',
      op: '>',
      threshold: 50,
      deviceId: null,
      type: null,
      city: null,
      scope: {},
      window: null,
      aggregate: null,
      minDuration: 0,
      hysteresis: 0,
      severity: 'warning',
      enabled: true,
      unit: 'µg/m³',
      createdBy: 'olga',
    })
    const scoped = await createRule(
      { name: 'Slow traffic', field: 'averageVehicleSpeed', op: '<', threshold: 10, scope: { type: 'traffic-counter', city: 'Firenze' }, window: '10m', minDuration: 300, severity: 'critical' },
      t.tokens.admin,
    )
    expect(scoped).toMatchObject({ type: 'traffic-counter', city: 'firenze', scope: { type: 'traffic-counter', city: 'firenze' }, window: 600, aggregate: 'mean', minDuration: 300, createdBy: 'admin' })
    expect(scoped.description).toBe('10 min mean of Average speed < 10 km/h for 5 min: traffic counters in Firenze')
    const silent = await createRule({ name: 'Silent parking', kind: 'silent', type: 'parking' })
    expect(silent).toMatchObject({ kind: 'silent', field: null, op: null, threshold: null })
  })

  it('POST refuses invalid rules with 400 in the one error shape', async () => {
    const post = (body: unknown) => inject('POST', '/api/alert-rules', t.tokens.operator, body)
    expectError(await post({ field: 'pm10', op: '>', threshold: 50 }), 400, 'validation', /missing required field 'name'/)
    expectError(await post({ name: 'x', field: 'pm10', op: '=>', threshold: 50 }), 400, 'validation', /'op' must be one of >, >=, <, <=/)
    expectError(await post({ name: 'x', field: 'pm10', op: '>', threshold: '50' }), 400, 'validation', /'threshold' must be a number/)
    expectError(await post({ name: 'x', field: 'pm10', op: '>', threshold: 50, colour: 'red' }), 400, 'validation', /unknown field 'colour'/)
    expectError(await post({ name: 'x', op: '>', threshold: 50 }), 400, 'validation', /missing required field 'field'/)
    expectError(await post({ name: 'x', field: 'pm10', op: '>', threshold: 50, city: 'milano' }), 400, 'validation', /unknown city 'milano'/)
    expectError(await post({ name: 'x', field: 'pm10', op: '>', threshold: 50, type: 'bus' }), 400, 'validation', /bus devices have no field 'pm10'/)
    expectError(await post({ name: 'x', field: 'pm10', op: '>', threshold: 50, window: 'an hour' }), 400, 'validation', /window/)
  })

  it('POST needs a session (401) and the operator or admin role (403)', async () => {
    const body = { name: 'x', field: 'pm10', op: '>', threshold: 50 }
    expectError(await inject('POST', '/api/alert-rules', undefined, body), 401, 'unauthorized')
    expectError(await inject('POST', '/api/alert-rules', t.tokens.installer, body), 403, 'forbidden', /operator or admin/)
  })

  it('GET lists the rules for everyone logged in, and derived fields', async () => {
    const response = await inject('GET', '/api/alert-rules', t.tokens.installer)
    expect(response.statusCode).toBe(200)
    const body = response.json() as Json
    expect(body.items.map((r: Json) => r.name)).toEqual(expect.arrayContaining(['PM10 high', 'Slow traffic']))
    expect(body.derivedFields.map((f: Json) => f.name)).toEqual(['occupancyPercent', 'delayMinutes'])
    expectError(await inject('GET', '/api/alert-rules'), 401, 'unauthorized')
    expectError(await inject('GET', '/api/alert-rules?all=1', t.tokens.operator), 400, 'validation', /unknown query parameter 'all'/)
  })

  it('PATCH changes a rule; 400 for bad changes, 404 for unknown rules, 401/403 by role', async () => {
    const rule = await createRule({ name: 'Noise', field: 'LAeq', op: '>', threshold: 70 })
    const patch = (id: unknown, body: unknown, token: string | undefined = t.tokens.operator) => inject('PATCH', `/api/alert-rules/${id}`, token, body)
    const response = await patch(rule.id, { threshold: 75, hysteresis: 3, city: 'pisa' }, t.tokens.admin)
    expect(response.statusCode).toBe(200)
    expect(response.json()).toMatchObject({ id: rule.id, threshold: 75, hysteresis: 3, city: 'pisa', name: 'Noise' })
    expect((await patch(rule.id, { city: null })).json()).toMatchObject({ city: null })
    expectError(await patch(rule.id, { threshold: 'loud' }), 400, 'validation', /'threshold' must be/)
    expectError(await patch(rule.id, { field: 'pm25', type: 'noise' }), 400, 'validation', /noise devices have no field 'pm25'/)
    expectError(await patch(rule.id, { id: 9 }), 400, 'validation', /unknown field 'id'/)
    expectError(await patch('nine', { threshold: 1 }), 400, 'validation', /path parameter 'id' must be an integer/)
    expectError(await patch(99_999, { threshold: 1 }), 404, 'not-found', /no alert rule with id 99999/)
    expectError(await patch(rule.id, { threshold: 1 }, ''), 401, 'unauthorized')
    expectError(await patch(rule.id, { threshold: 1 }, t.tokens.installer), 403, 'forbidden')
  })

  it('DELETE removes a rule and resolves its alerts; 400, 404, 401, 403 otherwise', async () => {
    const rule = await createRule({ name: 'Temporary', field: 'pm25', op: '>', threshold: 1, deviceId: devices.pi!.id })
    reading(devices.pi!, { pm25: 9 })
    const open = (await inject('GET', `/api/alerts?state=open&rule=${rule.id}`, t.tokens.operator)).json() as Json
    expect(open.items).toHaveLength(1)
    expectError(await inject('DELETE', `/api/alert-rules/${rule.id}`, t.tokens.installer), 403, 'forbidden')
    expectError(await inject('DELETE', `/api/alert-rules/${rule.id}`), 401, 'unauthorized')
    expectError(await inject('DELETE', '/api/alert-rules/0', t.tokens.operator), 400, 'validation')
    const response = await inject('DELETE', `/api/alert-rules/${rule.id}`, t.tokens.operator)
    expect(response.statusCode).toBe(204)
    expect(response.body).toBe('')
    expectError(await inject('DELETE', `/api/alert-rules/${rule.id}`, t.tokens.operator), 404, 'not-found')
    const resolved = (await inject('GET', `/api/alerts?state=resolved&rule=${rule.id}`, t.tokens.operator)).json() as Json
    expect(resolved.items[0]).toMatchObject({ state: 'resolved', resolvedReason: 'rule-deleted' })
  })
})

describe('alerts API', () => {
  let alertId: number

  it('an over-threshold reading opens an alert; GET filters it by state', async () => {
    const rule = await createRule({ name: 'Parking full', field: 'availableSpotNumber', op: '<=', threshold: 0, type: 'parking' })
    reading(devices.park!, { availableSpotNumber: 0, totalSpotNumber: 120 })
    const response = await inject('GET', '/api/alerts?state=open', t.tokens.operator)
    expect(response.statusCode).toBe(200)
    const body = response.json() as Json
    const alert = body.items.find((a: Json) => a.ruleId === rule.id)
    expect(alert).toMatchObject({ deviceId: devices.park!.id, deviceName: 'Parcheggio Stazione', city: 'firenze', state: 'open', value: 0, unit: 'spots', severity: 'warning' })
    expect(Date.parse(alert.openedAt)).toBeGreaterThan(Date.now() - 60_000)
    expect(body.counts.open).toBeGreaterThanOrEqual(1)
    expect(body).toMatchObject({ limit: 200, offset: 0 })
    alertId = alert.id
    const none = (await inject('GET', '/api/alerts?state=resolved&device=park-firenze-api', t.tokens.operator)).json() as Json
    expect(none.items).toEqual([])
  })

  it('GET refuses bad filters (400) and anonymous callers (401); installers see only their devices', async () => {
    expectError(await inject('GET', '/api/alerts?state=closed', t.tokens.operator), 400, 'validation', /'state' must be one of open, acknowledged, resolved/)
    expectError(await inject('GET', '/api/alerts?city=milano', t.tokens.operator), 400, 'validation', /unknown city 'milano'/)
    expectError(await inject('GET', '/api/alerts?limit=5000', t.tokens.operator), 400, 'validation')
    expectError(await inject('GET', '/api/alerts'), 401, 'unauthorized')
    const pisaRule = await createRule({ name: 'Pisa PM2.5', field: 'pm25', op: '>', threshold: 20, city: 'pisa' })
    reading(devices.pi!, { pm25: 40 })
    const forOperator = (await inject('GET', '/api/alerts?state=open', t.tokens.operator)).json() as Json
    expect(forOperator.items.some((a: Json) => a.ruleId === pisaRule.id)).toBe(true)
    // Ivan installs in Firenze: he sees the Firenze parking alert, not the Pisa one.
    const forInstaller = (await inject('GET', '/api/alerts?state=open', t.tokens.installer)).json() as Json
    expect(forInstaller.items.map((a: Json) => a.city)).not.toContain('pisa')
    expect(forInstaller.items.some((a: Json) => a.id === alertId)).toBe(true)
  })

  it('POST /ack acknowledges (operator, admin): who and when; 404, 409, 400, 401, 403 otherwise', async () => {
    expectError(await inject('POST', `/api/alerts/${alertId}/ack`), 401, 'unauthorized')
    expectError(await inject('POST', `/api/alerts/${alertId}/ack`, t.tokens.installer), 403, 'forbidden', /operator or admin/)
    expectError(await inject('POST', '/api/alerts/abc/ack', t.tokens.operator), 400, 'validation', /path parameter 'id'/)
    expectError(await inject('POST', `/api/alerts/${alertId}/ack`, t.tokens.operator, { note: 'on it' }), 400, 'validation')
    expectError(await inject('POST', '/api/alerts/424242/ack', t.tokens.operator), 404, 'not-found', /no alert with id 424242/)
    const response = await inject('POST', `/api/alerts/${alertId}/ack`, t.tokens.operator)
    expect(response.statusCode).toBe(200)
    const acked = response.json() as Json
    expect(acked).toMatchObject({ id: alertId, state: 'acknowledged', acknowledgedBy: 'olga' })
    expect(Date.parse(acked.acknowledgedAt)).toBeGreaterThan(Date.now() - 60_000)
    // Again, by someone else: the first acknowledgement stands.
    const again = await inject('POST', `/api/alerts/${alertId}/ack`, t.tokens.admin, {})
    expect(again.json()).toMatchObject({ acknowledgedBy: 'olga' })
    const listed = (await inject('GET', '/api/alerts?state=acknowledged', t.tokens.operator)).json() as Json
    expect(listed.items.map((a: Json) => a.id)).toContain(alertId)

    reading(devices.park!, { availableSpotNumber: 12, totalSpotNumber: 120 })
    const resolved = (await inject('GET', '/api/alerts?state=resolved', t.tokens.operator)).json() as Json
    expect(resolved.items.find((a: Json) => a.id === alertId)).toMatchObject({ resolvedReason: 'cleared', acknowledgedBy: 'olga' })
    expectError(await inject('POST', `/api/alerts/${alertId}/ack`, t.tokens.operator), 409, 'conflict', /resolved/)
  })

  it('GET /api/device-states answers every device with its state; 400 and 401 otherwise', async () => {
    const response = await inject('GET', '/api/device-states', t.tokens.operator)
    expect(response.statusCode).toBe(200)
    const body = response.json() as Json
    expect(body.items.find((d: Json) => d.id === devices.fi!.id)).toMatchObject({ state: 'pending', lastSeen: null, interval: 60 })
    expect(body.items.find((d: Json) => d.id === devices.park!.id)).toMatchObject({ state: 'live' })
    expect(body.thresholds).toEqual({ lateAfter: 2, silentAfter: 5, recoverWithin: 1.5 })
    const pisa = (await inject('GET', '/api/device-states?city=pisa', t.tokens.installer)).json() as Json
    expect(pisa.items).toEqual([])
    expectError(await inject('GET', '/api/device-states?state=asleep', t.tokens.operator), 400, 'validation')
    expectError(await inject('GET', '/api/device-states'), 401, 'unauthorized')
  })
})

describe('live pushes', () => {
  let socket: ClientSocket | undefined
  const others: ClientSocket[] = []
  afterAll(() => {
    socket?.disconnect()
    for (const s of others) s.disconnect()
  })

  it('sends a logged-in socket new alerts and device state changes', async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    const address = t.app.server.address()
    if (!address || typeof address === 'string') throw new Error('not listening')
    socket = connect(`http://127.0.0.1:${address.port}`, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { token: t.tokens.operator } })
    await new Promise((resolve, reject) => {
      socket!.once('connect', () => resolve(undefined))
      socket!.once('connect_error', reject)
    })
    const alertEvents: Json[] = []
    const stateEvents: Json[] = []
    socket.on('alerts', (p: Json) => alertEvents.push(p))
    socket.on('device_states', (p: Json) => stateEvents.push(p))
    const rule = await createRule({ name: 'Firenze PM2.5', field: 'pm25', op: '>', threshold: 30, deviceId: devices.fi!.id })
    reading(devices.fi!, { pm25: 55 })
    const pushed = await vi.waitFor(() => { const value = alertEvents.find((p) => p.changes.some((a: Json) => a.ruleId === rule.id)); if (!value) throw new Error('the alert push'); return value }, { timeout: 20_000 })
    expect(pushed).toMatchObject({ more: 0, opened: 1 })
    expect(pushed.counts.open).toBeGreaterThanOrEqual(1)
    const state = await vi.waitFor(() => { const value = stateEvents.flatMap((p) => p.items).find((s: Json) => s.id === devices.fi!.id); if (!value) throw new Error('the state push'); return value }, { timeout: 20_000 })
    expect(state).toMatchObject({ state: 'live' })
  })

  it("sends an installer only the alerts and states of their devices, and every rule change", async () => {
    const address = t.app.server.address()
    if (!address || typeof address === 'string') throw new Error('not listening')
    const open = async (token: string) => {
      const s = connect(`http://127.0.0.1:${address.port}`, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { token } })
      others.push(s)
      await new Promise((resolve, reject) => {
        s.once('connect', () => resolve(undefined))
        s.once('connect_error', reject)
      })
      const events = { alerts: [] as Json[], states: [] as Json[], rules: [] as Json[] }
      s.on('alerts', (p: Json) => events.alerts.push(p))
      s.on('device_states', (p: Json) => events.states.push(p))
      s.on('alert_rules', (p: Json) => events.rules.push(p))
      return events
    }
    // ivan works in Firenze; fred (no cities, registered nothing here) sees none of these devices.
    const ivan = await open(t.tokens.installer)
    const fred = await open(t.tokens.freelancer)
    const staff = await open(t.tokens.admin)
    const rule = await createRule({ name: 'PM10 everywhere', field: 'pm10', op: '>', threshold: 30 })
    reading(devices.pi!, { pm10: 90 })
    reading(devices.fi!, { pm10: 90 })
    const mine = (p: Json) => p.changes.some((a: Json) => a.ruleId === rule.id)
    await vi.waitFor(() => { const value = staff.alerts.filter(mine).flatMap((p) => p.changes).filter((a: Json) => a.ruleId === rule.id).length >= 2 || undefined; if (!value) throw new Error('both alerts to staff'); return value }, { timeout: 20_000 })
    const ivans = await vi.waitFor(() => { const value = ivan.alerts.find(mine); if (!value) throw new Error("ivan's alert push"); return value }, { timeout: 20_000 })
    expect(ivans.changes.filter((a: Json) => a.ruleId === rule.id).map((a: Json) => a.deviceId)).toEqual([devices.fi!.id])
    expect(ivan.alerts.flatMap((p) => p.changes).some((a: Json) => a.deviceId === devices.pi!.id)).toBe(false)
    // Rules reach every logged-in socket; fred's alerts never came.
    for (const who of [ivan, fred, staff]) await vi.waitFor(() => { const value = who.rules.find((p) => p.rules.some((r: Json) => r.id === rule.id)); if (!value) throw new Error('the rules push'); return value }, { timeout: 20_000 })
    expect(fred.alerts.filter(mine)).toEqual([])
    expect([...ivan.states, ...fred.states].flatMap((p) => p.items).some((s: Json) => s.id === devices.pi!.id)).toBe(false)
  })
})
