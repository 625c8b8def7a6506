import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { KINDS, type DeviceType } from '../devices/kinds.ts'
import { encodeReading, linesToBatch, seriesPrefix } from '../devices/line-protocol.ts'
import type { Aggregate, SeriesQuery, Storage } from '../ingest/storage/contract.ts'
import { createEmbeddedStorage } from '../ingest/storage/embedded.ts'
import { createInfluxStorage } from '../ingest/storage/influx.ts'
import { DAY_MS, HOUR_MS, type RetentionOptions } from '../ingest/storage/rollups.ts'
import { startInfluxd, type Influxd } from '../testkit/influxd.ts'

/**
 * Rollups, held to one contract on both stores: windowed series of whole hours (days) are read
 * from the hourly (daily) rollups and must give what the raw readings give; a reading arriving
 * after its hour was rolled up updates the hour and its day; the rollups outlive the raw
 * readings' retention, which is set per family.
 */

const RETENTION: RetentionOptions = { retentionMs: 30 * DAY_MS, familyRetentionMs: { environment: 30 * DAY_MS } }
const TODAY = Math.floor(Date.now() / DAY_MS) * DAY_MS
/** Three whole days ago: its hours and day are closed. */
const D = TODAY - 3 * DAY_MS

function line(type: DeviceType, deviceId: string, time: number, values: Record<string, number>, tags: Record<string, number> = {}): string {
  return encodeReading(KINDS[type], seriesPrefix({ type, city: 'firenze', deviceId }), { time, values: { ...values, ...tags } })
}
const park = (time: number, free: number) => line('parking', 'p-1', time, { availableSpotNumber: free, totalSpotNumber: 50 })
const aq = (device: string, time: number, values: Record<string, number>) => line('air-quality', device, time, values)

/** What the raw readings give for windows of `every` over [from, to): the reference answer. */
function expected(readings: [number, number][], from: number, to: number, every: number, aggregate: Exclude<Aggregate, 'last'>) {
  const windows = new Map<number, number[]>()
  for (const [t, v] of readings) {
    if (t < from || t >= to) continue
    const w = t - (t % every)
    windows.set(w, [...(windows.get(w) ?? []), v])
  }
  return [...windows.keys()]
    .sort((a, b) => a - b)
    .map((time) => {
      const vs = windows.get(time)!
      const sum = vs.reduce((a, b) => a + b, 0)
      const value = aggregate === 'mean' ? sum / vs.length : aggregate === 'count' ? vs.length : aggregate === 'min' ? Math.min(...vs) : Math.max(...vs)
      return { time, value }
    })
}

interface Harness {
  /** A store on the same data (file or database) each time, with these retentions. */
  open(retention: RetentionOptions): Storage
  /** Whatever the store defers, rolled up now (InfluxDB rolls up settled hours once a minute). */
  settle(store: Storage): Promise<void>
  cleanup(): Promise<void>
}

function contract(name: string, create: () => Harness): void {
  describe(`rollup contract: ${name}`, () => {
    let harness: Harness
    const opened: Storage[] = []
    const open = async (retention = RETENTION) => {
      const store = harness.open(retention)
      opened.push(store)
      await store.init()
      return store
    }
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close()
      await harness?.cleanup()
    })
    const fresh = () => (harness = create())
    const writeAll = async (store: Storage, lines: string[]) => expect(await store.write(linesToBatch(lines))).toEqual({ rejected: [] })
    const query = (from: number, to: number, every: number, aggregate: Aggregate, field = 'pm25'): SeriesQuery => ({
      deviceId: 'aq-1',
      type: 'air-quality',
      field,
      from,
      to,
      every,
      aggregate,
      limit: 1000,
    })

    // Two days of pm25 at uneven times and values, a pm10 now and then, and a neighbour.
    const readings: [number, number][] = []
    for (let i = 0; i < 48 * 4; i++) {
      const t = D + i * 15 * 60_000 + ((i * 7) % 13) * 60_000
      readings.push([t, (i * 37) % 101])
    }

    it('stores a batch whose lines go to different policies, interleaved, refusing only the bad line among them', async () => {
      fresh()
      const store = await open()
      // Environment readings have a policy of their own (RETENTION), parking the default one.
      const at = (i: number) => D + HOUR_MS + i * 60_000
      const bad = `air-quality,city=firenze,device=aq-1 pm25=twelve ${at(2)}`
      const batch = [aq('aq-1', at(0), { pm25: 1 }), park(at(0), 10), aq('aq-1', at(1), { pm25: 2 }), park(at(1), 11), bad, aq('aq-1', at(3), { pm25: 3 })]
      const result = await store.write(linesToBatch(batch))
      expect(result.rejected.map((r) => r.line)).toEqual([bad])
      const day = { from: D, to: D + DAY_MS, limit: 10 }
      expect((await store.series({ deviceId: 'aq-1', type: 'air-quality', field: 'pm25', ...day })).map((p) => p.value)).toEqual([1, 2, 3])
      expect((await store.series({ deviceId: 'p-1', type: 'parking', field: 'availableSpotNumber', ...day })).map((p) => p.value)).toEqual([10, 11])
      await harness.settle(store)
      expect(await store.series(query(D, D + DAY_MS, HOUR_MS, 'count'))).toEqual([{ time: D + HOUR_MS, value: 3 }])
    })

    it('answers windows of whole hours and days from the rollups as the raw readings would', async () => {
      fresh()
      const store = await open()
      // Several batches, as ingest ships them, one of them out of order.
      const lines = readings.map(([t, v], i) => aq('aq-1', t, i % 5 === 0 ? { pm25: v, pm10: v * 2 } : { pm25: v }))
      await writeAll(store, lines.slice(100))
      await writeAll(store, lines.slice(0, 100))
      await writeAll(store, [aq('aq-2', D + 90 * 60_000, { pm25: 900 })])

      for (const aggregate of ['mean', 'min', 'max', 'count'] as const) {
        for (const every of [HOUR_MS, 6 * HOUR_MS, DAY_MS]) {
          // Aligned, and with uneven edges that the finer levels serve.
          for (const [from, to] of [
            [D, D + 2 * DAY_MS],
            [D + 37 * 60_000, D + DAY_MS + 5 * HOUR_MS + 11 * 60_000],
          ] as const) {
            expect(await store.series(query(from, to, every, aggregate)), `${aggregate} every ${every} from ${from}`).toEqual(
              expected(readings, from, to, every, aggregate),
            )
          }
        }
      }
      const pm10 = readings.filter((_, i) => i % 5 === 0).map(([t, v]): [number, number] => [t, v * 2])
      expect(await store.series(query(D, D + 2 * DAY_MS, DAY_MS, 'mean', 'pm10'))).toEqual(expected(pm10, D, D + 2 * DAY_MS, DAY_MS, 'mean'))
      // The newest windows under a limit, as for raw.
      expect(await store.series({ ...query(D, D + 2 * DAY_MS, HOUR_MS, 'max'), limit: 2 })).toEqual(expected(readings, D, D + 2 * DAY_MS, HOUR_MS, 'max').slice(-2))
    })

    it('updates an hour and its day when a reading arrives after they were rolled up', async () => {
      fresh()
      const store = await open()
      const hour = D + 5 * HOUR_MS
      await writeAll(store, [aq('aq-1', hour + 60_000, { pm25: 10 }), aq('aq-1', hour + 120_000, { pm25: 20 }), aq('aq-1', D + DAY_MS + HOUR_MS, { pm25: 1 })])
      expect(await store.series(query(hour, hour + HOUR_MS, HOUR_MS, 'mean'))).toEqual([{ time: hour, value: 15 }])
      expect(await store.series(query(D, D + DAY_MS, DAY_MS, 'count'))).toEqual([{ time: D, value: 2 }])

      // The device's backlog: a reading in that hour, one in an hour not seen before, a day later.
      await writeAll(store, [aq('aq-1', hour + 30 * 60_000, { pm25: 90 }), aq('aq-1', D + 2 * HOUR_MS, { pm25: 4 })])
      const hours = [hour, hour + HOUR_MS]
      expect(await store.series(query(hour, hours[1]!, HOUR_MS, 'mean'))).toEqual([{ time: hour, value: 40 }])
      expect(await store.series(query(hour, hours[1]!, HOUR_MS, 'max'))).toEqual([{ time: hour, value: 90 }])
      expect(await store.series(query(D, D + 2 * DAY_MS, DAY_MS, 'count'))).toEqual([
        { time: D, value: 4 },
        { time: D + DAY_MS, value: 1 },
      ])
      expect(await store.series(query(D, D + DAY_MS, DAY_MS, 'mean'))).toEqual([{ time: D, value: (10 + 20 + 90 + 4) / 4 }])
      expect(await store.series(query(D, D + DAY_MS, DAY_MS, 'min'))).toEqual([{ time: D, value: 4 }])

      // The same backlog again (a retried batch): nothing counted twice.
      await writeAll(store, [aq('aq-1', hour + 30 * 60_000, { pm25: 90 }), aq('aq-1', D + 2 * HOUR_MS, { pm25: 4 })])
      expect(await store.series(query(D, D + DAY_MS, DAY_MS, 'count'))).toEqual([{ time: D, value: 4 }])
    })

    it('answers a backlog from many devices at once, before and after it is rolled up', async () => {
      fresh()
      const old = TODAY - 20 * DAY_MS
      const store = await open()
      const devices = Array.from({ length: 30 }, (_, i) => `aq-${i}`)
      const lines = devices.flatMap((d, i) => readings.slice(0, 50).map(([t, v]) => aq(d, t - D + old, { pm25: v + i })))
      await writeAll(store, lines)
      const mine = readings.slice(0, 50).map(([t, v]): [number, number] => [t - D + old, v + 1])
      const q = { ...query(old, old + DAY_MS, HOUR_MS, 'mean'), deviceId: 'aq-1' }
      expect(await store.series(q)).toEqual(expected(mine, old, old + DAY_MS, HOUR_MS, 'mean'))
      await harness.settle(store)
      expect(await store.series(q)).toEqual(expected(mine, old, old + DAY_MS, HOUR_MS, 'mean'))
      await store.close()
      // Rolled up: what the hourly rollups hold outlives the raw readings.
      const short = await open({ ...RETENTION, familyRetentionMs: { environment: 10 * DAY_MS } })
      await expect.poll(() => short.series({ ...q, every: undefined, aggregate: undefined }), { timeout: 60_000 }).toEqual([])
      expect(await short.series(q)).toEqual(expected(mine, old, old + DAY_MS, HOUR_MS, 'mean'))
      expect(await short.series({ ...q, every: DAY_MS, aggregate: 'count' })).toEqual(expected(mine, old, old + DAY_MS, DAY_MS, 'count'))
    })

    it('answers the hours under way, not rolled up yet, from the raw readings', async () => {
      fresh()
      const store = await open()
      const hour = Math.floor(Date.now() / HOUR_MS) * HOUR_MS
      await writeAll(store, [aq('aq-1', hour - HOUR_MS + 1000, { pm25: 2 }), aq('aq-1', hour + 1000, { pm25: 4 }), aq('aq-1', hour + 2000, { pm25: 8 })])
      expect(await store.series(query(hour - HOUR_MS, hour + HOUR_MS, HOUR_MS, 'mean'))).toEqual([
        { time: hour - HOUR_MS, value: 2 },
        { time: hour, value: 6 },
      ])
      expect(await store.series(query(hour - DAY_MS, hour + HOUR_MS, DAY_MS, 'count'))).toEqual(
        expected([[hour - HOUR_MS + 1000, 2], [hour + 1000, 4], [hour + 2000, 8]], hour - DAY_MS, hour + HOUR_MS, DAY_MS, 'count'),
      )
    })

    it('keeps each lane of a traffic counter in the rollups and sums them as raw does', async () => {
      fresh()
      const store = await open()
      const tc = (lane: number, t: number, intensity: number) => line('traffic-counter', 'tc-1', t, { intensity }, { laneId: lane })
      await writeAll(store, [tc(1, D + 60_000, 10), tc(2, D + 60_000, 30), tc(1, D + HOUR_MS + 60_000, 5)])
      const q = { deviceId: 'tc-1', type: 'traffic-counter', field: 'intensity', from: D, to: D + DAY_MS, limit: 100 }
      expect(await store.series({ ...q, every: HOUR_MS, aggregate: 'mean' })).toEqual([
        { time: D, value: 20 },
        { time: D + HOUR_MS, value: 5 },
      ])
      expect(await store.series({ ...q, every: DAY_MS, aggregate: 'count' })).toEqual([{ time: D, value: 3 }])
    })

    it('refuses raw readings older than their family’s retention, and keeps the rollups after the raw readings expire', async () => {
      fresh()
      const old = TODAY - 20 * DAY_MS
      const store = await open()
      const oldReadings = readings.map(([t, v]): [number, number] => [t - D + old, v])
      await writeAll(store, oldReadings.map(([t, v]) => aq('aq-1', t, { pm25: v })))
      await writeAll(store, [park(old + 60_000, 12)])
      const hourly = await store.series(query(old, old + 2 * DAY_MS, HOUR_MS, 'mean'))
      expect(hourly).toEqual(expected(oldReadings, old, old + 2 * DAY_MS, HOUR_MS, 'mean'))
      await store.close()

      // The environment family's raw readings and the hourly rollups now kept 10 days; daily forever.
      const short = await open({ ...RETENTION, familyRetentionMs: { environment: 10 * DAY_MS }, hourlyRetentionMs: 10 * DAY_MS })
      const raw = { deviceId: 'aq-1', type: 'air-quality', field: 'pm25', from: old, to: old + 2 * DAY_MS, limit: 1000 }
      await expect.poll(() => short.series(raw), { timeout: 60_000 }).toEqual([])
      await expect.poll(() => short.series(query(old, old + 2 * DAY_MS, HOUR_MS, 'mean')), { timeout: 60_000 }).toEqual([])
      expect(await short.series(query(old, old + 2 * DAY_MS, DAY_MS, 'mean'))).toEqual(expected(oldReadings, old, old + 2 * DAY_MS, DAY_MS, 'mean'))
      expect(await short.series(query(old, old + 2 * DAY_MS, DAY_MS, 'count'))).toEqual(expected(oldReadings, old, old + 2 * DAY_MS, DAY_MS, 'count'))
      // The infomobility family keeps the default 30 days.
      const parking = { deviceId: 'p-1', type: 'parking', field: 'availableSpotNumber', from: old, to: old + DAY_MS, limit: 10 }
      expect(await short.series(parking)).toEqual([{ time: old + 60_000, value: 12 }])

      // Older than the family's retention: refused, and in no rollup; the other family takes it.
      const stale = aq('aq-1', TODAY - 15 * DAY_MS, { pm25: 5 })
      const result = await short.write(linesToBatch([stale, park(TODAY - 15 * DAY_MS, 3)]))
      expect(result.rejected.map((r) => r.line)).toEqual([stale])
      expect(await short.series(query(TODAY - 15 * DAY_MS, TODAY - 14 * DAY_MS, DAY_MS, 'count'))).toEqual([])
      expect(await short.series({ ...parking, from: TODAY - 15 * DAY_MS, to: TODAY - 14 * DAY_MS })).toEqual([{ time: TODAY - 15 * DAY_MS, value: 3 }])
    })
  })
}

contract('embedded', () => {
  const dir = mkdtempSync(join(tmpdir(), 'piazza-rollups-'))
  return {
    open: (retention) => createEmbeddedStorage({ file: join(dir, 'piazza.db'), ...retention }),
    // Rolled up within each write's transaction: nothing deferred.
    settle: async () => undefined,
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  }
})

describe('embedded storage rollups', () => {
  it('rolls up, on first opening, a file written before rollups existed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'piazza-rollups-'))
    const file = join(dir, 'piazza.db')
    try {
      const store = createEmbeddedStorage({ file, ...RETENTION })
      await store.init()
      await store.write(linesToBatch([aq('aq-1', D + 60_000, { pm25: 10 }), aq('aq-1', D + 120_000, { pm25: 30 })]))
      await store.close()
      // As if written by a version without rollups.
      const Database = (await import('better-sqlite3')).default
      const db = new Database(file)
      db.exec('DELETE FROM rollup_hourly; DELETE FROM rollup_daily')
      db.close()

      const reopened = createEmbeddedStorage({ file, ...RETENTION })
      await reopened.init()
      const q = { deviceId: 'aq-1', type: 'air-quality', field: 'pm25', from: D, to: D + DAY_MS, limit: 10 }
      // A whole day is read from the daily rollup alone, an hour from the hourly one.
      expect(await reopened.series({ ...q, every: DAY_MS, aggregate: 'mean' })).toEqual([{ time: D, value: 20 }])
      expect(await reopened.series({ ...q, every: HOUR_MS, aggregate: 'count' })).toEqual([{ time: D, value: 2 }])
      await reopened.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

let influxd: Influxd
beforeAll(async () => {
  // Its own server: expired shard groups deleted every second, not every 30 minutes.
  influxd = await startInfluxd({ retentionCheckInterval: '1s' })
})
afterAll(async () => {
  await influxd?.stop()
  if (influxd) rmSync(influxd.dataDir, { recursive: true, force: true })
})

let databases = 0
contract('influxdb', () => {
  const database = `piazza_rollups_${process.pid}_${++databases}`
  return {
    open: (retention) => createInfluxStorage({ url: influxd.url, database, ...retention }),
    settle: (store) => (store as ReturnType<typeof createInfluxStorage>).settle(),
    cleanup: async () => void (await fetch(`${influxd.url}/query`, { method: 'POST', body: new URLSearchParams({ q: `DROP DATABASE "${database}"` }) })),
  }
})
