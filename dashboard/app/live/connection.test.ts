import { describe, expect, it, vi } from 'vitest'
import type { CommissioningState } from '../../shared/commissioning.ts'
import type { LiveUpdate } from '../../shared/realtime.ts'
import { modeFromUrl } from './baseline.ts'
import { compact, createConnectionManager, mergeState, type FlushBatch, type SocketLike } from './connection.ts'

/** A fake frame scheduler: callbacks run only when the test says a frame happened. */
function fakeFrames() {
  const queue: (() => void)[] = []
  return {
    requestFrame: (cb: () => void) => {
      queue.push(cb)
    },
    get pending() {
      return queue.length
    },
    frame() {
      for (const cb of queue.splice(0)) cb()
    },
  }
}

/** A fake Socket.IO client: records emits, lets the test fire server events. */
function fakeSocket() {
  const handlers = new Map<string, ((...args: unknown[]) => void)[]>()
  const emitted: [string, unknown[]][] = []
  const socket: SocketLike & { fire(event: string, ...args: unknown[]): void; emitted: typeof emitted; disconnected: boolean } = {
    emitted,
    disconnected: false,
    on(event, listener) {
      handlers.set(event, [...(handlers.get(event) ?? []), listener])
      return socket
    },
    emit(event, ...args) {
      emitted.push([event, args])
      return socket
    },
    disconnect() {
      socket.disconnected = true
      return socket
    },
    fire(event, ...args) {
      for (const h of handlers.get(event) ?? []) h(...args)
    },
  }
  return socket
}

const aq = (id: string, time: string, values: Record<string, number>): LiveUpdate => ({ id, type: 'air-quality', city: 'firenze', time: Date.parse(time), values })

/** An `update` message as the server sends it: one room's tick from one hub, numbered. */
let nextSeq = 0
const msg = (updates: LiveUpdate[], seq = ++nextSeq, room = 'live:city:firenze', hub = 'hub-1') => ({ room, hub, seq, updates })

function setup() {
  const frames = fakeFrames()
  const socket = fakeSocket()
  const manager = createConnectionManager({ requestFrame: frames.requestFrame, createSocket: () => socket })
  return { frames, socket, manager }
}

describe('connection manager', () => {
  it('buffers updates and applies them once per frame', () => {
    const { frames, socket, manager } = setup()
    const listener = vi.fn()
    const flushes: FlushBatch[] = []
    manager.subscribe(listener)
    manager.onFlush((b) => flushes.push(b))
    manager.connect()
    listener.mockClear()

    socket.fire('update', msg([aq('aq-1', '2026-01-01T10:00:00Z', { pm25: 10 })]))
    socket.fire('update', msg([aq('aq-2', '2026-01-01T10:00:00Z', { pm25: 40 }), aq('aq-1', '2026-01-01T10:00:01Z', { pm10: 20 })]))

    // Nothing is applied until the frame runs, and only one frame is requested.
    expect(manager.getDevice('aq-1')).toBeUndefined()
    expect(frames.pending).toBe(1)
    expect(listener).not.toHaveBeenCalled()

    frames.frame()
    expect(listener).toHaveBeenCalledTimes(1)
    expect(flushes).toHaveLength(1)
    expect([...flushes[0]!.changed].sort()).toEqual(['aq-1', 'aq-2'])
    expect(flushes[0]!.updates).toHaveLength(3)
    // Values merge across updates: fields may arrive in separate readings.
    expect(manager.getDevice('aq-1')?.values).toEqual({ pm25: 10, pm10: 20 })
    expect(manager.getDevice('aq-1')?.time).toBe(Date.parse('2026-01-01T10:00:01Z'))

    // The next batch schedules a new frame.
    socket.fire('update', msg([aq('aq-2', '2026-01-01T10:00:05Z', { pm25: 41 })]))
    expect(frames.pending).toBe(1)
    frames.frame()
    expect(listener).toHaveBeenCalledTimes(2)
  })

  it('keeps unchanged devices as the same object so narrow selectors do not re-render', () => {
    const { frames, manager } = setup()
    manager.ingest([aq('aq-1', '2026-01-01T10:00:00Z', { pm25: 10 }), aq('aq-2', '2026-01-01T10:00:00Z', { pm25: 12 })])
    frames.frame()
    const before1 = manager.getDevice('aq-1')
    const before2 = manager.getDevice('aq-2')
    manager.ingest([aq('aq-2', '2026-01-01T10:01:00Z', { pm25: 13 })])
    frames.frame()
    expect(manager.getDevice('aq-1')).toBe(before1)
    expect(manager.getDevice('aq-2')).not.toBe(before2)
    expect(manager.getDevice('aq-2')?.values.pm25).toBe(13)
  })

  it('ignores older readings for the latest state (REST seed racing the stream)', () => {
    const { frames, manager } = setup()
    manager.ingest([aq('aq-1', '2026-01-01T10:05:00Z', { pm25: 30 })])
    frames.frame()
    const listener = vi.fn()
    manager.subscribe(listener)
    manager.ingest([aq('aq-1', '2026-01-01T10:00:00Z', { pm25: 5 })])
    frames.frame()
    expect(manager.getDevice('aq-1')?.values.pm25).toBe(30)
    expect(listener).not.toHaveBeenCalled()
  })

  it('drops updates that do not match the schema, and counts them', () => {
    const { frames, manager } = setup()
    manager.ingest([
      null,
      { id: 7 },
      { id: 'bus-x', type: 'bus', city: 'firenze', time: '2026-01-01T10:00:00Z', values: {} },
      { id: 'bus-y', type: 'tram', city: 'firenze', time: 1, values: {} },
      { id: 'bus-1', type: 'bus', city: 'firenze', time: 1_700_000_000_000, values: { lat: 43.7, lon: 11.2, route: '6' } },
    ])
    frames.frame()
    expect(manager.getDevices().size).toBe(1)
    expect(manager.getDevice('bus-1')?.time).toBe(1_700_000_000_000)
    expect(manager.stats().dropped).toBe(4)
  })

  it('drops a malformed update message whole (the old bare array too), counted in stats', () => {
    const { frames, socket, manager } = setup()
    manager.connect()
    socket.fire('connect')
    socket.fire('update', [aq('aq-1', '2026-01-01T10:00:00Z', { pm25: 10 })])
    socket.fire('update', { room: 'live:city:firenze', hub: 'hub-1', seq: 0, updates: [] })
    socket.fire('update', msg([aq('aq-1', '2026-01-01T10:00:00Z', { pm25: 10 }), { id: 'aq-2' } as unknown as LiveUpdate]))
    socket.fire('status', [{ id: 'aq-1', type: 'air-quality', city: 'firenze', connected: true, at: 1 }])
    socket.fire('device_states', 'nonsense')
    frames.frame()
    expect(manager.getDevices().size).toBe(0)
    expect(manager.getConnection('aq-1')).toBeUndefined()
    expect(manager.stats()).toMatchObject({ messages: 0, dropped: 5 })
  })

  it('sends the subscriptions on connect, again after a reconnect, and replaces them on change', () => {
    const { socket, manager } = setup()
    manager.setSubscriptions([{ city: 'pisa', device: '' }])
    manager.connect()
    expect(manager.getStatus().state).toBe('connecting')
    socket.fire('connect')
    expect(manager.getStatus().state).toBe('live')
    expect(socket.emitted.map(([e, a]) => [e, a[0]])).toEqual([['subscribe', { city: 'pisa' }]])

    // The server adds subscriptions up, so a change drops them all first.
    socket.emitted.length = 0
    manager.setSubscriptions([{ city: 'lucca' }, { city: 'massa' }])
    expect(socket.emitted.map(([e, a]) => [e, a[0]])).toEqual([
      ['unsubscribe', undefined],
      ['subscribe', { city: 'lucca' }],
      ['subscribe', { city: 'massa' }],
    ])
    // Setting the same list again sends nothing.
    manager.setSubscriptions([{ city: 'lucca' }, { city: 'massa' }])
    expect(socket.emitted).toHaveLength(3)

    socket.emitted.length = 0
    socket.fire('disconnect', 'transport close')
    expect(manager.getStatus().state).toBe('reconnecting')
    socket.fire('connect')
    expect(socket.emitted.map(([e, a]) => [e, a[0]])).toEqual([
      ['subscribe', { city: 'lucca' }],
      ['subscribe', { city: 'massa' }],
    ])
  })

  it('feeds the snapshot from the subscribe ack through the same frame path', () => {
    const { frames, socket, manager } = setup()
    manager.setSubscriptions([{ city: 'firenze' }])
    manager.connect()
    socket.fire('connect')
    const ack = socket.emitted[0]![1][1] as (answer: unknown) => void
    ack({ ok: true, subscription: { city: 'firenze' }, snapshot: [aq('aq-1', '2026-01-01T10:00:00Z', { pm25: 7 })] })
    expect(manager.getDevice('aq-1')).toBeUndefined()
    frames.frame()
    expect(manager.getDevice('aq-1')?.values.pm25).toBe(7)
    // The same snapshot again (e.g. after a reconnect) changes nothing.
    const before = manager.getDevice('aq-1')
    ack({ ok: true, subscription: { city: 'firenze' }, snapshot: [aq('aq-1', '2026-01-01T10:00:00Z', { pm25: 7 })] })
    frames.frame()
    expect(manager.getDevice('aq-1')).toBe(before)
  })

  it('a 401 subscribe answer or session_expired means the session ended', () => {
    const { socket, manager } = setup()
    manager.setSubscriptions([{ city: 'firenze' }])
    manager.connect()
    socket.fire('connect')
    const ack = socket.emitted[0]![1][1] as (answer: unknown) => void
    ack({ ok: false, error: { status: 400, code: 'validation', message: 'unknown city' } })
    expect(manager.getStatus()).toEqual({ state: 'error', message: 'unknown city' })
    // A forbidden room (installer outside their cities) is not a broken stream.
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    ack({ ok: false, error: { status: 403, code: 'forbidden', message: 'not your city' } })
    expect(manager.getStatus()).toEqual({ state: 'error', message: 'unknown city' })
    expect(warn).toHaveBeenCalledOnce()
    warn.mockRestore()
    ack({ ok: false, error: { status: 401, code: 'unauthorized', message: 'log in' } })
    expect(manager.getStatus().state).toBe('expired')

    const other = setup()
    other.manager.connect()
    other.socket.fire('connect')
    other.socket.fire('session_expired')
    other.socket.fire('disconnect', 'io server disconnect')
    expect(other.manager.getStatus().state).toBe('expired')
  })

  it('tracks device connections from status events, newest wins', () => {
    const { frames, socket, manager } = setup()
    manager.connect()
    const status = (id: string, connected: boolean, at: number) => ({ id, type: 'air-quality', city: 'firenze', connected, at })
    socket.fire('status', { room: 'live:city:firenze', items: [status('aq-1', true, 100)] })
    frames.frame()
    expect(manager.getConnection('aq-1')).toEqual({ connected: true, at: 100 })
    const flushes: FlushBatch[] = []
    manager.onFlush((b) => flushes.push(b))
    socket.fire('status', { room: 'live:city:firenze', items: [status('aq-1', false, 200), status('aq-1', true, 150)] })
    frames.frame()
    expect(manager.getConnection('aq-1')).toEqual({ connected: false, at: 200 })
    expect([...flushes[0]!.changed]).toEqual(['aq-1'])
  })

  it('reports a refused handshake with its message, and a stable status object', () => {
    const { socket, manager } = setup()
    manager.connect()
    socket.fire('connect_error', new Error('unauthorized'))
    const status = manager.getStatus()
    expect(status).toEqual({ state: 'error', message: 'unauthorized' })
    socket.fire('connect_error', new Error('unauthorized'))
    expect(manager.getStatus()).toBe(status)
  })

  it("keeps a refusal's sentence and words from the server (the error's data), for the page's language", () => {
    const { socket, manager } = setup()
    manager.connect()
    const words = { code: 'live-too-many', params: { max: 3 } }
    socket.fire('connect_error', Object.assign(new Error('too many connections'), { data: { status: 429, code: 'too-many-requests', message: 'at most 3 live connections from one address', words } }))
    expect(manager.getStatus()).toEqual({ state: 'error', message: 'at most 3 live connections from one address', words })
  })

  it('close() disconnects, forgets devices and ignores the old socket', () => {
    const { frames, socket, manager } = setup()
    manager.connect()
    socket.fire('update', msg([aq('aq-1', '2026-01-01T10:00:00Z', { pm25: 10 })]))
    frames.frame()
    manager.close()
    expect(socket.disconnected).toBe(true)
    expect(manager.getDevices().size).toBe(0)
    socket.fire('update', msg([aq('aq-1', '2026-01-01T10:01:00Z', { pm25: 11 })]))
    frames.frame()
    expect(manager.getDevices().size).toBe(0)
  })

  it('compacts the buffer when frames stop (hidden tab) so memory stays bounded', () => {
    const frames = fakeFrames()
    const manager = createConnectionManager({ requestFrame: frames.requestFrame, createSocket: fakeSocket, maxPending: 10 })
    for (let i = 0; i < 25; i++) manager.ingest([aq(`aq-${i % 3}`, new Date(Date.UTC(2026, 0, 1, 10, 0, i)).toISOString(), { pm25: i })])
    const flushes: FlushBatch[] = []
    manager.onFlush((b) => flushes.push(b))
    frames.frame()
    expect(flushes[0]!.updates.length).toBeLessThanOrEqual(10)
    expect(manager.getDevice('aq-0')?.values.pm25).toBe(24)
    expect(manager.getDevice('aq-1')?.values.pm25).toBe(22)
    expect(manager.getDevice('aq-2')?.values.pm25).toBe(23)
  })
})

describe('sequence gaps', () => {
  /** A connected manager with two subscriptions, their first answers in. */
  function subscribed() {
    const t = setup()
    t.manager.setSubscriptions([{ city: 'firenze' }, { city: 'pisa' }])
    t.manager.connect()
    t.socket.fire('connect')
    answerAll(t.socket)
    return t
  }
  /** Answers every unanswered subscribe of the socket with an empty snapshot. */
  function answerAll(socket: ReturnType<typeof fakeSocket>, snapshot: LiveUpdate[] = []) {
    for (const [event, args] of socket.emitted.splice(0)) {
      if (event === 'subscribe') (args[1] as (a: unknown) => void)({ ok: true, subscription: args[0], snapshot })
    }
  }
  const subscribes = (socket: ReturnType<typeof fakeSocket>) => socket.emitted.map(([e, a]) => [e, a[0]])

  it('a first message from a hub and room, and consecutive ones, need nothing', () => {
    const { socket, manager } = subscribed()
    socket.fire('update', msg([aq('aq-1', '2026-01-01T10:00:00Z', { pm25: 1 })], 41))
    socket.fire('update', msg([aq('aq-1', '2026-01-01T10:00:01Z', { pm25: 2 })], 42))
    // Another hub (another server node) and another room count on their own.
    socket.fire('update', msg([], 7, 'live:city:firenze', 'hub-2'))
    socket.fire('update', msg([], 3, 'live:city:pisa'))
    socket.fire('update', msg([], 4, 'live:city:pisa'))
    expect(socket.emitted).toEqual([])
    expect(manager.stats()).toMatchObject({ gaps: 0, messages: 5 })
  })

  it('a gap re-sends the subscriptions, and the answers fill it in', () => {
    const { frames, socket, manager } = subscribed()
    socket.fire('update', msg([aq('aq-1', '2026-01-01T10:00:00Z', { pm25: 1 })], 1))
    socket.fire('update', msg([aq('aq-1', '2026-01-01T10:00:05Z', { pm25: 5 })], 4))
    expect(manager.stats().gaps).toBe(1)
    expect(subscribes(socket)).toEqual([
      ['unsubscribe', undefined],
      ['subscribe', { city: 'firenze' }],
      ['subscribe', { city: 'pisa' }],
    ])
    // The message that showed the gap is applied; the snapshot brings what was missed.
    answerAll(socket, [aq('aq-2', '2026-01-01T10:00:03Z', { pm25: 3 })])
    frames.frame()
    expect(manager.getDevice('aq-1')?.values.pm25).toBe(5)
    expect(manager.getDevice('aq-2')?.values.pm25).toBe(3)
  })

  it('a resync from the server (it skipped this socket) re-sends the subscriptions', () => {
    const { socket, manager } = subscribed()
    socket.fire('resync')
    expect(manager.stats().gaps).toBe(1)
    expect(subscribes(socket)).toEqual([
      ['unsubscribe', undefined],
      ['subscribe', { city: 'firenze' }],
      ['subscribe', { city: 'pisa' }],
    ])
  })

  it('forgets the sequence numbers once the new subscriptions are answered, and ignores gaps before', () => {
    const { socket, manager } = subscribed()
    socket.fire('update', msg([], 10))
    socket.fire('update', msg([], 12))
    expect(manager.stats().gaps).toBe(1)
    const round = socket.emitted.splice(0)
    // Messages still in flight while the round is unanswered: no second round.
    socket.fire('update', msg([], 20))
    expect(socket.emitted).toEqual([])
    socket.emitted.push(...round)
    answerAll(socket)
    // After the answers the room's numbering starts afresh: a jump is not a gap.
    socket.fire('update', msg([], 57))
    socket.fire('update', msg([], 58))
    expect(socket.emitted).toEqual([])
    expect(manager.stats().gaps).toBe(2)
  })

  it('a reconnect forgets the sequence numbers too', () => {
    const { socket, manager } = subscribed()
    socket.fire('update', msg([], 5))
    socket.fire('disconnect', 'transport close')
    socket.fire('connect')
    answerAll(socket)
    socket.fire('update', msg([], 90))
    expect(socket.emitted).toEqual([])
    expect(manager.stats().gaps).toBe(0)
  })
})

describe('commissioning through the one socket', () => {
  const check = { state: 'pending', message: '', code: 'waiting', params: {} } as const
  const state = (id: string, stage: CommissioningState['stage'] = 'waiting'): CommissioningState => ({
    device: { id, type: 'air-quality', city: 'firenze', cityName: 'Firenze', name: 'Sensor', lat: 43.77, lon: 11.26, interval: 60, status: 'active', createdBy: 'ivan' },
    stage,
    connected: false,
    accepted: 0,
    rejected: 0,
    rejections: [],
    checks: { connection: check, reading: check, values: check, location: check, interval: check },
    updatedAt: 1,
  })

  it('watches with an ack, delivers later states for the device, re-watches after a reconnect, unwatches', () => {
    const { socket, manager } = setup()
    const states: unknown[] = []
    const answers: unknown[] = []
    // Before the socket is up: sent once it connects.
    const unwatch = manager.watchCommissioning('aq-fi-001', (s) => states.push(s), (a) => answers.push(a))
    manager.connect()
    expect(socket.emitted).toEqual([])
    socket.fire('connect')
    expect(socket.emitted.map(([e, a]) => [e, a[0]])).toEqual([['commissioning:watch', { device: 'aq-fi-001' }]])
    const ack = socket.emitted[0]![1][1] as (answer: unknown) => void
    ack({ ok: true, state: state('aq-fi-001') })
    expect(answers).toEqual([{ ok: true, state: state('aq-fi-001') }])
    expect(states).toEqual([state('aq-fi-001')])

    socket.fire('commissioning', state('aq-fi-001', 'connected'))
    socket.fire('commissioning', state('aq-fi-999', 'connected'))
    socket.fire('commissioning', { nonsense: true })
    expect(states).toHaveLength(2)
    expect(manager.stats().dropped).toBe(1)

    socket.emitted.length = 0
    socket.fire('disconnect', 'transport close')
    socket.fire('connect')
    expect(socket.emitted.map(([e, a]) => [e, a[0]])).toEqual([['commissioning:watch', { device: 'aq-fi-001' }]])

    socket.emitted.length = 0
    unwatch()
    unwatch()
    expect(socket.emitted.map(([e, a]) => [e, a[0]])).toEqual([['commissioning:unwatch', { device: 'aq-fi-001' }]])
    socket.fire('commissioning', state('aq-fi-001', 'plausible'))
    expect(states).toHaveLength(2)
    // Nothing is watched any more: a reconnect sends no watch.
    socket.emitted.length = 0
    socket.fire('disconnect', 'transport close')
    socket.fire('connect')
    expect(socket.emitted).toEqual([])
  })

  it('passes a refusal to the watcher, and unwatches only when the last watcher of a device leaves', () => {
    const { socket, manager } = setup()
    manager.connect()
    socket.fire('connect')
    const answers: unknown[] = []
    const first = manager.watchCommissioning('aq-fi-001', () => {}, (a) => answers.push(a))
    const second = manager.watchCommissioning('aq-fi-001', () => {})
    const refusal = { ok: false, error: { status: 403, code: 'forbidden', message: 'not one of yours' } }
    ;(socket.emitted[0]![1][1] as (answer: unknown) => void)(refusal)
    expect(answers).toEqual([refusal])
    socket.emitted.length = 0
    first()
    expect(socket.emitted).toEqual([])
    second()
    expect(socket.emitted.map(([e]) => e)).toEqual(['commissioning:unwatch'])
  })
})

describe('update helpers', () => {
  it('mergeState returns the previous object for an older or repeated update', () => {
    const prev: LiveUpdate = { id: 'a', type: 'noise', city: 'c', time: 10, values: { x: 1 } }
    expect(mergeState(prev, { ...prev, time: 5, values: { x: 0 } })).toBe(prev)
    expect(mergeState(prev, { ...prev, values: { x: 1 } })).toBe(prev)
    expect(mergeState(prev, { ...prev, values: { y: 2 } })).toEqual({ id: 'a', type: 'noise', city: 'c', time: 10, values: { x: 1, y: 2 } })
  })

  it('compact keeps one merged update per device', () => {
    const out = compact([
      { id: 'a', type: 'noise', city: 'c', time: 1, values: { x: 1 } },
      { id: 'b', type: 'noise', city: 'c', time: 1, values: { x: 5 } },
      { id: 'a', type: 'noise', city: 'c', time: 2, values: { y: 2 } },
    ])
    expect(out.map((u) => u.id)).toEqual(['b', 'a'])
    expect(out[1]!.values).toEqual({ x: 1, y: 2 })
  })
})

describe('device health, server events and the benchmark baselines', () => {
  const h = (id: string, state: string, since: number) => ({ id, state, since, lastSeen: since, interval: 60 })

  it('applies device_states in the same frame as readings, the newer state winning', () => {
    const { frames, socket, manager } = setup()
    const flushes: FlushBatch[] = []
    manager.onFlush((b) => flushes.push(b))
    manager.connect()
    const version = manager.getHealthVersion()
    socket.fire('device_states', { items: [h('aq-1', 'late', 2000), h('aq-2', 'live', 1000), { id: 'bad' }], more: 0 })
    // A REST snapshot older than the pushed state does not undo it.
    manager.ingestHealth([h('aq-1', 'live', 1000)])
    expect(manager.getHealth('aq-1')).toBeUndefined()
    frames.frame()
    expect(manager.getHealth('aq-1')?.state).toBe('late')
    expect(manager.getHealth('aq-2')?.state).toBe('live')
    expect(flushes[0]!.health?.map((x) => x.id).sort()).toEqual(['aq-1', 'aq-2'])
    expect([...flushes[0]!.changed].sort()).toEqual(['aq-1', 'aq-2'])
    expect(manager.getHealthVersion()).toBeGreaterThan(version)
  })

  it('passes alerts events through to their listeners', () => {
    const { socket, manager } = setup()
    const got: unknown[] = []
    const off = manager.onEvent('alerts', (p) => got.push(p))
    manager.connect()
    socket.fire('alerts', { changes: [], more: 0 })
    off()
    socket.fire('alerts', { changes: [], more: 1 })
    expect(got).toEqual([{ changes: [], more: 0 }])
  })

  it('reads the baseline mode from the page URL (live/baseline.ts)', () => {
    expect(modeFromUrl('')).toBe('frame')
    expect(modeFromUrl('?baseline=per-message&city=pisa')).toBe('per-message')
    expect(modeFromUrl('?baseline=per-update')).toBe('per-update')
    expect(modeFromUrl('?baseline=anything')).toBe('frame')
  })

  it('per-message applies each message at once; per-update each update, publishing every one', () => {
    for (const [mode, applies] of [
      ['per-message', 1],
      ['per-update', 3],
    ] as const) {
      const frames = fakeFrames()
      const socket = fakeSocket()
      const manager = createConnectionManager({ requestFrame: frames.requestFrame, createSocket: () => socket, mode })
      const listener = vi.fn()
      manager.connect()
      manager.subscribe(listener)
      socket.fire('update', msg([aq('aq-1', '2026-01-01T10:00:00Z', { pm25: 1 }), aq('aq-2', '2026-01-01T10:00:00Z', { pm25: 2 }), aq('aq-3', '2026-01-01T10:00:00Z', { pm25: 3 })]))
      // No frame needed: applied as it arrived.
      expect(manager.getDevice('aq-3')?.values.pm25).toBe(3)
      expect(listener, mode).toHaveBeenCalledTimes(applies)
      expect(manager.stats()).toMatchObject({ messages: 1, updates: 3, flushes: applies })
    }
  })
})
