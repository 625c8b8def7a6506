import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createRegistry, openRegistryDatabase, type Device } from '../../../devices/registry.ts'
import { randomBytes } from 'node:crypto'
import type { Storage } from '../../../ingest/storage/contract.ts'
import { createEmbeddedStorage } from '../../../ingest/storage/embedded.ts'
import { createLocalFeed } from '../../../feed/feed.ts'
import { countingStorage, type StorageCalls } from '../../../testkit/counting-storage.ts'
import { line } from '../../../testkit/test-app.ts'
import { createSnapshots, HISTORY_HOURS } from './snapshots.ts'
import { linesToBatch } from '../../../devices/line-protocol.ts'

const MINUTE = 60_000
const HOUR = 60 * MINUTE
/** Waits for a condition: a generous deadline for a busy machine, polled often. */
const WAIT = { timeout: 20_000, interval: 20 }

/**
 * The snapshot service against the real embedded store: the index now from stored and live
 * readings (each counted once), completeness, staleness, the worst station, the 7-day history kept
 * up to date incrementally, and how often it reads storage.
 */

let dir: string
let storage: Storage
let registry: ReturnType<typeof createRegistry>
let feed: ReturnType<typeof createLocalFeed>
let calls: StorageCalls
let snapshots: ReturnType<typeof createSnapshots>

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'piazza-snapshots-'))
  const inner = createEmbeddedStorage({ file: join(dir, 'readings.db'), retentionMs: 30 * 86_400_000 })
  await inner.init()
  ;({ storage, calls } = countingStorage(inner))
  registry = createRegistry({ db: openRegistryDatabase(':memory:'), secretKey: randomBytes(32) })
  feed = createLocalFeed()
  snapshots = createSnapshots({ registry, storage, feed, logger: pino({ level: 'silent' }), minIntervalMs: 0, warm: false })
})

afterEach(async () => {
  snapshots.close()
  await storage.close()
  rmSync(dir, { recursive: true, force: true })
})

async function station(name: string, options: { city?: string; interval?: number } = {}): Promise<Device> {
  const { device } = await registry.add({ type: 'air-quality', city: options.city ?? 'firenze', name, interval: options.interval ?? 60 })
  return device
}

/** `count` readings every `stepMs`, the newest at `newest`. */
async function store(device: Device, count: number, values: Record<string, number>, newest = Date.now() - 1000, stepMs = MINUTE) {
  const lines: string[] = []
  for (let i = 0; i < count; i++) lines.push(line('air-quality', device.city, device.id, newest - i * stepMs, values))
  const { rejected } = await storage.write(linesToBatch(lines))
  expect(rejected).toEqual([])
}

describe('the index now', () => {
  it("is the station's worst complete pollutant over the last hour, with counts and the index version", async () => {
    const a = await station('Gramsci')
    await store(a, 60, { pm25: 12, no2: 30, o3: 40, co: 0.4 })
    const s = await snapshots.refresh('firenze')
    expect(s.airQuality.status).toBe('ok')
    expect(s.airQuality.index).toEqual({ value: 3, band: 'moderate', label: 'Moderate', drivingPollutant: 'no2', station: a.id, version: 'EAQI-2024' })
    expect(s.airQuality.pollutants.find((p) => p.pollutant === 'pm25')).toMatchObject({ value: 12, level: 2, band: 'fair', station: a.id, status: 'ok' })
    expect(s.airQuality.pollutants.find((p) => p.pollutant === 'pm10')).toMatchObject({ value: null, status: 'no-data' })
    const pub = s.stations[0]!
    expect(pub.hour.find((h) => h.pollutant === 'no2')).toEqual({ pollutant: 'no2', value: 30, count: 60, required: 45, level: 3 })
    expect(pub.latest.values).toEqual({ pm25: 12, no2: 30, o3: 40, co: 0.4 })
    expect(pub.units.co).toBe('mg/m³')
    expect(Date.parse(s.airQuality.lastUpdate!)).toBeGreaterThan(Date.now() - 5000)
  })

  it('needs 75 % of the expected readings in the hour', async () => {
    const a = await station('Gramsci')
    await store(a, 44, { pm25: 12 })
    let s = await snapshots.refresh('firenze')
    expect(s.airQuality.status).toBe('incomplete')
    expect(s.airQuality.index.value).toBeNull()
    expect(s.airQuality.pollutants[0]).toMatchObject({ pollutant: 'pm25', value: null, status: 'incomplete' })
    expect(s.stations[0]!.hour[0]).toMatchObject({ value: 12, count: 44, required: 45, level: null })
    await store(a, 1, { pm25: 12 }, Date.now() - 44.5 * MINUTE)
    s = await snapshots.refresh('firenze')
    expect(s.airQuality.index.value).toBe(2)
  })

  it('shows a station with stale data as stale, never as good', async () => {
    const a = await station('Gramsci')
    // 45 readings, but the newest is 16 minutes old (stale after 15 for a 60 s interval).
    await store(a, 45, { pm25: 1 }, Date.now() - 16 * MINUTE)
    const s = await snapshots.refresh('firenze')
    expect(s.airQuality.status).toBe('stale')
    expect(s.airQuality.index.value).toBeNull()
    expect(s.airQuality.stations[0]).toMatchObject({ status: 'stale', index: null })
    expect(s.airQuality.lastUpdate).not.toBeNull()
    const none = await snapshots.refresh('pisa')
    expect(none.airQuality.status).toBe('no-stations')
  })

  it("takes the city's worst station, ignoring a stale one", async () => {
    const a = await station('Gramsci')
    const b = await station('Boboli')
    const c = await station('Old', { interval: 60 })
    await store(a, 60, { pm25: 12 })
    await store(b, 60, { pm25: 60 })
    await store(c, 60, { pm25: 500 }, Date.now() - 20 * MINUTE)
    const s = await snapshots.refresh('firenze')
    expect(s.airQuality.index).toMatchObject({ value: 4, band: 'poor', drivingPollutant: 'pm25', station: b.id })
    expect(s.airQuality.pollutants[0]).toMatchObject({ value: 60, station: b.id })
    expect(s.airQuality.stations.map((x) => x.status).sort()).toEqual(['ok', 'ok', 'stale'])
  })

  it('counts readings accepted but not yet in storage, each once', async () => {
    const a = await station('Gramsci')
    const now = Date.now()
    await store(a, 40, { pm25: 10 }, now - 20 * MINUTE)
    // 20 newer readings arrive through the feed (not stored yet), plus 5 the store already has.
    const fresh = Array.from({ length: 20 }, (_, i) => ({ time: now - i * MINUTE - 1000, values: { pm25: 40 } }))
    const again = Array.from({ length: 5 }, (_, i) => ({ time: now - 20 * MINUTE - i * MINUTE, values: { pm25: 10 } }))
    feed.accepted({ id: a.id, type: 'air-quality', city: 'firenze' }, [...fresh, ...again], now)
    // The live readings reach the snapshot.
    const s = await vi.waitFor(async () => {
      const snap = await snapshots.city('firenze')
      expect(snap.stations[0]?.hour[0]?.count).toBe(60)
      return snap
    }, WAIT)
    expect(s.stations[0]!.hour[0]!.value).toBe(20) // (40 × 10 + 20 × 40) / 60
    expect(s.airQuality.index).toMatchObject({ value: 3, drivingPollutant: 'pm25' })
    expect(s.stations[0]!.latest.values.pm25).toBe(40)
  })

  it('ignores readings of other device types', async () => {
    await station('Gramsci')
    // The new station's load from storage, and the computation it brings, come first.
    await vi.waitFor(() => {
      expect(snapshots.stats().loading).toBe(0)
      expect(snapshots.stats().computations).toBeGreaterThan(0)
    }, WAIT)
    await new Promise((resolve) => setTimeout(resolve, 100))
    const before = snapshots.stats().computations
    feed.accepted({ id: 'noise-firenze-1', type: 'noise', city: 'firenze' }, [{ time: Date.now(), values: { LAeq: 50 } }], Date.now())
    await new Promise((resolve) => setImmediate(resolve))
    expect(snapshots.stats().computations).toBe(before)
  })
})

describe('the 7-day history', () => {
  // A fixed clock, half past an hour: no hour can close while a test runs.
  const now = Math.floor(Date.now() / HOUR) * HOUR - HOUR + 30 * MINUTE
  const hourNow = now - 30 * MINUTE
  let clocked: ReturnType<typeof createSnapshots>
  beforeEach(() => {
    snapshots.close() // only the clocked instance listens here
    clocked = createSnapshots({ registry, storage, feed, logger: pino({ level: 'silent' }), minIntervalMs: 0, warm: false, clock: () => now })
  })
  afterEach(() => clocked.close())

  it('has one entry per hour with the hourly city index, null where no station was complete', async () => {
    const a = await station('Gramsci', { interval: 600 })
    // Three complete hours 2–4 h ago (6 readings each), one incomplete hour 6 h ago (4 of the 5 needed).
    for (const [h, value, n] of [[2, 12, 6], [3, 60, 6], [4, 3, 6], [6, 100, 4]] as const) {
      await store(a, n, { pm25: value }, hourNow - h * HOUR + 55 * MINUTE, 10 * MINUTE)
    }
    const s = await clocked.refresh('firenze')
    expect(s.history).toHaveLength(HISTORY_HOURS)
    const at = (h: number) => s.history.find((x) => Date.parse(x.time) === hourNow - h * HOUR)!
    expect(at(2)).toMatchObject({ index: 2, band: 'fair', drivingPollutant: 'pm25', values: { pm25: 12 } })
    expect(at(3)).toMatchObject({ index: 4, band: 'poor', values: { pm25: 60 } })
    expect(at(4)).toMatchObject({ index: 1, band: 'good' })
    expect(at(6)).toMatchObject({ index: null, values: { pm25: null } })
    expect(s.history[0]!.time).toBe(new Date(hourNow - HISTORY_HOURS * HOUR).toISOString())
    expect(s.history.at(-1)!.time).toBe(new Date(hourNow - HOUR).toISOString())
  })

  it('recomputes only a closed hour that receives a late reading, not the whole week', async () => {
    const a = await station('Gramsci', { interval: 600 })
    await store(a, 5, { pm25: 12 }, hourNow - 3 * HOUR + 45 * MINUTE, 10 * MINUTE)
    let s = await clocked.refresh('firenze')
    const at = (h: number) => s.history.find((x) => Date.parse(x.time) === hourNow - h * HOUR)!
    expect(at(3).values.pm25).toBe(12)

    // A late reading for that hour, accepted but not stored yet.
    const late = hourNow - 3 * HOUR + 55 * MINUTE
    const before = calls.ranges
    const latestBefore = calls.latest
    feed.accepted({ id: a.id, type: 'air-quality', city: 'firenze' }, [{ time: late, values: { pm25: 72 } }], now)
    // The late reading reaches the history.
    s = await vi.waitFor(async () => {
      const snap = await clocked.city('firenze')
      expect(snap.history.find((x) => Date.parse(x.time) === hourNow - 3 * HOUR)?.values.pm25).toBe(22)
      return snap
    }, WAIT)
    // (5 × 12 + 72) / 6 = 22, from the hour's sums in memory: taking the reading and recomputing
    // the city read nothing from storage.
    expect(calls.ranges - before).toBe(0)
    expect(calls.latest).toBe(latestBefore)
  })
})

describe('refreshing', () => {
  it('recomputes a city once for a burst of readings, and serves every request from the snapshot', async () => {
    const a = await station('Gramsci')
    await store(a, 60, { pm25: 12 })
    const first = await snapshots.refresh('firenze')
    const computations = snapshots.stats().computations
    const device = { id: a.id, type: 'air-quality' as const, city: 'firenze' }
    const base = Date.now() - 5000
    for (let i = 0; i < 50; i++) feed.accepted(device, [{ time: base - i * 1000, values: { pm25: 12 } }], Date.now())
    const next = await vi.waitFor(async () => {
      const s = await snapshots.city('firenze')
      expect(s.version, 'the recomputed snapshot').toBeGreaterThan(first.version)
      return s
    }, WAIT)
    expect(snapshots.stats().computations).toBe(computations + 1)
    expect(next.stations[0]!.hour[0]!.count).toBe(110)

    const reads = { ...calls }
    for (let i = 0; i < 100; i++) expect((await snapshots.city('firenze')).version).toBe(next.version)
    expect(calls).toEqual(reads)
  })

  it("counts its computations as the public-snapshots listener's time when the feed is timed (PIAZZA_TIMING)", async () => {
    const timedFeed = createLocalFeed({ timing: true })
    const timed = createSnapshots({ registry, storage, feed: timedFeed, logger: pino({ level: 'silent' }), minIntervalMs: 0, warm: false })
    try {
      const a = await station('Gramsci')
      await store(a, 60, { pm25: 12 })
      // Subscribed, so listed, and nothing counted yet: no reading has reached its listener.
      expect(timedFeed.listenerSeconds!()).toEqual({ 'public-snapshots': 0 })
      const computations = timed.stats().computations
      expect((await timed.refresh('firenze')).airQuality.pollutants.find((p) => p.pollutant === 'pm25')?.value).toBe(12)
      expect(timed.stats().computations).toBeGreaterThan(computations)
      expect(timedFeed.listenerSeconds!()['public-snapshots']).toBeGreaterThan(0)
    } finally {
      timed.close()
    }
  })

  it('waits perStationMs for each of its stations between computations of a city, when that is longer', async () => {
    const a = await station('Gramsci')
    await station('Novoli')
    const reading = () => feed.accepted({ id: a.id, type: 'air-quality', city: 'firenze' }, [{ time: Date.now(), values: { pm25: 12 } }], Date.now())
    const settle = async () => {
      for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve))
    }
    // Two stations at 30 s each: the next computation is a minute away.
    const slow = createSnapshots({ registry, storage, feed, logger: pino({ level: 'silent' }), minIntervalMs: 0, perStationMs: 30_000, warm: false })
    // The same with nothing per station: the reading is taken in at once.
    const quick = createSnapshots({ registry, storage, feed, logger: pino({ level: 'silent' }), minIntervalMs: 0, perStationMs: 0, warm: false })
    try {
      const first = await slow.refresh('firenze')
      await quick.refresh('firenze')
      const computations = { slow: slow.stats().computations, quick: quick.stats().computations }
      reading()
      await settle()
      await vi.waitFor(() => expect(quick.stats().computations).toBeGreaterThan(computations.quick), WAIT)
      expect(slow.stats().computations).toBe(computations.slow)
      expect((await slow.city('firenze')).version).toBe(first.version)
    } finally {
      slow.close()
      quick.close()
    }
  })

  it('waits at least minIntervalMs between computations of a city while readings keep coming', async () => {
    const slow = createSnapshots({ registry, storage, feed, logger: pino({ level: 'silent' }), minIntervalMs: 60_000, warm: false })
    try {
      const a = await station('Gramsci')
      const first = await slow.refresh('firenze')
      const computations = slow.stats().computations
      feed.accepted({ id: a.id, type: 'air-quality', city: 'firenze' }, [{ time: Date.now(), values: { pm25: 12 } }], Date.now())
      // Nothing to wait for: the next computation is a minute away, the snapshot stays as it is.
      for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve))
      expect(slow.stats().computations).toBe(computations)
      expect((await slow.city('firenze')).version).toBe(first.version)
    } finally {
      slow.close()
    }
  })

  it('computes per request when snapshots are disabled (the baseline the bench compares with)', async () => {
    const perRequest = createSnapshots({ registry, storage, logger: pino({ level: 'silent' }), cache: false })
    const a = await station('Gramsci')
    await store(a, 60, { pm25: 12 })
    const before = calls.ranges
    const x = await perRequest.city('firenze')
    const y = await perRequest.city('firenze')
    expect(y.version).toBe(x.version + 1)
    expect(x.airQuality.index.value).toBe(2)
    expect(calls.ranges - before).toBeGreaterThanOrEqual(2 * 15)
    perRequest.close()
  })
})

describe('warming up at start', () => {
  it('loads only stations with readings in the week of history: one grouped query says which', async () => {
    const silent = await Promise.all(Array.from({ length: 30 }, (_, i) => station(`Mai sentita ${i}`)))
    const old = await station('Ferma da dieci giorni')
    const oldTime = Date.now() - 10 * 24 * HOUR
    await store(old, 1, { pm25: 41, no2: 7 }, oldTime)
    const live = await station('Gramsci')
    await store(live, 60, { pm25: 12 })
    // The suite's own snapshots (warm: false) load each station as it is registered: not counted.
    await snapshots.loaded()
    const latestBefore = calls.latest
    const warm = createSnapshots({ registry, storage, feed, logger: pino({ level: 'silent' }), minIntervalMs: 0 })
    try {
      await vi.waitFor(() => expect(calls.lastReadings).toBe(1), WAIT)
      await vi.waitFor(async () => expect((await warm.city('firenze')).airQuality.index.value).toBe(2), WAIT)
      await warm.loaded()
      // The live station: one load (one latest). The old one and the 30 silent ones: none.
      expect(calls.latest - latestBefore).toBe(1)
      expect(warm.stats().stations).toBe(32)
      const snapshot = await warm.city('firenze')
      const oldStation = snapshot.stations.find((s) => s.id === old.id)
      expect(oldStation?.latest.values).toMatchObject({ pm25: 41, no2: 7 })
      expect(oldStation?.latest.time).toBe(new Date(oldTime).toISOString())
      expect(snapshot.stations.find((s) => s.id === silent[0]!.id)?.latest.values).toEqual({})
      // A station that never reported, once it does, is counted from the feed, with no load.
      const first = silent[0]!
      const now = Date.now()
      feed.accepted({ id: first.id, type: 'air-quality', city: first.city }, [{ time: now - 500, values: { pm25: 70 } }], now)
      await vi.waitFor(async () => expect((await warm.city('firenze')).stations.find((s) => s.id === first.id)?.latest.values).toMatchObject({ pm25: 70 }), WAIT)
      expect(calls.latest - latestBefore).toBe(1)
    } finally {
      warm.close()
    }
  })
})

