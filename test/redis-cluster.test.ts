import { connect, type IClientOptions, type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { NewDevice } from '../devices/registry.ts'
import { startRedis, type RedisServer } from '../testkit/redis.ts'
import { startStack, type Stack } from '../testkit/stack.ts'

/** Deadline for conditions that cross Redis: generous, for a busy machine (never an expected time). */
const WAIT = { timeout: 30_000 }

/**
 * Two whole nodes (broker, ingest, embedded storage, HTTP side) in cluster mode on one real
 * redis-server, with real MQTT clients over TCP.
 *
 * Each node here has its own registry file (the shared registry store is another part's work):
 * a device is registered on both under the same id, each with its own secret. What crosses
 * nodes is what this test is about: the feed (readings, connections, registry announcements).
 */

describe('two nodes on one Redis', () => {
  let redis: RedisServer
  let a: Stack
  let b: Stack
  const clients: MqttClient[] = []

  beforeAll(async () => {
    redis = await startRedis()
    a = await startStack({ REDIS_URL: redis.url })
    b = await startStack({ REDIS_URL: redis.url })
    await vi.waitFor(() => expect([a.redisStatus!().ok, b.redisStatus!().ok]).toEqual([true, true]), { timeout: 30_000 })
  })
  afterAll(async () => {
    for (const client of clients) client.end(true)
    await a?.stop()
    await b?.stop()
    await redis?.close()
  })

  async function onBoth(device: NewDevice & { id: string }) {
    return { a: (await a.registry.add(device)).secret, b: (await b.registry.add(device)).secret }
  }

  function mqttConnect(node: Stack, id: string, secret: string, options: IClientOptions = {}): Promise<MqttClient> {
    const client = connect(`mqtt://127.0.0.1:${node.mqttPort}`, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000, clientId: id, username: id, password: secret, ...options })
    clients.push(client)
    return new Promise((resolve, reject) => {
      client.once('connect', () => resolve(client))
      client.once('error', reject)
      client.once('close', () => reject(new Error('closed before CONNACK')))
    })
  }

  const health = async (node: Stack) => (await fetch(`${node.urls.http}/api/health`)).json() as Promise<{ ready: boolean; redis?: { ok: boolean; feed: boolean; mqtt: boolean; realtime: boolean; detail?: string } }>

  it("lets node B hear node A's device: its connection and readings, in its device states", async () => {
    const id = 'aq-cluster-feed'
    const secrets = await onBoth({ id, type: 'air-quality', city: 'Firenze', name: 'Feed' })
    const heard: string[] = []
    const stop = b.feed.subscribe({ accepted: (d, r) => d.id === id && heard.push(`accepted ${r.length}`), connection: (d, c) => d === id && heard.push(`connection ${c}`) })
    const client = await mqttConnect(a, id, secrets.a)
    await client.publishAsync(`devices/${id}/telemetry`, JSON.stringify({ ts: Date.now(), pm25: 12 }), { qos: 1 })
    await vi.waitFor(() => expect(heard).toEqual(['connection true', 'accepted 1']), WAIT)
    // B's own view of the fleet (device states) has it live, though it never connected to B.
    await vi.waitFor(() => expect(b.web.operations.states.get(id)).toMatchObject({ state: 'live', lastSeen: expect.any(Number) }), WAIT)
    stop()
  })

  it('drops, on node B, the connection of a device revoked on node A', async () => {
    const id = 'aq-cluster-revoke'
    const secrets = await onBoth({ id, type: 'air-quality', city: 'Firenze', name: 'Revoke' })
    const client = await mqttConnect(b, id, secrets.b)
    const gone = new Promise<void>((resolve) => client.once('close', () => resolve()))
    a.registry.setStatus(id, 'revoked')
    await gone
    await vi.waitFor(() => expect(b.broker.isConnected(id)).toBe(false), WAIT)
  })

  it("tells a device on node B why its reading was refused once, not once per node", async () => {
    const id = 'aq-cluster-feedback'
    const secrets = await onBoth({ id, type: 'air-quality', city: 'Firenze', name: 'Feedback' })
    const client = await mqttConnect(b, id, secrets.b)
    const errors: string[] = []
    client.on('message', (topic, payload) => topic === `devices/${id}/errors` && errors.push(payload.toString()))
    await client.subscribeAsync(`devices/${id}/errors`, { qos: 0 })
    const heardOnA = new Promise<void>((resolve) => {
      const stop = a.feed.subscribe({ rejected: (d) => d.id === id && (stop(), resolve()) })
    })
    await client.publishAsync(`devices/${id}/telemetry`, 'not json', { qos: 1 })
    await vi.waitFor(() => expect(errors).toHaveLength(1), WAIT)
    await heardOnA
    // Node A heard the rejection. Anything A published to the device then is ahead of this marker,
    // sent by A over the same Redis connection.
    await vi.waitFor(
      () => {
        a.broker.publishToDevice(id, 'errors', 'marker')
        expect(errors).toContain('marker')
      },
      { timeout: 30_000, interval: 200 },
    )
    expect(errors[0]).toMatch(/invalid-json/)
    expect(errors.filter((e) => e !== 'marker')).toHaveLength(1)
  })

  it('keeps acknowledging and storing while Redis is stopped, says so in health, and recovers by itself', async () => {
    const id = 'aq-cluster-outage'
    const secrets = await onBoth({ id, type: 'air-quality', city: 'Firenze', name: 'Outage' })
    const client = await mqttConnect(a, id, secrets.a)
    const heardOnB: number[] = []
    b.feed.subscribe({ accepted: (d, r) => d.id === id && heardOnB.push(r[0]!.time) })
    const storedBefore = a.ingest.stats().shipper?.storedReadings ?? 0

    await redis.stop()
    await vi.waitFor(async () => {
      const h = await health(a)
      expect(h.redis).toMatchObject({ ok: false, feed: false, mqtt: false, realtime: false })
      expect(h.redis?.detail).toMatch(/Redis is unreachable/)
      // Readiness is about ingest and storage: the node stays in the load balancer.
      expect(h.ready).toBe(true)
    }, WAIT)
    const during = Date.now()
    for (let i = 0; i < 5; i++) {
      // Each resolves on the PUBACK: acknowledged after the WAL commit, Redis or not.
      await client.publishAsync(`devices/${id}/telemetry`, JSON.stringify({ ts: during + i, pm25: 20 + i }), { qos: 1 })
    }
    await vi.waitFor(() => expect((a.ingest.stats().shipper?.storedReadings ?? 0) - storedBefore).toBeGreaterThanOrEqual(5), { timeout: 30_000 })
    expect(heardOnB).toEqual([])

    await redis.start()
    await vi.waitFor(async () => expect((await health(a)).redis).toEqual({ ok: true, feed: true, mqtt: true, realtime: true, dropped: expect.any(Number) }), { timeout: 30_000 })
    await vi.waitFor(() => expect(b.redisStatus!().ok).toBe(true), { timeout: 30_000 })
    // Live events flow again between the nodes, with no restart.
    await vi.waitFor(
      async () => {
        await client.publishAsync(`devices/${id}/telemetry`, JSON.stringify({ ts: Date.now(), pm25: 1 }), { qos: 1 })
        expect(heardOnB.length).toBeGreaterThan(0)
      },
      { timeout: 30_000, interval: 300 },
    )
    expect(heardOnB.every((t) => t > during + 4)).toBe(true)
  })
})
