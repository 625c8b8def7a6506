import { fork, spawn, type ChildProcess } from 'node:child_process'
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { DeviceRef } from '../devices/device-schemas.ts'
import type { ValidReading } from '../devices/readings.ts'
import { SECRET_KEY_FILE } from '../devices/secret-key.ts'
import { createLocalFeed, type Feed } from '../feed/feed.ts'
import { createRedisFeed } from '../feed/redis-feed.ts'
import { openSharedState } from '../platform/platform.ts'
import { startHaproxyInFront, type Haproxy, type Ports } from '../testkit/haproxy.ts'
import { freePort } from '../testkit/child-server.ts'
import { startInfluxd, type Influxd } from '../testkit/influxd.ts'
import { createDatabase, startPostgres, type Postgres } from '../testkit/postgres.ts'
import { startRedis, type RedisServer } from '../testkit/redis.ts'
import { BENCH_QUOTAS, cpuSeconds, machineBusySeconds, nextMessage, piazzaStartArgs, stopChild } from './bench.ts'
import { benchFleet } from './fleet.ts'
import type { LoadCommand, LoadMessage, LoadOptions, LoadResult } from './load.ts'

/**
 * The cluster benchmark (`npm run bench -- --cluster`): the same fleet, in the same run, against
 *
 *   single   1 node, embedded defaults (no Redis, registry in SQLite)
 *   cluster1 1 node in cluster mode (REDIS_URL, DATABASE_URL)
 *   cluster2 2 nodes in cluster mode
 *
 * every one behind the same HAProxy (deploy/haproxy.cfg, as in the tests), storing into one
 * private InfluxDB, loaded by bench/load.ts in its own process through the proxy. Printed as
 * ratios: 2 nodes against 1 (scale-out on this machine) and cluster mode against single mode (the
 * cost of the Redis hop per message), with each process's CPU so the limit is visible. Then the
 * feed alone: one event published on one node and heard on another through Redis, against the
 * in-process feed of a single node (latency one at a time, and CPU per event in bursts).
 */

export interface ClusterBenchOptions {
  devices: number
  /** Measured seconds of load, after the warm-up seconds of the same run. */
  seconds: number
  warmupSeconds: number
  window: number
  /** Events per feed measurement (bursts); a tenth of them for the one-at-a-time latency. */
  feedEvents: number
  childEnv: Record<string, string>
  log: (line: string) => void
}

interface RunFigure {
  name: string
  nodes: number
  acked: number
  ackedPerS: number
  /** CPU seconds during the measured run, per process group. */
  cpu: { nodes: number; haproxy: number; redis: number; influxd: number; generator: number; machine: number }
  wallS: number
  connectFailed: number
  errors: number
}

interface FeedFigure {
  name: string
  p50Us: number
  p99Us: number
  /** This process's CPU per event in bursts: publish + (for Redis) serialise, send, receive, parse, dispatch. */
  cpuUsPerEvent: number
  eventsPerS: number
}

export interface ClusterBenchResult {
  runs: RunFigure[]
  feed: FeedFigure[]
  cores: number
}

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const LOAD_SCRIPT = fileURLToPath(new URL('./load.ts', import.meta.url))
const TSX_LOADER = import.meta.resolve('tsx')
const START_TIMEOUT_MS = 60_000
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const children = new Set<ChildProcess>()
function track(child: ChildProcess): ChildProcess {
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

/** The processes whose command line holds `needle` (the testkit servers do not expose their pids). */
function pidsWith(needle: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').includes(needle)) pids.push(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return pids
}

const sumCpu = (pids: number[]) => pids.reduce((sum, pid) => sum + (cpuSeconds(pid) || 0), 0)

/**
 * One load generator run through the proxy: connect every device, publish for `seconds`, wait for
 * the acks. `window` is called at `skipS` after the start and again at `seconds` (CPU samples);
 * the answer's windowAcked is the acknowledgements of the full seconds in between (the first
 * seconds hold every process's JIT warm-up and the fleet's first logins).
 */
async function generate(load: LoadOptions, skipS: number, window: () => void): Promise<LoadResult & { connectFailed: number; windowAcked: number; windowS: number }> {
  const child = track(fork(LOAD_SCRIPT, [], { execArgv: ['--import', TSX_LOADER], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }))
  const timers: NodeJS.Timeout[] = []
  try {
    child.send({ cmd: 'run', options: load } satisfies LoadCommand)
    const connected = await nextMessage<LoadMessage>(child, 'connecting the fleet', 60_000 + load.devices.length * 250, (m) => m.type === 'connected')
    if (connected.type !== 'connected') throw new Error('unexpected message')
    const result = nextMessage<LoadMessage>(child, 'load run', load.seconds * 1000 + load.ackTimeoutMs + 30_000, (m) => m.type === 'result')
    child.send({ cmd: 'go' } satisfies LoadCommand)
    timers.push(setTimeout(window, skipS * 1000), setTimeout(window, load.seconds * 1000))
    const message = await result
    if (message.type !== 'result') throw new Error('unexpected message')
    const counted = message.result.perSecond.slice(skipS, load.seconds)
    return { ...message.result, connectFailed: connected.connectFailed, windowAcked: counted.reduce((a, b) => a + b, 0), windowS: counted.length }
  } finally {
    for (const timer of timers) clearTimeout(timer)
    await stopChild(child, 5000)
  }
}

interface Node {
  ports: Ports
  child: ChildProcess
}

async function startNode(env: Record<string, string>, dataDir: string): Promise<Node> {
  const ports: Ports = { host: '127.0.0.1', mqttPort: await freePort(), wsPort: await freePort(), httpPort: await freePort() }
  const child = track(
    spawn(process.execPath, piazzaStartArgs(), {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...env,
        DATA_DIR: dataDir,
        BIND_HOST: ports.host,
        MQTT_PORT: String(ports.mqttPort),
        MQTT_WS_PORT: String(ports.wsPort),
        HTTP_PORT: String(ports.httpPort),
        LOG_LEVEL: 'warn',
      },
    }),
  )
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-10_000)))
  child.stderr!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-10_000)))
  const deadline = Date.now() + START_TIMEOUT_MS
  while (!/Piazza is running\./.test(output)) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`piazza start exited before listening:\n${output}`)
    if (Date.now() > deadline) throw new Error(`piazza start not running within ${START_TIMEOUT_MS / 1000} s:\n${output}`)
    await sleep(50)
  }
  return { ports, child }
}

/** One configuration: its nodes behind a fresh HAProxy, a warm-up run, then the measured run. */
async function runConfiguration(
  name: string,
  count: number,
  shared: { influxd: Influxd; redis: RedisServer; postgres: Postgres; dirs: string[] },
  cluster: boolean,
  options: ClusterBenchOptions,
): Promise<RunFigure> {
  const { influxd, redis, postgres, dirs } = shared
  const fleet = benchFleet('air-quality', options.devices)
  const databaseUrl = cluster ? await createDatabase(postgres.url) : undefined
  const dataDirs = Array.from({ length: count }, () => {
    const dir = mkdtempSync(join(tmpdir(), `piazza-bench-${name}-`))
    dirs.push(dir)
    return dir
  })
  // The fleet registered once, where every node reads it (PostgreSQL, or the single node's SQLite).
  const state = await openSharedState({ dataDir: dataDirs[0]!, databaseUrl })
  const secrets = new Map<string, string>()
  try {
    for (const device of fleet) secrets.set(device.id, (await state.registry.add({ ...device, metadata: { ...device.metadata, ...BENCH_QUOTAS } }, 'bench')).secret)
  } finally {
    await state.close()
  }
  for (const dir of dataDirs.slice(1)) copyFileSync(join(dataDirs[0]!, SECRET_KEY_FILE), join(dir, SECRET_KEY_FILE))

  const env: Record<string, string> = {
    ...options.childEnv,
    INFLUX_URL: influxd.url,
    INFLUX_DB: `cluster_bench_${name}_${Date.now()}`,
    MQTT_MAX_CONNECTIONS_PER_ADDRESS: '1000000',
    MQTT_MAX_PENDING: '1000000',
    ...(cluster && { REDIS_URL: redis.url, DATABASE_URL: databaseUrl! }),
  }
  options.log(`${name}: starting ${count} node${count > 1 ? 's' : ''}`)
  const nodes = await Promise.all(dataDirs.map((dir) => startNode(env, dir)))
  let haproxy: Haproxy | undefined
  try {
    const started = await startHaproxyInFront('127.0.0.1', nodes.map((n) => n.ports))
    haproxy = started.haproxy
    const front = started.front
    // Every node in HAProxy's pool (health checks every 2 s, up after 2): pinned requests answered without a new cookie.
    const deadline = Date.now() + 60_000
    for (let k = 1; k <= count; k++) {
      for (;;) {
        const res = await fetch(`http://${front.host}:${front.httpPort}/api/health`, { headers: { cookie: `piazza_node=node${k}` } }).catch(() => undefined)
        if (res?.status === 200 && res.headers.get('set-cookie') === null) break
        if (Date.now() > deadline) throw new Error(`${name}: node${k} never joined HAProxy's pool:\n${haproxy.output()}`)
        await sleep(200)
      }
    }
    const load = (seconds: number): LoadOptions => ({
      host: front.host,
      port: front.mqttPort,
      devices: fleet.map((d) => ({ id: d.id, secret: secrets.get(d.id)! })),
      mode: 'load',
      seconds,
      window: options.window,
      ackTimeoutMs: 15_000,
    })
    const pids = {
      nodes: nodes.map((n) => n.child.pid!),
      haproxy: pidsWith(haproxy.configFile),
      redis: pidsWith(`redis-server 127.0.0.1:${redis.port}`),
      influxd: pidsWith(join(influxd.dataDir, 'influxdb.conf')),
    }
    const samples: { nodes: number; haproxy: number; redis: number; influxd: number; machine: number; at: number }[] = []
    const sample = () =>
      samples.push({ nodes: sumCpu(pids.nodes), haproxy: sumCpu(pids.haproxy), redis: sumCpu(pids.redis), influxd: sumCpu(pids.influxd), machine: machineBusySeconds(), at: Date.now() })
    const warmup = Math.ceil(options.warmupSeconds)
    const result = await generate(load(warmup + Math.ceil(options.seconds)), warmup, sample)
    if (samples.length < 2 || result.windowS === 0) throw new Error(`${name}: the run ended before its measured window`)
    const [from, to] = samples as [(typeof samples)[0], (typeof samples)[0]]
    const wallS = (to.at - from.at) / 1000
    // The generator's CPU is over its whole run: scaled to the window.
    const generatorShare = wallS / (Math.max(result.publishMs, result.lastAckMs) / 1000)
    const figure: RunFigure = {
      name,
      nodes: count,
      acked: result.windowAcked,
      ackedPerS: result.windowAcked / result.windowS,
      cpu: {
        nodes: to.nodes - from.nodes,
        haproxy: to.haproxy - from.haproxy,
        redis: to.redis - from.redis,
        influxd: to.influxd - from.influxd,
        generator: result.cpuSeconds * generatorShare,
        machine: to.machine - from.machine,
      },
      wallS,
      connectFailed: result.connectFailed,
      errors: result.errors,
    }
    if (result.errors > 0) {
      options.log(`${name}: ${result.errors} load errors, e.g. ${result.errorSamples.slice(0, 3).join('; ')}`)
      // HAProxy takes a node whose health check is late out of the pool and cuts its MQTT sessions.
      for (const line of haproxy.output().split('\n')) if (/is DOWN|is UP/.test(line)) options.log(`${name}: haproxy: ${line.trim().slice(0, 200)}`)
    }
    options.log(`${name}: ${result.windowAcked} acked in ${result.windowS} s (${Math.round(figure.ackedPerS)}/s), nodes ${figure.cpu.nodes.toFixed(1)} CPU s`)
    return figure
  } finally {
    await haproxy?.stop()
    await Promise.all(nodes.map((n) => stopChild(n.child)))
  }
}

const DEVICE: DeviceRef = { id: 'bench-aq-firenze-1', type: 'air-quality', city: 'firenze' }
const READINGS: ValidReading[] = [{ time: 0, values: { pm25: 12.25, pm10: 19.5, no2: 20.83, o3: 15.6, so2: 3.14, co: 0.42 } }]

/**
 * The feed's cost per event: publish on `from`, heard on `to` (the same feed for in-process). The
 * send time rides in receivedAt (performance.now(), one process, one clock).
 */
async function measureFeed(name: string, from: Feed, to: Feed, events: number): Promise<FeedFigure> {
  let heard = 0
  let waiting: (() => void) | undefined
  let target = 0
  const latencies: number[] = []
  let record = false
  const stop = to.subscribe({
    accepted: (_d, _r, sentAt) => {
      if (record) latencies.push(performance.now() - sentAt)
      heard += 1
      if (heard >= target) waiting?.()
    },
  })
  const until = (n: number) =>
    new Promise<void>((resolve, reject) => {
      target = n
      if (heard >= n) return resolve()
      const timer = setTimeout(() => reject(new Error(`${name}: ${heard} of ${n} events heard within 30 s`)), 30_000)
      waiting = () => (clearTimeout(timer), resolve())
    })
  try {
    // Warm-up, then one at a time (latency), then bursts of 500 (CPU per event, throughput).
    for (let i = 0; i < 200; i++) from.accepted(DEVICE, READINGS, performance.now())
    await until(200)
    record = true
    for (let i = 0; i < events / 10; i++) {
      const next = heard + 1
      from.accepted(DEVICE, READINGS, performance.now())
      await until(next)
    }
    record = false
    const cpu = process.cpuUsage()
    const started = performance.now()
    const base = heard
    for (let sent = 0; sent < events; sent += 500) {
      for (let i = 0; i < 500; i++) from.accepted(DEVICE, READINGS, performance.now())
      await until(base + sent + 500)
    }
    const seconds = (performance.now() - started) / 1000
    const used = process.cpuUsage(cpu)
    latencies.sort((a, b) => a - b)
    return {
      name,
      p50Us: latencies[Math.floor(latencies.length / 2)]! * 1000,
      p99Us: latencies[Math.floor(latencies.length * 0.99)]! * 1000,
      cpuUsPerEvent: (used.user + used.system) / events,
      eventsPerS: events / seconds,
    }
  } finally {
    stop()
  }
}

export async function benchCluster(options: ClusterBenchOptions): Promise<ClusterBenchResult> {
  const dirs: string[] = []
  options.log('cluster: starting InfluxDB, PostgreSQL and Redis')
  const [influxd, postgres, redis] = await Promise.all([startInfluxd(), startPostgres(), startRedis()])
  const onSignal = () => {
    for (const child of children) child.kill('SIGKILL')
    process.exit(130)
  }
  process.once('SIGINT', onSignal)
  try {
    const shared = { influxd, redis, postgres, dirs }
    const runs = [
      await runConfiguration('single', 1, shared, false, options),
      await runConfiguration('cluster1', 1, shared, true, options),
      await runConfiguration('cluster2', 2, shared, true, options),
    ]
    options.log('cluster: the feed, in-process and through Redis')
    const local = createLocalFeed()
    const a = createRedisFeed({ url: redis.url })
    const b = createRedisFeed({ url: redis.url })
    let feed: FeedFigure[]
    try {
      await Promise.all([a.ready(), b.ready()])
      feed = [await measureFeed('in-process (single node)', local, local, options.feedEvents), await measureFeed('Redis, node A → node B', a, b, options.feedEvents)]
    } finally {
      await a.close()
      await b.close()
    }
    return { runs, feed, cores: (await import('node:os')).cpus().length }
  } finally {
    process.off('SIGINT', onSignal)
    for (const child of children) child.kill('SIGKILL')
    await redis.close()
    await postgres.stop()
    await influxd.stop()
    rmSync(influxd.dataDir, { recursive: true, force: true })
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  }
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '–')

export function formatClusterBench(result: ClusterBenchResult): string {
  const lines: string[] = []
  const [single, one, two] = result.runs as [RunFigure, RunFigure, RunFigure]
  const per1000 = (cpu: number, run: RunFigure) => (cpu / run.acked) * 1_000_000 // CPU ms per 1,000 readings
  const header = ['run', 'nodes', 'acked/s', 'node CPU ms/1k', 'haproxy', 'redis', 'influxd', 'generator', 'machine busy', 'other procs']
  const rows = result.runs.map((r) => {
    const known = r.cpu.nodes + r.cpu.haproxy + r.cpu.redis + r.cpu.influxd + r.cpu.generator
    return [
      r.name,
      String(r.nodes),
      fmt(r.ackedPerS),
      fmt(per1000(r.cpu.nodes, r), 1),
      `${fmt(r.cpu.haproxy / r.wallS, 2)} cores`,
      `${fmt(r.cpu.redis / r.wallS, 2)}`,
      `${fmt(r.cpu.influxd / r.wallS, 2)}`,
      `${fmt(r.cpu.generator / r.wallS, 2)}`,
      `${fmt(r.cpu.machine / r.wallS, 2)} of ${result.cores}`,
      `${fmt(Math.max(0, r.cpu.machine - known) / r.wallS, 2)}`,
    ]
  })
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  for (const row of [header, ...rows]) lines.push(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '))
  lines.push('')
  lines.push(`2 nodes / 1 node (cluster mode), throughput: ${fmt(two.ackedPerS / one.ackedPerS, 2)}×`)
  lines.push(`cluster mode / single mode (1 node), throughput: ${fmt(one.ackedPerS / single.ackedPerS, 2)}×; node CPU per reading: ${fmt(per1000(one.cpu.nodes, one) / per1000(single.cpu.nodes, single), 2)}×`)
  lines.push(`2 nodes / 1 node, node CPU per reading: ${fmt(per1000(two.cpu.nodes, two) / per1000(one.cpu.nodes, one), 2)}× (each reading crosses Redis to the other node once)`)
  for (const r of result.runs) if (r.connectFailed || r.errors) lines.push(`${r.name}: ${r.connectFailed} connections failed, ${r.errors} errors`)
  lines.push('')
  lines.push('Feed, one accepted event (one air-quality reading):')
  for (const f of result.feed) lines.push(`  ${f.name.padEnd(26)} latency p50 ${fmt(f.p50Us, 1)} µs, p99 ${fmt(f.p99Us, 1)} µs; CPU ${fmt(f.cpuUsPerEvent, 1)} µs/event in bursts (${fmt(f.eventsPerS)} events/s)`)
  const [inProcess, viaRedis] = result.feed as [FeedFigure, FeedFigure]
  lines.push(`  Redis hop / in-process: latency ${fmt(viaRedis.p50Us / inProcess.p50Us, 0)}× (p50), CPU ${fmt(viaRedis.cpuUsPerEvent / inProcess.cpuUsPerEvent, 0)}× per event (both ends, one process)`)
  return lines.join('\n')
}
