import { io as connect, type Socket as ClientSocket, type ManagerOptions, type SocketOptions } from 'socket.io-client'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import type { LiveUpdate, StatusMessage, UpdateMessage } from '../../shared/realtime.ts'
import { createLiveHub, LAGGING_ROOM } from './live.ts'
import type { Realtime } from './server.ts'
import { ADMIN_PASSWORD, startTestApp, type TestApp } from '../../../testkit/test-app.ts'

type Options = Partial<ManagerOptions & SocketOptions>

const FIRENZE_AQ = { id: 'aq-firenze-001', type: 'air-quality' as const, city: 'firenze' }
const FIRENZE_AQ2 = { id: 'aq-firenze-002', type: 'air-quality' as const, city: 'firenze' }
const FIRENZE_NOISE = { id: 'noise-firenze-001', type: 'noise' as const, city: 'firenze' }
const FIRENZE_WX = { id: 'wx-firenze-001', type: 'weather' as const, city: 'firenze' }
const PRATO_AQ = { id: 'aq-prato-001', type: 'air-quality' as const, city: 'prato' }

/** Collects every event of a kind (mapped by `pick`), and hands out the next one on request. */
function recorder<P, T = P>(socket: ClientSocket, event: string, pick: (payload: P) => T = (p) => p as unknown as T) {
  const seen: T[] = []
  const waiting: ((value: T) => void)[] = []
  let read = 0
  socket.on(event, (payload: P) => {
    const value = pick(payload)
    seen.push(value)
    waiting.shift()?.(value)
  })
  return {
    seen,
    /** The next event not yet taken (already received or still to come). */
    next(): Promise<T> {
      if (read < seen.length) return Promise.resolve(seen[read++]!)
      read += 1
      return new Promise((resolve) => waiting.push(resolve))
    },
  }
}

describe('live stream over Socket.IO', () => {
  let t: TestApp
  let url: string
  let token: string
  const sockets: ClientSocket[] = []

  async function open(options: Options = {}): Promise<ClientSocket> {
    const socket = connect(url, { transports: ['websocket'], forceNew: true, reconnection: false, ...options })
    sockets.push(socket)
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('connect_error', reject)
    })
    return socket
  }
  const ask = (socket: ClientSocket, event: string, payload?: unknown) =>
    socket.timeout(10_000).emitWithAck(event, payload) as Promise<{ ok: boolean; error?: { status: number; code: string; message: string }; snapshot?: LiveUpdate[]; removed?: number }>

  beforeAll(async () => {
    t = await startTestApp({ live: { coalesceMs: 50 }, realtime: { recheckSessionsMs: 0 } })
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    const address = t.app.server.address()
    if (!address || typeof address === 'string') throw new Error('not listening')
    url = `http://127.0.0.1:${address.port}`
    token = await t.login('admin', ADMIN_PASSWORD)
    await t.registry.add({ id: FIRENZE_NOISE.id, type: 'noise', city: 'firenze', name: 'Santa Croce' })
  })
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.disconnect()
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  it('coalesces: 1,000 readings of one device in one window reach a city subscriber as one message with the latest value', async () => {
    const socket = await open({ auth: { token } })
    const updates = recorder(socket, 'update', (m: UpdateMessage) => m.updates)
    const ack = await ask(socket, 'subscribe', { city: 'firenze' })
    expect(ack.ok).toBe(true)

    const start = Date.now()
    for (let i = 0; i < 1000; i++) t.feed.accepted(FIRENZE_AQ, [{ time: start + i, values: { ts: start + i, pm25: i, pm10: 2 * i } }], start + i)
    t.feed.accepted(PRATO_AQ, [{ time: start, values: { pm25: 1 } }], start) // another city: not for this socket

    const first = await updates.next()
    expect(first).toEqual([{ id: FIRENZE_AQ.id, type: 'air-quality', city: 'firenze', time: start + 999, values: { pm25: 999, pm10: 1998 } }])
    // The next message carries only what changed since: nothing was left over from the burst.
    t.feed.accepted(FIRENZE_NOISE, [{ time: start, values: { ts: start, LAeq: 55 } }], start)
    expect(await updates.next()).toEqual([{ id: FIRENZE_NOISE.id, type: 'noise', city: 'firenze', time: start, values: { LAeq: 55 } }])
    expect(updates.seen).toHaveLength(2)
  })

  it("sends a device moved to another city to that city's room from its next reading on, and no longer to the old one", async () => {
    const pisa = await open({ auth: { token } })
    const lucca = await open({ auth: { token } })
    const toPisa = recorder(pisa, 'update', (m: UpdateMessage) => m.updates)
    const toLucca = recorder(lucca, 'update', (m: UpdateMessage) => m.updates)
    expect((await ask(pisa, 'subscribe', { city: 'pisa' })).ok).toBe(true)
    expect((await ask(lucca, 'subscribe', { city: 'lucca' })).ok).toBe(true)
    const device = { id: 'aq-moving', type: 'air-quality' as const }
    const now = Date.now()
    t.feed.accepted({ ...device, city: 'pisa' }, [{ time: now, values: { pm25: 1 } }], now)
    expect(await toPisa.next()).toEqual([{ ...device, city: 'pisa', time: now, values: { pm25: 1 } }])
    t.feed.accepted({ ...device, city: 'lucca' }, [{ time: now + 1, values: { pm25: 2 } }], now + 1)
    expect(await toLucca.next()).toEqual([{ ...device, city: 'lucca', time: now + 1, values: { pm25: 2 } }])
    // One more tick in Pisa, for another device: the moved one is not in it.
    t.feed.accepted({ id: 'aq-pisa-still', type: 'air-quality', city: 'pisa' }, [{ time: now, values: { pm25: 3 } }], now)
    expect((await toPisa.next()).map((u) => u.id)).toEqual(['aq-pisa-still'])
  })

  it('answers subscribe with a snapshot of the room, keeping the newest reading and not an older late one', async () => {
    const now = Date.now()
    t.feed.accepted(FIRENZE_WX, [{ time: now, values: { temperature: 21.5 } }], now)
    t.feed.accepted(FIRENZE_WX, [{ time: now - 60_000, values: { temperature: 3 } }], now) // late, older
    const socket = await open({ auth: { token } })
    const ack = await ask(socket, 'subscribe', { city: 'firenze', type: 'weather' })
    expect(ack).toMatchObject({ ok: true, snapshot: [{ id: FIRENZE_WX.id, type: 'weather', city: 'firenze', time: now, values: { temperature: 21.5 } }] })
  })

  it('anonymous sockets may not join city, type or device rooms, but get public air quality only', async () => {
    const socket = await open()
    const updates = recorder(socket, 'update', (m: UpdateMessage) => m.updates)
    const statuses = recorder(socket, 'status', (m: StatusMessage) => m.items)
    for (const room of [{ city: 'firenze' }, { type: 'air-quality' }, { device: FIRENZE_AQ.id }]) {
      const refused = await ask(socket, 'subscribe', room)
      expect(refused).toEqual({ ok: false, error: { status: 401, code: 'unauthorized', message: expect.stringMatching(/log in/) } })
    }
    expect((await ask(socket, 'subscribe', { public: true, type: 'noise' })).error).toMatchObject({ status: 400, message: expect.stringMatching(/only air-quality/) })
    expect((await ask(socket, 'subscribe', { public: true })).ok).toBe(true)

    const now = Date.now()
    t.feed.accepted(FIRENZE_NOISE, [{ time: now, values: { ts: now, LAeq: 70, LAmax: 80 } }], now)
    t.feed.accepted(FIRENZE_WX, [{ time: now, values: { ts: now, temperature: 20 } }], now)
    t.feed.connection(FIRENZE_NOISE.id, true)
    t.feed.accepted(FIRENZE_AQ2, [{ time: now, values: { ts: now, pm25: 12, no2: 40, co: 0.4 } }], now)
    t.feed.accepted(PRATO_AQ, [{ time: now, values: { ts: now, pm10: 33 } }], now)

    const update = await updates.next()
    expect(update.sort((a, b) => a.id.localeCompare(b.id))).toEqual([
      { id: FIRENZE_AQ2.id, type: 'air-quality', city: 'firenze', time: now, values: { pm25: 12, no2: 40, co: 0.4 } },
      { id: PRATO_AQ.id, type: 'air-quality', city: 'prato', time: now, values: { pm10: 33 } },
    ])
    // Status of a tick is sent before its update, so none will come for this socket.
    expect(statuses.seen).toEqual([])
  })

  it("anonymous sockets get a city's buses, car parks and bike docks in the public room, with their public fields only", async () => {
    const BUS = { id: 'bus-firenze-001', type: 'bus' as const, city: 'firenze' }
    const PRATO_BUS = { id: 'bus-prato-001', type: 'bus' as const, city: 'prato' }
    const PARK = { id: 'park-firenze-001', type: 'parking' as const, city: 'firenze' }
    const start = Date.now()
    t.feed.accepted(BUS, [{ time: start, values: { route: '14', lat: 43.77, lon: 11.25, delay: 60 } }], start)
    const socket = await open()
    const updates = recorder(socket, 'update', (m: UpdateMessage) => m.updates)
    const buses = await ask(socket, 'subscribe', { public: true, city: 'firenze', type: 'bus' })
    expect(buses).toMatchObject({ ok: true, snapshot: [{ id: BUS.id, type: 'bus', city: 'firenze', time: start, values: { route: '14', lat: 43.77, lon: 11.25, delay: 60 } }] })
    expect((await ask(socket, 'subscribe', { public: true, city: 'firenze', type: 'parking' })).ok).toBe(true)
    const now = start + 1
    t.feed.accepted(FIRENZE_AQ, [{ time: now, values: { pm25: 9 } }], now) // air quality: another public room
    t.feed.accepted(PRATO_BUS, [{ time: now, values: { route: '1', lat: 43.88, lon: 11.1 } }], now) // another city
    t.feed.accepted(BUS, [{ time: now, values: { route: '14', lat: 43.78, lon: 11.26, delay: 90, ts: now } }], now)
    t.feed.accepted(PARK, [{ time: now, values: { availableSpotNumber: 12, totalSpotNumber: 40 } }], now)
    const seen: LiveUpdate[] = []
    await vi.waitFor(async () => {
      seen.push(...(await updates.next()))
      expect(seen.map((u) => u.id).sort()).toEqual([BUS.id, PARK.id])
    })
    expect(seen.find((u) => u.id === BUS.id)!.values).toEqual({ route: '14', lat: 43.78, lon: 11.26, delay: 90 })
    expect(seen.find((u) => u.id === PARK.id)!.values).toEqual({ availableSpotNumber: 12, totalSpotNumber: 40 })
  })

  it('unsubscribe stops updates for that room', async () => {
    const watcher = await open({ auth: { token } })
    const watched = recorder(watcher, 'update', (m: UpdateMessage) => m.updates)
    expect((await ask(watcher, 'subscribe', { device: PRATO_AQ.id })).ok).toBe(true)
    const socket = await open({ auth: { token } })
    const updates = recorder(socket, 'update', (m: UpdateMessage) => m.updates)
    expect((await ask(socket, 'subscribe', { city: 'firenze' })).ok).toBe(true)
    expect((await ask(socket, 'subscribe', { device: PRATO_AQ.id })).ok).toBe(true)
    expect(await ask(socket, 'unsubscribe', { city: 'firenze' })).toEqual({ ok: true, removed: 1 })

    const now = Date.now()
    t.feed.accepted(FIRENZE_AQ, [{ time: now, values: { pm25: 5 } }], now)
    t.feed.accepted(PRATO_AQ, [{ time: now, values: { pm25: 6 } }], now)
    expect(await updates.next()).toEqual([{ id: PRATO_AQ.id, type: 'air-quality', city: 'prato', time: now, values: { pm25: 6 } }])
    expect((await watched.next())[0]!.values).toEqual({ pm25: 6 })

    // Without a payload: drop every subscription.
    expect(await ask(socket, 'unsubscribe')).toEqual({ ok: true, removed: 1 })
    t.feed.accepted(PRATO_AQ, [{ time: now + 1, values: { pm25: 7 } }], now)
    // The watcher gets the tick; a round trip on the socket afterwards shows nothing came before it.
    expect((await watched.next())[0]!.values).toEqual({ pm25: 7 })
    expect(await ask(socket, 'unsubscribe', { city: 'prato' })).toEqual({ ok: true, removed: 0 })
    expect(updates.seen).toHaveLength(1)
  })

  it('authenticates browsers by the session cookie over long-polling too, and refuses an unknown token', async () => {
    const socket = await open({ transports: ['polling', 'websocket'], extraHeaders: { cookie: `piazza_session=${token}` } })
    const updates = recorder(socket, 'update', (m: UpdateMessage) => m.updates)
    expect((await ask(socket, 'subscribe', { type: 'noise' })).ok).toBe(true)
    const now = Date.now()
    t.feed.accepted(FIRENZE_NOISE, [{ time: now + 5000, values: { LAeq: 61 } }], now)
    expect((await updates.next())[0]).toMatchObject({ id: FIRENZE_NOISE.id, values: { LAeq: 61 } })

    const refused = connect(url, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { token: 'forged-token' } })
    sockets.push(refused)
    const error = await new Promise<Error & { data?: unknown }>((resolve) => refused.once('connect_error', resolve))
    expect(error.message).toBe('unauthorized')
    expect(error.data).toMatchObject({ status: 401, code: 'unauthorized' })
  })

  it('refuses handshakes from pages of other origins', async () => {
    const socket = connect(url, { transports: ['polling'], forceNew: true, reconnection: false, extraHeaders: { origin: 'https://evil.example' } })
    sockets.push(socket)
    const error = await new Promise<Error>((resolve) => socket.once('connect_error', resolve))
    expect(error).toBeInstanceOf(Error)
    expect(socket.connected).toBe(false)
  })

  it('sends device connection status to logged-in subscribers', async () => {
    const socket = await open({ auth: { token } })
    const statuses = recorder(socket, 'status', (m: StatusMessage) => m.items)
    expect((await ask(socket, 'subscribe', { city: 'firenze', type: 'noise' })).ok).toBe(true)
    t.feed.connection(FIRENZE_NOISE.id, false)
    t.feed.connection('unknown-device-1', true) // not in the registry: ignored
    expect(await statuses.next()).toEqual([{ id: FIRENZE_NOISE.id, type: 'noise', city: 'firenze', connected: false, at: expect.any(Number) }])
  })

  it('refuses malformed subscriptions precisely', async () => {
    const socket = await open({ auth: { token } })
    expect((await ask(socket, 'subscribe', { city: 'atlantis' })).error).toMatchObject({ status: 400, message: expect.stringMatching(/unknown city "atlantis"; cities: firenze/) })
    expect((await ask(socket, 'subscribe', { room: 'x' })).error).toMatchObject({ status: 400, message: expect.stringMatching(/unknown subscription key 'room'/) })
    expect((await ask(socket, 'subscribe', {})).error).toMatchObject({ status: 400, message: expect.stringMatching(/at least one of/) })
    expect((await ask(socket, 'subscribe', 'firenze')).error).toMatchObject({ status: 400 })
  })

  it('counts sockets in health and metrics', async () => {
    await open()
    await open({ auth: { token } })
    const health = (await t.app.inject({ url: '/api/health' })).json() as { stream: { sockets: number } }
    expect(health.stream.sockets).toBe(2)
    expect((await t.app.inject({ url: '/metrics' })).body).toMatch(/^piazza_socket_clients 2$/m)
  })

  it('ends the stream of a socket whose session ended', async () => {
    const own = await t.login('admin', ADMIN_PASSWORD)
    const socket = await open({ auth: { token: own } })
    const expired = new Promise<void>((resolve) => socket.once('session_expired', () => resolve()))
    const closed = new Promise<string>((resolve) => socket.once('disconnect', resolve))
    expect((await t.app.inject({ method: 'POST', url: '/api/auth/logout', headers: { authorization: `Bearer ${own}` } })).statusCode).toBe(204)
    await expired
    expect(await closed).toBe('io server disconnect')
  })

  it('closes its sockets when the app closes', async () => {
    const socket = await open({ auth: { token } })
    const closed = new Promise<string>((resolve) => socket.once('disconnect', resolve))
    const built = t
    await built.close()
    expect(await closed).toBe('io server disconnect')
    await vi.waitFor(() => { const value = !t.app.server.listening; if (!value) throw new Error('the server to stop listening'); return value }, { timeout: 20_000 })
  })
})

describe('limits on the live stream', () => {
  let t: TestApp
  let url: string
  const sockets: ClientSocket[] = []
  beforeAll(async () => {
    t = await startTestApp({ realtime: { maxSocketsPerAddress: 3, eventsPerSecond: 5, eventBurst: 5, maxRefusedEvents: 20, recheckSessionsMs: 0 } })
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    url = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`
  })
  afterAll(async () => {
    for (const socket of sockets) socket.disconnect()
    await t?.cleanup()
  })
  const open = () => {
    const socket = connect(url, { transports: ['websocket'], forceNew: true, reconnection: false })
    sockets.push(socket)
    return new Promise<{ socket: ClientSocket; error?: Error & { data?: unknown } }>((resolve) => {
      socket.once('connect', () => resolve({ socket }))
      socket.once('connect_error', (error) => resolve({ socket, error }))
    })
  }

  it('refuses more live connections from one address than its share, and takes one again when another closes', async () => {
    const opened = [await open(), await open(), await open()]
    expect(opened.map((o) => o.error)).toEqual([undefined, undefined, undefined])
    const refused = await open()
    expect(refused.error?.message).toBe('too many connections')
    expect(refused.error?.data).toEqual({ status: 429, code: 'too-many-requests', message: 'at most 3 live connections from one address', words: { code: 'live-too-many', params: { max: 3 } } })
    opened[0]!.socket.disconnect()
    await vi.waitFor(async () => {
      const again = await open()
      if (again.error) throw again.error
      again.socket.disconnect()
    }, { timeout: 20_000, interval: 100 })
    for (const o of opened) o.socket.disconnect()
  })

  it('refuses events beyond a socket\'s rate with 429, and disconnects a socket that keeps flooding', async () => {
    const { socket } = await open()
    const answers = await Promise.all(Array.from({ length: 12 }, () => socket.timeout(10_000).emitWithAck('subscribe', { public: true }) as Promise<{ ok: boolean; error?: { status: number } }>))
    expect(answers.filter((a) => a.ok).length).toBeLessThanOrEqual(6)
    expect(answers.filter((a) => !a.ok).every((a) => a.error?.status === 429)).toBe(true)
    expect(answers.some((a) => !a.ok)).toBe(true)
    const closed = new Promise<string>((resolve) => socket.once('disconnect', resolve))
    for (let i = 0; i < 40; i++) socket.emit('subscribe', { public: true })
    expect(await closed).toBe('io server disconnect')
  })
})

describe('live hub with a backed-up socket', () => {
  /** Just enough of a Socket.IO server (rooms, room emits) and of its sockets to drive the hub by hand. */
  function fakeRealtime() {
    const sockets = new Map<string, ReturnType<typeof makeSocket>>()
    const rooms = new Map<string, Set<string>>()
    const listeners: { event: string; handler: (socket: unknown, payload: unknown, answer: (r: unknown) => void) => void }[] = []
    function makeSocket(id: string) {
      const emitted: { event: string; data: unknown }[] = []
      const conn = { writeBuffer: [] as unknown[], transport: { socket: { bufferedAmount: 0 } } }
      const handlers = new Map<string, (...args: unknown[]) => void>()
      const s = {
        id,
        data: { user: { username: 'admin', role: 'admin' } },
        conn,
        emitted,
        join: (room: string) => void (rooms.get(room) ?? rooms.set(room, new Set()).get(room)!).add(id),
        leave: (room: string) => void rooms.get(room)?.delete(id),
        emit: (event: string, data?: unknown) => void emitted.push({ event, data }),
        on: (event: string, handler: (...args: unknown[]) => void) => void handlers.set(event, handler),
        call: (event: string, payload: unknown) => {
          let answer: unknown
          for (const l of listeners) if (l.event === event) l.handler(s, payload, (r) => (answer = r))
          return answer
        },
      }
      return s
    }
    const io = {
      of: () => ({ sockets, adapter: { rooms } }),
      on: () => io,
      to: (room: string) => ({
        except: (excluded: string) => ({
          emit: (event: string, data: unknown) => {
            for (const id of rooms.get(room) ?? []) if (!rooms.get(excluded)?.has(id)) sockets.get(id)!.emit(event, data)
          },
        }),
      }),
    }
    // The hub emits to this node's sockets only (io.local): one node here, the same rooms.
    Object.assign(io, { local: io })
    const realtime = {
      io,
      listen: (event: string, _schema: unknown, handler: (socket: unknown, payload: unknown, answer: (r: unknown) => void) => void) => listeners.push({ event, handler }),
    } as unknown as Realtime
    return {
      realtime,
      socket(id: string) {
        const s = makeSocket(id)
        sockets.set(id, s)
        return s
      },
    }
  }
  const lookup = () => undefined

  it('skips a socket whose buffers are full, queues nothing for it, and tells it to resync once it drains', () => {
    const hub = createLiveHub({ coalesceMs: 3_600_000, maxQueuedPackets: 4, maxBufferedBytes: 1024 })
    const server = fakeRealtime()
    hub.attach(server.realtime, { lookup })
    const slow = server.socket('slow')
    const fast = server.socket('fast')
    for (const client of [slow, fast]) expect(client.call('subscribe', { city: 'firenze' })).toMatchObject({ ok: true })

    hub.push(FIRENZE_AQ, [{ time: 1, values: { pm25: 1 } }], 1)
    hub.flush()
    expect(slow.emitted).toHaveLength(1)
    expect(slow.emitted[0]!.data).toMatchObject({ room: 'live:city:firenze', seq: 1, updates: [{ id: FIRENZE_AQ.id, values: { pm25: 1 } }] })

    // The slow browser stops reading: its engine.io buffer fills, then its WebSocket's.
    slow.conn.writeBuffer.length = 4
    for (let time = 2; time <= 500; time++) {
      hub.push(FIRENZE_AQ, [{ time, values: { pm25: time } }], time)
      if (time === 300) hub.push(FIRENZE_NOISE, [{ time, values: { LAeq: 50 } }], time)
      if (time % 100 === 0) hub.flush()
    }
    slow.conn.writeBuffer.length = 0
    slow.conn.transport.socket.bufferedAmount = 4096
    hub.push(FIRENZE_AQ, [{ time: 501, values: { pm25: 501 } }], 501)
    hub.flush()
    expect(slow.emitted).toHaveLength(1)
    expect(hub.stats().skippedBackedUp).toBe(6)
    expect(fast.emitted).toHaveLength(7)
    expect((fast.emitted.at(-1)!.data as UpdateMessage).seq).toBe(7)

    // Drained: one `resync`, nothing of what it missed; it subscribes again and gets the newest state.
    slow.conn.transport.socket.bufferedAmount = 0
    hub.flush()
    expect(slow.emitted.map((e) => e.event)).toEqual(['update', 'resync'])
    const again = slow.call('subscribe', { city: 'firenze' }) as { snapshot: LiveUpdate[] }
    expect(again.snapshot.sort((a, b) => a.id.localeCompare(b.id))).toEqual([
      { id: FIRENZE_AQ.id, type: 'air-quality', city: 'firenze', time: 501, values: { pm25: 501 } },
      { id: FIRENZE_NOISE.id, type: 'noise', city: 'firenze', time: 300, values: { LAeq: 50 } },
    ])
    hub.push(FIRENZE_AQ, [{ time: 502, values: { pm25: 502 } }], 502)
    hub.flush()
    expect(slow.emitted.at(-1)!.data).toMatchObject({ seq: 8, updates: [{ values: { pm25: 502 } }] })
    expect(hub.stats().lagging).toBe(0)
    expect(LAGGING_ROOM).toBe('live:lagging')
    hub.detach()
  })

  it('bounds subscriptions per socket', () => {
    const hub = createLiveHub({ coalesceMs: 3_600_000, maxSubscriptionsPerSocket: 2 })
    const server = fakeRealtime()
    hub.attach(server.realtime, { lookup })
    const client = server.socket('one')
    const answers = ['aq-a-001', 'aq-b-001', 'aq-b-001', 'aq-c-001'].map((device) => client.call('subscribe', { device }))
    expect(answers.map((a) => (a as { ok: boolean }).ok)).toEqual([true, true, true, false])
    expect(answers[3]).toMatchObject({ error: { status: 429, message: 'at most 2 subscriptions per connection' } })
    hub.detach()
  })
})

describe('seeding the live hub from storage', () => {
  const device = { id: 'aq-seeded', type: 'air-quality' as const, city: 'firenze' }
  it('takes a stored reading as the newest, with its time as last seen, until one is received', () => {
    const hub = createLiveHub()
    expect(hub.seed(device, { time: 1000, values: { pm25: 4 } })).toBe(true)
    expect(hub.latest(device.id)).toEqual({ time: 1000, values: { pm25: 4 }, receivedAt: 1000 })
    expect(hub.lastSeen(device.id)).toBe(1000)
    hub.push(device, [{ time: 2000, values: { pm25: 5 } }], 2500)
    expect(hub.seed(device, { time: 1500, values: { pm25: 6 } })).toBe(false)
    expect(hub.latest(device.id)).toEqual({ time: 2000, values: { pm25: 5 }, receivedAt: 2500 })
  })
  it('never replaces a reading received before the restore reached the device', () => {
    const hub = createLiveHub()
    hub.push(device, [{ time: 500, values: { pm25: 1 } }], 600)
    expect(hub.seed(device, { time: 900, values: { pm25: 9 } })).toBe(false)
    expect(hub.latest(device.id)?.values).toEqual({ pm25: 1 })
  })
})
