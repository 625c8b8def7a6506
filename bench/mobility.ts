import { randomBytes } from 'node:crypto'
import Fastify from 'fastify'
import { cities } from '../devices/region.ts'
import { createRegistry, openRegistryDatabase } from '../devices/registry.ts'
import type { Api } from '../dashboard/server/http/types.ts'
import { typeboxValidatorCompiler } from '../dashboard/server/http/validation.ts'
import { buildFeed, encodeFeed, tripMatches } from '../dashboard/server/public/gtfs-rt.ts'
import { createGtfsParser, parseGtfs, type GtfsIndex, type GtfsStore } from '../dashboard/server/public/gtfs-static.ts'
import { resolveLicense } from '../dashboard/server/public/license.ts'
import { registerMobilityRoutes } from '../dashboard/server/public/mobility-routes.ts'
import { createMobilitySnapshots } from '../dashboard/server/public/mobility-snapshot.ts'
import { createLiveHub } from '../dashboard/server/realtime/live.ts'
import { gtfsZip, largeGtfs } from '../testkit/gtfs-zip.ts'
import { load, type LoadResult, type PublicBenchResult, type PublicBenchRow } from './public.ts'

/**
 * GTFS-Realtime VehiclePositions for a fleet of buses (2,000 by default), for `npm run bench`:
 *
 * - generation cost: one build of the feed (the registry's active buses joined with the live
 *   hub's newest readings, the FeedMessage, its protobuf encoding), median of many;
 * - requests/s of GET /api/public/gtfs-rt/vehicle-positions with N keep-alive clients, served from
 *   the mobility snapshot (rebuilt at most once a second) against the baseline measured in the
 *   same run: the same route with the snapshot off, i.e. the feed built for every request.
 *
 * - static GTFS: the parse of a region-sized zip (40 routes × 144 trips × 20 stops = 115,200
 *   stop_times rows) in its worker thread, as uploads run, against the same parse on the event
 *   loop: wall time and the longest event-loop stall during it (what devices and browsers wait);
 *   then, with that timetable loaded in every city, one matching pass of every bus to its trip,
 *   and requests/s of the feed with buses matched once per snapshot against per request.
 *
 * The registry is the real one (SQLite, in memory), the live hub the real one fed as the feed
 * feeds it; the two servers are the real routes on bare Fastify instances (no rate limit, or the
 * load would measure the 429s), each on a free port; the load runs in a worker thread.
 */

export interface MobilityBenchOptions {
  vehicles?: number
  seconds?: number
  /** Parses of the static GTFS per way (median taken). Default 3. */
  parses?: number
  connections?: number
  log?: (line: string) => void
}

type MobilityGtfs = Pick<GtfsStore, 'get' | 'cities' | 'version'>

interface Parse {
  ms: number
  stallMs: number
}

/**
 * One parse: its wall time, and the longest the event loop went without running a 5 ms timer
 * meanwhile (a gap counted from the start, so a parse that blocks from its first instant counts
 * whole; perf_hooks' monitorEventLoopDelay drops its first sample, which is exactly that one).
 */
async function timedParse(run: () => Promise<unknown>): Promise<Parse> {
  let last = performance.now()
  let stallMs = 0
  const ticker = setInterval(() => {
    const now = performance.now()
    stallMs = Math.max(stallMs, now - last)
    last = now
  }, 5)
  const started = performance.now()
  try {
    await run()
    const ms = performance.now() - started
    // Let the tick a blocking parse held back run, so its gap is counted.
    await new Promise((resolve) => setTimeout(resolve, 20))
    return { ms, stallMs }
  } finally {
    clearInterval(ticker)
  }
}

const medianParse = (list: Parse[]): Parse => {
  const mid = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!
  return { ms: mid(list.map((p) => p.ms)), stallMs: mid(list.map((p) => p.stallMs)) }
}

export async function benchMobility(options: MobilityBenchOptions = {}): Promise<PublicBenchResult> {
  const vehicles = options.vehicles ?? 2000
  const seconds = options.seconds ?? 5
  const connections = options.connections ?? 20
  const parses = options.parses ?? 3
  const log = options.log ?? (() => {})
  const notes: string[] = []
  const db = openRegistryDatabase(':memory:')
  const registry = createRegistry({ db, secretKey: randomBytes(32) })
  const live = createLiveHub()
  const servers: Api[] = []
  try {
    log(`mobility bench: registering ${vehicles} buses…`)
    const now = Date.now()
    for (let i = 0; i < vehicles; i++) {
      const city = cities[i % cities.length]!
      // Interval 10 min, so none goes silent during the run.
      const { device } = await registry.add({ type: 'bus', city: city.id, name: `Bus ${i}`, interval: 600 }, 'bench')
      // Routes R0…R39: the static GTFS below has those.
      const values = { route: `R${i % 40}`, lat: city.lat + ((i % 50) - 25) / 2000, lon: city.lon + ((i % 30) - 15) / 2000, speed: i % 60, heading: i % 360, delay: (i % 600) - 120 }
      live.push(device, [{ time: now, values }], now)
    }

    // Generation cost, on its own.
    const perBuild = createMobilitySnapshots({ registry, live, minIntervalMs: 0 })
    const times: number[] = []
    let bytes = 0
    for (let i = 0; i < 40; i++) {
      const started = process.hrtime.bigint()
      const buffer = encodeFeed(buildFeed(perBuild.current(), 'vehicle-positions'))
      times.push(Number(process.hrtime.bigint() - started) / 1e6)
      bytes = buffer.length
    }
    times.sort((a, b) => a - b)
    const buildMs = times[Math.floor(times.length / 2)]!
    notes.push(`one VehiclePositions build for ${vehicles} buses: median ${buildMs.toFixed(1)} ms over ${times.length} (registry query, join with the live hub, FeedMessage, protobuf), ${Math.round(bytes / 1024)} KB`)

    const license = resolveLicense()
    const serve = async (minIntervalMs: number, gtfs?: MobilityGtfs) => {
      const app = Fastify({ logger: false }) as unknown as Api
      app.setValidatorCompiler(typeboxValidatorCompiler)
      registerMobilityRoutes(app, { snapshots: createMobilitySnapshots({ registry, live, minIntervalMs }), gtfs, license, contactEmail: 'bench@piazza.invalid', maxAgeSeconds: 5 })
      servers.push(app)
      await app.listen({ host: '127.0.0.1', port: 0 })
      const address = app.server.address()
      return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/api/public/gtfs-rt/vehicle-positions`
    }
    const fromSnapshot = await serve(1000)
    const perRequest = await serve(0)
    const check = await fetch(fromSnapshot)
    if (check.status !== 200) throw new Error(`the feed answered ${check.status}`)

    log(`mobility bench: ${connections} clients × ${seconds} s per measurement…`)
    const snap = await load(fromSnapshot, connections, seconds)
    const naive = await load(perRequest, connections, seconds)
    const rps = (r: LoadResult) => r.requests / r.seconds
    for (const [name, r] of [['snapshot', snap], ['per request', naive]] as const) {
      notes.push(`${name}: ${r.requests} answers in ${r.seconds.toFixed(1)} s, statuses ${JSON.stringify(r.statuses)}, ${r.errors} errors`)
    }
    notes.push(`load: ${connections} keep-alive clients in a worker thread, closed loop, 1 s warm-up then ${seconds} s; server and clients share this machine's cores`)
    const rows: PublicBenchRow[] = [
      { figure: `GET /api/public/gtfs-rt/vehicle-positions (${vehicles} buses), requests/s: snapshot vs built per request`, piazza: rps(snap), baseline: rps(naive), unit: 'req/s', better: 'higher' },
      { figure: '  latency p50, ms', piazza: snap.p50, baseline: naive.p50, unit: 'ms', better: 'lower' },
      { figure: '  latency p99, ms', piazza: snap.p99, baseline: naive.p99, unit: 'ms', better: 'lower' },
      { figure: '  one build, ms (median)', piazza: buildMs, baseline: undefined, unit: 'ms', better: '' },
    ]

    // ------------------------------------------------------------ static GTFS
    const gtfsStarted = Date.now()
    const zip = gtfsZip(largeGtfs(40, 144, 20))
    const stopTimes = 40 * 144 * 20
    log(`mobility bench: static GTFS of ${stopTimes} stop_times rows (${(zip.length / 1024 / 1024).toFixed(1)} MB zip), ${parses} parses each way…`)
    const parser = createGtfsParser()
    const inWorker: Parse[] = []
    const onLoop: Parse[] = []
    let index: GtfsIndex | undefined
    try {
      // At most `parses` each way, and no new pair after 15 s: on a busy machine the part stays under a minute.
      for (let i = 0; i < parses && (i === 0 || Date.now() - gtfsStarted < 15_000); i++) {
        inWorker.push(await timedParse(async () => (index = await parser.parse(zip))))
        onLoop.push(await timedParse(async () => parseGtfs(zip)))
      }
    } finally {
      await parser.close()
    }
    if (!index) throw new Error('the GTFS parse returned no index')
    const loaded = index
    const worker = medianParse(inWorker)
    const loop = medianParse(onLoop)
    rows.push(
      { figure: `static GTFS parse (${stopTimes.toLocaleString('en-US')} stop_times rows), ms: in a worker vs on the event loop`, piazza: worker.ms, baseline: loop.ms, unit: 'ms', better: 'lower' },
      { figure: '  longest event-loop stall during the parse, ms', piazza: worker.stallMs, baseline: loop.stallMs, unit: 'ms', better: 'lower' },
    )
    notes.push(
      `static GTFS: ${loaded.summary.routes} routes, ${loaded.summary.trips} trips, ${stopTimes} stop_times rows, ${Math.round(zip.length / 1024)} KB zip; median of ${inWorker.length} parses each way; ` +
        'the worker figure includes starting the worker (from the sources: registering tsx in it) and copying the index back; its stall is the main thread\'s longest gap, which on a busy 2-core machine includes waiting for a core',
    )

    const gtfs: MobilityGtfs = { get: () => loaded, cities: () => cities.map((c) => c.id), version: () => 1 }
    const matchTimes: number[] = []
    let matched = 0
    for (let i = 0; i < 20; i++) {
      const snap = perBuild.current()
      const started = process.hrtime.bigint()
      matched = tripMatches(snap, gtfs).size
      matchTimes.push(Number(process.hrtime.bigint() - started) / 1e6)
    }
    matchTimes.sort((a, b) => a - b)
    const matchMs = matchTimes[Math.floor(matchTimes.length / 2)]!
    if (matched < vehicles * 0.9) throw new Error(`only ${matched} of ${vehicles} buses matched a trip: the bench's timetable does not cover now`)
    const matchedSnap = await load(await serve(1000, gtfs), connections, seconds)
    const matchedNaive = await load(await serve(0, gtfs), connections, seconds)
    rows.push(
      { figure: `GET …/vehicle-positions with static GTFS (${matched} of ${vehicles} buses matched), requests/s: matched once per snapshot vs per request`, piazza: rps(matchedSnap), baseline: rps(matchedNaive), unit: 'req/s', better: 'higher' },
      { figure: '  latency p50, ms', piazza: matchedSnap.p50, baseline: matchedNaive.p50, unit: 'ms', better: 'lower' },
      { figure: '  one matching pass of every bus, ms (median)', piazza: matchMs, baseline: undefined, unit: 'ms', better: '' },
    )
    for (const [name, r] of [['GTFS matched per snapshot', matchedSnap], ['GTFS matched per request', matchedNaive]] as const) {
      notes.push(`${name}: ${r.requests} answers in ${r.seconds.toFixed(1)} s, statuses ${JSON.stringify(r.statuses)}, ${r.errors} errors`)
    }
    notes.push(`static GTFS figures took ${((Date.now() - gtfsStarted) / 1000).toFixed(0)} s`)
    return { rows, notes }
  } finally {
    for (const s of servers) await s.close().catch(() => {})
    db.close()
  }
}
