import fs from 'node:fs'
import { connect as connectTcp, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type MqttClient } from 'mqtt'
import { afterAll, describe, expect, it } from 'vitest'
import { createRegistry, openRegistryDatabase } from '../devices/registry.ts'
import { loadOrCreateSecretKey } from '../devices/secret-key.ts'
import { startPiazza, type PiazzaProcess } from './support/piazza-process.ts'

/**
 * Out of file descriptors: a real `piazza start` under `prlimit --nofile=256:256`, flooded with
 * more raw TCP sockets than it may open. It must log the failed accepts, stay up, and once the
 * flood is gone acknowledge and store a device's QoS 1 reading (embedded store).
 */

const FD_LIMIT = 256
const FLOOD = 600

const dirs: string[] = []
let piazza: PiazzaProcess | undefined
const flood: Socket[] = []
let device: MqttClient | undefined
afterAll(async () => {
  for (const s of flood) s.destroy()
  device?.end(true)
  if (piazza && piazza.child.exitCode === null) {
    piazza.child.kill('SIGTERM')
    await piazza.exited
  }
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

/** Opens one socket; resolves once it is connected or failed, whichever comes first. */
function openSocket(port: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = connectTcp(port, '127.0.0.1')
    flood.push(socket)
    socket.on('error', () => resolve())
    socket.once('connect', () => resolve())
    socket.once('close', () => {
      if (flood.includes(socket)) closedByServer += 1
      resolve()
    })
  })
}

function connectDevice(url: string, id: string, secret: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = connect(url, { clientId: id, username: id, password: secret, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000 })
    client.once('connect', () => resolve(client))
    client.once('error', (err) => {
      client.end(true)
      reject(err)
    })
    client.once('close', () => reject(new Error('closed before CONNACK')))
  })
}

async function storedReadings(httpUrl: string): Promise<number> {
  const metrics = await (await fetch(`${httpUrl}/metrics`)).text()
  return Number(/^piazza_readings_stored_total (\d+)$/m.exec(metrics)?.[1] ?? 0)
}

/** Sockets the server closed on its own (the test had not destroyed them yet). */
let closedByServer = 0

async function run(env: Record<string, string>) {
  const dataDir = fs.mkdtempSync(join(tmpdir(), 'piazza-emfile-'))
  dirs.push(dataDir)
  const db = openRegistryDatabase(join(dataDir, 'registry.db'))
  const registry = createRegistry({ db, secretKey: loadOrCreateSecretKey(dataDir) })
  const { device: station, secret } = await registry.add({ type: 'air-quality', city: 'Firenze', name: 'emfile station' })
  db.close()
  piazza = await startPiazza({ DATA_DIR: dataDir, ...env }, ['start'], ['prlimit', `--nofile=${FD_LIMIT}:${FD_LIMIT}`])
  const p = piazza
  const port = Number(new URL(p.mqttUrl).port)
  const httpUrl = /Dashboard\s+(http:\/\/\S+)/.exec(p.output())![1]!
  expect(p.logs()).toContain('the open-file limit is below')

  closedByServer = 0
  for (let i = 0; i < FLOOD; i += 50) await Promise.all(Array.from({ length: 50 }, () => openSocket(port)))
  return {
    p,
    /** After the flood: the process is up, logs in a device, and acknowledges and stores its QoS 1 reading. */
    async expectServesAfterFlood() {
      expect(p.child.exitCode).toBeNull()
      for (const s of flood.splice(0)) s.destroy()
      // Descriptors come back as the server sees the closes; until then a login may still fail.
      await expect
        .poll(
          async () => {
            try {
              device = await connectDevice(p.mqttUrl, station.id, secret)
              return true
            } catch {
              return false
            }
          },
          { timeout: 60_000, interval: 500, message: 'a device to log in after the flood' },
        )
        .toBe(true)
      const before = await storedReadings(httpUrl)
      await device!.publishAsync(`devices/${station.id}/telemetry`, JSON.stringify({ ts: Date.now(), pm25: 12 }), { qos: 1 })
      await expect.poll(() => storedReadings(httpUrl), { timeout: 60_000, message: 'the reading to be stored' }).toBe(before + 1)
      expect(p.child.exitCode).toBeNull()
      device!.end(true)
      device = undefined
      p.child.kill('SIGTERM')
      expect(await p.exited).toBe(0)
      piazza = undefined
    },
  }
}

describe.skipIf(process.platform !== 'linux')('out of file descriptors (prlimit --nofile=256:256)', () => {
  it('with the caps above the limit, accepts fail with EMFILE: the excess sockets are closed, the process stays up and then acknowledges and stores a QoS 1 reading', async () => {
    // Only the descriptor limit stops the flood here, not the broker's caps.
    const { p, expectServesAfterFlood } = await run({ MQTT_MAX_CONNECTIONS: '100000', MQTT_MAX_CONNECTIONS_PER_ADDRESS: '100000', MQTT_MAX_PENDING: '100000' })
    // libuv answers EMFILE on accept by accepting and closing the waiting connections with a
    // descriptor it keeps in reserve (its "EMFILE trick"); Node's server then emits no 'error'.
    // What shows from outside: sockets beyond the limit are closed by the server.
    await expect.poll(() => closedByServer, { timeout: 60_000, message: 'the server to close sockets beyond its descriptors' }).toBeGreaterThan(FLOOD - FD_LIMIT)
    expect(p.logs()).not.toMatch(/"level":60|uncaught|shipper stopped/)
    await expectServesAfterFlood()
  })

  it('with MQTT_MAX_CONNECTIONS below the limit, the excess is refused and logged before descriptors run out', async () => {
    const { p, expectServesAfterFlood } = await run({ MQTT_MAX_CONNECTIONS: '150', MQTT_MAX_CONNECTIONS_PER_ADDRESS: '100000', MQTT_MAX_PENDING: '100000' })
    await expect.poll(() => p.logs(), { timeout: 60_000, message: 'the refusals to be logged' }).toMatch(/"reason":"too-many-connections"[^\n]*"scope":"all"/)
    await expect.poll(() => closedByServer, { timeout: 60_000 }).toBeGreaterThanOrEqual(FLOOD - 150)
    await expectServesAfterFlood()
  })
})
