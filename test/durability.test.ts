import fs from 'node:fs'
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
  return { env: { DATA_DIR: dataDir, INFLUX_URL: influx.url, INFLUX_DB: database }, devices, database }
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
    await expect.poll(() => publishers.ackedCount(), { timeout: 30_000 }).toBeGreaterThan(2000)
    piazza.child.kill('SIGKILL')
    expect(await piazza.exited).toBe('SIGKILL')
    const ackedAtKill = publishers.ackedCount()

    piazza = await startPiazza({ ...env, MQTT_PORT: port })
    // The publishers reconnect and are acknowledged again.
    await expect.poll(() => publishers.ackedCount(), { timeout: 30_000 }).toBeGreaterThan(ackedAtKill + 2000)
    await publishers.stop()
    await expectAllAcknowledgedStored(database, publishers.acked)

    piazza.child.kill('SIGTERM')
    expect(await piazza.exited).toBe(0)
  })

  it('keeps acknowledging while InfluxDB is down and catches up when it returns', async () => {
    const { env, devices, database } = await setup('outage', 6)
    const piazza = await startPiazza(env)
    const publishers = startPublishers({ url: piazza.mqttUrl, devices })
    await expect.poll(() => publishers.ackedCount(), { timeout: 30_000 }).toBeGreaterThan(1000)

    await influx.stop()
    const ackedAtOutage = publishers.ackedCount()
    // Acknowledgements go on: the write-ahead log holds what InfluxDB cannot take.
    await expect.poll(() => publishers.ackedCount(), { timeout: 30_000 }).toBeGreaterThan(ackedAtOutage + 3000)
    await expect.poll(() => /storage write failed/.test(piazza.logs()), { timeout: 30_000, message: 'the outage in the logs' }).toBe(true)
    await influx.start()

    await publishers.stop()
    await expectAllAcknowledgedStored(database, publishers.acked)
    piazza.child.kill('SIGTERM')
    expect(await piazza.exited).toBe(0)
  })

  it('shuts down gracefully on SIGTERM under load with every acknowledged reading stored', async () => {
    const { env, devices, database } = await setup('sigterm', 4)
    const piazza = await startPiazza(env)
    const publishers = startPublishers({ url: piazza.mqttUrl, devices })
    await expect.poll(() => publishers.ackedCount(), { timeout: 30_000 }).toBeGreaterThan(1000)
    piazza.child.kill('SIGTERM')
    expect(await piazza.exited).toBe(0)
    await publishers.stop(2000)
    // Stopped cleanly: the write-ahead log was shipped before exit, nothing waits for a restart.
    await expectAllAcknowledgedStored(database, publishers.acked)
    expect(piazza.logs()).toMatch(/stopped cleanly/)
  })
})
