import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createRegistry, openRegistryDatabase } from '../../../devices/registry.ts'
import type { Storage } from '../../../ingest/storage/contract.ts'
import { createEmbeddedStorage } from '../../../ingest/storage/embedded.ts'
import { createLocalFeed } from '../../../feed/feed.ts'
import { countingStorage, type StorageCalls } from '../../../testkit/counting-storage.ts'
import { line } from '../../../testkit/test-app.ts'
import { createSnapshots } from './snapshots.ts'
import { linesToBatch } from '../../../devices/line-protocol.ts'

/**
 * How much storage the snapshots read as the fleet changes and readings arrive: once per station
 * that appears (3 calls), never per reading, never the whole city again for one station.
 */

const MINUTE = 60_000
const WAIT = { timeout: 30_000, interval: 20 }
/** Storage calls one station's load makes: latest, then every pollutant's hourly windows at once and its raw readings at once. */
const PER_STATION = 3
/** A station with nothing in its week of history: `latest` only. */
const PER_EMPTY_STATION = 1

let dir: string
let storage: Storage
let calls: StorageCalls
let registry: ReturnType<typeof createRegistry>
let feed: ReturnType<typeof createLocalFeed>

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'piazza-snapshots-registry-'))
  const inner = createEmbeddedStorage({ file: join(dir, 'readings.db'), retentionMs: 30 * 86_400_000 })
  await inner.init()
  ;({ storage, calls } = countingStorage(inner))
  registry = createRegistry({ db: openRegistryDatabase(':memory:'), secretKey: randomBytes(32) })
  feed = createLocalFeed()
})

afterEach(async () => {
  await storage.close()
  rmSync(dir, { recursive: true, force: true })
})

const total = () => calls.ranges + calls.latest

describe('registry changes and readings', () => {
  it('importing 1,000 stations reads storage once per station, and readings read nothing', async () => {
    const snapshots = createSnapshots({ registry, storage, feed, logger: pino({ level: 'silent' }), minIntervalMs: 50 })
    try {
      const cities = ['firenze', 'pisa', 'siena', 'lucca']
      const rowMs: number[] = []
      const callsAt: number[] = []
      const ids: { id: string; city: string }[] = []
      const t0 = performance.now()
      for (let i = 0; i < 1000; i++) {
        const started = performance.now()
        const { device } = await registry.add({ type: 'air-quality', city: cities[i % cities.length]!, name: `Import ${i}`, interval: 60 })
        ids.push({ id: device.id, city: device.city })
        rowMs.push(performance.now() - started)
        if (i % 100 === 99) {
          await snapshots.loaded()
          callsAt.push(total())
        }
      }
      await snapshots.loaded()
      console.log(`1,000 registrations in ${Math.round(performance.now() - t0)} ms, ${snapshots.stats().computations} computations`)
      // Proportional to the stations added: exactly one load each, whatever the size of their city
      // (new stations hold no data: one call each).
      expect(callsAt).toEqual(Array.from({ length: 10 }, (_, k) => (k + 1) * 100 * PER_EMPTY_STATION))
      expect(calls.latest).toBe(1000)
      // Every city knows its stations.
      const firenze = await vi.waitFor(async () => {
        const s = await snapshots.city('firenze')
        expect(s.stations).toHaveLength(250)
        return s
      }, WAIT)
      expect(firenze.airQuality.stations.every((s) => s.status === 'no-data')).toBe(true)
      // Per-row cost does not grow with the stations registered (loose: a shared machine).
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
      expect(mean(rowMs.slice(-200))).toBeLessThan(mean(rowMs.slice(0, 200)) * 4 + 2)

      // Readings: nothing read from storage, and they reach the answers.
      const before = total()
      const computations = snapshots.stats().computations
      const now = Date.now()
      for (let k = 0; k < 60; k++) for (const d of ids.slice(0, 100)) feed.accepted({ id: d.id, type: 'air-quality', city: d.city }, [{ time: now - k * MINUTE - 1000, values: { pm25: 12, no2: 30 } }], now)
      const s = await vi.waitFor(async () => {
        const snap = await snapshots.city('firenze')
        expect(snap.airQuality.index).toMatchObject({ value: 3, drivingPollutant: 'no2' })
        return snap
      }, WAIT)
      expect(s.stations.find((x) => x.id === ids[0]!.id)!.hour[0]).toEqual({ pollutant: 'pm25', value: 12, count: 60, required: 45, level: 2 })
      expect(total()).toBe(before)
      // 6,000 readings, a handful of computations (throttled per city).
      expect(snapshots.stats().computations - computations).toBeLessThan(40)
    } finally {
      snapshots.close()
    }
  }, 120_000)

  it('a station added later is loaded alone, with its history, and joins its city', async () => {
    const snapshots = createSnapshots({ registry, storage, feed, logger: pino({ level: 'silent' }), minIntervalMs: 0, warm: false })
    try {
      for (let i = 0; i < 5; i++) await registry.add({ type: 'air-quality', city: 'firenze', name: `Old ${i}`, interval: 60 })
      const first = await snapshots.refresh('firenze')
      expect(first.airQuality.index.value).toBeNull()
      const before = total()
      // A station that already has readings in storage (say, moved from another platform) is registered.
      const id = 'aq-firenze-late01'
      const now = Date.now()
      const lines = Array.from({ length: 60 }, (_, i) => line('air-quality', 'firenze', id, now - 1000 - i * MINUTE, { pm25: 60, co: 0.3 }))
      // …and a week ago, hourly: a complete hour 30 h ago in its history.
      for (let i = 0; i < 60; i++) lines.push(line('air-quality', 'firenze', id, Math.floor(now / 3_600_000) * 3_600_000 - 30 * 3_600_000 + i * MINUTE, { pm25: 100 }))
      expect((await storage.write(linesToBatch(lines))).rejected).toEqual([])
      await registry.add({ id, type: 'air-quality', city: 'firenze', name: 'Late', interval: 60 })
      const s = await vi.waitFor(async () => {
        const snap = await snapshots.city('firenze')
        expect(snap.airQuality.index).toMatchObject({ value: 4, station: id })
        return snap
      }, WAIT)
      const h30 = Math.floor(now / 3_600_000) * 3_600_000 - 30 * 3_600_000
      expect(s.history.find((x) => Date.parse(x.time) === h30)).toMatchObject({ index: 5, values: { pm25: 100 } })
      expect(s.stations.find((x) => x.id === id)!.latest.values).toEqual({ pm25: 60, co: 0.3 })
      // One station loaded: its 3 calls, not the city's 6 stations again.
      expect(total() - before).toBe(PER_STATION)
    } finally {
      snapshots.close()
    }
  })

  it('follows renames, revocations, reinstatements and new stations from the registry changes, listing the registry once per city', async () => {
    const listed = vi.spyOn(registry, 'list')
    const snapshots = createSnapshots({ registry, storage, feed, logger: pino({ level: 'silent' }), minIntervalMs: 0, warm: false })
    try {
      for (const id of ['aq-firenze-b', 'aq-firenze-d', 'aq-firenze-f']) await registry.add({ id, type: 'air-quality', city: 'firenze', name: id, interval: 60 })
      const ids = async () => (await snapshots.recompute('firenze')).stations.map((s) => `${s.id}:${s.name}`)
      expect(await ids()).toEqual(['aq-firenze-b:aq-firenze-b', 'aq-firenze-d:aq-firenze-d', 'aq-firenze-f:aq-firenze-f'])
      await registry.update('aq-firenze-d', { name: 'Piazza della Signoria' })
      await registry.setStatus('aq-firenze-b', 'revoked')
      await registry.add({ id: 'aq-firenze-c', type: 'air-quality', city: 'firenze', name: 'New', interval: 60 })
      await registry.add({ id: 'aq-pisa-a', type: 'air-quality', city: 'pisa', name: 'Elsewhere', interval: 60 })
      expect(await ids()).toEqual(['aq-firenze-c:New', 'aq-firenze-d:Piazza della Signoria', 'aq-firenze-f:aq-firenze-f'])
      await registry.setStatus('aq-firenze-b', 'active')
      expect(await ids()).toEqual(['aq-firenze-b:aq-firenze-b', 'aq-firenze-c:New', 'aq-firenze-d:Piazza della Signoria', 'aq-firenze-f:aq-firenze-f'])
      expect((await snapshots.recompute('pisa')).stations.map((s) => s.id)).toEqual(['aq-pisa-a'])
      expect(listed.mock.calls.filter(([filter]) => filter?.city === 'firenze')).toHaveLength(1)
    } finally {
      snapshots.close()
    }
  })

  it('while stations load, holds a city\'s history back (the index now follows at once) and brings it up to date when the loads end', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const gated: Storage = { ...storage, kind: storage.kind, latest: async (q) => (q.deviceId === 'aq-pisa-gated' ? gate.then(() => storage.latest(q)) : storage.latest(q)) }
    const snapshots = createSnapshots({ registry, storage: gated, feed, logger: pino({ level: 'silent' }), minIntervalMs: 0, warm: false })
    try {
      const hour = 3_600_000
      const now = Date.now()
      const h40 = Math.floor(now / hour) * hour - 40 * hour
      const id = 'aq-firenze-loaded'
      // A complete hour 40 h ago, and a reading a minute ago.
      const lines = Array.from({ length: 60 }, (_, i) => line('air-quality', 'firenze', id, h40 + i * MINUTE, { pm25: 100 }))
      lines.push(line('air-quality', 'firenze', id, now - MINUTE, { pm25: 20 }))
      expect((await storage.write(linesToBatch(lines))).rejected).toEqual([])
      await registry.add({ type: 'air-quality', city: 'firenze', name: 'Already there', interval: 60 })
      const before = await snapshots.refresh('firenze')
      expect(before.history.find((x) => Date.parse(x.time) === h40)!.index).toBeNull()
      // A station in Pisa whose load does not end yet, then one in Firenze with history.
      await registry.add({ id: 'aq-pisa-gated', type: 'air-quality', city: 'pisa', name: 'Slow', interval: 60 })
      await registry.add({ id, type: 'air-quality', city: 'firenze', name: 'Loaded', interval: 60 })
      const meanwhile = await vi.waitFor(async () => {
        const snap = await snapshots.city('firenze')
        expect(snap.stations.find((x) => x.id === id)?.latest.values).toEqual({ pm25: 20 })
        return snap
      }, WAIT)
      expect(meanwhile.history.find((x) => Date.parse(x.time) === h40)!.index).toBeNull()
      release()
      await vi.waitFor(async () => {
        const snap = await snapshots.city('firenze')
        expect(snap.history.find((x) => Date.parse(x.time) === h40)).toMatchObject({ index: 5, values: { pm25: 100 } })
      }, WAIT)
    } finally {
      release()
      snapshots.close()
    }
  })
})
