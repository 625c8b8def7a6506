import { io as connect, type Socket as ClientSocket } from 'socket.io-client'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { CITY_RADIUS_KM, distanceKm } from '../../../devices/region.ts'
import type { Device } from '../../../devices/registry.ts'
import { startRolesApp, type Json, type RolesApp } from '../../../testkit/roles-app.ts'
import { createCommissioning } from './commissioning.ts'

describe('commissioning memory', () => {
  const device = (id: string) => ({ id, type: 'noise', city: 'prato', name: id, interval: 60, status: 'active', metadata: {} }) as unknown as Device
  const commissioningOf = (maxTracked?: number) =>
    createCommissioning({ registry: { get: (id) => device(id), onChange: () => () => {} }, lookupUser: () => undefined, ...(maxTracked ? { maxTracked } : {}) })

  it('remembers the devices active within the last two generations and forgets the others', () => {
    const commissioning = commissioningOf(4)
    const accept = (id: string) => commissioning.onAccepted(device(id), [{ time: Date.now(), values: { laeq: 50 } }], Date.now())
    const accepted = (id: string) => commissioning.stateOf(id)!.accepted
    // Generations of 2: a, b | c, d | then a again moves up and b, never seen again, goes.
    for (const id of ['a', 'b', 'c', 'd', 'a', 'e']) accept(id)
    expect(['a', 'b', 'c', 'd', 'e'].map(accepted)).toEqual([2, 0, 1, 1, 1])
    // Still counting for a device found in the previous generation.
    accept('c')
    expect(accepted('c')).toBe(2)
  })

  it('remembers a whole fleet of 20,000 devices reporting in any order, by default', () => {
    const commissioning = commissioningOf()
    const ids = Array.from({ length: 20_000 }, (_, i) => `noise-${i}`)
    // Three rounds, each in another order (a device's turn moves by up to a whole round).
    for (const step of [1, 7_919, 12_347]) {
      for (let i = 0; i < ids.length; i++) {
        const id = ids[(i * step) % ids.length]!
        commissioning.onAccepted(device(id), [{ time: Date.now(), values: { LAeq: 50 } }], Date.now())
      }
    }
    const forgotten = ids.filter((id) => commissioning.stateOf(id)!.accepted !== 3)
    expect(forgotten).toEqual([])
  })

  it('keeps the first reading as it came while the last follows the newest, a late older one aside', () => {
    const commissioning = commissioningOf()
    const t0 = 1_790_000_000_000
    const accept = (s: number, values: Record<string, unknown>, receivedAt = t0 + 60_000) =>
      commissioning.onAccepted(device('n'), [{ time: t0 + s * 1000, values }], receivedAt)
    accept(0, { LAeq: 50, LAmax: 61 })
    accept(10, { LAeq: 52 })
    accept(5, { LAeq: 99 }) // late: older than the last
    accept(20, { LAeq: 55, LAmax: 70, unknown: 40 }, t0 + 61_000)
    const state = commissioning.stateOf('n')!
    expect(state.firstReading).toEqual({ time: t0, receivedAt: t0 + 60_000, values: { LAeq: 50, LAmax: 61 } })
    expect(state.lastReading).toEqual({ time: t0 + 20_000, receivedAt: t0 + 61_000, values: { LAeq: 55, LAmax: 70 } })
    accept(30, { LAeq: 51 })
    // A field the newest reading lacks is not carried over from the one before.
    expect(commissioning.stateOf('n')!.lastReading!.values).toEqual({ LAeq: 51 })
    expect(commissioning.stateOf('n')!.firstReading!.values).toEqual({ LAeq: 50, LAmax: 61 })
  })
})

describe('commissioning channel and room enforcement over Socket.IO', () => {
  let t: RolesApp
  let url: string
  const sockets: ClientSocket[] = []
  let ivanDevice: Json
  let pratoDevice: Json

  async function open(token?: string): Promise<ClientSocket> {
    const socket = connect(url, { transports: ['websocket'], forceNew: true, reconnection: false, auth: token ? { token } : {} })
    sockets.push(socket)
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('connect_error', reject)
    })
    return socket
  }
  const ask = (socket: ClientSocket, event: string, payload?: unknown) => socket.timeout(10_000).emitWithAck(event, payload) as Promise<Json>

  beforeAll(async () => {
    t = await startRolesApp({ live: { coalesceMs: 50 } })
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    const address = t.app.server.address()
    if (!address || typeof address === 'string') throw new Error('not listening')
    url = `http://127.0.0.1:${address.port}`
    const create = (token: string, payload: Json) => t.app.inject({ method: 'POST', url: '/api/devices', headers: t.as(token), payload }).then((r) => r.json() as Json)
    ivanDevice = await create(t.tokens.installer, { type: 'air-quality', city: 'firenze', name: 'Socket AQ', interval: 5 })
    pratoDevice = await create(t.tokens.admin, { type: 'noise', city: 'prato', name: 'Prato socket' })
  })
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.disconnect()
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  it('measures distances on the sphere', () => {
    expect(distanceKm(43.7696, 11.2558, 43.7228, 10.4017)).toBeGreaterThan(68)
    expect(distanceKm(43.7696, 11.2558, 43.7228, 10.4017)).toBeLessThan(70)
    expect(CITY_RADIUS_KM).toBe(15)
  })

  it('streams a device\'s commissioning live: connection, a refused payload with its reason, readings, plausible', async () => {
    const socket = await open(t.tokens.installer)
    const states: Json[] = []
    socket.on('commissioning', (s: Json) => states.push(s))
    const ack = await ask(socket, 'commissioning:watch', { device: ivanDevice.id })
    expect(ack).toMatchObject({ ok: true, state: { stage: 'waiting', device: { id: ivanDevice.id, cityName: 'Firenze', interval: 5 } } })

    const device = { id: ivanDevice.id, type: 'air-quality' as const, city: 'firenze' }
    t.feed.connection(ivanDevice.id, true)
    await vi.waitFor(() => { const value = states.at(-1)?.stage === 'connected'; if (!value) throw new Error('connected'); return value }, { timeout: 20_000 })
    t.feed.rejected(device, [{ code: 'unknown-field', reason: "unknown field 'pm2_5' (did you mean 'pm25'?)" }], Date.now())
    await vi.waitFor(() => { const value = states.at(-1)?.rejections?.[0]?.reason === "unknown field 'pm2_5' (did you mean 'pm25'?)"; if (!value) throw new Error('the rejection'); return value }, { timeout: 20_000 })
    expect(states.at(-1)!.checks.values.state).toBe('fail')
    const t0 = Date.now() - 10_000
    t.feed.accepted(device, [0, 5, 10].map((s) => ({ time: t0 + s * 1000, values: { pm25: 10 + s } })), Date.now())
    await vi.waitFor(() => { const value = states.at(-1)?.stage === 'plausible'; if (!value) throw new Error('plausible'); return value }, { timeout: 20_000 })
    expect(states.at(-1)).toMatchObject({ accepted: 3, measuredInterval: 5, lastReading: { values: { pm25: 20 } } })

    // Revocation shows at once.
    t.registry.setStatus(ivanDevice.id, 'revoked')
    await vi.waitFor(() => { const value = states.at(-1)?.stage === 'revoked'; if (!value) throw new Error('revoked'); return value }, { timeout: 20_000 })
    expect(states.at(-1)!.checks.connection).toMatchObject({ state: 'fail', message: expect.stringMatching(/revoked/) })
    t.registry.setStatus(ivanDevice.id, 'active')

    // After unwatch nothing more comes.
    await ask(socket, 'commissioning:unwatch', { device: ivanDevice.id })
    const count = states.length
    t.feed.connection(ivanDevice.id, false)
    await ask(socket, 'commissioning:watch', { device: pratoDevice.id }) // a round trip later…
    expect(states.length).toBe(count)
  })

  it('pushes to a device\'s watchers as long as one of them watches, whoever left first', async () => {
    const [first, second] = [await open(t.tokens.operator), await open(t.tokens.admin)]
    const seen = { first: 0, second: 0 }
    first.on('commissioning', () => (seen.first += 1))
    second.on('commissioning', () => (seen.second += 1))
    for (const socket of [first, second]) expect(await ask(socket, 'commissioning:watch', { device: pratoDevice.id })).toMatchObject({ ok: true })
    t.feed.connection(pratoDevice.id, true)
    await vi.waitFor(() => expect(seen).toEqual({ first: 1, second: 1 }), { timeout: 20_000 })

    await ask(first, 'commissioning:unwatch', { device: pratoDevice.id })
    t.feed.connection(pratoDevice.id, false)
    await vi.waitFor(() => expect(seen.second).toBe(2), { timeout: 20_000 })
    expect(seen.first).toBe(1)

    // The last one leaves, and a new watcher is pushed to again.
    await ask(second, 'commissioning:unwatch', { device: pratoDevice.id })
    await ask(first, 'commissioning:watch', { device: pratoDevice.id })
    t.feed.connection(pratoDevice.id, true)
    await vi.waitFor(() => expect(seen.first).toBe(2), { timeout: 20_000 })
    expect(seen.second).toBe(2)
  })

  it('shows a refused login live with what to change, until the device gets in', async () => {
    const socket = await open(t.tokens.installer)
    const states: Json[] = []
    socket.on('commissioning', (s: Json) => states.push(s))
    const ack = await ask(socket, 'commissioning:watch', { device: pratoDevice.id })
    expect(ack.ok).toBe(false) // another city's device: the installer of Firenze may not watch it
    const mine = await ask(socket, 'commissioning:watch', { device: ivanDevice.id })
    expect(mine.ok).toBe(true)
    const message = "wrong password: the broker refused user name 'x' with the secret given."
    t.feed.connection(ivanDevice.id, false)
    t.feed.loginRefused({ deviceId: ivanDevice.id, reason: 'bad-secret', message, at: Date.now() + 1 })
    await vi.waitFor(() => expect(states.at(-1)?.loginRefusal?.reason).toBe('bad-secret'), { timeout: 20_000 })
    expect(states.at(-1)!.checks.connection).toMatchObject({ state: 'fail', code: 'login-refused', message: `login refused: ${message}` })
    t.feed.connection(ivanDevice.id, true)
    await vi.waitFor(() => expect(states.at(-1)?.checks.connection.state).toBe('ok'), { timeout: 20_000 })
  })

  it('authorises per role: 401 anonymous, 403 another city\'s installer, 404 unknown, 400 malformed; operators and admins see all', async () => {
    const anonymous = await open()
    expect(await ask(anonymous, 'commissioning:watch', { device: ivanDevice.id })).toMatchObject({ ok: false, error: { status: 401, code: 'unauthorized' } })
    const ivan = await open(t.tokens.installer)
    expect(await ask(ivan, 'commissioning:watch', { device: pratoDevice.id })).toMatchObject({ ok: false, error: { status: 403, code: 'forbidden', message: expect.stringMatching(/not one of yours/), words: { code: 'not-your-device', params: { id: pratoDevice.id, city: 'prato', username: 'ivan', cities: 'firenze' } } } })
    expect(await ask(ivan, 'commissioning:watch', { device: 'aq-nowhere-000' })).toMatchObject({ ok: false, error: { status: 404, words: { code: 'no-device', params: { id: 'aq-nowhere-000' } } } })
    expect(await ask(ivan, 'commissioning:watch', { device: '../x' })).toMatchObject({ ok: false, error: { status: 400 } })
    const fred = await open(t.tokens.freelancer)
    expect(await ask(fred, 'commissioning:watch', { device: ivanDevice.id })).toMatchObject({ ok: false, error: { status: 403 } })
    for (const token of [t.tokens.operator, t.tokens.admin]) {
      const socket = await open(token)
      expect(await ask(socket, 'commissioning:watch', { device: pratoDevice.id })).toMatchObject({ ok: true })
    }
  })

  it('enforces live rooms per role: installers get their cities and devices only', async () => {
    const expectations: [string | undefined, Json, number | 'ok'][] = [
      [undefined, { public: true }, 'ok'],
      [undefined, { city: 'firenze' }, 401],
      [t.tokens.installer, { city: 'firenze' }, 'ok'],
      [t.tokens.installer, { city: 'prato' }, 403],
      [t.tokens.installer, { type: 'noise' }, 403],
      [t.tokens.installer, { device: ivanDevice.id }, 'ok'],
      [t.tokens.installer, { device: pratoDevice.id }, 403],
      [t.tokens.installer, { city: 'prato', device: pratoDevice.id }, 403],
      [t.tokens.installer, { public: true }, 'ok'],
      [t.tokens.freelancer, { city: 'prato' }, 403],
      [t.tokens.freelancer, { device: ivanDevice.id }, 403],
      [t.tokens.operator, { city: 'prato' }, 'ok'],
      [t.tokens.operator, { type: 'noise' }, 'ok'],
      [t.tokens.admin, { device: pratoDevice.id }, 'ok'],
    ]
    for (const [token, subscription, expected] of expectations) {
      const socket = await open(token)
      const answer = await ask(socket, 'subscribe', subscription)
      const label = `${token === undefined ? 'anonymous' : Object.entries(t.tokens).find(([, v]) => v === token)![0]} ${JSON.stringify(subscription)}`
      if (expected === 'ok') expect(answer.ok, `${label}: ${JSON.stringify(answer)}`).toBe(true)
      else expect(answer, label).toMatchObject({ ok: false, error: { status: expected } })
    }
  })
})
