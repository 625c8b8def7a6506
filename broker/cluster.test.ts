import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { startRedis, type RedisServer } from '../testkit/redis.ts'
import { closed, publish, startBroker, type TestBroker } from '../testkit/test-broker.ts'

/** Deadline for conditions that cross Redis: generous, for a busy machine (never an expected time). */
const WAIT = { timeout: 30_000 }

/**
 * Two brokers on one Redis (cluster mode, broker/cluster-mq.ts), real MQTT clients over TCP. Both
 * check logins against node A's registry, as nodes sharing one registry store do.
 */

describe('brokers of a cluster, over one Redis', () => {
  let redis: RedisServer
  let a: TestBroker
  let b: TestBroker
  beforeAll(async () => {
    redis = await startRedis()
    a = await startBroker({}, { redisUrl: redis.url })
    b = await startBroker({}, { redisUrl: redis.url, registry: { onChange: a.registry.onChange, checkCredentials: a.registry.checkCredentials, get: a.registry.get } })
  })
  afterAll(async () => {
    await a?.stop()
    await b?.stop()
    await redis?.close()
  })

  it("delivers a message for a device, published on node A, to the device connected to node B", async () => {
    const device = await a.addDevice('aq-cluster-errors')
    const client = await b.deviceConnect(device)
    const received: string[] = []
    client.on('message', (topic, payload) => received.push(`${topic} ${payload.toString()}`))
    await client.subscribeAsync(`devices/${device.id}/errors`, { qos: 0 })
    expect(a.broker.isConnected(device.id)).toBe(false)
    // Pub/sub subscriptions take a moment to reach Redis: publish until the device hears.
    await vi.waitFor(
      () => {
        a.broker.publishToDevice(device.id, 'errors', '{"code":"probe"}')
        expect(received.length).toBeGreaterThan(0)
      },
      { timeout: 20_000, interval: 200 },
    )
    expect(received[0]).toBe(`devices/${device.id}/errors {"code":"probe"}`)
    expect(a.broker.stats().redis).toMatchObject({ connected: true })
  })

  it("keeps each node's telemetry on its own node and acknowledges it without Redis", async () => {
    const device = await a.addDevice('aq-cluster-telemetry')
    const client = await b.deviceConnect(device)
    await publish(client, `devices/${device.id}/telemetry`, '{"pm25":1}', { qos: 1 })
    expect(b.telemetry.filter((t) => t.device.id === device.id)).toHaveLength(1)
    expect(a.telemetry.filter((t) => t.device.id === device.id)).toHaveLength(0)
  })

  it('lets a device that logs in on node B take over its session from node A: one live connection cluster-wide', async () => {
    const device = await a.addDevice('aq-cluster-takeover')
    const first = await a.deviceConnect(device)
    expect(a.broker.isConnected(device.id)).toBe(true)
    const firstClosed = closed(first)
    const second = await b.deviceConnect(device)
    await firstClosed
    await vi.waitFor(() => expect(a.broker.isConnected(device.id)).toBe(false), WAIT)
    // B counts the device once its connection is through the takeover (a busy machine lags it).
    await vi.waitFor(() => expect(b.broker.isConnected(device.id)).toBe(true), WAIT)
    // The newer connection works on.
    await publish(second, `devices/${device.id}/telemetry`, '{"pm25":2}', { qos: 1 })
    expect(second.connected).toBe(true)
  })

  it('leaves exactly one live connection, not none, when a device logs in on both nodes at once', async () => {
    const device = await a.addDevice('aq-cluster-at-once')
    // A login closed before its CONNACK rejects: that one lost.
    const attempt = (node: TestBroker) => node.deviceConnect(device).then((client) => client, () => undefined)
    const clients = await Promise.all([attempt(a), attempt(b)])
    const holds = () => [a, b].filter((node) => node.broker.isConnected(device.id))
    await vi.waitFor(() => expect(clients.filter((client) => client?.connected)).toHaveLength(1), WAIT)
    await vi.waitFor(() => expect(holds()).toHaveLength(1), WAIT)
    const survivor = clients.find((client) => client?.connected)!
    await publish(survivor, `devices/${device.id}/telemetry`, '{"pm25":3}', { qos: 1 })
    expect(survivor.connected).toBe(true)
    expect(holds()).toHaveLength(1)
  })
})
