import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { validateReading } from '../../../devices/readings.ts'
import { KINDS, DEVICE_TYPES } from '../../../devices/kinds.ts'
import { allExamples } from './examples.ts'
import { expectError, startRolesApp, type Json, type RolesApp } from '../../../testkit/roles-app.ts'

describe('device lifecycle API', () => {
  let t: RolesApp
  const inject = (method: 'GET' | 'POST' | 'PATCH', url: string, token?: string, payload?: unknown) =>
    t.app.inject({ method, url, headers: token ? t.as(token) : {}, payload: payload as Json })
  let ivanDevice: Json
  let pratoDevice: Json
  let fredDevice: Json

  beforeAll(async () => {
    t = await startRolesApp({ deps: { mqttPublic: { host: 'mqtt.piazza.example', port: 1883, wsPort: 8083 } } })
    ivanDevice = (await inject('POST', '/api/devices', t.tokens.installer, { type: 'air-quality', city: 'firenze', name: 'Firenze Gramsci', lat: 43.7781, lon: 11.2656 })).json()
    pratoDevice = (await inject('POST', '/api/devices', t.tokens.admin, { type: 'noise', city: 'prato', name: 'Prato Duomo' })).json()
    fredDevice = (await inject('POST', '/api/devices', t.tokens.freelancer, { type: 'weather', city: 'prato', name: 'Prato Meteo' })).json()
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  describe('GET /api/mqtt', () => {
    it('tells where devices connect, with topics and a valid example reading per type', async () => {
      const response = await inject('GET', '/api/mqtt', t.tokens.installer)
      expect(response.statusCode, response.body).toBe(200)
      const body = response.json() as Json
      expect(body).toMatchObject({ host: 'mqtt.piazza.example', port: 1883, wsPort: 8083, wsPath: '/mqtt', topics: { telemetry: 'devices/{id}/telemetry' } })
      expect(Object.keys(body.examples)).toEqual([...DEVICE_TYPES])
    })

    it('answers 401 without a session and 400 for a query', async () => {
      expectError(await inject('GET', '/api/mqtt'), 401, 'unauthorized')
      expectError(await inject('GET', '/api/mqtt?host=x', t.tokens.admin), 400, 'validation', /unknown query parameter 'host'/)
    })

    it('every example passes the validator as it is', () => {
      const now = Date.now()
      for (const [type, example] of Object.entries(allExamples({ lat: 43.77, lon: 11.25 }))) {
        const result = validateReading(KINDS[type as keyof typeof KINDS], example, now)
        expect(result, `${type}: ${JSON.stringify(result)}`).not.toHaveProperty('code')
        expect(Object.keys(example)).toEqual(['ts', ...KINDS[type as keyof typeof KINDS].tagNames, ...KINDS[type as keyof typeof KINDS].fieldNames])
      }
    })
  })

  describe('installer scoping of existing routes', () => {
    it('lists only the installer\'s devices and those of their cities', async () => {
      const ivan = (await inject('GET', '/api/devices', t.tokens.installer)).json() as Json
      expect(ivan.items.map((d: Json) => d.id)).toEqual([ivanDevice.id])
      expect(ivan.total).toBe(1)
      const fred = (await inject('GET', '/api/devices', t.tokens.freelancer)).json() as Json
      expect(fred.items.map((d: Json) => d.id)).toEqual([fredDevice.id])
      const operator = (await inject('GET', '/api/devices', t.tokens.operator)).json() as Json
      expect(operator.total).toBeGreaterThanOrEqual(3)
    })

    it("refuses an installer another city's device, its readings and latest values (403)", async () => {
      expectError(await inject('GET', `/api/devices/${pratoDevice.id}`, t.tokens.installer), 403, 'forbidden', /is not one of yours/)
      expectError(await inject('GET', `/api/devices/${pratoDevice.id}/latest`, t.tokens.installer), 403, 'forbidden')
      expectError(await inject('GET', `/api/devices/${pratoDevice.id}/readings`, t.tokens.installer), 403, 'forbidden')
      expectError(await inject('GET', `/api/dead-letters?device=${pratoDevice.id}`, t.tokens.installer), 403, 'forbidden')
      expect((await inject('GET', `/api/devices/${ivanDevice.id}/latest`, t.tokens.installer)).statusCode).toBe(200)
      expect((await inject('GET', `/api/devices/${pratoDevice.id}`, t.tokens.operator)).statusCode).toBe(200)
    })

    it('lets an installer with cities register only in those cities', async () => {
      expectError(await inject('POST', '/api/devices', t.tokens.installer, { type: 'noise', city: 'pisa', name: 'Pisa x' }), 403, 'forbidden', /works in firenze, not in pisa/)
      const anywhere = await inject('POST', '/api/devices', t.tokens.freelancer, { type: 'noise', city: 'pisa', name: 'Pisa y' })
      expect(anywhere.statusCode).toBe(201)
    })

    it('cuts an installer\'s dead-letter list to their devices', async () => {
      const letter = (deviceId: string) => ({ deviceId, receivedAt: Date.now(), topic: `devices/${deviceId}/telemetry`, code: 'unknown-field', reason: "unknown field 'x'", payload: '{}' })
      await t.storage.writeDeadLetters([letter(ivanDevice.id), letter(pratoDevice.id)])
      const ivan = (await inject('GET', '/api/dead-letters', t.tokens.installer)).json() as Json
      expect(ivan.items.map((l: Json) => l.deviceId)).toEqual([ivanDevice.id])
      const admin = (await inject('GET', '/api/dead-letters', t.tokens.admin)).json() as Json
      expect(admin.items.map((l: Json) => l.deviceId).sort()).toEqual([ivanDevice.id, pratoDevice.id].sort())
    })
  })

  describe('POST /api/devices/:id/rotate', () => {
    it('gives a new secret once: the old one stops working, the new one works, the audit log says so without it', async () => {
      const old = (await inject('POST', '/api/devices', t.tokens.installer, { type: 'noise', city: 'firenze', name: 'Rotate me' })).json() as Json
      const response = await inject('POST', `/api/devices/${old.id}/rotate`, t.tokens.installer)
      expect(response.statusCode, response.body).toBe(200)
      const body = response.json() as Json
      expect(body).toMatchObject({ id: old.id, status: 'active' })
      expect(body.secret).not.toBe(old.secret)
      expect(await t.registry.checkCredentials(old.id, old.secret)).toEqual({ ok: false, reason: 'bad-secret' })
      expect(await t.registry.checkCredentials(old.id, body.secret)).toMatchObject({ ok: true })
      const entry = (await t.audit.list({ target: old.id, action: 'device.rotate' })).items[0]!
      expect(entry).toMatchObject({ actor: 'ivan', action: 'device.rotate', targetType: 'device' })
      expect(JSON.stringify((await t.audit.list()).items)).not.toContain(body.secret)
      expect(JSON.stringify((await t.audit.list()).items)).not.toContain(old.secret)
    })

    it('answers 404, 400, 401 and 403 (operator, other city) precisely', async () => {
      expectError(await inject('POST', '/api/devices/aq-nowhere-000/rotate', t.tokens.admin), 404, 'not-found', /no device with id 'aq-nowhere-000'/)
      expectError(await inject('POST', '/api/devices/BAD/rotate', t.tokens.admin), 400, 'validation', /path parameter 'id' must match/)
      expectError(await inject('POST', `/api/devices/${ivanDevice.id}/rotate`), 401, 'unauthorized')
      expectError(await inject('POST', `/api/devices/${ivanDevice.id}/rotate`, t.tokens.operator), 403, 'forbidden', /installer or admin; user 'olga' is operator/)
      expectError(await inject('POST', `/api/devices/${pratoDevice.id}/rotate`, t.tokens.installer), 403, 'forbidden', /is not one of yours/)
      expectError(await inject('POST', `/api/devices/${ivanDevice.id}/rotate?x=1`, t.tokens.admin), 400, 'validation', /unknown query parameter 'x'/)
    })
  })

  describe('revoke and decommission', () => {
    it('revokes: the registry refuses the device, the change is audited; revoking again changes nothing', async () => {
      const d = (await inject('POST', '/api/devices', t.tokens.installer, { type: 'noise', city: 'firenze', name: 'Revoke me' })).json() as Json
      const changes: string[] = []
      const stop = t.registry.onChange((c) => c.device.id === d.id && changes.push(`${c.kind}:${c.device.status}`))
      const response = await inject('POST', `/api/devices/${d.id}/revoke`, t.tokens.installer)
      expect(response.statusCode, response.body).toBe(200)
      expect(response.json()).toMatchObject({ id: d.id, status: 'revoked' })
      expect(changes).toEqual(['status:revoked']) // what the broker listens to, to drop the connection
      expect(await t.registry.checkCredentials(d.id, d.secret)).toEqual({ ok: false, reason: 'revoked' })
      expect((await inject('POST', `/api/devices/${d.id}/revoke`, t.tokens.installer)).statusCode).toBe(200)
      expect(changes).toHaveLength(1)
      expect((await t.audit.list({ target: d.id, action: 'device.revoke' })).items[0]!.changes).toEqual({ status: { from: 'active', to: 'revoked' } })
      expectError(await inject('POST', `/api/devices/${d.id}/rotate`, t.tokens.installer), 409, 'conflict', /is revoked: it cannot get a new secret/)
      stop()
    })

    it('decommissions (history kept, no reconnects); a decommissioned device cannot be revoked or edited', async () => {
      const d = (await inject('POST', '/api/devices', t.tokens.admin, { type: 'parking', city: 'pisa', name: 'Old car park' })).json() as Json
      const response = await inject('POST', `/api/devices/${d.id}/decommission`, t.tokens.admin)
      expect(response.statusCode, response.body).toBe(200)
      expect(response.json().status).toBe('decommissioned')
      expect(t.registry.get(d.id)?.status).toBe('decommissioned')
      expectError(await inject('POST', `/api/devices/${d.id}/revoke`, t.tokens.admin), 409, 'conflict', /decommissioned already/)
      expectError(await inject('PATCH', `/api/devices/${d.id}`, t.tokens.admin, { name: 'x' }), 409, 'conflict', /decommissioned/)
      expect((await inject('POST', `/api/devices/${d.id}/decommission`, t.tokens.admin)).statusCode).toBe(200)
    })

    it('refuses operators and other cities\' installers, and unknown devices', async () => {
      for (const action of ['revoke', 'decommission']) {
        expectError(await inject('POST', `/api/devices/${ivanDevice.id}/${action}`), 401, 'unauthorized')
        expectError(await inject('POST', `/api/devices/${ivanDevice.id}/${action}`, t.tokens.operator), 403, 'forbidden')
        expectError(await inject('POST', `/api/devices/${pratoDevice.id}/${action}`, t.tokens.installer), 403, 'forbidden')
        expectError(await inject('POST', `/api/devices/${ivanDevice.id}/${action}`, t.tokens.freelancer), 403, 'forbidden', /only the devices they registered/)
        expectError(await inject('POST', `/api/devices/wx-nowhere-000/${action}`, t.tokens.admin), 404, 'not-found')
      }
    })
  })

  describe('PATCH /api/devices/:id', () => {
    it('edits name, location, interval and metadata, and records what changed', async () => {
      const response = await inject('PATCH', `/api/devices/${ivanDevice.id}`, t.tokens.installer, { name: 'Firenze Viale Gramsci', lat: 43.7785, lon: 11.266, interval: 30, metadata: { serial: 'SN-1', height_m: 3.5 } })
      expect(response.statusCode, response.body).toBe(200)
      expect(response.json()).toMatchObject({ name: 'Firenze Viale Gramsci', lat: 43.7785, lon: 11.266, interval: 30, metadata: { serial: 'SN-1', height_m: 3.5 } })
      const entry = (await t.audit.list({ target: ivanDevice.id, action: 'device.update' })).items[0]!
      expect(entry.actor).toBe('ivan')
      expect(entry.changes).toEqual({
        name: { from: 'Firenze Gramsci', to: 'Firenze Viale Gramsci' },
        lat: { from: 43.7781, to: 43.7785 },
        lon: { from: 11.2656, to: 11.266 },
        interval: { from: 60, to: 30 },
        metadata: { from: {}, to: { serial: 'SN-1', height_m: 3.5 } },
      })
    })

    it('validates precisely: empty patch, one coordinate, outside the region, unknown or read-only fields', async () => {
      const patch = (payload: unknown) => inject('PATCH', `/api/devices/${ivanDevice.id}`, t.tokens.admin, payload)
      expectError(await patch({}), 400, 'validation', /give at least one of name, lat, lon, interval, metadata/)
      expectError(await patch({ lat: 43.7 }), 400, 'validation', /both lat and lon/)
      expectError(await patch({ lat: 45.46, lon: 9.19 }), 400, 'validation', /outside the region/)
      expectError(await patch({ city: 'prato' }), 400, 'validation', /unknown field 'city' \(allowed: name, lat, lon, interval, metadata\)/)
      expectError(await patch({ interval: 0 }), 400, 'validation', /field 'interval' must be >= 1/)
    })

    it('answers 401, 403 and 404', async () => {
      expectError(await inject('PATCH', `/api/devices/${ivanDevice.id}`, undefined, { name: 'x' }), 401, 'unauthorized')
      expectError(await inject('PATCH', `/api/devices/${ivanDevice.id}`, t.tokens.operator, { name: 'x' }), 403, 'forbidden')
      expectError(await inject('PATCH', `/api/devices/${pratoDevice.id}`, t.tokens.installer, { name: 'x' }), 403, 'forbidden')
      expectError(await inject('PATCH', '/api/devices/aq-nowhere-000', t.tokens.admin, { name: 'x' }), 404, 'not-found')
    })
  })

  describe('GET /api/devices/:id/commissioning', () => {
    it('goes waiting → connected → receiving → plausible, and shows a refused payload with its reason', async () => {
      const d = (await inject('POST', '/api/devices', t.tokens.installer, { type: 'air-quality', city: 'firenze', name: 'Commission me', lat: 43.77, lon: 11.25, interval: 10 })).json() as Json
      const state = async () => {
        const response = await inject('GET', `/api/devices/${d.id}/commissioning`, t.tokens.installer)
        expect(response.statusCode, response.body).toBe(200)
        return response.json() as Json
      }
      let s = await state()
      expect(s.stage).toBe('waiting')
      expect(s.checks.connection.state).toBe('pending')
      expect(s.checks.location).toMatchObject({ state: 'ok', code: 'near-city', message: expect.stringMatching(/km from the centre of Firenze/) })

      t.feed.connection(d.id, true)
      s = await state()
      expect(s).toMatchObject({ stage: 'connected', connected: true, checks: { connection: { state: 'ok' } } })

      const device = { id: d.id, type: 'air-quality' as const, city: 'firenze' }
      t.feed.rejected(device, [{ code: 'out-of-range', reason: 'pm25: -3 is below the minimum 0' }], Date.now())
      s = await state()
      expect(s.rejections[0]).toMatchObject({ code: 'out-of-range', reason: 'pm25: -3 is below the minimum 0' })
      expect(s.checks.values).toMatchObject({ state: 'fail', code: 'payload-refused', message: 'the last payload was refused: pm25: -3 is below the minimum 0' })

      const t0 = Date.now() - 20_000
      t.feed.accepted(device, [{ time: t0, values: { ts: t0, pm25: 12.5, pm10: 20 } }], Date.now())
      s = await state()
      expect(s.stage).toBe('receiving')
      expect(s.firstReading.values).toEqual({ pm25: 12.5, pm10: 20 })
      expect(s.checks.values.state).toBe('ok')
      expect(s.checks.interval.state).toBe('pending')

      t.feed.accepted(device, [{ time: t0 + 10_000, values: { ts: t0 + 10_000, pm25: 13 } }, { time: t0 + 20_000, values: { ts: t0 + 20_000, pm25: 14 } }], Date.now())
      s = await state()
      expect(s.measuredInterval).toBe(10)
      expect(s).toMatchObject({ stage: 'plausible', accepted: 3, rejected: 1, checks: { interval: { state: 'ok' } } })
      expect(s.lastReading.values).toEqual({ pm25: 14 })
    })

    it('flags a location far from the city and a wrong interval', async () => {
      const d = (await inject('POST', '/api/devices', t.tokens.admin, { type: 'noise', city: 'firenze', name: 'Far away', lat: 43.3, lon: 11.3, interval: 60 })).json() as Json
      const device = { id: d.id, type: 'noise' as const, city: 'firenze' }
      const t0 = Date.now() - 60_000
      t.feed.accepted(device, [0, 5, 10].map((s) => ({ time: t0 + s * 1000, values: { LAeq: 60 } })), Date.now())
      const s = (await inject('GET', `/api/devices/${d.id}/commissioning`, t.tokens.admin)).json() as Json
      expect(s.stage).toBe('receiving')
      expect(s.checks.location.state).toBe('fail')
      expect(s.checks.location.message).toMatch(/^5\d\.\d km from the centre of Firenze, more than 15 km/)
      expect(s.checks.interval).toMatchObject({ state: 'fail', code: 'interval-off', message: expect.stringMatching(/readings come every 5 s, expected every 60 s/) })
    })

    it('answers 401, 403 (other city) and 404', async () => {
      expectError(await inject('GET', `/api/devices/${ivanDevice.id}/commissioning`), 401, 'unauthorized')
      expectError(await inject('GET', `/api/devices/${pratoDevice.id}/commissioning`, t.tokens.installer), 403, 'forbidden')
      expectError(await inject('GET', '/api/devices/aq-nowhere-000/commissioning', t.tokens.installer), 404, 'not-found')
      expect((await inject('GET', `/api/devices/${pratoDevice.id}/commissioning`, t.tokens.operator)).statusCode).toBe(200)
    })
  })

  describe('audit of registrations', () => {
    it('records POST /api/devices with who and what, never the secret', async () => {
      const entry = (await t.audit.list({ target: ivanDevice.id, action: 'device.create' })).items[0]!
      expect(entry).toMatchObject({ actor: 'ivan', targetType: 'device', changes: { type: { to: 'air-quality' }, city: { to: 'firenze' }, name: { to: 'Firenze Gramsci' } } })
      expect(JSON.stringify(entry)).not.toContain(ivanDevice.secret)
    })
  })
})
