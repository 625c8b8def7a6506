import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { closed, publish, SERVICE, startBroker, type Telemetry, type TestBroker } from '../testkit/test-broker.ts'

/** A full round trip on a fresh connection: anything the broker had already sent elsewhere has long arrived. */
async function roundTrip(t: TestBroker) {
  const probe = await t.mqttConnect({ ...SERVICE, clientId: `probe-${Math.random().toString(36).slice(2)}` })
  await probe.subscribeAsync('devices/+/status')
  await probe.endAsync()
}

/** Subscribes and returns the granted QoS per filter; mqtt.js rejects when any is 128, but the SUBACK is on the error. */
async function subscribeGranted(client: MqttClient, filters: string[]): Promise<number[]> {
  const granted = await client.subscribeAsync(filters, { qos: 1 }).then(
    (grants) => grants.map((g) => g.qos),
    (err: { packet?: { granted?: number[] } }) => {
      if (!err.packet?.granted) throw err
      return err.packet.granted
    },
  )
  return granted
}

function readingsFrom(t: TestBroker, deviceId: string) {
  return t.telemetry.filter((r) => r.device.id === deviceId)
}

describe('broker over TCP', () => {
  let t: TestBroker
  beforeAll(async () => {
    t = await startBroker({ maxPacketSize: 4096, connectTimeoutMs: 300 })
  })
  afterAll(() => t.stop())
  beforeEach(() => {
    t.hooks.onTelemetry = (r) => r.done()
  })

  describe('login', () => {
    it('lets a device in with its id and secret, and counts it as connected', async () => {
      const device = await t.addDevice('aq-login-ok')
      const client = await t.deviceConnect(device)
      expect(client.connected).toBe(true)
      expect(t.broker.isConnected('aq-login-ok')).toBe(true)
      expect(t.broker.connectedDevices()).toBeGreaterThanOrEqual(1)
      await client.endAsync()
      await vi.waitFor(() => expect(t.broker.isConnected('aq-login-ok')).toBe(false), { timeout: 20_000 })
    })

    it('refuses a wrong secret with return code 4', async () => {
      const device = await t.addDevice('aq-login-wrong')
      await expect(t.deviceConnect({ id: device.id, secret: 'not-the-secret' })).rejects.toMatchObject({ code: 4 })
      expect(t.broker.stats().refused['bad-secret']).toBeGreaterThanOrEqual(1)
    })

    it('refuses an unknown device with return code 4, like a wrong secret', async () => {
      await expect(t.deviceConnect({ id: 'aq-nobody', secret: 'whatever' })).rejects.toMatchObject({ code: 4 })
      expect(t.broker.stats().refused['unknown-device']).toBeGreaterThanOrEqual(1)
    })

    it('refuses a client id other than the device id with return code 2', async () => {
      const device = await t.addDevice('aq-login-id')
      await expect(t.deviceConnect(device, { clientId: 'aq-someone-else' })).rejects.toMatchObject({ code: 2 })
    })

    it('refuses revoked and decommissioned devices with return code 5', async () => {
      const revoked = await t.addDevice('aq-login-revoked')
      const gone = await t.addDevice('aq-login-gone')
      t.registry.setStatus(revoked.id, 'revoked')
      t.registry.setStatus(gone.id, 'decommissioned')
      await expect(t.deviceConnect(revoked)).rejects.toMatchObject({ code: 5 })
      await expect(t.deviceConnect(gone)).rejects.toMatchObject({ code: 5 })
      expect(t.broker.stats().refused).toMatchObject({ revoked: 1, decommissioned: 1 })
    })

    it('refuses a device revoked while its secret was being checked', async () => {
      const device = await t.addDevice('aq-login-race')
      let checked!: () => void
      let resume!: () => void
      t.hooks.afterCheck = () => {
        checked()
        return new Promise<void>((resolve) => (resume = resolve))
      }
      const whenChecked = new Promise<void>((resolve) => (checked = resolve))
      const login = t.deviceConnect(device)
      await whenChecked // the registry said yes, from the row as it was
      t.hooks.afterCheck = async () => {}
      t.registry.setStatus(device.id, 'revoked')
      resume()
      await expect(login).rejects.toMatchObject({ code: 5 })
      expect(t.broker.isConnected(device.id)).toBe(false)
    })

    it('does not let a service account take over a connected device’s client id', async () => {
      const device = await t.addDevice('aq-login-taken')
      const client = await t.deviceConnect(device)
      await expect(t.mqttConnect({ ...SERVICE, clientId: device.id })).rejects.toMatchObject({ code: 2 })
      expect(client.connected).toBe(true)
    })

    it('refuses a connection without credentials', async () => {
      await expect(t.mqttConnect({ clientId: 'anonymous' })).rejects.toMatchObject({ code: 5 })
      expect(t.broker.stats().refused['no-credentials']).toBeGreaterThanOrEqual(1)
    })

    it('refuses a service account with a wrong password, and an overlong client id', async () => {
      await expect(t.mqttConnect({ username: SERVICE.username, password: 'nope', clientId: 'svc-1' })).rejects.toMatchObject({ code: 4 })
      await expect(t.mqttConnect({ ...SERVICE, clientId: 'x'.repeat(200) })).rejects.toMatchObject({ code: 2 })
    })

    it('refuses a will on another topic than the device’s own status', async () => {
      const device = await t.addDevice('aq-login-will')
      const will = { topic: 'devices/aq-other/status', payload: Buffer.from('offline'), qos: 1 as const, retain: false }
      await expect(t.deviceConnect(device, { will })).rejects.toMatchObject({ code: 5 })
      expect(t.broker.stats().refused['will-not-allowed']).toBeGreaterThanOrEqual(1)
    })

    it('refuses keepalive 0, which would let a half-open connection live for ever', async () => {
      const device = await t.addDevice('aq-login-keepalive')
      await expect(t.deviceConnect(device, { keepalive: 0 })).rejects.toThrow()
      // aedes counts it just after writing the CONNACK
      await vi.waitFor(() => expect(t.broker.stats().refused['keepalive-not-allowed']).toBeGreaterThanOrEqual(1), { timeout: 20_000 })
    })
  })

  describe('publishing', () => {
    it('hands QoS 1 telemetry to onTelemetry and sends the PUBACK only after done', async () => {
      const device = await t.addDevice('aq-pub-ack')
      const client = await t.deviceConnect(device)
      const reached = new Promise<Telemetry>((resolve) => {
        t.hooks.onTelemetry = resolve // hold done
      })
      let acked = false
      const ack = publish(client, 'devices/aq-pub-ack/telemetry', '{"ts":1,"pm25":3}').then(() => {
        acked = true
      })
      const reading = await reached
      expect(reading.device.id).toBe('aq-pub-ack')
      expect(reading.device.type).toBe('air-quality')
      expect(reading.payload).toBe('{"ts":1,"pm25":3}')
      expect(typeof reading.receivedAt).toBe('number')

      await roundTrip(t)
      expect(acked).toBe(false)
      expect(client.connected).toBe(true)

      reading.done()
      await ack
      expect(acked).toBe(true)
      expect(readingsFrom(t, 'aq-pub-ack')).toHaveLength(1)
    })

    it('closes the connection without a PUBACK when ingest fails', async () => {
      const device = await t.addDevice('aq-pub-fail')
      const client = await t.deviceConnect(device)
      t.hooks.onTelemetry = (r) => r.done(new Error('disk full'))
      let acked = false
      const gone = closed(client)
      client.publish('devices/aq-pub-fail/telemetry', '{}', { qos: 1 }, (err) => {
        if (!err) acked = true
      })
      await gone
      expect(acked).toBe(false)
      expect(t.broker.stats().refused['ingest-failed']).toBeGreaterThanOrEqual(1)
    })

    it('passes status messages to onStatus', async () => {
      const device = await t.addDevice('aq-pub-status')
      const client = await t.deviceConnect(device)
      await publish(client, 'devices/aq-pub-status/status', 'online')
      expect(t.statuses).toContainEqual({ deviceId: 'aq-pub-status', status: 'online' })
    })

    it('publishes a device’s will on its status topic when it drops off', async () => {
      const device = await t.addDevice('aq-pub-will')
      const will = { topic: 'devices/aq-pub-will/status', payload: Buffer.from('offline'), qos: 1 as const, retain: false }
      const client = await t.deviceConnect(device, { will })
      client.stream.destroy() // no DISCONNECT: the will applies
      await vi.waitFor(() => expect(t.statuses).toContainEqual({ deviceId: 'aq-pub-will', status: 'offline' }), { timeout: 20_000 })
    })

    it.each([
      ['another device’s topic', 'aq-pub-foreign', 'devices/aq-pub-victim/telemetry', false, 'topic-not-allowed'],
      ['a topic outside devices/', 'aq-pub-outside', 'city/firenze/telemetry', false, 'topic-not-allowed'],
      ['$SYS', 'aq-pub-sys', '$SYS/broker/uptime', false, 'sys-topic'],
      ['a retained message on its own topic', 'aq-pub-retain', 'devices/aq-pub-retain/telemetry', true, 'retain-not-allowed'],
    ] as const)('disconnects a device publishing to %s, without calling onTelemetry', async (_, id, topic, retain, reason) => {
      const before = t.broker.stats().refused[reason] ?? 0
      const device = await t.addDevice(id)
      const client = await t.deviceConnect(device)
      const gone = closed(client)
      client.publish(topic, '{"ts":1,"pm25":3}', { qos: 1, retain })
      await gone
      expect(readingsFrom(t, id)).toHaveLength(0)
      expect(t.broker.stats().refused[reason]).toBe(before + 1)
    })

    it('does not let a service account publish', async () => {
      const service = await t.mqttConnect({ ...SERVICE, clientId: 'svc-publisher' })
      const gone = closed(service)
      service.publish('devices/aq-anything/telemetry', '{}', { qos: 1 })
      await gone
      expect(t.broker.stats().refused['service-publish']).toBeGreaterThanOrEqual(1)
    })
  })

  describe('subscribing', () => {
    it('grants a device its own prefix and answers 128 for anything else, staying connected', async () => {
      const device = await t.addDevice('aq-sub-own')
      const client = await t.deviceConnect(device)
      const granted = await subscribeGranted(client, ['devices/aq-sub-own/errors', 'devices/aq-sub-other/errors', 'devices/#', '#', '$SYS/#'])
      expect(granted).toEqual([1, 128, 128, 128, 128])
      expect(client.connected).toBe(true)
      await publish(client, 'devices/aq-sub-own/telemetry', '{}')
    })

    it('delivers server-side messages to the device', async () => {
      const device = await t.addDevice('aq-sub-errors')
      const client = await t.deviceConnect(device)
      await client.subscribeAsync('devices/aq-sub-errors/errors', { qos: 0 })
      const received = new Promise<[string, Buffer]>((resolve) => client.once('message', (topic, payload) => resolve([topic, payload])))
      t.broker.publishToDevice('aq-sub-errors', 'errors', 'pm25: above 1000')
      const [topic, payload] = await received
      expect(topic).toBe('devices/aq-sub-errors/errors')
      expect(payload.toString()).toBe('pm25: above 1000')
    })

    it('lets a service account follow all telemetry with devices/+/telemetry', async () => {
      const device = await t.addDevice('aq-sub-watched')
      const service = await t.mqttConnect({ ...SERVICE, clientId: 'svc-watcher' })
      expect(await subscribeGranted(service, ['devices/+/telemetry', 'devices/+/status', 'devices/#', '$SYS/#'])).toEqual([1, 1, 1, 128])
      const received = new Promise<[string, string]>((resolve) => {
        service.on('message', (topic, payload) => {
          if (topic === 'devices/aq-sub-watched/telemetry') resolve([topic, payload.toString()])
        })
      })
      const client = await t.deviceConnect(device)
      await publish(client, 'devices/aq-sub-watched/telemetry', '{"ts":2,"pm10":9}')
      expect(await received).toEqual(['devices/aq-sub-watched/telemetry', '{"ts":2,"pm10":9}'])
    })
  })

  describe('hostile and broken clients', () => {
    it('disconnects a client sending an oversized packet while another carries on', async () => {
      const big = await t.addDevice('aq-host-big')
      const fine = await t.addDevice('aq-host-fine')
      const bigClient = await t.deviceConnect(big)
      const fineClient = await t.deviceConnect(fine)
      const gone = closed(bigClient)
      bigClient.publish('devices/aq-host-big/telemetry', Buffer.alloc(10_000, 0x61), { qos: 1 })
      await gone
      await publish(fineClient, 'devices/aq-host-fine/telemetry', '{"ts":3}')
      expect(readingsFrom(t, 'aq-host-big')).toHaveLength(0)
      expect(readingsFrom(t, 'aq-host-fine')).toHaveLength(1)
      expect(t.broker.stats().refused['packet-too-large']).toBeGreaterThanOrEqual(1)
    })

    it('closes a socket that sends garbage and keeps serving others', async () => {
      const socket = await t.rawSocket()
      const gone = closed(socket)
      socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: piazza\r\n\r\n'))
      await gone
      const socket2 = await t.rawSocket()
      const gone2 = closed(socket2)
      socket2.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x13, 0x37]))
      await gone2

      const device = await t.addDevice('aq-host-after-garbage')
      const client = await t.deviceConnect(device)
      await publish(client, 'devices/aq-host-after-garbage/telemetry', '{}')
      expect(readingsFrom(t, 'aq-host-after-garbage')).toHaveLength(1)
    })

    it('closes a socket that never sends CONNECT after connectTimeout', async () => {
      const socket = await t.rawSocket()
      await closed(socket)
      expect(socket.destroyed).toBe(true)
    })

    it('drops a device’s live connection when it is revoked, or its secret rotated', async () => {
      const device = await t.addDevice('aq-host-revoked')
      const client = await t.deviceConnect(device)
      const gone = closed(client)
      t.registry.setStatus(device.id, 'revoked')
      await gone
      await vi.waitFor(() => expect(t.broker.isConnected(device.id)).toBe(false), { timeout: 20_000 })
      await expect(t.deviceConnect(device)).rejects.toMatchObject({ code: 5 })

      const rotated = await t.addDevice('aq-host-rotated')
      const client2 = await t.deviceConnect(rotated)
      const gone2 = closed(client2)
      const { secret } = await t.registry.rotate(rotated.id)
      await gone2
      await expect(t.deviceConnect(rotated)).rejects.toMatchObject({ code: 4 })
      const again = await t.deviceConnect({ id: rotated.id, secret })
      expect(again.connected).toBe(true)
    })
  })

  it('serves MQTT over WebSocket on /mqtt', async () => {
    const device = await t.addDevice('aq-ws-device')
    const ws = await t.mqttConnect(
      { clientId: device.id, username: device.id, password: device.secret },
      `ws://127.0.0.1:${t.listener.wsPort}/mqtt`,
    )
    await publish(ws, 'devices/aq-ws-device/telemetry', '{"ts":4,"no2":12}')
    expect(readingsFrom(t, 'aq-ws-device').at(-1)?.payload).toBe('{"ts":4,"no2":12}')
  })
})

describe('connections per address', () => {
  let t: TestBroker
  beforeAll(async () => {
    t = await startBroker({ maxConnectionsPerAddress: 2 })
  })
  afterAll(() => t.stop())

  it('refuses connections beyond the limit from one address and frees the slot when one closes', async () => {
    const device = await t.addDevice('aq-limit-1')
    const first: MqttClient = await t.deviceConnect(device)
    await t.rawSocket()
    await vi.waitFor(() => expect(t.broker.stats().connections).toBe(2), { timeout: 20_000 })

    const third = await t.rawSocket()
    await closed(third)
    expect(t.broker.stats().refused['too-many-connections']).toBe(1)

    await first.endAsync()
    await vi.waitFor(() => expect(t.broker.stats().connections).toBe(1), { timeout: 20_000 })
    const again = await t.deviceConnect(device)
    expect(again.connected).toBe(true)
  })
})

describe('failed logins back off', () => {
  let t: TestBroker
  beforeAll(async () => {
    t = await startBroker({}, { loginLimits: { perIdFreeFailures: 2, perAddressFreeFailures: 6, baseDelayMs: 60_000 } })
  })
  afterAll(() => t.stop())

  it('refuses a device id with not authorised once it has failed too often, even with the right secret', async () => {
    const device = await t.addDevice('aq-backoff')
    for (let i = 0; i < 3; i++) await expect(t.deviceConnect({ id: device.id, secret: `wrong-${i}` })).rejects.toMatchObject({ code: 4 })
    await expect(t.deviceConnect(device)).rejects.toMatchObject({ code: 5 })
    expect(t.broker.stats().refused['too-many-failures']).toBe(1)
    expect(t.broker.stats().refused['bad-secret']).toBe(3)
  })

  it('limits an address that sprays new ids, unknown ones included, then refuses even known devices from it', async () => {
    const device = await t.addDevice('aq-backoff-bystander')
    // 3 failures so far from 127.0.0.1; 3 more use up the address's free 6, the 7th starts the backoff.
    for (let i = 0; i < 4; i++) await expect(t.deviceConnect({ id: `aq-spray-${i}`, secret: 'guess' })).rejects.toMatchObject({ code: 4 })
    const before = t.broker.stats().refused['unknown-device']
    await expect(t.deviceConnect({ id: 'aq-spray-last', secret: 'guess' })).rejects.toMatchObject({ code: 5 })
    expect(t.broker.stats().refused['unknown-device']).toBe(before) // refused before any check
    await expect(t.deviceConnect(device)).rejects.toMatchObject({ code: 5 })
    expect(t.broker.stats().refused['too-many-failures']).toBe(3)
  })
})

describe('refused logins of registered devices, for the commissioning page', () => {
  let t: TestBroker
  const announced: { deviceId: string; reason: string; message: string }[] = []
  beforeAll(async () => {
    t = await startBroker({}, { onLoginRefused: (r) => announced.push(r), loginLimits: { perIdFreeFailures: 100, perAddressFreeFailures: 100 } })
  })
  afterAll(() => t.stop())
  beforeEach(() => {
    announced.length = 0
  })

  it('names the device and says what to change: wrong secret, wrong client id, a mistyped user name, revoked', async () => {
    const device = await t.addDevice('aq-refusal-a')
    await expect(t.deviceConnect({ id: device.id, secret: 'not-the-secret' })).rejects.toMatchObject({ code: 4 })
    await vi.waitFor(() => expect(announced).toHaveLength(1), { timeout: 10_000 })
    expect(announced[0]).toMatchObject({ deviceId: device.id, reason: 'bad-secret' })
    expect(announced[0]!.message).toMatch(/^wrong password/)

    const other = await t.addDevice('aq-refusal-b')
    await expect(t.deviceConnect(other, { clientId: 'aq-refusal-typo' })).rejects.toMatchObject({ code: 2 })
    await vi.waitFor(() => expect(announced).toHaveLength(2), { timeout: 10_000 })
    expect(announced[1]).toMatchObject({ deviceId: other.id, reason: 'client-id-mismatch' })
    expect(announced[1]!.message).toContain("'aq-refusal-typo'")

    // The user name is not a device, the client id is: shown on the client id's page.
    const third = await t.addDevice('aq-refusal-c')
    await expect(t.mqttConnect({ clientId: third.id, username: 'aq-refusal-cc', password: third.secret })).rejects.toMatchObject({ code: 4 })
    await vi.waitFor(() => expect(announced).toHaveLength(3), { timeout: 10_000 })
    expect(announced[2]).toMatchObject({ deviceId: third.id, reason: 'unknown-device' })
    expect(announced[2]!.message).toContain("use 'aq-refusal-c'")

    const revoked = await t.addDevice('aq-refusal-d')
    t.registry.setStatus(revoked.id, 'revoked')
    await expect(t.deviceConnect(revoked)).rejects.toMatchObject({ code: 5 })
    await vi.waitFor(() => expect(announced).toHaveLength(4), { timeout: 10_000 })
    expect(announced[3]).toMatchObject({ deviceId: revoked.id, reason: 'revoked' })
  })

  it('announces nothing for ids nobody registered, and at most one a second per device', async () => {
    await expect(t.deviceConnect({ id: 'aq-refusal-nobody', secret: 'x' })).rejects.toMatchObject({ code: 4 })
    const device = await t.addDevice('aq-refusal-burst')
    const started = Date.now()
    for (let i = 0; i < 5; i++) await expect(t.deviceConnect({ id: device.id, secret: `wrong-${i}` })).rejects.toMatchObject({ code: 4 })
    const seconds = (Date.now() - started) / 1000
    await vi.waitFor(() => expect(announced.some((a) => a.deviceId === device.id)).toBe(true), { timeout: 10_000 })
    expect(announced.filter((a) => a.deviceId === 'aq-refusal-nobody')).toEqual([])
    expect(t.broker.stats().refused['bad-secret']).toBeGreaterThanOrEqual(5)
    // One a second at most, however long the five attempts took on this machine.
    expect(announced.filter((a) => a.deviceId === device.id).length).toBeLessThanOrEqual(Math.min(5, Math.floor(seconds) + 1))
  })
})

describe('failed logins for an id that did not exist yet', () => {
  let t: TestBroker
  beforeAll(async () => {
    t = await startBroker({}, { loginLimits: { perIdFreeFailures: 2, perAddressFreeFailures: 100, baseDelayMs: 60_000 } })
  })
  afterAll(() => t.stop())

  it('are forgotten once the device is added: it logs in at once', async () => {
    for (let i = 0; i < 3; i++) await expect(t.deviceConnect({ id: 'aq-not-yet', secret: 'guess' })).rejects.toMatchObject({ code: 4 })
    await expect(t.deviceConnect({ id: 'aq-not-yet', secret: 'guess' })).rejects.toMatchObject({ code: 5 }) // backed off
    const device = await t.addDevice('aq-not-yet')
    const client = await t.deviceConnect(device)
    expect(client.connected).toBe(true)
  })
})
