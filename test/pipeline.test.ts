import { execFile } from 'node:child_process'
import fs from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { pino } from 'pino'
import { connectAsync } from 'mqtt'
import { afterAll, describe, expect, inject, it, vi } from 'vitest'
import { loadConfig } from '../cli/config.ts'
import { createPlatform, type Platform } from '../platform/platform.ts'

/**
 * A reading's whole journey with a real outside client: mosquitto_pub → broker → ingest → each
 * store. Also what the platform refuses, and why.
 */

const run = promisify(execFile)
const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

async function mosquittoPub(port: number, user: { id: string; secret: string }, topic: string, message: string, extra: string[] = []) {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-i', user.id, '-u', user.id, '-P', user.secret, '-t', topic, '-q', '1', '-m', message, ...extra]
  try {
    const { stdout, stderr } = await run('mosquitto_pub', args, { timeout: 15_000 })
    return { code: 0, output: stdout + stderr }
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string }
    return { code: e.code ?? 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` }
  }
}

const storages = [
  { name: 'embedded store', env: () => ({}) },
  { name: 'InfluxDB', env: () => ({ INFLUX_URL: inject('influxUrl'), INFLUX_DB: `pipeline_${process.pid}` }) },
]

describe.each(storages)('the pipeline into the $name', ({ env }) => {
  let platform: Platform
  let port: number

  it('starts', async () => {
    const dataDir = fs.mkdtempSync(join(tmpdir(), 'piazza-pipeline-'))
    dirs.push(dataDir)
    const config = loadConfig({ DATA_DIR: dataDir, INGEST_FLUSH_MS: '100', ...env() })
    platform = await createPlatform(config, pino({ level: 'silent' }))
    port = (await platform.listen({ host: '127.0.0.1', mqttPort: 0 })).port
    expect(port).toBeGreaterThan(0)
  })

  afterAll(async () => {
    await platform?.close()
  })

  it('stores a reading published by mosquitto_pub with the device credentials', async () => {
    const { device, secret } = await platform.registry.add({ type: 'air-quality', city: 'Pisa', name: 'Lungarno' })
    const ts = Date.now() - 1000
    const result = await mosquittoPub(port, { id: device.id, secret }, `devices/${device.id}/telemetry`, JSON.stringify({ ts, pm25: 17.5, no2: 40 }))
    expect(result).toEqual({ code: 0, output: '' })
    await expect.poll(() => platform.storage.latest({ deviceId: device.id, type: device.type }), { timeout: 30_000 }).toEqual({ time: ts, values: { pm25: 17.5, no2: 40 } })
    const series = await platform.storage.series({ deviceId: device.id, type: device.type, field: 'pm25', from: ts - 1, to: ts + 1, limit: 10 })
    expect(series).toEqual([{ time: ts, value: 17.5 }])
  })

  it('refuses wrong credentials with the MQTT reason', async () => {
    const { device } = await platform.registry.add({ type: 'noise', city: 'Siena', name: 'Piazza del Campo' })
    const result = await mosquittoPub(port, { id: device.id, secret: 'not-the-secret' }, `devices/${device.id}/telemetry`, '{}')
    expect(result.code).not.toBe(0)
    expect(result.output).toMatch(/not authori[sz]ed|bad user ?name or password/i)
  })

  it("disconnects a device publishing on another device's topic and stores nothing there", async () => {
    const a = await platform.registry.add({ type: 'air-quality', city: 'Lucca', name: 'A' })
    const b = await platform.registry.add({ type: 'air-quality', city: 'Lucca', name: 'B' })
    const result = await mosquittoPub(port, { id: a.device.id, secret: a.secret }, `devices/${b.device.id}/telemetry`, JSON.stringify({ ts: Date.now(), pm25: 5 }))
    expect(result.code).not.toBe(0)
    expect(platform.broker.stats().refused['topic-not-allowed']).toBeGreaterThan(0)
    // A good reading from b afterwards is the only one b has.
    const ts = Date.now()
    await mosquittoPub(port, { id: b.device.id, secret: b.secret }, `devices/${b.device.id}/telemetry`, JSON.stringify({ ts, pm25: 9 }))
    await expect.poll(() => platform.storage.latest({ deviceId: b.device.id, type: 'air-quality' }), { timeout: 30_000 }).toEqual({ time: ts, values: { pm25: 9 } })
    expect((await platform.storage.series({ deviceId: b.device.id, type: 'air-quality', field: 'pm25', from: 0, to: ts + 1, limit: 10 })).length).toBe(1)
  })

  it('acknowledges a bad payload, stores it as a dead letter with its precise reason, and carries on', async () => {
    const { device, secret } = await platform.registry.add({ type: 'weather', city: 'Grosseto', name: 'Porto' })
    const user = { id: device.id, secret }
    const bad = await mosquittoPub(port, user, `devices/${device.id}/telemetry`, JSON.stringify({ ts: Date.now(), relativeHumidity: 140 }))
    expect(bad.code).toBe(0)
    const garbage = await mosquittoPub(port, user, `devices/${device.id}/telemetry`, 'not json')
    expect(garbage.code).toBe(0)
    const letters = await vi.waitFor(
      async () => {
        const found = await platform.storage.deadLetters({ deviceId: device.id, limit: 10 })
        expect(found).toHaveLength(2)
        return found
      },
      { timeout: 30_000, interval: 100 },
    )
    expect(letters.map((l) => l.reason).sort()).toEqual([expect.stringMatching(/^invalid JSON/), 'relativeHumidity: 140 is above the maximum 100'])
    expect(letters.find((l) => l.code === 'out-of-range')?.topic).toBe(`devices/${device.id}/telemetry`)
    const ts = Date.now()
    await mosquittoPub(port, user, `devices/${device.id}/telemetry`, JSON.stringify({ ts, temperature: 12.5 }))
    await expect.poll(() => platform.storage.latest({ deviceId: device.id, type: 'weather' }), { timeout: 30_000 }).toMatchObject({ time: ts, values: { temperature: 12.5 } })
    expect(platform.ingest.counters.rejectedByCode['out-of-range']).toBeGreaterThanOrEqual(1)
  })

  /** Publishes each payload at QoS 1 over one connection, waiting for every PUBACK. */
  async function publishAll(user: { id: string; secret: string }, payloads: string[]) {
    const client = await connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: user.id, username: user.id, password: user.secret, protocolVersion: 4, reconnectPeriod: 0 })
    try {
      for (const payload of payloads) await client.publishAsync(`devices/${user.id}/telemetry`, payload, { qos: 1 })
    } finally {
      await client.endAsync()
    }
  }

  it('stores one dead letter for a 1,000-reading garbage array, with every reason and the payload once', async () => {
    const { device, secret } = await platform.registry.add({ type: 'air-quality', city: 'Prato', name: 'Garbage array' })
    const rejectedBefore = platform.ingest.counters.readingsRejected
    const garbage = JSON.stringify(Array.from({ length: 1000 }, (_, i) => ({ ts: Date.now(), pm25: -1 - i })))
    await publishAll({ id: device.id, secret }, [garbage])
    const letters = await vi.waitFor(
      async () => {
        const found = await platform.storage.deadLetters({ deviceId: device.id, limit: 10 })
        expect(found.length).toBeGreaterThan(0)
        return found
      },
      { timeout: 30_000, interval: 100 },
    )
    // Give a second letter, were there one, time to be shipped as well.
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(await platform.storage.deadLetters({ deviceId: device.id, limit: 10 })).toHaveLength(1)
    const [letter] = letters
    expect(letter!.code).toBe('out-of-range')
    expect(letter!.reason).toMatch(/^reading 0: .*; reading 1: .*… and \d+ more$/)
    expect(letter!.reason.length).toBeLessThan(1100)
    expect(letter!.payload.length).toBe(4096)
    // Counting stays per reading.
    expect(platform.ingest.counters.readingsRejected - rejectedBefore).toBe(1000)
  })

  it("caps a garbage-only device's stored dead letters at its hourly quota, plus one summary", async () => {
    const { device, secret } = await platform.registry.add({ type: 'noise', city: 'Arezzo', name: 'Garbage only', metadata: { 'quota.deadLettersPerHour': 3 } })
    const overBefore = platform.ingest.counters.deadLettersOverQuota
    await publishAll({ id: device.id, secret }, Array.from({ length: 8 }, (_, i) => `not json ${i}`))
    const letters = await vi.waitFor(
      async () => {
        const found = await platform.storage.deadLetters({ deviceId: device.id, limit: 20 })
        expect(found.length).toBeGreaterThanOrEqual(4)
        return found
      },
      { timeout: 30_000, interval: 100 },
    )
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(await platform.storage.deadLetters({ deviceId: device.id, limit: 20 })).toHaveLength(4)
    expect(letters.filter((l) => l.code === 'over-dead-letter-quota')).toHaveLength(1)
    // (Exact unless the run crosses a clock hour, where the count starts again.)
    expect(platform.ingest.counters.deadLettersOverQuota - overBefore).toBe(5)
  })
})
