import { Aedes, type AuthenticateError } from 'aedes'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { DEVICE_TYPES, type DeviceType } from '../devices/kinds.ts'
import { parseTelemetry, type RejectCode } from '../devices/readings.ts'
import { createRegistry, openRegistryDatabase, type Device, type Registry } from '../devices/registry.ts'
import { randomBytes } from 'node:crypto'
import { ensureFleet, planFleet, type FleetEntry } from './fleet.ts'
import { badPayload, chunkBacklog, createSimulator, type Simulator } from './simulator.ts'
import { mulberry32 } from './values.ts'

/**
 * The simulator against a real MQTT broker over TCP: a minimal aedes that checks every login
 * against the device registry (as the real broker does) and records what it receives.
 */

interface Received {
  clientId: string
  topic: string
  payload: Buffer
}

async function startBroker(registry: Registry, port = 0) {
  const received: Received[] = []
  const refused: string[] = []
  /** Client ids of the connections that logged in, one entry per connection. */
  const connections: string[] = []
  const aedes = await Aedes.createBroker({
    authenticate: (client, username, password, done) => {
      const refuse = () => {
        refused.push(username ?? '')
        done(Object.assign(new Error('bad username or password'), { returnCode: 4 }) as AuthenticateError, null)
      }
      if (!username || !password || client.id !== username) return refuse()
      registry.checkCredentials(username, password.toString('utf8')).then(
        (check) => (check.ok ? done(null, true) : refuse()),
        () => refuse(),
      )
    },
  })
  aedes.on('client', (client) => connections.push(client.id))
  aedes.on('publish', (packet, client) => {
    if (client) received.push({ clientId: client.id, topic: packet.topic, payload: Buffer.from(packet.payload) })
  })
  const server = createServer((socket) => aedes.handle(socket))
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return {
    received,
    refused,
    connections,
    port: (server.address() as AddressInfo).port,
    async stop() {
      // Stop accepting first, so reconnecting devices can't slip into a closing broker.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      await new Promise<void>((resolve) => aedes.close(() => resolve()))
      await closed
    },
  }
}

/** How long a wait below may take: generous, so a busy machine passes; short polls, so timings stay tight. */
const WAIT = { timeout: 30_000, interval: 20 }

const telemetry = (received: Received[], id: string) => received.filter((m) => m.clientId === id && m.topic === `devices/${id}/telemetry`)

describe('simulator against an MQTT broker', () => {
  let dir: string
  let registry: Registry
  let closeDb: () => void
  let sim: Simulator | undefined
  const brokers: { stop(): Promise<void> }[] = []

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'piazza-sim-'))
    const db = openRegistryDatabase(join(dir, 'registry.db'))
    registry = createRegistry({ db, secretKey: randomBytes(32) })
    closeDb = () => db.close()
  })
  afterEach(async () => {
    await sim?.close()
    sim = undefined
    for (const b of brokers.splice(0)) await b.stop().catch(() => {})
    closeDb()
    rmSync(dir, { recursive: true, force: true })
  })

  async function fleetOf(types: readonly DeviceType[]): Promise<FleetEntry[]> {
    const plan = planFleet({ devices: 80, seed: 7 })
    return ensureFleet(
      registry,
      types.map((t) => plan.find((p) => p.type === t)!),
      join(dir, 'simulator', 'fleet.json'),
    )
  }

  it('publishes valid readings with each device’s own credentials, buffers while the broker is down and sends the backlog as an array', async () => {
    const fleet = await fleetOf(DEVICE_TYPES)
    const broker = await startBroker(registry)
    brokers.push(broker)
    sim = createSimulator({
      mqttUrl: `mqtt://127.0.0.1:${broker.port}`,
      fleet,
      intervalSeconds: 0.1,
      seed: 3,
      logger: pino({ level: 'silent' }),
    })
    await sim.start()
    const s = sim

    await expect.poll(() => fleet.every((e) => telemetry(broker.received, e.device.id).length >= 3), { ...WAIT, message: 'three messages from every device' }).toBe(true)
    expect(broker.refused).toEqual([])
    for (const { device } of fleet) {
      expect(broker.received.some((m) => m.clientId === device.id && m.topic === `devices/${device.id}/status` && m.payload.toString() === 'online')).toBe(true)
      for (const m of telemetry(broker.received, device.id)) {
        const parsed = parseTelemetry(device.type, m.payload, Date.now())
        expect(parsed.rejections).toEqual([])
        expect(parsed.readings.length).toBeGreaterThan(0)
      }
    }
    // Nothing arrives on another device's topic.
    for (const m of broker.received) expect(m.topic.startsWith(`devices/${m.clientId}/`)).toBe(true)

    await broker.stop()
    await expect.poll(() => s.stats().connected, { ...WAIT, message: 'every device to notice the broker is gone' }).toBe(0)
    const downAt = Date.now()
    await expect.poll(() => s.stats().buffered, { ...WAIT, message: 'readings to pile up in the offline buffers' }).toBeGreaterThanOrEqual(10 * fleet.length)
    const restartAt = Date.now()
    const again = await startBroker(registry, broker.port)
    brokers.push(again)

    // Readings taken while the broker was down: each must arrive once, inside an array payload.
    const offline = (device: Device) => {
      const seen = new Map<string, number>()
      let outsideArrays = 0
      for (const m of telemetry(again.received, device.id)) {
        const isArray = m.payload.toString().trimStart().startsWith('[')
        const parsed = parseTelemetry(device.type, m.payload, Date.now())
        expect(parsed.rejections).toEqual([])
        for (const r of parsed.readings) {
          if (r.time <= downAt || r.time >= restartAt) continue
          const key = `${r.time}/${String(r.values.laneId ?? '')}`
          seen.set(key, (seen.get(key) ?? 0) + 1)
          if (!isArray) outsideArrays++
        }
      }
      return { seen, outsideArrays }
    }
    await expect.poll(() => fleet.every((e) => offline(e.device).seen.size > 0), { ...WAIT, message: 'the backlog from every device' }).toBe(true)
    await expect.poll(() => s.stats().connected, { ...WAIT, message: 'every device to be back online' }).toBe(fleet.length)
    for (const { device } of fleet) {
      const { seen, outsideArrays } = offline(device)
      expect(outsideArrays).toBe(0)
      expect([...seen.values()].every((n) => n === 1)).toBe(true)
    }
    const stats = s.stats()
    expect(stats.backlogs).toBeGreaterThanOrEqual(fleet.length)
    expect(stats.refusedLogins).toBe(0)
    expect(stats.dropped).toBe(0)

    await s.close()
    expect(s.stats().connected).toBe(0)
    await s.stopped
  })

  it('injects faults: wrong secrets, bad payloads, bursts and a device that goes silent', async () => {
    const fleet = await fleetOf(['air-quality', 'weather', 'parking', 'bus', 'noise'])
    const broker = await startBroker(registry)
    brokers.push(broker)
    sim = createSimulator({
      mqttUrl: `mqtt://127.0.0.1:${broker.port}`,
      fleet,
      intervalSeconds: 0.1,
      seed: 5,
      faults: { badPayloadRate: 0.3, wrongCredentials: 1, silentDevices: 1, burstEverySeconds: 0.3, burstSize: 5 },
      logger: pino({ level: 'silent' }),
    })
    await sim.start()
    const s = sim
    const [wrongId] = s.faulty.wrongCredentials
    const [silentId] = s.faulty.silent
    expect(wrongId).toBeDefined()
    expect(silentId).toBeDefined()
    expect(silentId).not.toBe(wrongId)
    const healthy = fleet.map((e) => e.device).filter((d) => d.id !== wrongId && d.id !== silentId)

    const codes = () => {
      const out = new Set<RejectCode>()
      for (const { device } of fleet) {
        for (const m of telemetry(broker.received, device.id)) for (const r of parseTelemetry(device.type, m.payload, Date.now()).rejections) out.add(r.code)
      }
      return out
    }
    // Every kind of fault shows.
    await vi.waitFor(() => {
      expect(s.stats()).toMatchObject({ refusedLogins: 1, silent: 1 })
      expect(s.stats().bursts).toBeGreaterThanOrEqual(2)
      expect(codes().size).toBeGreaterThanOrEqual(3)
    }, WAIT)
    expect(broker.refused).toContain(wrongId)
    expect(telemetry(broker.received, wrongId!)).toEqual([])
    expect(s.stats().connected).toBe(fleet.length - 1)

    // The silent device stays connected but sends nothing more while the others carry on.
    const silentCount = telemetry(broker.received, silentId!).length
    const before = healthy.map((d) => telemetry(broker.received, d.id).length)
    await expect.poll(() => healthy.every((d, i) => telemetry(broker.received, d.id).length >= before[i]! + 5), { ...WAIT, message: 'the healthy devices to publish more' }).toBe(true)
    expect(telemetry(broker.received, silentId!).length).toBe(silentCount)
    expect(s.stats().connected).toBe(fleet.length - 1)

    await s.close()
    const stats = s.stats()
    expect(stats.failed).toBe(0)
    let rejectedMessages = 0
    let burstFound = false
    for (const { device } of fleet) {
      const times: number[] = []
      for (const m of telemetry(broker.received, device.id)) {
        const parsed = parseTelemetry(device.type, m.payload, Date.now())
        if (parsed.rejections.length > 0) {
          rejectedMessages++
          expect(parsed.readings).toEqual([])
        }
        times.push(...parsed.readings.map((r) => r.time))
      }
      // A burst is five readings exactly 100 ms apart.
      const set = new Set(times)
      if (times.some((t) => [1, 2, 3, 4].every((k) => set.has(t + 100 * k)))) burstFound = true
    }
    expect(rejectedMessages).toBe(stats.badPayloads)
    expect(burstFound).toBe(true)
  })

  it('publishAs sends a backlog over a device’s own live connection, waits while it is offline, and stops when told or closed', async () => {
    const fleet = await fleetOf(['weather', 'parking'])
    const broker = await startBroker(registry)
    brokers.push(broker)
    sim = createSimulator({ mqttUrl: `mqtt://127.0.0.1:${broker.port}`, fleet, intervalSeconds: 0.1, seed: 3, logger: pino({ level: 'silent' }) })
    const s = sim
    const { id } = fleet[0]!.device
    await expect(s.publishAs(id, '[]')).rejects.toThrow(`simulator: device '${id}' has not started; publishAs() needs start() to have resolved`)
    await s.start()
    await expect(s.publishAs('no-such-device', '[]')).rejects.toThrow("simulator: no device 'no-such-device' in this fleet")

    // Resolves on each message's PUBACK; the messages go in order over the one connection the
    // device publishes live on (a second one with its client id would take the first one over).
    const marked = (m: Received) => m.payload.toString().startsWith('["backlog')
    // (The broker's 'publish' event, which the test broker records, may come after the PUBACK.)
    for (let i = 0; i < 5; i++) await s.publishAs(id, `["backlog ${i}"]`)
    await expect.poll(() => telemetry(broker.received, id).filter(marked).map((m) => m.payload.toString()), WAIT).toEqual([0, 1, 2, 3, 4].map((i) => `["backlog ${i}"]`))
    expect(broker.connections.filter((c) => c === id)).toEqual([id])
    const live = telemetry(broker.received, id).filter((m) => !marked(m)).length
    await expect.poll(() => telemetry(broker.received, id).filter((m) => !marked(m)).length, { ...WAIT, message: 'live readings go on' }).toBeGreaterThan(live)

    // Offline, it waits for the device's connection to come back.
    await broker.stop()
    await expect.poll(() => s.stats().connected, { ...WAIT, message: 'every device to notice the broker is gone' }).toBe(0)
    const sent = s.publishAs(id, '["backlog while offline"]')
    const again = await startBroker(registry, broker.port)
    brokers.push(again)
    await sent
    await expect.poll(() => telemetry(again.received, id).filter(marked).map((m) => m.payload.toString()), WAIT).toEqual(['["backlog while offline"]'])

    // Told to stop, or the simulator closing, ends a wait for the connection with the reason.
    await again.stop()
    await expect.poll(() => s.stats().connected, { ...WAIT, message: 'every device to notice the broker is gone again' }).toBe(0)
    const told = new AbortController()
    const stopped = expect(s.publishAs(id, '["never"]', told.signal)).rejects.toThrow('told to stop')
    told.abort(new Error('told to stop'))
    await stopped
    const closing = expect(s.publishAs(id, '["never"]')).rejects.toThrow('simulator closed')
    await s.close()
    await closing
    await expect(s.publishAs(id, '["never"]')).rejects.toThrow('simulator closed')
  })
})

describe('payload helpers', () => {
  it('chunks a backlog into arrays of at most 1,000 readings and within the size limit', () => {
    const readings = Array.from({ length: 2500 }, (_, i) => ({ ts: i, pm25: 1 }))
    const chunks = chunkBacklog(readings)
    expect(chunks.map((c) => c.readings)).toEqual([1000, 1000, 500])
    expect(chunks.flatMap((c) => JSON.parse(c.payload) as unknown[])).toEqual(readings)
    const small = chunkBacklog(readings.slice(0, 100), 1000, 500)
    for (const c of small) expect(Buffer.byteLength(c.payload)).toBeLessThanOrEqual(500)
    expect(small.reduce((n, c) => n + c.readings, 0)).toBe(100)
  })

  it('builds each kind of bad payload so the validator rejects it', () => {
    const rng = mulberry32(1)
    const now = Date.now()
    const ts = new Date(now).toISOString()
    const rejections = (type: DeviceType, reading: Record<string, unknown>, variant: Parameters<typeof badPayload>[3]) =>
      parseTelemetry(type, badPayload(type, reading, rng, variant), now).rejections.map((r) => r.code)
    const good = { ts, pm25: 10, pm10: 20 }
    expect(rejections('air-quality', good, 'invalid-json')).toEqual(['invalid-json'])
    expect(rejections('air-quality', good, 'unknown-field')).toEqual(['unknown-field'])
    expect(rejections('air-quality', good, 'future-timestamp')).toEqual(['timestamp-in-future'])
    const outOfRange: [DeviceType, Record<string, unknown>, string, (v: number) => boolean][] = [
      ['air-quality', good, 'pm10', (v) => v < 0],
      ['weather', { ts, temperature: 10 }, 'relativeHumidity', (v) => v === 140],
      ['parking', { ts, availableSpotNumber: 1, totalSpotNumber: 2 }, 'availableSpotNumber', (v) => v < 0],
    ]
    for (const [type, reading, field, bad] of outOfRange) {
      const payload = JSON.parse(badPayload(type, reading, rng, 'out-of-range')) as Record<string, number>
      expect(bad(payload[field]!)).toBe(true)
      expect(rejections(type, reading, 'out-of-range')).toEqual(['out-of-range'])
    }
  })
})
