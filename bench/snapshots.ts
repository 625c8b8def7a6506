import { pino } from 'pino'
import { cities } from '../devices/region.ts'
import type { Device, DeviceFilter, RegistryChange } from '../devices/registry.ts'
import type { SeriesPoint, SeriesQuery, Storage } from '../ingest/storage/contract.ts'
import type { FeedListeners } from '../feed/feed.ts'
import { createSnapshots } from '../dashboard/server/public/snapshots.ts'

/**
 * CPU cost of the public air-quality snapshots (dashboard/server/public/snapshots.ts), alone:
 * no broker, no HTTP, no real store. 1,000 air-quality stations (100 per city) are fed N
 * readings each through the snapshots' feed listener, one a minute of simulated time, while a
 * fake in-memory storage receives the same readings (as ingest would store them); then every
 * city is recomputed. Prints µs of CPU per reading taken and per city recomputation, and how
 * many storage calls each phase made.
 *
 *   node --import tsx bench/snapshots.ts [readingsPerStation=60] [stations=1000]
 *
 * The clock is simulated (the snapshots' `clock` option), so a run takes seconds, not hours.
 */

const MINUTE = 60_000
const N = Number(process.argv[2] ?? 60)
const STATIONS = Number(process.argv[3] ?? 1000)
const FIELDS = ['pm25', 'pm10', 'no2', 'o3', 'so2', 'co'] as const

let now = Math.floor(Date.now() / MINUTE) * MINUTE - N * MINUTE
const clock = () => now

// ---------------------------------------------------------------- fakes

const devices: Device[] = []
for (let i = 0; i < STATIONS; i++) {
  const city = cities[i % cities.length]!
  devices.push({ id: `aq-${city.id}-${i}`, type: 'air-quality', city: city.id, name: `Station ${i}`, lat: city.lat, lon: city.lon, interval: 60, status: 'active' } as unknown as Device)
}
const listeners = new Set<(c: RegistryChange) => void>()
const registry = {
  list(filter: DeviceFilter = {}) {
    const items = devices.filter((d) => (!filter.city || d.city === filter.city) && (!filter.type || d.type === filter.type) && (!filter.status || d.status === filter.status))
    return { items, total: items.length }
  },
  onChange(listener: (c: RegistryChange) => void) {
    listeners.add(listener)
    return () => listeners.delete(listener)
  },
}

/** Per device and field, readings sorted by time. */
const stored = new Map<string, { time: number; value: number }[]>()
const calls = { series: 0, latest: 0, lastReadings: 0 }
const lowerBound = (a: { time: number }[], t: number) => {
  let lo = 0
  let hi = a.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (a[mid]!.time < t) lo = mid + 1
    else hi = mid
  }
  return lo
}
function storeReading(deviceId: string, time: number, values: Record<string, number>) {
  for (const [f, v] of Object.entries(values)) {
    const key = `${deviceId}/${f}`
    let a = stored.get(key)
    if (!a) stored.set(key, (a = []))
    if (a.length === 0 || a.at(-1)!.time < time) a.push({ time, value: v })
    else {
      const i = lowerBound(a, time)
      if (a[i]?.time === time) a[i]!.value = v
      else a.splice(i, 0, { time, value: v })
    }
  }
}
function seriesOf(q: SeriesQuery): SeriesPoint[] {
    const a = stored.get(`${q.deviceId}/${q.field}`) ?? []
    const slice = a.slice(lowerBound(a, q.from), lowerBound(a, q.to))
    if (q.every === undefined) return slice.slice(-q.limit).map((p) => ({ time: p.time, value: p.value }))
    const windows = new Map<number, { sum: number; count: number }>()
    for (const p of slice) {
      const w = Math.floor(p.time / q.every) * q.every
      const x = windows.get(w) ?? { sum: 0, count: 0 }
      x.sum += p.value
      x.count += 1
      windows.set(w, x)
    }
    return [...windows].map(([time, x]) => ({ time, value: q.aggregate === 'count' ? x.count : x.sum / x.count })).slice(-q.limit)
}
// `calls.series` counts every range query: series, windows and readings.
const storage: Pick<Storage, 'series' | 'windows' | 'readings' | 'latest' | 'lastReadings'> = {
  async series(q) {
    calls.series += 1
    return seriesOf(q)
  },
  async readings(q) {
    calls.series += 1
    const byTime = new Map<number, Record<string, number>>()
    for (const field of q.fields) for (const p of seriesOf({ ...q, field })) byTime.set(p.time, { ...byTime.get(p.time), [field]: p.value! })
    return [...byTime].sort((a, b) => a[0] - b[0]).map(([time, values]) => ({ time, values })).slice(-q.limit)
  },
  async windows(q) {
    calls.series += 1
    const byTime = new Map<number, Record<string, { mean: number; count: number }>>()
    for (const field of q.fields) {
      const counts = seriesOf({ ...q, field, aggregate: 'count' })
      seriesOf({ ...q, field, aggregate: 'mean' }).forEach((p, i) => byTime.set(p.time, { ...byTime.get(p.time), [field]: { mean: p.value!, count: counts[i]!.value! } }))
    }
    return [...byTime].sort((a, b) => a[0] - b[0]).map(([time, fields]) => ({ time, fields })).slice(-q.limit)
  },
  async latest({ deviceId }) {
    calls.latest += 1
    let time = -Infinity
    const values: Record<string, number> = {}
    for (const f of FIELDS) {
      const p = stored.get(`${deviceId}/${f}`)?.at(-1)
      if (!p) continue
      values[f] = p.value
      time = Math.max(time, p.time)
    }
    return time === -Infinity ? null : { time, values }
  },
  async lastReadings(_type, since) {
    calls.lastReadings += 1
    const newest = new Map<string, { time: number; values: Record<string, number> }>()
    for (const [key, points] of stored) {
      const p = points.at(-1)
      if (!p) continue
      const deviceId = key.slice(0, key.lastIndexOf('/'))
      const n = newest.get(deviceId) ?? { time: -Infinity, values: {} }
      n.values[key.slice(key.lastIndexOf('/') + 1)] = p.value
      n.time = Math.max(n.time, p.time)
      newest.set(deviceId, n)
    }
    return [...newest].filter(([, n]) => n.time > since).map(([deviceId, n]) => ({ deviceId, ...n }))
  },
}
let feedListeners: FeedListeners = {}
const feed = {
  subscribe(l: FeedListeners) {
    feedListeners = l
    return () => {}
  },
}

// ---------------------------------------------------------------- run

const snapshots = createSnapshots({ registry, storage, feed, logger: pino({ level: 'silent' }), minIntervalMs: 3_600_000, maxAgeMs: 3_600_000, warm: false, clock })
const s = snapshots as typeof snapshots & { recompute?: (cityId: string) => Promise<unknown> }
const recompute = (cityId: string) => (s.recompute ? s.recompute(cityId) : s.refresh(cityId))
const cpu = () => {
  const u = process.cpuUsage()
  return u.user + u.system
}
const snapshot = () => ({ ...calls })
const delta = (a: typeof calls) => `${calls.series - a.series} series + ${calls.latest - a.latest} latest + ${calls.lastReadings - a.lastReadings} grouped`

let c0 = cpu()
let k0 = snapshot()
for (const c of cities) await snapshots.refresh(c.id)
console.log(`first computation of ${cities.length} cities (${STATIONS} stations, empty storage): ${((cpu() - c0) / 1000).toFixed(0)} ms CPU, storage calls: ${delta(k0)}`)

let feedCpu = 0
let recomputeCpu = 0
let recomputations = 0
let readings = 0
k0 = snapshot()
let k1 = snapshot()
const rnd = (x: number) => Math.round(x * 10) / 10
for (let round = 0; round < N; round++) {
  now += MINUTE
  const batch = devices.map((d, i) => ({ d, r: { time: now - 1000, values: { pm25: rnd(5 + ((i + round) % 40)), pm10: rnd(10 + (round % 30)), no2: 20 + (i % 7), o3: 50, so2: 3, co: 0.4 } } }))
  for (const { d, r } of batch) storeReading(d.id, r.time, r.values)
  c0 = cpu()
  for (const { d, r } of batch) feedListeners.accepted?.({ id: d.id, type: 'air-quality', city: d.city }, [r], now)
  feedCpu += cpu() - c0
  readings += batch.length
  // Every 10 simulated minutes, every city recomputed (in production: at most every 2 s per city with readings).
  if (round % 10 === 9 || round === N - 1) {
    const k = snapshot()
    c0 = cpu()
    for (const c of cities) await recompute(c.id)
    recomputeCpu += cpu() - c0
    recomputations += cities.length
    k1 = { series: k1.series + calls.series - k.series, latest: k1.latest + calls.latest - k.latest, lastReadings: k1.lastReadings + calls.lastReadings - k.lastReadings }
  }
}
const perReading = feedCpu / readings
const perCity = recomputeCpu / recomputations
const onReadings = { series: calls.series - k0.series - (k1.series - k0.series), latest: calls.latest - k0.latest - (k1.latest - k0.latest) }
console.log(`${readings} readings (${STATIONS} stations × ${N}): ${perReading.toFixed(2)} µs CPU per reading on the feed path; storage calls while taking readings: ${onReadings.series} series + ${onReadings.latest} latest`)
console.log(
  `${recomputations} city recomputations (${STATIONS / cities.length} stations each): ${(perCity / 1000).toFixed(2)} ms CPU per city (${(perCity / (STATIONS / cities.length)).toFixed(0)} µs per station); storage calls: ${k1.series - k0.series} series + ${k1.latest - k0.latest} latest`,
)
const last = await snapshots.city(cities[0]!.id)
console.log(`check: ${last.city.id} index ${last.airQuality.index.value} (${last.airQuality.status}), station 0 pm25 count ${last.stations[0]?.hour[0]?.count}, history hours ${last.history.length}`)
snapshots.close()
