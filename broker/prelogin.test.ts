import { once } from 'node:events'
import { connect as connectTcp, type Socket } from 'node:net'
import mqttPacket from 'mqtt-packet'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { WebSocket } from 'ws'
import { closed, publish, startBroker, type TestBroker } from '../testkit/test-broker.ts'

/** Memory and sockets before login: small CONNECTs, caps on open and pending connections, the WebSocket port counted like TCP. */

const opened: (Socket | WebSocket)[] = []
afterAll(() => {
  for (const s of opened) (s instanceof WebSocket ? s.terminate() : s.destroy())
})

/** A raw TCP socket to the WebSocket port that never upgrades. */
async function rawWsPortSocket(t: TestBroker): Promise<Socket> {
  const socket = connectTcp(t.listener.wsPort!, '127.0.0.1')
  opened.push(socket)
  socket.on('error', () => {})
  await once(socket, 'connect')
  return socket
}

const isClosed = (s: Socket) => s.destroyed || s.readyState === 'closed'

describe('packet size before login', () => {
  let t: TestBroker
  beforeAll(async () => {
    t = await startBroker({ maxPacketSize: 64 * 1024, maxConnectPacketSize: 4096 })
  })
  afterAll(() => t.stop())

  it('closes a connection announcing a CONNECT over maxConnectPacketSize as soon as its header arrives', async () => {
    const socket = await t.rawSocket()
    const gone = closed(socket)
    // A CONNECT fixed header announcing 250,000 bytes, and only the start of its body.
    const header = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'x', clean: true, keepalive: 60 })
    const length = 250_000
    const announced = Buffer.from([0x10, (length & 0x7f) | 0x80, ((length >> 7) & 0x7f) | 0x80, length >> 14])
    socket.write(Buffer.concat([announced, header.subarray(2)]))
    await gone
    expect(t.broker.stats().refused['packet-too-large']).toBe(1)
    await vi.waitFor(() => expect(t.broker.stats().connections).toBe(0))
  })

  it('closes one whose CONNECT is just over the limit, and accepts one just under it', async () => {
    const device = await t.addDevice('aq-pre-size')
    const over = await t.rawSocket()
    const gone = closed(over)
    over.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: device.id, username: device.id, password: Buffer.alloc(4100, 0x61), clean: true, keepalive: 60 }))
    await gone
    expect(t.broker.stats().refused['packet-too-large']).toBe(2)
    const client = await t.deviceConnect(device)
    expect(client.connected).toBe(true)
  })

  it('allows the full maxPacketSize once logged in', async () => {
    const device = await t.addDevice('aq-pre-big-publish')
    const client = await t.deviceConnect(device)
    const payload = `{"ts":1,"pad":"${'a'.repeat(20_000)}"}`
    await publish(client, 'devices/aq-pre-big-publish/telemetry', payload)
    expect(t.telemetry.filter((r) => r.device.id === device.id).at(-1)?.payload).toBe(payload)
    expect(t.broker.stats().refused['packet-too-large']).toBe(2)
  })
})

describe('pending cap', () => {
  let t: TestBroker
  beforeAll(async () => {
    t = await startBroker({ maxPendingConnections: 2 })
  })
  afterAll(() => t.stop())

  it('closes new sockets at once while too many have not logged in, and counts logged-in ones out', async () => {
    const a = await t.rawSocket()
    await t.rawSocket()
    await vi.waitFor(() => expect(t.broker.stats().pending).toBe(2))
    const third = await t.rawSocket()
    await closed(third)
    expect(t.broker.stats().refused['too-many-pending']).toBe(1)

    a.destroy()
    await vi.waitFor(() => expect(t.broker.stats().pending).toBe(1))
    const device = await t.addDevice('aq-pending-1')
    const client = await t.deviceConnect(device)
    expect(client.connected).toBe(true)
    expect(t.broker.stats()).toMatchObject({ connections: 2, pending: 1 })
    // The logged-in device no longer takes a pending slot: one more raw socket fits, then none.
    await t.rawSocket()
    await vi.waitFor(() => expect(t.broker.stats().pending).toBe(2))
    const fourth = await t.rawSocket()
    await closed(fourth)
    expect(t.broker.stats().refused['too-many-pending']).toBe(2)
  })
})

describe('global connection cap', () => {
  let t: TestBroker
  beforeAll(async () => {
    t = await startBroker({ maxConnections: 2 })
  })
  afterAll(() => t.stop())

  it('closes sockets beyond maxConnections on either port, logged-in connections included in the count', async () => {
    const device = await t.addDevice('aq-global-1')
    await t.deviceConnect(device)
    await rawWsPortSocket(t)
    await vi.waitFor(() => expect(t.broker.stats().connections).toBe(2))
    const tcp = await t.rawSocket()
    await closed(tcp)
    const ws = await rawWsPortSocket(t)
    await closed(ws)
    expect(t.broker.stats().refused['too-many-connections']).toBe(2)
  })
})

describe('WebSocket port, counted like TCP', () => {
  let t: TestBroker
  beforeAll(async () => {
    t = await startBroker({ maxConnectionsPerAddress: 2, connectTimeoutMs: 300 })
  })
  afterAll(() => t.stop())

  it('counts a raw socket on the WebSocket port against the address from its first moment, one slot each', async () => {
    const first = await rawWsPortSocket(t)
    const second = await t.rawSocket()
    await vi.waitFor(() => expect(t.broker.stats().connections).toBe(2))
    const third = await rawWsPortSocket(t)
    await closed(third)
    expect(t.broker.stats().refused['too-many-connections']).toBe(1)
    first.destroy()
    second.destroy()
    await vi.waitFor(() => expect(t.broker.stats().connections).toBe(0))
  })

  it('closes a WebSocket-port socket that does not upgrade within the CONNECT timeout, frees its slot', async () => {
    const socket = await rawWsPortSocket(t)
    await vi.waitFor(() => expect(t.broker.stats().connections).toBe(1))
    await closed(socket)
    expect(isClosed(socket)).toBe(true)
    await vi.waitFor(() => expect(t.broker.stats().connections).toBe(0))
  })

  it('closes one that keeps an idle HTTP keep-alive connection after a plain request', async () => {
    const socket = await rawWsPortSocket(t)
    const gone = closed(socket)
    socket.resume() // read the 426 answer, or the socket never sees its end
    socket.write('GET /mqtt HTTP/1.1\r\nHost: piazza\r\nConnection: keep-alive\r\n\r\n')
    await gone
    await vi.waitFor(() => expect(t.broker.stats().connections).toBe(0))
  })

  it('closes an upgraded WebSocket that never sends CONNECT, and frees its slot', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${t.listener.wsPort}/mqtt`, 'mqtt')
    opened.push(ws)
    ws.on('error', () => {})
    await once(ws, 'open')
    expect(t.broker.stats().connections).toBe(1)
    await once(ws, 'close')
    await vi.waitFor(() => expect(t.broker.stats().connections).toBe(0))
  })

  it('still serves a device over WebSocket, which holds one slot', async () => {
    const device = await t.addDevice('aq-ws-counted')
    const client = await t.mqttConnect({ clientId: device.id, username: device.id, password: device.secret }, `ws://127.0.0.1:${t.listener.wsPort}/mqtt`)
    await publish(client, 'devices/aq-ws-counted/telemetry', '{"ts":1}')
    expect(t.broker.stats()).toMatchObject({ connections: 1, pending: 0 })
  })
})

describe('WebSocket message size before login', () => {
  let t: TestBroker
  beforeAll(async () => {
    t = await startBroker()
  })
  afterAll(() => t.stop())

  it('closes a socket whose first message is larger than a CONNECT (1009), before any login', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${t.listener.wsPort}/mqtt`, 'mqtt')
    opened.push(ws)
    ws.on('error', () => {})
    await once(ws, 'open')
    const gone = once(ws, 'close')
    // 64 KiB: well under the 256 KiB packet limit, far over the 4 KiB CONNECT cap.
    ws.send(Buffer.alloc(64 * 1024, 0x61))
    const [code] = (await gone) as [number]
    expect(code).toBe(1009)
    await vi.waitFor(() => expect(t.broker.stats().connections).toBe(0))
  })

  it('accepts a CONNECT under the cap, then full-size messages once logged in', async () => {
    const device = await t.addDevice('aq-ws-big')
    const wsClient = await t.mqttConnect({ clientId: device.id, username: device.id, password: device.secret }, `ws://127.0.0.1:${t.listener.wsPort}/mqtt`)
    const payload = `{"ts":1,"pad":"${'b'.repeat(100_000)}"}`
    await publish(wsClient, `devices/${device.id}/telemetry`, payload)
    expect(t.telemetry.filter((r) => r.device.id === device.id).at(-1)?.payload).toBe(payload)
  })
})
