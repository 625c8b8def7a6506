import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Device } from '../devices/registry.ts'
import { ADMIN_PASSWORD, startTestApp, type TestApp } from '../testkit/test-app.ts'

/**
 * A restart keeps its memory: a platform receives readings, is closed, and is created again on
 * the same data directory; devices are judged from their newest stored readings (not 'pending'),
 * the device API shows when they were last seen, and the live hub has their newest values.
 * Device states run on an injected clock; the readings' times are set against it.
 */

const MINUTE = 60_000

describe('a restart keeps its memory', () => {
  let dir: string | undefined
  let apps: TestApp[] = []
  afterEach(async () => {
    for (const app of apps) await app.cleanup().catch(() => {})
    apps = []
    if (dir) rmSync(dir, { recursive: true, force: true })
    dir = undefined
  })

  it('restores device states, last seen and the live values from storage', async () => {
    dir = mkdtempSync(join(tmpdir(), 'piazza-restart-'))
    // Whole seconds, a little in the past: the readings below are all before it.
    const now = Math.floor(Date.now() / 1000) * 1000 - MINUTE
    const clock = () => now
    const options = { dir, deps: { operations: { clock, states: { checkMs: 20, pushMs: 20 } } } }

    const first = await startTestApp(options)
    apps.push(first)
    const add = async (name: string) =>
      (await first.registry.add({ type: 'air-quality', city: 'firenze', name, interval: 60 }, 'test')).device
    const live = await add('Live')
    const late = await add('Late')
    const silent = await add('Silent')
    const never = await add('Never')
    const smoky = await add('Smoky')
    const send = (device: Device, time: number, pm25: number) =>
      new Promise<void>((resolve, reject) =>
        first.ingest.accept(device, Buffer.from(JSON.stringify({ ts: time, pm25, pm10: pm25 * 2 })), time, (err) =>
          err ? reject(err) : resolve(),
        ),
      )
    await send(live, now - 2 * MINUTE, 1)
    await send(live, now - 30_000, 7) // newest: 30 s ago, within 2 intervals
    await send(late, now - 3 * MINUTE, 8) // more than 2 intervals ago, less than 5
    await send(silent, now - 8 * MINUTE, 9) // more than 5 intervals ago
    await send(smoky, now - 4 * MINUTE, 100)
    await send(smoky, now - 3 * MINUTE, 100)
    await expect.poll(() => first.ingest.stats().shipper?.storedReadings ?? 0, { timeout: 20_000 }).toBe(6)
    // Created after the readings, so the first run never judged them: only a refilled window knows them.
    await first.operations.alerts.createRule({ name: 'PM2.5 over 10 minutes', field: 'pm25', op: '>', threshold: 50, window: '10m' }, 'test')
    // The silent device has been silent in the first run: its alert opens there, and stays the only one.
    await first.operations.alerts.createRule({ name: 'Silent', kind: 'silent' }, 'test')
    await expect.poll(() => first.operations.states.get(silent.id)?.state, { timeout: 10_000 }).toBe('silent')
    const silentAlerts = async (app: TestApp) => (await app.operations.alerts.queryAlerts({ state: 'open', limit: 10 })).items.filter((a) => a.kind === 'silent')
    expect(await silentAlerts(first)).toMatchObject([{ deviceId: silent.id }])
    const openedAlert = (await silentAlerts(first))[0]!.id
    await first.cleanup()
    apps = []

    const second = await startTestApp(options)
    apps.push(second)
    const result = await second.restored
    expect(result).toMatchObject({ devices: 4, states: 4, live: 4, failedTypes: [] })

    const states = second.operations.states
    expect(states.get(live.id)).toMatchObject({ state: 'live', lastSeen: now - 30_000 })
    // Late and silent count from the real last reading, as a running tracker would have.
    expect(states.get(late.id)).toMatchObject({ state: 'late', lastSeen: now - 3 * MINUTE, since: now - 3 * MINUTE + 2 * MINUTE })
    expect(states.get(silent.id)).toMatchObject({ state: 'silent', lastSeen: now - 8 * MINUTE, since: now - 8 * MINUTE + 5 * MINUTE })
    expect(states.get(never.id)).toMatchObject({ state: 'pending', lastSeen: null })

    const admin = await second.login('admin', ADMIN_PASSWORD)
    const device = await second.app.inject({ method: 'GET', url: `/api/devices/${live.id}`, headers: second.bearer(admin) })
    expect(device.statusCode).toBe(200)
    expect(device.json()).toMatchObject({ id: live.id, lastSeen: now - 30_000 })
    const unseen = await second.app.inject({ method: 'GET', url: `/api/devices/${never.id}`, headers: second.bearer(admin) })
    expect(unseen.json().lastSeen).toBeUndefined()

    expect(second.live.latest(live.id)).toEqual({ time: now - 30_000, values: { pm25: 7, pm10: 14 }, receivedAt: now - 30_000 })
    expect(second.live.latest(silent.id)?.values).toEqual({ pm25: 9, pm10: 18 })
    expect(second.live.latest(never.id)).toBeUndefined()

    // The windowed rule's rolling window was refilled from storage: one low reading now leaves
    // the 10-minute mean at (100 + 100 + 10) / 3 = 70, over the threshold.
    expect(await second.refilled).toMatchObject({ rules: 1, skippedRules: [] })
    const thresholdAlerts = async () => (await second.operations.alerts.queryAlerts({ state: 'open', limit: 10 })).items.filter((a) => a.kind === 'threshold')
    expect(await thresholdAlerts()).toEqual([])
    second.feed.accepted(smoky, [{ time: now, values: { ts: now, pm25: 10 } }], now)
    expect(await thresholdAlerts()).toMatchObject([{ deviceId: smoky.id, value: 70 }])

    // Restored as silent, with its alert still open from the first run: no second alert.
    await second.operations.alerts.tick()
    expect(await silentAlerts(second)).toMatchObject([{ id: openedAlert, deviceId: silent.id }])

    // A reading received after the start wins over the restored one, and judges from it.
    second.feed.accepted(late, [{ time: now, values: { ts: now, pm25: 3 } }], now)
    expect(states.get(late.id)).toMatchObject({ lastSeen: now })
    expect(second.live.latest(late.id)).toMatchObject({ time: now, values: { pm25: 3 } })
  }, 120_000)
})
