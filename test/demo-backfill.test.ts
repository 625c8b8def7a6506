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
import { backfillReadings } from '../simulator/backfill.ts'
import { planFleet } from '../simulator/fleet.ts'

/**
 * The demo's first start: the simulated fleet back-fills its last days over MQTT through the real
 * ingest path, so every city has an air-quality index and a full 7-day history within a minute;
 * a second start on the same data directory back-fills nothing, and a start after one stopped
 * half-way finishes what that one left.
 */

const DEVICES = 100
const dataDir = fs.mkdtempSync(join(tmpdir(), 'piazza-demo-backfill-'))
const config = loadConfig({ DATA_DIR: dataDir, HTTP_PORT: '0', MQTT_PORT: '0', MQTT_WS_PORT: '0', ADMIN_PASSWORD: 'admin-password-for-tests', INGEST_FLUSH_MS: '100' })
const logger = pino({ level: process.env.PIAZZA_TEST_LOG ?? 'silent' })

afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }))

async function startDemo() {
  const server = await startServer(config, logger)
  const lines: string[] = []
  const { fleet, backfill } = await startDemoFleet(config, server, { devices: DEVICES, rate: 6 }, logger, (line) => lines.push(line))
  return {
    server,
    fleet,
    backfill,
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
      expect(first.backfill.devices).toBe(DEVICES)
      expect(first.backfill.readings).toBeGreaterThan(DEVICES * 7 * 24 * 12)
      expect(first.lines.join('\n')).toMatch(/Back-filled \d+ readings of 100 devices in [\d.]+ s\./)
      const backfilledAt = Date.now()

      await expect
        .poll(
          async () => {
            const air = await first.get<Air>('/api/public/air-quality')
            return cities.filter((c) => air.items.find((i) => i.city === c.id)?.index?.value != null).length
          },
          { timeout: 60_000, interval: 1000 },
        )
        .toBe(cities.length)
      process.stderr.write(`demo back-fill: ${first.backfill.readings} readings of ${DEVICES} devices acknowledged in ${first.backfill.ms} ms; every city had an index ${Date.now() - backfilledAt} ms later\n`)

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
      expect(second.backfill.devices).toBe(0)
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
    const pendingFile = join(dataDir, 'demo-backfill.json')
    expect(fs.existsSync(pendingFile)).toBe(false)
    const endedAt = Date.now() - 3_600_000
    fs.writeFileSync(pendingFile, JSON.stringify({ devices: { [station.id]: endedAt } }))
    const third = await startDemo()
    try {
      expect(third.backfill.devices).toBe(1)
      expect(third.lines.join('\n')).toMatch(/Finishing the back-fill a previous start left unfinished: the older days of 1 devices/)
      expect(third.backfill.readings).toBe(backfillReadings({ ...station, interval: station.interval ?? 60 }, 1, endedAt, 'older').length)
      expect(fs.existsSync(pendingFile)).toBe(false)
    } finally {
      await third.stop()
    }
  }, 600_000)
})
