import type { MqttClient } from 'mqtt'
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { connect as netConnect, createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough, type Duplex } from 'node:stream'
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { publish, startBroker, type TestBroker, type Telemetry } from '../testkit/test-broker.ts'
import { createIntake, type Intake } from './intake.ts'

/**
 * The intake bound: behaviour asserted by what was read and what waits, never by elapsed time.
 */

const turn = () => new Promise((resolve) => setImmediate(resolve))

/**
 * Reads like aedes: one chunk per 'readable', each byte a message begun at once, ended by the test.
 * While `busy` (aedes amid a batch) it ignores 'readable' and reads when `next()` is called.
 */
function reader(intake: Intake, name: string, log: string[], stream: Duplex = new PassThrough(), state = { busy: false }) {
  intake.hold(stream)
  const next = () => {
    const chunk: Buffer | null = stream.read()
    if (chunk === null) return
    log.push(`${name}:${chunk.toString('utf8')}`)
    for (let i = 0; i < chunk.length; i++) intake.begin()
  }
  stream.on('readable', () => {
    if (!state.busy) next()
  })
  return Object.assign(stream, { next })
}

/** Storage catching up: records the held messages as they come, `count` in all. */
async function recordAsTheyCome(held: Telemetry[], count: number) {
  let recorded = 0
  while (recorded < count) {
    await vi.waitFor(() => expect(held.length).toBeGreaterThan(0))
    for (const m of held.splice(0)) {
      m.done()
      recorded += 1
    }
  }
}

/** A bound of one message, which reader a's first byte takes; readers b and c have read nothing yet. */
async function boundTakenByA() {
  const intake = createIntake({ maxInFlight: 1 })
  const log: string[] = []
  const [a, b, c] = [reader(intake, 'a', log), reader(intake, 'b', log), reader(intake, 'c', log)]
  a.write('1')
  await turn()
  return { intake, log, b, c }
}

describe('intake bound', () => {
  it('reads straight through below the bound', async () => {
    const intake = createIntake({ maxInFlight: 10 })
    const log: string[] = []
    const a = reader(intake, 'a', log)
    a.write('xyz')
    await turn()
    expect(log).toEqual(['a:xyz'])
    expect(intake.stats()).toEqual({ inFlight: 3, waiting: 0, waits: 0 })
  })

  it('makes connections wait at the bound and lets them read in the order they came', async () => {
    const intake = createIntake({ maxInFlight: 2 })
    const log: string[] = []
    const [a, b, c, d] = [reader(intake, 'a', log), reader(intake, 'b', log), reader(intake, 'c', log), reader(intake, 'd', log)]
    a.write('1')
    await turn()
    b.write('22') // read: one in flight, under the bound
    await turn()
    c.write('3')
    await turn()
    d.write('4')
    await turn()
    expect(log).toEqual(['a:1', 'b:22'])
    expect(intake.stats()).toEqual({ inFlight: 3, waiting: 2, waits: 2 })

    // A read that only refills the stream's buffer is never held.
    expect(c.read(0)).toBeNull()
    expect(intake.stats().waiting).toBe(2)

    intake.end()
    await turn()
    expect(log).toHaveLength(2) // 2 in flight: still at the bound
    intake.end()
    await turn()
    expect(log).toEqual(['a:1', 'b:22', 'c:3']) // c waited first; it brings the count back to the bound
    expect(intake.stats()).toMatchObject({ inFlight: 2, waiting: 1 })

    // A connection with data that was not waiting yet queues behind d.
    a.write('5')
    await turn()
    expect(log).toHaveLength(3)
    intake.end()
    await turn()
    expect(log).toEqual(['a:1', 'b:22', 'c:3', 'd:4'])
    intake.end()
    intake.end()
    await turn()
    expect(log).toEqual(['a:1', 'b:22', 'c:3', 'd:4', 'a:5'])
    expect(intake.stats()).toEqual({ inFlight: 1, waiting: 0, waits: 3 })
  })

  it('does not queue a connection that asks to read with nothing buffered; it queues when its data comes', async () => {
    const { intake, log, b, c } = await boundTakenByA()
    b.write('2')
    await turn()
    expect(intake.stats()).toEqual({ inFlight: 1, waiting: 1, waits: 1 })

    // As aedes does after every batch: asks for more while the bound is reached and nothing came yet.
    expect(c.read()).toBeNull()
    expect(intake.stats()).toEqual({ inFlight: 1, waiting: 1, waits: 1 })

    // Its data comes: now it waits, behind b, whose data came first.
    c.write('3')
    await turn()
    expect(intake.stats()).toEqual({ inFlight: 1, waiting: 2, waits: 2 })
    for (let i = 0; i < 3; i++) {
      intake.end()
      await turn()
    }
    expect(log).toEqual(['a:1', 'b:2', 'c:3'])
    expect(intake.stats()).toEqual({ inFlight: 0, waiting: 0, waits: 2 })
  })

  it('keeps first-come order with hundreds waiting, round after round, skipping those that closed', async () => {
    const intake = createIntake({ maxInFlight: 1 })
    const log: string[] = []
    const streams = Array.from({ length: 300 }, (_, i) => reader(intake, `s${i}`, log))
    const closed = new Set<number>()
    for (let round = 0; round < 3; round++) {
      log.length = 0
      // One reader takes the only place; all the others then queue, each round in another order.
      const first = round * 11
      streams[first]!.write('x')
      await turn()
      // More each round, so the queue grows while its head is mid-way.
      const order = streams
        .map((_, i) => (first + 1 + i * 7) % streams.length)
        .filter((i) => i !== first && !(round > 0 && closed.has(i)))
        .slice(0, [120, 200, 299][round])
      expect(new Set(order).size).toBe(order.length)
      for (const i of order) streams[i]!.write('x')
      await turn()
      if (round === 0) {
        for (const i of [order[10]!, order[50]!, order[100]!]) closed.add(i)
        for (const i of closed) streams[i]!.destroy()
      }
      await turn()
      expect(intake.stats().waiting).toBe(order.filter((i) => !closed.has(i)).length)
      while (intake.stats().inFlight > 0) {
        intake.end()
        await turn()
      }
      expect(log).toEqual([first, ...order.filter((i) => !closed.has(i))].map((i) => `s${i}:x`))
    }
  })

  it('forgets a connection that closes while it waits, and lets everything read once closed', async () => {
    const { intake, log, b, c } = await boundTakenByA()
    b.write('2')
    c.write('3')
    await turn()
    expect(intake.stats().waiting).toBe(2)
    b.destroy()
    await turn()
    expect(intake.stats().waiting).toBe(1)
    intake.close()
    expect(intake.stats().waiting).toBe(0)
    c.write('4')
    await turn()
    expect(log).toEqual(['a:1', 'c:34'])
  })
})

/** A throwaway self-signed certificate for localhost, made by openssl. */
async function selfSigned() {
  const dir = mkdtempSync(join(tmpdir(), 'piazza-intake-tls-'))
  try {
    await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '1', '-subj', '/CN=localhost'], { cwd: dir, timeout: 30_000 })
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe.each(['tcp', 'tls'] as const)('intake bound on real %s sockets', (kind) => {
  let server: Server
  const accepted: Socket[] = []
  const clients: Socket[] = []
  beforeAll(async () => {
    const onSocket = (socket: Socket) => void accepted.push(socket)
    server = kind === 'tcp' ? createNetServer(onSocket) : createTlsServer(await selfSigned(), onSocket)
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
  })
  afterAll(async () => {
    for (const socket of [...clients, ...accepted]) socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })

  /** A client and the server's side of it. */
  async function pair() {
    const port = (server.address() as AddressInfo).port
    const client = kind === 'tcp' ? netConnect(port, '127.0.0.1') : tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false })
    clients.push(client)
    const count = accepted.length
    await once(client, kind === 'tcp' ? 'connect' : 'secureConnect')
    await vi.waitFor(() => expect(accepted.length).toBe(count + 1))
    return { client, socket: accepted[count]! }
  }

  /** Bytes the kernel holds for a server-side socket that it has not read (rx_queue in /proc/net/tcp). */
  function unread(socket: Socket) {
    const hex = (port: number) => `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`
    const row = readFileSync('/proc/net/tcp', 'utf8')
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .find((f) => f[1] === hex(socket.localPort!) && f[2] === hex(socket.remotePort!))
    if (!row) throw new Error('socket not in /proc/net/tcp')
    return parseInt(row[4]!.split(':')[1]!, 16)
  }

  const write = (socket: Socket, data: string) => new Promise<void>((resolve, reject) => socket.write(data, (err) => (err ? reject(err) : resolve())))

  it('leaves what a waiting connection sends in the kernel, and reads it once its turn comes', async () => {
    const intake = createIntake({ maxInFlight: 1 })
    const log: string[] = []
    const a = await pair()
    const b = await pair()
    reader(intake, 'a', log, a.socket)
    const bState = { busy: true }
    const bReader = reader(intake, 'b', log, b.socket, bState)
    // An echo the intake does not hold: its answer means the server's loop has run since.
    const echo = await pair()
    echo.socket.on('data', (data) => echo.socket.write(data))
    const roundTrip = async () => {
      const answer = once(echo.client, 'data')
      await write(echo.client, 'ping')
      await answer
    }

    await write(a.client, '1')
    await vi.waitFor(() => expect(log).toEqual(['a:1']))
    // b's first chunk comes while its reader is busy, so Readable asks the socket for more
    // meanwhile; then the reader reads, and b waits.
    await write(b.client, '2')
    await vi.waitFor(() => expect(b.socket.readableLength).toBe(1))
    await roundTrip()
    bState.busy = false
    bReader.next()
    expect(intake.stats().waiting).toBe(1)

    // b goes on sending while it waits: the server's side of it keeps only the chunk it had, and
    // the rest stays in the kernel. (Either shows once the bytes have come; the round trip after
    // they are in the kernel gives a socket that reads them the loop turn to do so.)
    const more = '3'.repeat(1000)
    await write(b.client, more)
    await vi.waitFor(() => expect(b.socket.readableLength > 1 || unread(b.socket) > 0).toBe(true))
    await roundTrip()
    expect(b.socket.readableLength).toBe(1)
    expect(unread(b.socket)).toBeGreaterThanOrEqual(more.length)

    // Its turn: the chunk it had. Its socket reads again, and the rest finds the bound reached.
    intake.end()
    await vi.waitFor(() => expect(log).toEqual(['a:1', 'b:2']))
    await vi.waitFor(() => expect(intake.stats()).toEqual({ inFlight: 1, waiting: 1, waits: 2 }))
    intake.end()
    await vi.waitFor(() => expect(log).toEqual(['a:1', 'b:2', `b:${more}`]))

    // Closing lets a connection that was stopped waiting read again.
    await write(a.client, '4')
    await vi.waitFor(() => expect(intake.stats().waiting).toBe(1))
    intake.close()
    await write(a.client, '5')
    await vi.waitFor(() => expect(log.at(-1)).toBe('a:45'))
  })
})

describe('intake bound over TCP', () => {
  let t: TestBroker
  beforeAll(async () => {
    t = await startBroker({ maxMessagesInFlight: 4 }, { quotas: false })
  })
  afterAll(() => t.stop())

  it('holds at most the bound (plus one read) while storage is slow, then records every message once', async () => {
    const held: Telemetry[] = []
    t.hooks.onTelemetry = (m) => held.push(m)
    const devices = await Promise.all(Array.from({ length: 6 }, (_, i) => t.addDevice(`aq-intake-${i}`)))
    const clients: MqttClient[] = await Promise.all(devices.map((d) => t.deviceConnect(d)))
    const acked = clients.flatMap((client, i) =>
      [0, 1, 2].map((n) => publish(client, `devices/${devices[i]!.id}/telemetry`, JSON.stringify({ ts: Date.now(), pm25: n }))),
    )

    // Every device's messages reach the broker: each device either got some in or waits its turn.
    await vi.waitFor(() => {
      const inside = new Set(t.telemetry.map((m) => m.device.id)).size
      expect(inside + t.broker.stats().intake.waiting).toBe(6)
    })
    const stats = t.broker.stats().intake
    expect(stats.waiting).toBeGreaterThan(0)
    expect(stats.inFlight).toBe(t.telemetry.length)
    // A device sends its three messages in one read at most: the bound, plus the rest of the read
    // that reached it.
    expect(t.telemetry.length).toBeGreaterThanOrEqual(4)
    expect(t.telemetry.length).toBeLessThanOrEqual(4 + 2)

    // Storage catches up: each recorded message lets a waiting device read.
    await recordAsTheyCome(held, 18)
    await Promise.all(acked)
    expect(t.telemetry).toHaveLength(18)
    expect(new Set(t.telemetry.map((m) => `${m.device.id} ${JSON.parse(m.payload).pm25}`)).size).toBe(18)
    // Nothing is left waiting: a connection that asks to read with nothing buffered does not queue.
    await vi.waitFor(() => expect(t.broker.stats().intake).toMatchObject({ inFlight: 0, waiting: 0 }))
    expect(t.broker.stats().intake.waits).toBeGreaterThanOrEqual(stats.waiting)
    await Promise.all(clients.map((c) => c.endAsync()))
  })
})

describe('intake bound over TCP, many devices taking turns', () => {
  let t: TestBroker
  beforeAll(async () => {
    t = await startBroker({ maxMessagesInFlight: 8 }, { quotas: false })
  })
  afterAll(() => t.stop())

  it('acknowledges every message of devices that keep sending while they wait, storage answering a turn later', async () => {
    // As the log does: a message is recorded later than it is handed over, so aedes is often amid
    // a batch when a connection's turn comes.
    t.hooks.onTelemetry = (m) => void setImmediate(() => m.done())
    const devices = await Promise.all(Array.from({ length: 40 }, (_, i) => t.addDevice(`aq-turns-${i}`)))
    const clients: MqttClient[] = await Promise.all(devices.map((d) => t.deviceConnect(d)))
    // Each device sends a message a turn of the loop without waiting for acknowledgements, so
    // bytes come while its connection waits and while aedes is amid a batch of it.
    await Promise.all(
      clients.map(async (client, i) => {
        const acked: Promise<void>[] = []
        for (let n = 0; n < 50; n++) {
          acked.push(publish(client, `devices/${devices[i]!.id}/telemetry`, JSON.stringify({ ts: Date.now(), pm25: n })))
          await turn()
        }
        await Promise.all(acked)
      }),
    )
    expect(t.telemetry).toHaveLength(2000)
    expect(new Set(t.telemetry.map((m) => `${m.device.id} ${JSON.parse(m.payload).pm25}`)).size).toBe(2000)
    expect(t.broker.stats().intake.waits).toBeGreaterThan(0)
    await vi.waitFor(() => expect(t.broker.stats().intake).toMatchObject({ inFlight: 0, waiting: 0 }))
    await Promise.all(clients.map((c) => c.endAsync()))
  }, 60_000) // a connection left unread never gets its acknowledgements: fail well before the default
})

describe('intake bound over WebSocket', () => {
  let t: TestBroker
  beforeAll(async () => {
    t = await startBroker({ maxMessagesInFlight: 1 }, { quotas: false })
  })
  afterAll(() => t.stop())

  /** Bytes the kernel holds unread for the broker's sockets on `port` (rx_queue in /proc/net/tcp). */
  function unreadOnPort(port: number) {
    const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`
    return readFileSync('/proc/net/tcp', 'utf8')
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter((f) => f[1] === local && f[4] !== undefined)
      .reduce((sum, f) => sum + parseInt(f[4]!.split(':')[1]!, 16), 0)
  }

  it('leaves what a waiting WebSocket device sends in the kernel, and records all of it once its turn comes', async () => {
    const held: Telemetry[] = []
    t.hooks.onTelemetry = (m) => held.push(m)
    const [a, b] = await Promise.all([t.addDevice('aq-ws-intake-a'), t.addDevice('aq-ws-intake-b')])
    const overTcp = await t.deviceConnect(a)
    const overWs = await t.mqttConnect({ clientId: b.id, username: b.id, password: b.secret }, `ws://127.0.0.1:${t.listener.wsPort}/mqtt`)
    const reading = (n: number, pad = 0) => JSON.stringify({ ts: Date.now(), pm25: n, ...(pad && { note: 'x'.repeat(pad) }) })

    // a's message takes the bound; b's first one makes its connection wait.
    const acked = [publish(overTcp, `devices/${a.id}/telemetry`, reading(0))]
    await vi.waitFor(() => expect(held).toHaveLength(1))
    acked.push(publish(overWs, `devices/${b.id}/telemetry`, reading(0)))
    await vi.waitFor(() => expect(t.broker.stats().intake.waiting).toBe(1))

    // b goes on sending, 60 KB while it waits: the kernel keeps it, not ws's buffers and the
    // stream's (unheld, they take 16 KB each before the socket stops on its own).
    for (let n = 1; n <= 60; n++) acked.push(publish(overWs, `devices/${b.id}/telemetry`, reading(n, 1000)))
    await vi.waitFor(() => expect(unreadOnPort(t.listener.wsPort!)).toBeGreaterThanOrEqual(60_000), { timeout: 10_000 })
    expect(t.broker.stats().intake).toMatchObject({ inFlight: 1, waiting: 1 })

    // Storage catches up: b's turn comes, its socket reads again, and every message is recorded once.
    await recordAsTheyCome(held, 62)
    await Promise.all(acked)
    const fromB = t.telemetry.filter((m) => m.device.id === b.id).map((m) => JSON.parse(m.payload).pm25)
    expect(fromB.sort((x, y) => x - y)).toEqual(Array.from({ length: 61 }, (_, n) => n))
    await vi.waitFor(() => expect(t.broker.stats().intake).toMatchObject({ inFlight: 0, waiting: 0 }))
    await Promise.all([overTcp.endAsync(), overWs.endAsync()])
  })
})
