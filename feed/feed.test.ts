import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'

import { startRedis, type RedisServer } from '../testkit/redis.ts'
import { createLocalFeed, TIMING_SAMPLE, type Feed, type LocalFeedOptions } from './feed.ts'
import { createRedisFeed, type RedisFeed } from './redis-feed.ts'
import type { Device } from '../devices/registry.ts'

/** Deadline for conditions that cross Redis: generous, for a busy machine (never an expected time). */
const WAIT = { timeout: 30_000 }

let redis: RedisServer
const redisFeeds: RedisFeed[] = []
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  for (const feed of redisFeeds) await feed.close()
  await redis?.close()
})
/** A Redis feed on the test's redis-server, subscribed, closed after the file. */
async function redisFeed(options: LocalFeedOptions & { nodeId?: string } = {}): Promise<RedisFeed> {
  const feed = createRedisFeed({ url: redis.url, ...options })
  redisFeeds.push(feed)
  await feed.ready()
  return feed
}

feedContract('in process', (options) => createLocalFeed(options))
// A second node on the same Redis publishes nothing here: what the contract sees is the node's own delivery.
feedContract('over Redis', async (options) => {
  await redisFeed({ nodeId: 'bystander' })
  return redisFeed(options)
})

/** What every Feed implementation must do; feed.test.ts runs it against each of them. */
function feedContract(name: string, make: (options: LocalFeedOptions) => Feed | Promise<Feed>, settle: () => Promise<void> = async () => {}) {
  const device = { id: 'aq-firenze-001', type: 'air-quality' as const, city: 'firenze' }
  const registered = registeredDevice()

  describe(`feed contract: ${name}`, () => {
    it('delivers every event to every subscriber, in order', async () => {
      const feed = await make({})
      const a: string[] = []
      const b: string[] = []
      feed.subscribe({ accepted: (d, r) => a.push(`accepted ${d.id} ${r.length}`), connection: (id, c) => a.push(`connection ${id} ${c}`) })
      feed.subscribe({ rejected: (d, r) => b.push(`rejected ${d.id} ${r[0]!.code}`) })
      const c: string[] = []
      feed.subscribe({
        registry: (change) => c.push(`${change.kind} ${change.device.id} ${change.device.status}`),
        loginRefused: (r) => c.push(`login refused ${r.deviceId} ${r.reason} ${r.at}`),
        alerts: (change) => c.push(`alerts from ${change.from}: ${change.alerts.join(',')} rules ${change.rules.join(',')} silences ${change.silences}`),
      })
      feed.connection(device.id, true)
      feed.accepted(device, [{ time: 1, values: { pm25: 1 } }, { time: 2, values: { pm25: 2 } }], 3)
      feed.rejected(device, [{ code: 'invalid-json', reason: 'x' }], 4)
      feed.registry({ kind: 'status', device: { ...registered, status: 'revoked' } })
      feed.loginRefused({ deviceId: device.id, reason: 'bad-secret', message: 'wrong secret', at: 5 })
      feed.alerts({ from: 'node-1', alerts: [7, 8], rules: [3], silences: true })
      await settle()
      expect(a).toEqual(['connection aq-firenze-001 true', 'accepted aq-firenze-001 2'])
      expect(b).toEqual(['rejected aq-firenze-001 invalid-json'])
      expect(c).toEqual(['status aq-firenze-001 revoked', 'login refused aq-firenze-001 bad-secret 5', 'alerts from node-1: 7,8 rules 3 silences true'])
    })

    it('stops delivering after unsubscribe', async () => {
      const feed = await make({})
      const seen: number[] = []
      const stop = feed.subscribe({ accepted: (_d, _r, at) => seen.push(at) })
      feed.accepted(device, [{ time: 1, values: {} }], 1)
      stop()
      feed.accepted(device, [{ time: 2, values: {} }], 2)
      await settle()
      expect(seen).toEqual([1])
    })

    it('keeps a throwing listener away from the publisher and the other listeners, and reports it', async () => {
      const errors: string[] = []
      const feed = await make({ onError: (err, event) => errors.push(`${event}: ${(err as Error).message}`) })
      const seen: string[] = []
      feed.subscribe({
        accepted: () => {
          throw new Error('broken listener')
        },
      })
      feed.subscribe({ accepted: (d) => seen.push(d.id) })
      expect(() => feed.accepted(device, [{ time: 1, values: {} }], 1)).not.toThrow()
      await settle()
      expect(seen).toEqual([device.id])
      expect(errors).toEqual(['accepted: broken listener'])
    })
  })
}

describe('local feed timing (diagnostics)', () => {
  const thrower = (): never => {
    throw new Error('failed')
  }
  const device = { id: 'aq-firenze-001', type: 'air-quality' as const, city: 'firenze' }
  const busy = (ms: number) => {
    const until = performance.now() + ms
    while (performance.now() < until) {
      // spin
    }
  }

  it('is off by default: no totals, listeners called as given', () => {
    const feed = createLocalFeed()
    const seen: string[] = []
    feed.subscribe({ accepted: (d) => seen.push(d.id) }, 'live')
    feed.accepted(device, [{ time: 1, values: {} }], 1)
    expect(seen).toEqual([device.id])
    expect(feed.listenerSeconds).toBeUndefined()
  })

  it('adds up the time of each named subscriber, every event, thrown or not', () => {
    const errors: string[] = []
    const feed = createLocalFeed({ timing: true, onError: (_err, event) => errors.push(event) })
    const seen: string[] = []
    feed.subscribe({ accepted: () => busy(5), connection: () => busy(5) }, 'slow')
    feed.subscribe({ accepted: (d) => seen.push(d.id) }, 'fast')
    feed.subscribe({
      rejected: () => {
        busy(3)
        throw new Error('broken')
      },
    })
    feed.accepted(device, [{ time: 1, values: {} }], 1)
    feed.connection(device.id, true)
    feed.rejected(device, [{ code: 'invalid-json', reason: 'x' }], 2)
    const totals = feed.listenerSeconds!()
    expect(Object.keys(totals).sort()).toEqual(['fast', 'slow', 'unnamed'])
    expect(totals.slow).toBeGreaterThanOrEqual(0.01)
    expect(totals.fast).toBeLessThan(0.005)
    expect(totals.unnamed).toBeGreaterThanOrEqual(0.003)
    expect(seen).toEqual([device.id])
    expect(errors).toEqual(['rejected'])
  })

  it('times one accepted call in TIMING_SAMPLE and counts it that many times', () => {
    const feed = createLocalFeed({ timing: true })
    let calls = 0
    feed.subscribe({ accepted: () => void (calls++ % TIMING_SAMPLE === 0 ? busy(4) : undefined) }, 'sampled')
    for (let i = 0; i < 2 * TIMING_SAMPLE; i++) feed.accepted(device, [{ time: i, values: {} }], i)
    expect(calls).toBe(2 * TIMING_SAMPLE)
    // Only the two timed calls were slow: each counts TIMING_SAMPLE times.
    expect(feed.listenerSeconds!().sampled).toBeGreaterThanOrEqual((2 * TIMING_SAMPLE * 4) / 1000)
  })

  it('counts work done later for a subscriber under its name, and returns what the work returns', () => {
    const feed = createLocalFeed({ timing: true })
    feed.subscribe({ accepted: () => {} }, 'public-snapshots')
    expect(feed.timed!('public-snapshots', () => (busy(5), 42))).toBe(42)
    expect(() => feed.timed!('public-snapshots', () => (busy(5), thrower()))).toThrow('failed')
    expect(feed.listenerSeconds!()['public-snapshots']).toBeGreaterThanOrEqual(0.01)
    expect(createLocalFeed().timed).toBeUndefined()
  })

  it('unsubscribes the timed listener', () => {
    const feed = createLocalFeed({ timing: true })
    const seen: number[] = []
    const stop = feed.subscribe({ accepted: (_d, _r, at) => seen.push(at) }, 'live')
    feed.accepted(device, [{ time: 1, values: {} }], 1)
    stop()
    feed.accepted(device, [{ time: 2, values: {} }], 2)
    expect(seen).toEqual([1])
  })
})

function registeredDevice(): Device {
  return {
    id: 'aq-firenze-001',
    type: 'air-quality',
    city: 'firenze',
    name: 'Piazza della Signoria',
    lat: 43.7696,
    lon: 11.2558,
    interval: 60,
    metadata: {},
    status: 'active',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    createdBy: 'cli',
  }
}

describe('Redis feed between nodes', () => {
  const device = { id: 'aq-firenze-001', type: 'air-quality' as const, city: 'firenze' }

  it("delivers each node's events to the other node's listeners, in order, once, and its own once", async () => {
    const a = await redisFeed({ nodeId: 'node-a' })
    const b = await redisFeed({ nodeId: 'node-b' })
    const seenA: string[] = []
    const seenB: string[] = []
    const record = (seen: string[]) => ({
      accepted: (d: { id: string }, r: readonly unknown[], at: number) => seen.push(`accepted ${d.id} ${r.length} ${at}`),
      rejected: (d: { id: string }, r: readonly { code: string }[]) => seen.push(`rejected ${d.id} ${r[0]!.code}`),
      connection: (id: string, c: boolean) => seen.push(`connection ${id} ${c}`),
      registry: (change: { kind: string; device: Device }) => seen.push(`registry ${change.kind} ${change.device.id} ${change.device.status}`),
      loginRefused: (r: { deviceId: string; reason: string; message: string }) => seen.push(`login refused ${r.deviceId} ${r.reason} ${r.message}`),
      alerts: (change: { from: string; alerts: number[]; rules: number[]; silences: boolean }) => seen.push(`alerts ${change.from} ${change.alerts.join(',')} ${change.rules.join(',')} ${change.silences}`),
    })
    a.subscribe(record(seenA))
    b.subscribe(record(seenB))

    a.connection(device.id, true)
    a.accepted({ ...registeredDevice() }, [{ time: 1, values: { pm25: 12.5, ok: true, note: 'x' } }], 10)
    b.rejected(device, [{ code: 'invalid-json', reason: 'x' }], 11)
    a.registry({ kind: 'status', device: { ...registeredDevice(), status: 'revoked' } })
    a.loginRefused({ deviceId: device.id, reason: 'bad-secret', message: 'wrong secret', at: 12 })
    b.alerts({ from: 'engine-b', alerts: [4], rules: [], silences: false })
    // Own events are delivered at once, before anything went through Redis.
    expect(seenA).toEqual(['connection aq-firenze-001 true', 'accepted aq-firenze-001 1 10', 'registry status aq-firenze-001 revoked', 'login refused aq-firenze-001 bad-secret wrong secret'])
    expect(seenB).toEqual(['rejected aq-firenze-001 invalid-json', 'alerts engine-b 4  false'])

    await vi.waitFor(() => expect(seenB).toHaveLength(6), WAIT)
    await vi.waitFor(() => expect(seenA).toHaveLength(6), WAIT)
    // A marker round trip: anything still in flight (a duplicate) would arrive before it.
    a.connection('marker', false)
    b.connection('marker', false)
    await vi.waitFor(() => {
      expect(seenA.filter((e) => e.includes('marker'))).toHaveLength(2)
      expect(seenB.filter((e) => e.includes('marker'))).toHaveLength(2)
    }, WAIT)
    expect(seenB).toEqual([
      'rejected aq-firenze-001 invalid-json',
      'alerts engine-b 4  false',
      'connection aq-firenze-001 true',
      'accepted aq-firenze-001 1 10',
      'registry status aq-firenze-001 revoked',
      'login refused aq-firenze-001 bad-secret wrong secret',
      'connection marker false',
      'connection marker false',
    ])
    expect(seenA.filter((e) => !e.includes('marker'))).toEqual([
      'connection aq-firenze-001 true',
      'accepted aq-firenze-001 1 10',
      'registry status aq-firenze-001 revoked',
      'login refused aq-firenze-001 bad-secret wrong secret',
      'rejected aq-firenze-001 invalid-json',
      'alerts engine-b 4  false',
    ])
  })

  it('carries only the device reference and the readings exactly as given', async () => {
    const a = await redisFeed({ nodeId: 'ref-a' })
    const b = await redisFeed({ nodeId: 'ref-b' })
    const got: unknown[] = []
    b.subscribe({ accepted: (d, r, at) => got.push({ d, r, at }) })
    const readings = [{ time: 1_700_000_000_000, values: { pm25: 12.5, pm10: 20, label: 'ok', door: false } }]
    a.accepted(registeredDevice(), readings, 42)
    await vi.waitFor(() => expect(got).toHaveLength(1), WAIT)
    expect(got[0]).toEqual({ d: device, r: readings, at: 42 })
  })

  it("keeps a throwing listener on the receiving node away from the others, and reports it there", async () => {
    const errors: string[] = []
    const a = await redisFeed({ nodeId: 'iso-a' })
    const b = await redisFeed({ nodeId: 'iso-b', onError: (err, event) => errors.push(`${event}: ${(err as Error).message}`) })
    const seen: string[] = []
    b.subscribe({
      connection: () => {
        throw new Error('broken listener')
      },
    })
    b.subscribe({ connection: (id) => seen.push(id) })
    a.connection('one', true)
    a.connection('two', true)
    await vi.waitFor(() => expect(seen).toEqual(['one', 'two']), WAIT)
    expect(errors).toEqual(['connection: broken listener', 'connection: broken listener'])
  })

  it('skips and counts a message it cannot read, and goes on', async () => {
    const b = await redisFeed({ nodeId: 'bad-b' })
    const a = await redisFeed({ nodeId: 'bad-a' })
    const seen: string[] = []
    b.subscribe({ connection: (id) => seen.push(id) })
    const { Redis } = await import('ioredis')
    const raw = new Redis(redis.url)
    await raw.publish('piazza:feed', '{not json')
    await raw.publish('piazza:feed', JSON.stringify({ n: 'x', e: 'nonsense' }))
    raw.disconnect()
    a.connection('after', true)
    await vi.waitFor(() => expect(seen).toEqual(['after']), WAIT)
    expect(b.status().malformed).toBe(2)
  })
})

describe('Redis feed while Redis is away', () => {
  it('keeps delivering locally, counts what it could not send, and reconnects and resubscribes by itself', async () => {
    const errors: string[] = []
    const a = createRedisFeed({ url: redis.url, nodeId: 'away-a', onRedisError: (_err, what) => errors.push(what) })
    redisFeeds.push(a)
    const b = await redisFeed({ nodeId: 'away-b' })
    await a.ready()
    const local: string[] = []
    const remote: string[] = []
    a.subscribe({ connection: (id) => local.push(id) })
    b.subscribe({ connection: (id) => remote.push(id) })

    await redis.stop()
    try {
      await vi.waitFor(() => expect(a.status().connected).toBe(false), WAIT)
      expect(() => a.connection('during', true)).not.toThrow()
      expect(local).toEqual(['during'])
      // Counted at once when the publishing connection already knows Redis is gone, or when its
      // publish fails, a moment later, when only the subscribing one had noticed.
      await vi.waitFor(() => expect(a.status().dropped).toBeGreaterThanOrEqual(1), WAIT)
      expect(errors).toEqual(['connection'])
    } finally {
      // Back for the tests after this one, whatever happened above.
      await redis.start()
    }
    await vi.waitFor(() => expect(a.status().connected && b.status().connected).toBe(true), { timeout: 30_000 })
    // Subscriptions come back after the connection: publish until the other node hears.
    await vi.waitFor(
      () => {
        a.connection('after', true)
        expect(remote).toContain('after')
      },
      { timeout: 30_000, interval: 200 },
    )
    expect(remote).not.toContain('during')
  })
})

describe('Redis feed: a session taken over by another node', () => {
  it("drops the old node's late 'disconnected', on both nodes, and passes the real end", async () => {
    const a = await redisFeed({ nodeId: 'take-a' })
    const b = await redisFeed({ nodeId: 'take-b' })
    const seenA: string[] = []
    const seenB: string[] = []
    a.subscribe({ connection: (id, c) => seenA.push(`${id} ${c}`) })
    b.subscribe({ connection: (id, c) => seenB.push(`${id} ${c}`) })
    a.connection('dev-1', true)
    await vi.waitFor(() => expect(seenB).toEqual(['dev-1 true']), WAIT)
    b.connection('dev-1', true) // logs in on B
    await vi.waitFor(() => expect(seenA).toEqual(['dev-1 true', 'dev-1 true']), WAIT)
    a.connection('dev-1', false) // A closes its old connection
    // A marker published after it: once B has the marker, it had A's message before.
    a.connection('marker', true)
    await vi.waitFor(() => expect(seenB.at(-1)).toBe('marker true'), WAIT)
    expect(seenA).toEqual(['dev-1 true', 'dev-1 true', 'marker true'])
    expect(seenB).toEqual(['dev-1 true', 'dev-1 true', 'marker true'])
    b.connection('dev-1', false) // later the device really leaves B
    await vi.waitFor(() => expect(seenA).toEqual(['dev-1 true', 'dev-1 true', 'marker true', 'dev-1 false']), WAIT)
    expect(seenB).toEqual(['dev-1 true', 'dev-1 true', 'marker true', 'dev-1 false'])
  })
})
