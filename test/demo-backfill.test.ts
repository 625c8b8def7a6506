import fs from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterAll, describe, expect, it } from 'vitest'
import { startDemoFleet } from '../cli/commands/demo.ts'
import { loadConfig } from '../cli/config.ts'
import { cities } from '../devices/region.ts'
import { startServer } from '../platform/platform.ts'
import { quotaPolicy } from '../broker/quotas.ts'
import { DEVICE_TYPES } from '../devices/kinds.ts'
import { KINDS } from '../devices/kinds.ts'
import { backfillReadings, backfillSpan, recentFrom } from '../simulator/backfill.ts'
import { planFleet } from '../simulator/fleet.ts'

/**
 * The demo's first start: the simulated fleet back-fills its last days over MQTT through the real
 * ingest path, so every city has an air-quality index and a full 7-day history within a minute;
 * the fleet goes live once every device's last 24 hours are in, and the days before follow while
 * it publishes live. A second start on the same data directory back-fills nothing, and a start
 * after one stopped half-way finishes what that one left.
 */

const DEVICES = 100
const dataDir = fs.mkdtempSync(join(tmpdir(), 'piazza-demo-backfill-'))
const config = loadConfig({ DATA_DIR: dataDir, HTTP_PORT: '0', MQTT_PORT: '0', MQTT_WS_PORT: '0', ADMIN_PASSWORD: 'admin-password-for-tests', INGEST_FLUSH_MS: '100' })
const logger = pino({ level: process.env.PIAZZA_TEST_LOG ?? 'silent' })

afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }))

const pendingFile = join(dataDir, 'demo-backfill.json')
const readPending = () => JSON.parse(fs.readFileSync(pendingFile, 'utf8')) as { devices: Record<string, number> }

async function startDemo(devices = DEVICES, onLine?: (line: string) => void) {
  const server = await startServer(config, logger)
  const lines: string[] = []
  const say = (line: string) => {
    lines.push(line)
    onLine?.(line)
  }
  const { fleet, recent, backfill } = await startDemoFleet(config, server, { devices, rate: 6 }, logger, say)
  let olderDone = false
  void backfill.then(() => (olderDone = true))
  return {
    server,
    fleet,
    recent,
    backfill,
    /** Whether the days before are in (or were stopped). */
    olderDone: () => olderDone,
    /** When the fleet went live: a reading stamped later is a live one (the back-fill ends before). */
    liveAt: Date.now(),
    lines,
    get: async <T>(url: string) => {
      const response = await server.web.app.inject({ url })
      expect(response.statusCode, url).toBe(200)
      return response.json() as T
    },
    async stop() {
      await fleet.close()
      await server.close()
    },
  }
}

/**
 * The readings the store holds of a device's days before its last 24 hours (a history ending at
 * `now`), and what the back-fill sent of them: raw, and counted by the hourly rollups (the
 * back-fill's late hours, rolled up while live readings arrive), for its first field.
 */
async function olderStored(storage: Awaited<ReturnType<typeof startServer>>['storage'], planned: ReturnType<typeof planFleet>[number], now: number) {
  const device = { ...planned, interval: planned.interval ?? 60 }
  const field = KINDS[device.type].fieldNames[0]!
  const from = Math.floor((now - backfillSpan(device.type, device.interval).days * 24 * 3_600_000) / 3_600_000) * 3_600_000
  const query = { deviceId: device.id, type: device.type, field, from, to: recentFrom(now) }
  const raw = await storage.series({ ...query, limit: 1_000_000 })
  const hourly = await storage.series({ ...query, every: 3_600_000, aggregate: 'count', limit: 1_000_000 })
  return {
    raw: raw.length,
    rolledUp: hourly.reduce((n, p) => n + (p.value ?? 0), 0),
    sent: backfillReadings(device, 1, now, 'older').filter((r) => typeof r[field] === 'number').length,
  }
}

/** Every device's days before are in the store, raw and rolled up (the log may still be storing the last of them). */
async function expectOlderStored(storage: Awaited<ReturnType<typeof startServer>>['storage'], devices: ReturnType<typeof planFleet>, now: number) {
  expect(devices.length).toBeGreaterThan(0)
  for (const d of devices) {
    const { sent } = await olderStored(storage, d, now)
    expect(sent, d.id).toBeGreaterThan(0)
    await expect.poll(() => olderStored(storage, d, now), { timeout: 60_000, interval: 500, message: d.id }).toEqual({ raw: sent, rolledUp: sent, sent })
  }
}

/** Kinds with one series per device (no lane or route tag), whose stored points count one per reading. */
const oneSeries = (d: { type: keyof typeof KINDS }) => KINDS[d.type].tagNames.length === 0

type Air = { items: { city: string; index: { value: number | null } | null; status: string }[] }
type History = { hours: { time: string; index: number | null }[] }

describe('demo back-fill', () => {
  it("every kind's backlog fits its device's quota burst, so the broker takes it at once", () => {
    const plan = planFleet({ devices: DEVICES, seed: 1 })
    for (const type of DEVICE_TYPES) {
      const planned = plan.find((d) => d.type === type)!
      const device = { ...planned, interval: planned.interval ?? 60 }
      const readings = backfillReadings(device, 1, Date.now())
      const policy = quotaPolicy(device)
      expect(readings.length, type).toBeLessThanOrEqual(policy.readingsBurst)
      expect(Buffer.byteLength(JSON.stringify(readings)), type).toBeLessThanOrEqual(policy.bytesBurst)
    }
  })

  it('every city has an index and 7 days of complete hours within a minute; a second start does not back-fill again', async () => {
    // The fleet this test runs has an air-quality station in every city, or the check below proves nothing.
    expect(new Set(planFleet({ devices: DEVICES, seed: 1 }).filter((d) => d.type === 'air-quality').map((d) => d.city)).size).toBe(cities.length)

    const first = await startDemo()
    try {
      // Live before the days before are in: the fleet is live once every device's last 24 hours
      // are, and a reading it stamped since then is stored while the back-fill goes on.
      expect(first.recent.devices).toBe(DEVICES)
      expect(first.lines.join('\n')).toMatch(/the last 24 hours are in \([\d.]+ s\)\.\nLive fleet started: 100 devices publishing/)
      const now = Object.values(readPending().devices)[0]!
      expect(Object.keys(readPending().devices).length).toBe(DEVICES)
      const plan = planFleet({ devices: DEVICES, seed: 1 })
      await expect
        .poll(
          async () => {
            for (const d of plan) {
              const latest = await first.server.storage.latest({ deviceId: d.id, type: d.type })
              if (latest && latest.time > first.liveAt && latest.time <= Date.now()) return true
            }
            return false
          },
          { timeout: 60_000, interval: 250 },
        )
        .toBe(true)
      expect(first.olderDone(), 'a live reading stored before the days before are in').toBe(false)
      expect(fs.existsSync(pendingFile), 'the pending file stays while the days before are being sent').toBe(true)

      const backfill = await first.backfill
      expect(backfill.finished).toBe(true)
      expect(backfill.devices).toBe(DEVICES)
      expect(backfill.readings).toBeGreaterThan(DEVICES * 7 * 24 * 12)
      expect(first.lines.join('\n')).toMatch(/Back-filled \d+ readings of 100 devices in [\d.]+ s \(the days before in [\d.]+ s, while the fleet was live\)\./)
      expect(fs.existsSync(pendingFile)).toBe(false)
      const backfilledAt = Date.now()
      // Every device's days before are stored, raw and in the hourly rollups (late hours rolled
      // up while live readings kept arriving).
      await expectOlderStored(first.server.storage, plan.filter(oneSeries), now)
      await expect
        .poll(
          async () => {
            const air = await first.get<Air>('/api/public/air-quality')
            return cities.filter((c) => air.items.find((i) => i.city === c.id)?.index?.value != null).length
          },
          { timeout: 60_000, interval: 1000 },
        )
        .toBe(cities.length)
      process.stderr.write(`demo back-fill: ${backfill.readings} readings of ${DEVICES} devices acknowledged in ${backfill.ms} ms; every city had an index ${Date.now() - backfilledAt} ms later\n`)

      for (const city of cities) {
        const history = await first.get<History>(`/api/public/air-quality/history?city=${city.id}`)
        expect(history.hours.length, city.id).toBe(7 * 24)
        const missing = history.hours.filter((h) => h.index === null).map((h) => h.time)
        expect(missing, `${city.id}: hours without an index`).toEqual([])
      }
      // Live publishing goes on after the back-fill.
      const acked = first.fleet.stats().acked
      await expect.poll(() => first.fleet.stats().acked, { timeout: 30_000 }).toBeGreaterThan(acked)
    } finally {
      await first.stop()
    }

    const second = await startDemo()
    try {
      expect(second.recent.devices).toBe(0)
      expect((await second.backfill).devices).toBe(0)
      expect(second.lines.join('\n')).not.toMatch(/Back-fill/)
      // The history stored by the first start is still there (stations load in the background).
      await expect
        .poll(async () => (await second.get<History>('/api/public/air-quality/history?city=siena')).hours.filter((h) => h.index !== null).length, { timeout: 60_000, interval: 1000 })
        .toBeGreaterThanOrEqual(7 * 24 - 1)
    } finally {
      await second.stop()
    }

    // A demo stopped between the two parts (every device's last 24 hours stored, older days not yet)
    // leaves data/demo-backfill.json; the next start sends those devices' older days, once.
    const station = planFleet({ devices: DEVICES, seed: 1 }).find((d) => d.type === 'air-quality')!
    expect(fs.existsSync(pendingFile)).toBe(false)
    const endedAt = Date.now() - 3_600_000
    fs.writeFileSync(pendingFile, JSON.stringify({ devices: { [station.id]: endedAt } }))
    const third = await startDemo()
    try {
      const backfill = await third.backfill
      expect(third.recent.devices).toBe(0)
      expect(backfill).toMatchObject({ devices: 1, finished: true })
      expect(third.lines.join('\n')).toMatch(/Finishing the back-fill a previous start left unfinished: the older days of 1 devices/)
      expect(backfill.readings).toBe(backfillReadings({ ...station, interval: station.interval ?? 60 }, 1, endedAt, 'older').length)
      expect(fs.existsSync(pendingFile)).toBe(false)
    } finally {
      await third.stop()
    }
  }, 600_000)

  it('a demo stopped while the days before are being sent stops cleanly, and the next start finishes them', async () => {
    // On the data directory of the test above: 20 more devices, with nothing stored yet.
    const MORE = DEVICES + 20
    const known = new Set(planFleet({ devices: DEVICES, seed: 1 }).map((d) => d.id))
    const added = planFleet({ devices: MORE, seed: 1 }).filter((d) => !known.has(d.id))
    expect(added.length).toBe(20)
    expect(added.filter(oneSeries).length).toBeGreaterThan(0)

    // Stopped (as Ctrl-C does: fleet, then server) the moment the second device's days before are in.
    let stopping: Promise<void> | undefined
    const demo: { stop?: () => Promise<void> } = {}
    const fourth = await startDemo(MORE, (line) => {
      if (/back-fill, days before: 2\/20 devices/.test(line)) stopping ??= demo.stop!()
    })
    demo.stop = fourth.stop
    const now = readPending().devices[added[0]!.id]!
    const backfill = await fourth.backfill
    await stopping
    expect(backfill.finished).toBe(false)
    // The pending file names the devices whose days before were not all sent, with their history's
    // end: 18, or fewer if a device under way had its last message acknowledged after the stop.
    const left = readPending().devices
    const n = Object.keys(left).length
    expect(n).toBeGreaterThan(0)
    expect(n).toBeLessThanOrEqual(18)
    expect(backfill.devices, 'devices whose history is all in, and those left').toBe(20 - n)
    expect(fourth.lines.join('\n')).toContain(`Stopping the back-fill: the older days of ${n} devices are left for the next start.`)
    expect(Object.keys(left).every((id) => added.some((d) => d.id === id))).toBe(true)
    expect(new Set(Object.values(left))).toEqual(new Set([now]))

    const fifth = await startDemo(MORE)
    try {
      const finished = await fifth.backfill
      expect(fifth.recent.devices).toBe(0)
      expect(finished).toMatchObject({ devices: n, finished: true })
      expect(fifth.lines.join('\n')).toContain(`Finishing the back-fill a previous start left unfinished: the older days of ${n} devices`)
      expect(fs.existsSync(pendingFile)).toBe(false)
      await expectOlderStored(fifth.server.storage, added.filter(oneSeries), now)
    } finally {
      await fifth.stop()
    }
  }, 300_000)
})
