import { randomBytes } from 'node:crypto'
import Fastify from 'fastify'
import { cities } from '../devices/region.ts'
import { createRegistry, openRegistryDatabase } from '../devices/registry.ts'
import type { Api } from '../dashboard/server/http/types.ts'
import { typeboxValidatorCompiler } from '../dashboard/server/http/validation.ts'
import { buildFeed, encodeFeed } from '../dashboard/server/public/gtfs-rt.ts'
import { resolveLicense } from '../dashboard/server/public/license.ts'
import { registerMobilityRoutes } from '../dashboard/server/public/mobility-routes.ts'
import { createMobilitySnapshots } from '../dashboard/server/public/mobility-snapshot.ts'
import { createLiveHub } from '../dashboard/server/realtime/live.ts'
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
 * The registry is the real one (SQLite, in memory), the live hub the real one fed as the feed
 * feeds it; the two servers are the real routes on bare Fastify instances (no rate limit, or the
 * load would measure the 429s), each on a free port; the load runs in a worker thread.
 */

export interface MobilityBenchOptions {
  vehicles?: number
  seconds?: number
  connections?: number
  log?: (line: string) => void
}

export async function benchMobility(options: MobilityBenchOptions = {}): Promise<PublicBenchResult> {
  const vehicles = options.vehicles ?? 2000
  const seconds = options.seconds ?? 5
  const connections = options.connections ?? 20
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
      const values = { route: String(1 + (i % 40)), lat: city.lat + ((i % 50) - 25) / 2000, lon: city.lon + ((i % 30) - 15) / 2000, speed: i % 60, heading: i % 360, delay: (i % 600) - 120 }
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
    const serve = async (minIntervalMs: number) => {
      const app = Fastify({ logger: false }) as unknown as Api
      app.setValidatorCompiler(typeboxValidatorCompiler)
      registerMobilityRoutes(app, { snapshots: createMobilitySnapshots({ registry, live, minIntervalMs }), license, contactEmail: 'bench@piazza.invalid', maxAgeSeconds: 5 })
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
    return { rows, notes }
  } finally {
    for (const s of servers) await s.close().catch(() => {})
    db.close()
  }
}
