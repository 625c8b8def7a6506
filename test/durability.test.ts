import fs from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRegistry, openRegistryDatabase } from '../devices/registry.ts'
import { startInfluxd } from '../testkit/influxd.ts'
import { startPiazza, waitFor, type PiazzaProcess } from './support/piazza-process.ts'
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
  const registry = createRegistry({ db })
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
  await waitFor(
    'every acknowledged reading in InfluxDB',
    async () => {
      for (const [device, times] of acked) {
        const stored = new Set(await storedTimes(database, device))
        for (const ts of times) if (!stored.has(ts)) return false
      }
      return true
    },
    60_000,
    500,
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
    await waitFor('readings flowing', () => publishers.ackedCount() > 2000, 30_000)
    piazza.child.kill('SIGKILL')
    expect(await piazza.exited).toBe('SIGKILL')
    const ackedAtKill = publishers.ackedCount()

    piazza = await startPiazza({ ...env, MQTT_PORT: port })
    await waitFor('publishers reconnected and acknowledged again', () => publishers.ackedCount() > ackedAtKill + 2000, 30_000)
    await publishers.stop()
    await expectAllAcknowledgedStored(database, publishers.acked)

    piazza.child.kill('SIGTERM')
    expect(await piazza.exited).toBe(0)
  })

  it('keeps acknowledging while InfluxDB is down and catches up when it returns', async () => {
    const { env, devices, database } = await setup('outage', 6)
    const piazza = await startPiazza(env)
    const publishers = startPublishers({ url: piazza.mqttUrl, devices })
    await waitFor('readings flowing', () => publishers.ackedCount() > 1000, 30_000)

    await influx.stop()
    const ackedAtOutage = publishers.ackedCount()
    // Acknowledgements go on: the write-ahead log holds what InfluxDB cannot take.
    await waitFor('acknowledgements during the outage', () => publishers.ackedCount() > ackedAtOutage + 3000, 30_000)
    await waitFor('the outage in the logs', () => /storage write failed/.test(piazza.logs()), 30_000)
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
    await waitFor('readings flowing', () => publishers.ackedCount() > 1000, 30_000)
    piazza.child.kill('SIGTERM')
    expect(await piazza.exited).toBe(0)
    await publishers.stop(2000)
    // Stopped cleanly: the write-ahead log was shipped before exit, nothing waits for a restart.
    await expectAllAcknowledgedStored(database, publishers.acked)
    expect(piazza.logs()).toMatch(/stopped cleanly/)
  })
})
