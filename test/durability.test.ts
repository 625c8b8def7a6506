import fs from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createRegistry, openRegistryDatabase } from '../devices/registry.ts'
import { loadOrCreateSecretKey } from '../devices/secret-key.ts'
import { startInfluxd } from '../testkit/influxd.ts'
import { startPiazza, type PiazzaProcess } from './support/piazza-process.ts'
import { startPublishers, type Credentials } from './support/publisher.ts'

/**
 * Nothing acknowledged is lost: real `piazza start` processes, real MQTT publishers at QoS 1 and
 * a real InfluxDB. Each test ends by finding every acknowledged (device, timestamp) in InfluxDB.
 */

let influx: Awaited<ReturnType<typeof startInfluxd>>
const dirs: string[] = []

beforeAll(async () => {
  influx = await startInfluxd()
})
afterAll(async () => {
  await influx?.stop()
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

async function setup(name: string, count: number) {
  const dataDir = fs.mkdtempSync(join(tmpdir(), `piazza-${name}-`))
  dirs.push(dataDir)
  const db = openRegistryDatabase(join(dataDir, 'registry.db'))
  const registry = createRegistry({ db, secretKey: loadOrCreateSecretKey(dataDir) })
  const devices: Credentials[] = []
  for (let i = 0; i < count; i++) {
    const { device, secret } = await registry.add({ type: 'air-quality', city: 'Firenze', name: `station ${i}` })
    devices.push({ id: device.id, secret })
  }
  db.close()
  const database = `durability_${name}_${process.pid}`
  // These devices publish far faster than their interval on purpose (load), so per-device quotas are off.
  return { env: { DATA_DIR: dataDir, INFLUX_URL: influx.url, INFLUX_DB: database, MQTT_QUOTAS: '0' }, devices, database }
}

async function storedTimes(database: string, deviceId: string): Promise<number[]> {
  const q = `SELECT "pm25" FROM "air-quality" WHERE "device" = '${deviceId}'`
  const res = await fetch(`${influx.url}/query?db=${database}&epoch=ms&q=${encodeURIComponent(q)}`)
  const body = (await res.json()) as { results: { series?: { values: [number, number][] }[] }[] }
  return body.results[0]?.series?.[0]?.values.map((v) => v[0]) ?? []
}

/** Every acknowledged reading is stored, and stored once (a series holds one point per time). */
async function expectAllAcknowledgedStored(database: string, acked: Map<string, Set<number>>) {
  await vi.waitFor(
    async () => {
      for (const [device, times] of acked) {
        const stored = new Set(await storedTimes(database, device))
        const missing = [...times].filter((ts) => !stored.has(ts)).length
        if (missing > 0) throw new Error(`waiting for every acknowledged reading in InfluxDB: ${missing} of ${device} not there yet`)
      }
    },
    { timeout: 60_000, interval: 500 },
  )
  for (const [device, times] of acked) {
    const stored = await storedTimes(database, device)
    expect(new Set(stored).size).toBe(stored.length)
    const missing = [...times].filter((ts) => !stored.includes(ts))
    expect(missing).toEqual([])
  }
}

function mqttPort(p: PiazzaProcess) {
  return new URL(p.mqttUrl).port
}

describe('durability', () => {
  it('loses nothing acknowledged when ingest is killed with SIGKILL mid-stream', async () => {
    const { env, devices, database } = await setup('kill', 8)
    let piazza = await startPiazza(env)
    const port = mqttPort(piazza)
    const publishers = startPublishers({ url: piazza.mqttUrl, devices })
    await expect.poll(() => publishers.ackedCount(), { timeout: 60_000 }).toBeGreaterThan(2000)
    piazza.child.kill('SIGKILL')
    expect(await piazza.exited).toBe('SIGKILL')
    const ackedAtKill = publishers.ackedCount()

    piazza = await startPiazza({ ...env, MQTT_PORT: port })
    // The publishers reconnect and are acknowledged again.
    await expect.poll(() => publishers.ackedCount(), { timeout: 60_000 }).toBeGreaterThan(ackedAtKill + 2000)
    await publishers.stop()
    await expectAllAcknowledgedStored(database, publishers.acked)

    piazza.child.kill('SIGTERM')
    expect(await piazza.exited).toBe(0)
  }, 180_000)

  it('keeps acknowledging while InfluxDB is down and catches up when it returns', async () => {
    const { env, devices, database } = await setup('outage', 6)
    const piazza = await startPiazza(env)
    const publishers = startPublishers({ url: piazza.mqttUrl, devices })
    await expect.poll(() => publishers.ackedCount(), { timeout: 60_000 }).toBeGreaterThan(1000)

    await influx.stop()
    const ackedAtOutage = publishers.ackedCount()
    // Acknowledgements go on: the write-ahead log holds what InfluxDB cannot take.
    await expect.poll(() => publishers.ackedCount(), { timeout: 60_000 }).toBeGreaterThan(ackedAtOutage + 3000)
    await expect.poll(() => /storage write failed/.test(piazza.logs()), { timeout: 60_000, message: 'the outage in the logs' }).toBe(true)
    await influx.start()

    await publishers.stop()
    await expectAllAcknowledgedStored(database, publishers.acked)
    piazza.child.kill('SIGTERM')
    expect(await piazza.exited).toBe(0)
  }, 180_000)

  it('shuts down gracefully on SIGTERM under load with every acknowledged reading stored', async () => {
    const { env, devices, database } = await setup('sigterm', 4)
    const piazza = await startPiazza(env)
    const publishers = startPublishers({ url: piazza.mqttUrl, devices })
    await expect.poll(() => publishers.ackedCount(), { timeout: 60_000 }).toBeGreaterThan(1000)
    piazza.child.kill('SIGTERM')
    expect(await piazza.exited).toBe(0)
    await publishers.stop(2000)
    // Stopped cleanly: the write-ahead log was shipped before exit, nothing waits for a restart.
    await expectAllAcknowledgedStored(database, publishers.acked)
    expect(piazza.logs()).toMatch(/stopped cleanly/)
  }, 180_000)

  it('stops within a bounded time on SIGTERM with storage down and the log over its budget, and keeps the log', async () => {
    const { env, devices, database } = await setup('budget', 4)
    // Storage at a port where nothing answers; a 1 MiB log fills in seconds.
    const dead = await freePort()
    const piazza = await startPiazza({ ...env, INFLUX_URL: `http://127.0.0.1:${dead}`, WAL_BUDGET_MB: '1', SHUTDOWN_TIMEOUT_S: '60' })
    const publishers = startPublishers({ url: piazza.mqttUrl, devices })
    // Acknowledgements stop once the log is over its budget: publishers are held by backpressure.
    await vi.waitFor(
      async () => {
        const before = publishers.ackedCount()
        await new Promise((resolve) => setTimeout(resolve, 1500))
        if (before < 1000 || publishers.ackedCount() !== before) throw new Error(`still acknowledging (${publishers.ackedCount()})`)
      },
      { timeout: 60_000, interval: 10 },
    )
    const started = Date.now()
    piazza.child.kill('SIGTERM')
    // Ingest gives shipping 10 s and storage its request timeout: well inside the 60 s deadline.
    expect(await piazza.exited).toBe(0)
    const stopping = Date.now() - started
    await publishers.stop(2000)
    expect(piazza.logs()).toMatch(/stopped cleanly/)
    const segments = fs.readdirSync(join(env.DATA_DIR, 'wal')).filter((f) => f.endsWith('.wal'))
    expect(segments.length).toBeGreaterThan(0)

    // The next start, with storage back, ships what the log kept: nothing acknowledged was lost.
    const again = await startPiazza(env)
    await expectAllAcknowledgedStored(database, publishers.acked)
    again.child.kill('SIGTERM')
    expect(await again.exited).toBe(0)
    expect(stopping).toBeLessThan(60_000)
  }, 180_000)
})

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

