import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { cpus, release, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import mqtt from 'mqtt'
import type { DeviceType } from '../devices/kinds.ts'
import { createRegistry, openRegistryDatabase } from '../devices/registry.ts'
import { loadOrCreateSecretKey } from '../devices/secret-key.ts'
import type { PlannedDevice } from '../simulator/fleet.ts'
import { startInfluxd, type Influxd } from '../testkit/influxd.ts'
import type { BaselineMessage } from './baseline.ts'
import { benchFleet, countedFields, type FleetName } from './fleet.ts'
import { createGcTrace, gcDelta, type GcTally } from './gc-trace.ts'
import type { LoadCommand, LoadMessage, LoadOptions, LoadResult } from './load.ts'
import { formatProfile, summariseProfile, type CpuProfile, type ProfileSummary } from './profile.ts'

/**
 * The pipeline benchmark (bench/main.ts, `npm run bench`): Piazza against a naive baseline (bare
 * aedes + MQTT.js + the InfluxDB client's defaults), both measured in the same run on the same machine against one private influxd, so
 * the ratios mean something even though absolute figures drift between machines.
 *
 * Every party runs in its own process so its CPU and memory can be read from /proc: influxd,
 * the system under test (Piazza's `start`, or baseline.ts) and the load generator (load.ts).
 * Every wait is bounded, and every child is killed at the end, on error and on Ctrl-C.
 */

export type SystemName = 'piazza' | 'baseline'

export interface BenchOptions {
  systems: SystemName[]
  /** Seconds of load per system and round. */
  seconds: number
  /**
   * Load rounds per system, fleet and size, alternating between the systems; figures are the
   * median round. `npm run bench` runs five: single rounds here stray up to 40 % above the rest
   * (the machine's slow spells, influxd's figure rising with them), and with three, slow spells
   * in two of them decided a configuration's median in two full runs of nine.
   */
  rounds: number
  /** Seconds of unmeasured load before each fleet and size's rounds (JIT, first logins). */
  warmupSeconds: number
  /** Which fleets, one after the other. */
  fleets: FleetName[]
  /** Fleet sizes: each is that many connections, each its own registered device. */
  sizes: number[]
  window: number
  /** Target offered readings/s for the main load; undefined = closed-loop maximum. */
  rate?: number
  /** Idle connections opened for the memory figure. */
  idle: number
  /** Sequential latency probes during the load. */
  probes: number
  /**
   * Readings/s in all in the paced phase: every device of the largest size sends one message at a
   * time at an even pace, as a real network does (the closed-loop rounds send up to `window` per
   * read). 0 skips it.
   */
  pacedRate: number
  /** Seconds of overload per system; 0 skips it. */
  overloadSeconds: number
  overloadRate: number
  overloadWindow: number
  /** Run the Piazza child under --cpu-prof and summarise the profile. */
  profile: boolean
  /** Environment handed to the Piazza child (PATH and the like), on top of which the bench sets its own. */
  childEnv: Record<string, string>
  log: (line: string) => void
}

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const PIAZZA_CLI = join(ROOT, 'cli/piazza.mjs')
const LOAD_SCRIPT = fileURLToPath(new URL('./load.ts', import.meta.url))
const BASELINE_SCRIPT = fileURLToPath(new URL('./baseline.ts', import.meta.url))
// Children run TypeScript through tsx, like the CLI does.
const TSX_LOADER = import.meta.resolve('tsx')

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100
  } catch {
    return 100
  }
})()
const PROBE_DEVICE = 'bench-probe'
/** The baseline knows nothing of device types: every reading lands in this one measurement (baseline.ts). */
const BASELINE_MEASUREMENT = 'telemetry'
const PROBE_TIMEOUT_MS = 15_000
const PROBE_POLL_MS = 5
const DRAIN_TIMEOUT_MS = 60_000
/** The count is taken as final once it has not moved for this long. */
const DRAIN_STABLE_MS = 3_000
const START_TIMEOUT_MS = 60_000
const STOP_TIMEOUT_MS = 30_000
/** A system still busy this long after a load has ended has a backlog it cannot work off: it has fallen over. */
const QUIET_TIMEOUT_MS = 60_000

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

// ---------------------------------------------------------------------------------------------
// Processes: everything started here is tracked, so it can be killed whatever happens.

const children = new Set<ChildProcess>()
const tempDirs: string[] = []

function track(child: ChildProcess): ChildProcess {
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

function killAll() {
  for (const child of children) child.kill('SIGKILL')
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true })
}

/** A TypeScript child with an IPC channel. */
function forkTs(script: string, args: string[] = []): ChildProcess {
  return track(fork(script, args, { execArgv: ['--import', TSX_LOADER], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }))
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null
}

/** SIGTERM, then SIGKILL after the timeout; resolves with how it ended. */
export async function stopChild(child: ChildProcess, timeoutMs = STOP_TIMEOUT_MS): Promise<string> {
  if (exited(child)) return `had already exited (${child.exitCode ?? child.signalCode})`
  const done = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const started = Date.now()
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  await done
  clearTimeout(timer)
  const how = child.signalCode === 'SIGKILL' ? `killed after ${timeoutMs / 1000} s without exiting` : `exited ${child.exitCode ?? child.signalCode}`
  return `${how} in ${((Date.now() - started) / 1000).toFixed(1)} s`
}

export function nextMessage<T>(child: ChildProcess, what: string, timeoutMs: number, accept: (m: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer)
      child.off('message', onMessage)
      child.off('exit', onExit)
    }
    const onMessage = (message: T) => {
      if (!accept(message)) return
      cleanup()
      resolve(message)
    }
    const onExit = (code: number | null, signal: string | null) => {
      cleanup()
      reject(new Error(`${what}: the process exited (${code ?? signal}) first`))
    }
    const timer = setTimeout(() => {
      cleanup()
      reject(new Error(`${what}: nothing within ${timeoutMs / 1000} s`))
    }, timeoutMs)
    child.on('message', onMessage)
    child.once('exit', onExit)
  })
}

// ---------------------------------------------------------------------------------------------
// /proc readings

/**
 * Waits until a process has worked off a load: under 10 % of a core for a whole second. False
 * if it is still busy after `timeoutMs`. So one system's backlog never runs during the other's
 * round (a baseline falling over at 10,000 devices kept 0.7 cores busy through Piazza's round).
 */
export async function quiet(pid: number, timeoutMs = QUIET_TIMEOUT_MS, stepMs = 250): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  let last = cpuSeconds(pid)
  let calmSteps = 0
  while (Date.now() < deadline) {
    await sleep(stepMs)
    const now = cpuSeconds(pid)
    if (Number.isNaN(now)) return true // gone: nothing left to wait for
    calmSteps = now - last < (0.1 * stepMs) / 1000 ? calmSteps + 1 : 0
    last = now
    if (calmSteps * stepMs >= 1000) return true
  }
  return false
}

/** User + system CPU seconds of a process, all its threads. */
export function cpuSeconds(pid: number, thread?: number): number {
  try {
    const stat = readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8')
    // Fields after "(comm)": state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK
  } catch {
    return NaN
  }
}

/**
 * A process's read and write system calls so far (/proc/<pid>/io: syscr, syscw): sockets, files
 * and pipes alike. Per reading, they tell whether a larger fleet costs more calls (fewer messages
 * per read or write) or more per call.
 */
export function syscalls(pid: number): { reads: number; writes: number } {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8')
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1] ?? NaN)
    return { reads: field('syscr'), writes: field('syscw') }
  } catch {
    return { reads: NaN, writes: NaN }
  }
}

export function rssMb(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) / 1024 : NaN
  } catch {
    return NaN
  }
}

/**
 * Piazza's /metrics at `baseUrl` (http://host:port), read once: a sample by its name and labels as
 * the page writes them (`piazza_mqtt_refused_total{reason="over-quota"}`; NaN when absent), and a
 * family's samples by the value of one label.
 */
export async function readMetrics(baseUrl: string) {
  const text = await (await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5_000) })).text()
  const samples = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    samples.set(line.slice(0, space), Number(line.slice(space + 1)))
  }
  return {
    value: (sample: string) => samples.get(sample) ?? NaN,
    byLabel(name: string, label: string): Record<string, number> {
      const prefix = `${name}{${label}="`
      const out: Record<string, number> = {}
      for (const [key, value] of samples) {
        const labelValue = key.startsWith(prefix) && key.endsWith('"}') ? key.slice(prefix.length, -2) : undefined
        if (labelValue !== undefined && !labelValue.includes('"')) out[labelValue] = value
      }
      return out
    },
  }
}

/** The base URL of a system's HTTP side on this machine. */
const localBase = (httpPort: number) => `http://127.0.0.1:${httpPort}`

/** The process's JS heap, MB, from prom-client's default metrics on /metrics; undefined where there are none. */
async function heapFigures(httpPort: number | undefined): Promise<{ used: number; total: number } | undefined> {
  if (!httpPort) return undefined
  try {
    const metrics = await readMetrics(localBase(httpPort))
    const heap = { used: metrics.value('nodejs_heap_size_used_bytes') / 2 ** 20, total: metrics.value('nodejs_heap_size_total_bytes') / 2 ** 20 }
    return Number.isFinite(heap.used) && Number.isFinite(heap.total) ? heap : undefined
  } catch {
    return undefined
  }
}

/**
 * RSS once the process has given back what its last burst took. Right after 10,000 logins V8
 * holds the burst's garbage (some 40 MB; 150 MB before the broker's persistence stopped aedes's
 * per-login queue pipeline from outliving the young generation) and an enlarged young generation,
 * and returns them only when its memory reducer runs. The reducer waits until it judges
 * allocation low, which its estimate, diluted by the burst's figures, says only 25-100 s after
 * allocation has stopped (measured with --trace-gc-verbose: "high alloc" at three or more 8 s
 * checks of an idle process), and then runs two or three collections 0.5-8 s apart. RSS is flat
 * all the while, so "stopped moving" alone measured the burst, not the idle process (439 MB once,
 * 275-350 MB otherwise, with the same code).
 *
 * So, where the process shows its JS heap: at least 40 s, RSS within 3 MB over the last 10 s, and
 * the heap compacted (committed within 10 % + 8 MB of what is in use, which the reducer's
 * collections leave and a burst's does not); at most 150 s, reported as unsettled. A process
 * without heap figures (the baseline's bare aedes) gets the first two conditions and at most 90 s.
 */
async function settledMemory(pid: number, httpPort: number | undefined): Promise<{ rssMb: number; heap?: { used: number; total: number }; seconds: number; settled: boolean }> {
  const samples: number[] = []
  const started = Date.now()
  const limitMs = httpPort ? 150_000 : 90_000
  for (;;) {
    samples.push(rssMb(pid))
    const recent = samples.slice(-10)
    const flat = recent.length === 10 && Math.max(...recent) - Math.min(...recent) < 3
    const elapsed = Date.now() - started
    const calm = flat && elapsed >= 40_000
    if (calm || elapsed > limitMs) {
      const heap = await heapFigures(httpPort)
      const settled = calm && (!heap || heapCompacted(heap))
      if (settled || elapsed > limitMs) return { rssMb: samples.at(-1)!, heap, seconds: elapsed / 1000, settled }
    }
    await sleep(1000)
  }
}

/** Whether V8 holds no more heap than what is in use, give or take (MB): its memory reducer has run since the last burst. */
export function heapCompacted(heap: { used: number; total: number }): boolean {
  return heap.total <= heap.used * 1.1 + 8
}

/** CPU seconds the whole machine spent busy (all processes), from /proc/stat. */
export function machineBusySeconds(): number {
  const [, user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number)
  return (user! + nice! + system! + irq! + softirq! + steal!) / CLK_TCK
}

/** startInfluxd does not expose the pid; its command line names its own config file. */
function influxdPid(influxd: Influxd): number {
  const needle = join(influxd.dataDir, 'influxdb.conf')
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) return Number(entry)
    } catch {
      // gone meanwhile
    }
  }
  throw new Error('cannot find the influxd process')
}

// ---------------------------------------------------------------------------------------------
// InfluxDB (v1 HTTP API)

async function influxQuery(url: string, database: string, q: string): Promise<{ results?: { error?: string; series?: { values: unknown[][] }[] }[]; error?: string }> {
  const res = await fetch(`${url}/query?${new URLSearchParams({ db: database, epoch: 'ms', q })}`, { method: 'POST', signal: AbortSignal.timeout(10_000) })
  return (await res.json()) as Awaited<ReturnType<typeof influxQuery>>
}

/**
 * Readings in [from, to) of the given types, each counted by the field its every reading carries
 * (probes carry pm10 alone, so they are never counted). Piazza writes a measurement per type; the
 * baseline writes everything to one, where the main fields tell the types apart.
 */
async function countReadings(system: SystemName, url: string, database: string, counted: { type: DeviceType; field: string }[], from: number, to: number): Promise<number> {
  const where = `WHERE time >= ${from}ms AND time < ${to}ms`
  const q =
    system === 'piazza'
      ? counted.map(({ type, field }) => `SELECT count("${field}") FROM "${type}" ${where}`).join('; ')
      : `SELECT ${counted.map(({ field }) => `count("${field}")`).join(', ')} FROM "${BASELINE_MEASUREMENT}" ${where}`
  const body = await influxQuery(url, database, q)
  let total = 0
  for (const result of body.results ?? []) {
    // No series yet, or no database yet: 0.
    for (const value of result.series?.[0]?.values[0]?.slice(1) ?? []) if (typeof value === 'number') total += value
  }
  return total
}

async function probeStored(url: string, database: string, ts: number): Promise<boolean> {
  const body = await influxQuery(url, database, `SELECT count("pm10") FROM "air-quality" WHERE "device" = '${PROBE_DEVICE}' AND time = ${ts}ms`)
  return typeof body.results?.[0]?.series?.[0]?.values[0]?.[1] === 'number'
}

// ---------------------------------------------------------------------------------------------
// Systems under test

interface SystemUnderTest {
  name: SystemName
  process: ChildProcess
  port: number
  /** Piazza's HTTP port, for /metrics. */
  httpPort?: number
  /** Where --cpu-prof writes (Piazza with --profile). */
  profileDir?: string
  database: string
  secret(deviceId: string): string
  /** Warnings and errors it printed, for the report. */
  complaints(): string[]
  stop(): Promise<string>
  /** Piazza: a graceful stop and a start on the same data; the new process's ports may differ. */
  restart?(): Promise<SystemUnderTest>
  /** Piazza: what its collector has done so far (V8's --trace-gc-nvp on its stdout). */
  gc?(): GcTally
}

export const BENCH_QUOTAS = {
  'quota.messagesPerSecond': 1e6,
  'quota.messagesBurst': 1e6,
  'quota.readingsPerSecond': 1e7,
  'quota.readingsBurst': 1e7,
  'quota.bytesPerSecond': 1e9,
  'quota.bytesBurst': 1e9,
}

async function startPiazza(influxd: Influxd, devices: PlannedDevice[], options: BenchOptions): Promise<SystemUnderTest> {
  const dataDir = mkdtempSync(join(tmpdir(), 'piazza-bench-'))
  tempDirs.push(dataDir)
  const database = `piazza_bench_${Date.now()}`

  options.log(`piazza: registering ${devices.length} devices`)
  const db = openRegistryDatabase(join(dataDir, 'registry.db'))
  const registry = createRegistry({ db, secretKey: loadOrCreateSecretKey(dataDir) })
  const secrets = new Map<string, string>()
  const started = Date.now()
  try {
    await Promise.all(
      devices.map(async (device) => {
        // The load runs every device far faster than its reporting interval (that is the point of
        // a throughput bench); per-device quota overrides let it through while every message still
        // pays the quota check, as in production.
        const metadata = { ...device.metadata, ...BENCH_QUOTAS }
        const { secret } = await registry.add({ ...device, metadata }, 'bench')
        secrets.set(device.id, secret)
      }),
    )
    options.log(`piazza: registered in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  } finally {
    registry.close()
    db.close()
  }

  // Kept after the run (its path is printed): the summary is a start, DevTools shows the rest.
  const profileDir = options.profile ? mkdtempSync(join(tmpdir(), 'piazza-bench-prof-')) : undefined
  const earlier: string[] = [] // complaints of the processes before a restart
  const launch = async (): Promise<SystemUnderTest> => {
    const child = track(
      // --trace-gc-nvp: the collector's bytes per reading. To profile, --cpu-prof, which
      // NODE_OPTIONS does not take.
      spawn(process.execPath, piazzaStartArgs(['--trace-gc-nvp', ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])]), {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          // Every simulated device connects from 127.0.0.1, up to 10,000 logging in at once.
          MQTT_MAX_CONNECTIONS_PER_ADDRESS: '1000000',
          MQTT_MAX_PENDING: '1000000',
          ...options.childEnv,
          DATA_DIR: dataDir,
          INFLUX_URL: influxd.url,
          INFLUX_DB: database,
          BIND_HOST: '127.0.0.1',
          MQTT_PORT: '0',
          MQTT_WS_PORT: '0',
          HTTP_PORT: '0',
          LOG_LEVEL: 'warn',
          // Ingest and every feed listener timed, on /metrics: the CPU split by component.
          PIAZZA_TIMING: 'true',
        },
      }),
    )
    let stdout = ''
    let stderrTail = ''
    const complaints: string[] = []
    const gcTrace = createGcTrace()
    child.stdout!.on('data', (chunk: Buffer) => (stdout = (stdout + gcTrace.take(chunk.toString())).slice(-10_000)))
    child.stderr!.on('data', (chunk: Buffer) => {
      stderrTail = (stderrTail + chunk.toString()).slice(-4000)
      for (const line of chunk.toString().split('\n')) if (line.trim()) complaints.push(line.slice(0, 400))
    })

    options.log('piazza: starting `piazza start`')
    const ports = await new Promise<{ mqtt: number; http: number }>((resolve, reject) => {
      const timer = setTimeout(() => {
        clearInterval(poll)
        reject(new Error(`piazza start printed no 'Piazza is running.' within ${START_TIMEOUT_MS / 1000} s:\n${stdout}\n${stderrTail}`))
      }, START_TIMEOUT_MS)
      const poll = setInterval(() => {
        const match = /Piazza is running\.[\s\S]*?http:\/\/[^\s:]+:(\d+)[\s\S]*?mqtt:\/\/[^\s:]+:(\d+)/.exec(stdout)
        if (match) {
          clearTimeout(timer)
          clearInterval(poll)
          resolve({ http: Number(match[1]), mqtt: Number(match[2]) })
        } else if (exited(child)) {
          clearTimeout(timer)
          clearInterval(poll)
          reject(new Error(`piazza start exited (${child.exitCode ?? child.signalCode}) before listening:\n${stdout}\n${stderrTail}`))
        }
      }, 50)
    })
    return {
      name: 'piazza',
      process: child,
      port: ports.mqtt,
      httpPort: ports.http,
      profileDir,
      database,
      secret: (id) => secrets.get(id) ?? '',
      complaints: () => [...earlier, ...complaints],
      gc: gcTrace.tally,
      stop: () => stopChild(child),
      restart: async () => {
        const stopped = await stopChild(child)
        if (!/^exited 0/.test(stopped)) complaints.push(`restart: the stop before it ${stopped}`)
        earlier.push(...complaints)
        return launch()
      },
    }
  }
  return launch()
}

/** `database`: a fresh start after the baseline fell over keeps its predecessor's, so the final counts see every round's readings. */
async function startBaseline(influxd: Influxd, database = `baseline_bench_${Date.now()}`): Promise<SystemUnderTest> {
  // The naive pipeline does not create its database; a v1 user would have done it once by hand.
  const created = await influxQuery(influxd.url, '', `CREATE DATABASE "${database}"`)
  if (created.error || created.results?.[0]?.error) throw new Error(`cannot create ${database}: ${created.error ?? created.results?.[0]?.error}`)
  const child = forkTs(BASELINE_SCRIPT, [JSON.stringify({ influxUrl: influxd.url, database })])
  const ready = await nextMessage<BaselineMessage>(child, 'baseline start', START_TIMEOUT_MS, (m) => m.type === 'ready')
  return {
    name: 'baseline',
    process: child,
    port: ready.port,
    database,
    secret: () => 'anything', // its authenticate accepts everyone
    complaints: () => [], // its stderr goes straight to ours
    stop: () => stopChild(child),
  }
}

// ---------------------------------------------------------------------------------------------
// Load generator runs

interface Generator {
  child: ChildProcess
  connected: number
  connectFailed: number
  errorSamples: string[]
}

async function connectGenerator(system: SystemUnderTest, options: LoadOptions): Promise<Generator> {
  const child = forkTs(LOAD_SCRIPT)
  child.send({ cmd: 'run', options } satisfies LoadCommand)
  const timeout = 60_000 + options.devices.length * 250 // generous: the box may be busy
  const message = await nextMessage<LoadMessage>(child, `${system.name}: connecting ${options.devices.length}`, timeout, (m) => m.type === 'connected')
  if (message.type !== 'connected') throw new Error('unexpected message')
  return { child, connected: message.connected, connectFailed: message.connectFailed, errorSamples: message.errorSamples }
}

async function runGenerator(generator: Generator, options: LoadOptions): Promise<LoadResult> {
  const result = nextMessage<LoadMessage>(generator.child, 'load run', options.seconds * 1000 + options.ackTimeoutMs + 30_000, (m) => m.type === 'result')
  generator.child.send({ cmd: 'go' } satisfies LoadCommand)
  const message = await result
  if (message.type !== 'result') throw new Error('unexpected message')
  return message.result
}

async function stopGenerator(generator: Generator) {
  if (exited(generator.child)) return
  generator.child.send({ cmd: 'stop' } satisfies LoadCommand)
  await stopChild(generator.child, 5_000)
}

// ---------------------------------------------------------------------------------------------
// Figures

export interface MemoryFigure {
  connections: number
  failed: number
  rssAtRestMb: number
  /** After every idle device's first login, closed again and settled: the login path's one-off costs (JIT, heap growth) show here. */
  rssAfterFirstLoginsMb: number
  rssWithIdleMb: number
  /** The highest RSS from the idle connections' opening (all at once) until the process settled with them. */
  rssPeakConnectingMb: number
  /** The measurements taken at settledMemory's limit, before V8 had given a burst's memory back. */
  unsettled: string[]
  /** (with idle connections - after the first logins) / connections. */
  perConnectionKb: number
}

/** CPU the Piazza child reported on /metrics over a run (PIAZZA_TIMING), seconds. */
export interface CpuSplit {
  /** process_cpu_seconds_total: every thread of the process. */
  process: number
  /** piazza_ingest_seconds_total: ingest.accept, synchronous part. */
  ingest: number
  /** piazza_feed_listener_seconds_total by listener. */
  listeners: Record<string, number>
  /** The main thread's CPU, from /proc (the rest of `process` is V8's helper threads, libuv's pool and workers). */
  mainThread: number
  /** Main-thread garbage-collection pauses (nodejs_gc_duration_seconds_sum): young generation (kind minor) and the rest (major, incremental, weakcb). */
  gcYoung: number
  gcOld: number
}

/** Publish-to-PUBACK and publish-to-stored times of the latency probes, ms. */
export interface Probes {
  ackMs: number[]
  storedMs: number[]
  timeouts: number
}

export interface RunFigure {
  fleet: FleetName
  /** Connections, each its own device. */
  devices: number
  /** The types in the fleet and the field each is counted by. */
  counted: { type: DeviceType; field: string }[]
  generator: LoadResult
  /** Timestamps [from, to) this run's readings carry, so it is counted on its own. */
  range: [number, number]
  ackedPerS: number
  /** The slowest full second of publishing, the first left out (JIT warm-up): steadiness. */
  perSecondMin: number
  storedWhenDrained: number
  /** After the system's graceful stop. */
  storedFinal?: number
  /** Seconds from the end of publishing to the last change of the stored count. */
  drainS: number
  drainedByTimeout: boolean
  landedPerS: number
  cpuS: { system: number; influxd: number; generator: number }
  /** The system's read and write system calls, from 'go' to the end of the drain. */
  syscalls: { reads: number; writes: number }
  /** Piazza only: its CPU by component, from /metrics, from 'go' to the end of the drain. */
  split?: CpuSplit
  /** Piazza only: what its collector did over the same span. */
  gc?: GcTally
  /** Cores used by processes outside the benchmark during the run: high means the figures are disturbed. */
  otherCores: number
  peakRssMb: number
  probes?: Probes
}

/** A restart with the idle fleet registered: how soon it is back and publishing. */
export interface RestartFigure {
  devices: number
  connected: number
  failed: number
  /** From the graceful stop's signal to 'Piazza is running.' of the new process. */
  upMs: number
  /** ... to every device logged in again (the generator logs in 50 at a time). */
  connectedMs: number
  /** ... to as many readings acknowledged as devices (every device publishing at once, one in flight each); per second of the load. */
  publishingMs: number
  acked: number
  stopped: string
}

export interface SystemReport {
  name: SystemName
  memory?: MemoryFigure
  restart?: RestartFigure
  /** One per round. */
  loads: RunFigure[]
  /** The paced phase: the largest fleet at an even pace, one message at a time per device. */
  paced?: RunFigure & { rate: number }
  overload?: RunFigure & { rate: number; survived: boolean }
  stopped: string
  /** Warning and error lines the system printed. */
  complaints: string[]
  /** Piazza with --profile: the CPU profile of the whole run, summarised. */
  profile?: ProfileSummary
  /** Configurations the baseline fell over at (skipped from then on; a fresh one carried on with the others). */
  failures: string[]
  /** What ended this system's phases early. */
  error?: string
}

export interface BenchReport {
  machine: string
  options: Omit<BenchOptions, 'log' | 'childEnv'>
  systems: SystemReport[]
}

function percentile(values: number[], p: number): number {
  if (!values.length) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

/**
 * RSS of the system at rest; after every one of `devices` has logged in once (connections closed
 * again, RSS settled); and with all of them connected again and idle. Per connection = (with
 * idle - after the first logins) / count.
 *
 * It used to be (with idle - at rest) / count, with only 8 first logins before: the delta then
 * held what first logins cost once, not per connection (scrypt, as device secrets were then
 * hashed: 16 MiB a hash on each of the threadpool's 4 threads, which the allocator keeps and trims
 * at its own pace, plus the login path's first JIT and heap growth), spread over 200-1,000
 * connections: 86-95 KB "per connection" where an independent run at 10,000 measured ~6.4 KB.
 * Device secrets are now checked with an HMAC, but the first pass still takes the login path's
 * one-off costs (JIT, heap growth, registry rows upgraded from older hashes) out of the figure.
 */
async function measureMemory(system: SystemUnderTest, devices: string[], options: BenchOptions): Promise<MemoryFigure> {
  const login = (ids: string[]): LoadOptions => ({
    host: '127.0.0.1',
    port: system.port,
    devices: ids.map((id) => ({ id, secret: system.secret(id) })),
    mode: 'idle',
    seconds: 0,
    window: 1,
    ackTimeoutMs: 0,
  })
  const pid = system.process.pid!
  const heapText = (heap: { used: number; total: number } | undefined) => (heap ? ` (JS heap ${heap.used.toFixed(0)} MB used of ${heap.total.toFixed(0)})` : '')
  const unsettled: string[] = []
  const settled = async (what: string) => {
    const figure = await settledMemory(pid, system.httpPort)
    const after = `${figure.seconds.toFixed(0)} s`
    options.log(`${system.name}: RSS ${figure.rssMb.toFixed(0)} MB ${what}${heapText(figure.heap)}, ${figure.settled ? `settled after ${after}` : `NOT settled after ${after}: V8 still held a burst's memory`}`)
    if (!figure.settled) unsettled.push(what)
    return figure
  }
  const atRest = await settled('at rest')
  options.log(`${system.name}: first logins of ${devices.length} devices`)
  const first = await connectGenerator(system, login(devices))
  await stopGenerator(first)
  await sleep(1000) // the disconnections processed
  const afterFirst = await settled('after the first logins')
  options.log(`${system.name}: opening ${devices.length} idle connections`)
  let rssPeakConnectingMb = rssMb(pid)
  const peakTimer = setInterval(() => (rssPeakConnectingMb = Math.max(rssPeakConnectingMb, rssMb(pid) || 0)), 100)
  const idle = await connectGenerator(system, login(devices))
  const withIdle = await settled(`with ${idle.connected} idle connections`).finally(() => clearInterval(peakTimer))
  await stopGenerator(idle)
  if (idle.connectFailed) options.log(`${system.name}: ${idle.connectFailed} idle connections failed, e.g. ${idle.errorSamples[0]}`)
  const perConnectionKb = idle.connected ? ((withIdle.rssMb - afterFirst.rssMb) * 1024) / idle.connected : NaN
  options.log(`${system.name}: ${rssPeakConnectingMb.toFixed(0)} MB at most from the idle connections' opening until settled`)
  await sleep(1000)
  return {
    connections: idle.connected,
    failed: idle.connectFailed,
    rssAtRestMb: atRest.rssMb,
    rssAfterFirstLoginsMb: afterFirst.rssMb,
    rssWithIdleMb: withIdle.rssMb,
    rssPeakConnectingMb,
    unsettled,
    perConnectionKb,
  }
}

/**
 * Stops the system gracefully and starts it on the same data, then logs every device in again
 * and has each publish (closed loop, one message in flight per device) for 2 s: the issue's
 * "10,000 devices back and publishing within 30 s of a restart", start-up included.
 */
async function measureRestart(system: SystemUnderTest, devices: PlannedDevice[], options: BenchOptions, replaced: (next: SystemUnderTest) => void): Promise<RestartFigure> {
  options.log(`${system.name}: restarting with ${devices.length} devices, then every one of them logs in again and publishes`)
  const started = Date.now()
  const next = await system.restart!()
  replaced(next)
  const upMs = Date.now() - started
  const load: LoadOptions = {
    host: '127.0.0.1',
    port: next.port,
    devices: devices.map((d) => ({ id: d.id, secret: next.secret(d.id), model: { ...d, interval: d.interval ?? 60 } })),
    mode: 'load',
    seconds: 2,
    window: 1,
    ackTimeoutMs: 30_000,
  }
  const generator = await connectGenerator(next, load)
  const connectedMs = Date.now() - started
  const result = await runGenerator(generator, load)
  let acked = 0
  let seconds = Number.NaN
  for (const [i, n] of result.perSecond.entries()) {
    acked += n
    if (acked >= generator.connected) {
      seconds = i + 1
      break
    }
  }
  const figure: RestartFigure = {
    devices: devices.length,
    connected: generator.connected,
    failed: generator.connectFailed,
    upMs,
    connectedMs,
    publishingMs: connectedMs + seconds * 1000,
    acked: result.acked,
    stopped: next.complaints().find((c) => c.startsWith('restart:')) ?? 'cleanly',
  }
  options.log(
    `${system.name}: restarted: running after ${(upMs / 1000).toFixed(1)} s, ${generator.connected} of ${devices.length} logged in after ${(connectedMs / 1000).toFixed(1)} s, ` +
      `${generator.connected} readings acknowledged within ${(figure.publishingMs / 1000).toFixed(0)} s${generator.connectFailed ? `; ${generator.connectFailed} logins failed, e.g. ${generator.errorSamples[0]}` : ''}`,
  )
  return figure
}

/** Sequential probes while the load runs: publish one reading, poll InfluxDB until it is there. */
async function runProbes(system: SystemUnderTest, influxUrl: string, count: number, seconds: number, startedAt: number): Promise<Probes> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${system.port}`, {
    clientId: PROBE_DEVICE,
    username: PROBE_DEVICE,
    password: system.secret(PROBE_DEVICE),
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 30_000,
  })
  const probes: Probes = { ackMs: [], storedMs: [], timeouts: 0 }
  let lastTs = 0
  try {
    for (let i = 0; i < count; i++) {
      const due = startedAt + ((i + 0.5) * seconds * 1000) / count
      if (Date.now() > startedAt + seconds * 1000) break // the load is over: latency without load is another figure
      if (due > Date.now()) await sleep(due - Date.now())
      const ts = (lastTs = Math.max(lastTs + 1, Date.now()))
      const sent = performance.now()
      // pm10 only: the load's counts are on pm25, so probes never enter them.
      await client.publishAsync(`devices/${PROBE_DEVICE}/telemetry`, JSON.stringify({ ts, pm10: 12.5 }), { qos: 1 })
      probes.ackMs.push(performance.now() - sent)
      for (;;) {
        if (await probeStored(influxUrl, system.database, ts).catch(() => false)) {
          probes.storedMs.push(performance.now() - sent)
          break
        }
        if (performance.now() - sent > PROBE_TIMEOUT_MS) {
          probes.timeouts += 1
          probes.storedMs.push(PROBE_TIMEOUT_MS)
          break
        }
        await sleep(PROBE_POLL_MS)
      }
    }
  } finally {
    await client.endAsync(true)
  }
  return probes
}

/** Reads the CPU split from Piazza's /metrics (PIAZZA_TIMING); undefined for the baseline or when unreachable. */
async function scrapeSplit(system: SystemUnderTest): Promise<CpuSplit | undefined> {
  if (!system.httpPort) return undefined
  try {
    const metrics = await readMetrics(localBase(system.httpPort))
    const { minor = 0, ...older } = metrics.byLabel('nodejs_gc_duration_seconds_sum', 'kind')
    const pid = system.process.pid!
    return {
      process: metrics.value('process_cpu_seconds_total'),
      ingest: metrics.value('piazza_ingest_seconds_total'),
      listeners: metrics.byLabel('piazza_feed_listener_seconds_total', 'listener'),
      mainThread: cpuSeconds(pid, pid),
      gcYoung: minor,
      gcOld: sum(Object.values(older)),
    }
  } catch {
    return undefined
  }
}

function splitDelta(before: CpuSplit | undefined, after: CpuSplit | undefined): CpuSplit | undefined {
  if (!before || !after) return undefined
  const listeners: Record<string, number> = {}
  for (const [name, s] of Object.entries(after.listeners)) listeners[name] = s - (before.listeners[name] ?? 0)
  return {
    process: after.process - before.process,
    ingest: after.ingest - before.ingest,
    listeners,
    mainThread: after.mainThread - before.mainThread,
    gcYoung: after.gcYoung - before.gcYoung,
    gcOld: after.gcOld - before.gcOld,
  }
}

/**
 * One load run: connect, publish (with latency probes alongside, if asked), then wait until the
 * stored count reaches what was published or stops moving. CPU is read at 'go' and at the poll
 * where the count last changed.
 */
async function runLoad(system: SystemUnderTest, influxd: { url: string; pid: number }, load: LoadOptions, probes: number, options: BenchOptions, fleet: { fleet: FleetName; counted: RunFigure['counted'] }): Promise<RunFigure> {
  const generator = await connectGenerator(system, load)
  if (generator.connectFailed) options.log(`${system.name}: ${generator.connectFailed} load connections failed, e.g. ${generator.errorSamples[0]}`)
  const pid = system.process.pid!
  let peakRssMb = rssMb(pid)
  const rssTimer = setInterval(() => (peakRssMb = Math.max(peakRssMb, rssMb(pid) || 0)), 100)
  try {
    const splitAtGo = await scrapeSplit(system)
    const gcAtGo = system.gc?.()
    const cpuAtGo = { system: cpuSeconds(pid), influxd: cpuSeconds(influxd.pid), machine: machineBusySeconds(), self: process.cpuUsage(), syscalls: syscalls(pid) }
    const goAt = Date.now()
    const [generatorResult, probeResult] = await Promise.all([
      runGenerator(generator, load),
      probes > 0 ? runProbes(system, influxd.url, probes, load.seconds, goAt) : undefined,
    ])
    const publishEnd = goAt + generatorResult.publishMs
    const self = process.cpuUsage(cpuAtGo.self)
    const ours = cpuSeconds(pid) - cpuAtGo.system + cpuSeconds(influxd.pid) - cpuAtGo.influxd + generatorResult.cpuSeconds + (self.user + self.system) / 1e6
    const otherCores = (machineBusySeconds() - cpuAtGo.machine - ours) / ((Date.now() - goAt) / 1000)
    // Live timestamps: this run's readings are the ones stamped while it published.
    const range: [number, number] = [generatorResult.firstTs, generatorResult.lastTs + 1]

    let count = -1
    let lastChangeAt = Date.now()
    let cpuAtChange = { system: cpuSeconds(pid), influxd: cpuSeconds(influxd.pid), syscalls: syscalls(pid) }
    const deadline = Date.now() + DRAIN_TIMEOUT_MS
    let drainedByTimeout = false
    for (;;) {
      const now = await countReadings(system.name, influxd.url, system.database, fleet.counted, ...range).catch(() => count)
      const cpu = { system: cpuSeconds(pid), influxd: cpuSeconds(influxd.pid), syscalls: syscalls(pid) }
      if (now !== count) {
        count = now
        lastChangeAt = Date.now()
        cpuAtChange = cpu
      }
      if (count >= generatorResult.published || Date.now() - lastChangeAt >= DRAIN_STABLE_MS) break
      if (Date.now() > deadline) {
        drainedByTimeout = true
        break
      }
      await sleep(250)
    }
    const split = splitDelta(splitAtGo, await scrapeSplit(system))
    const gc = gcDelta(gcAtGo, system.gc?.())
    // Full seconds of publishing, the first left out: it holds the JIT warm-up of every process.
    const full = generatorResult.perSecond.slice(1, Math.floor(generatorResult.publishMs / 1000))
    const figure: RunFigure = {
      fleet: fleet.fleet,
      devices: load.devices.length,
      counted: fleet.counted,
      split,
      gc,
      generator: generatorResult,
      range,
      // Over publishing and the trailing acks: a system that queues internally acks long after.
      ackedPerS: generatorResult.acked / (Math.max(generatorResult.publishMs, generatorResult.lastAckMs) / 1000),
      perSecondMin: full.length ? Math.min(...full) : NaN,
      storedWhenDrained: count,
      drainS: Math.max(0, lastChangeAt - publishEnd) / 1000,
      drainedByTimeout,
      landedPerS: count / ((Math.max(lastChangeAt, publishEnd) - goAt) / 1000),
      cpuS: { system: cpuAtChange.system - cpuAtGo.system, influxd: cpuAtChange.influxd - cpuAtGo.influxd, generator: generatorResult.cpuSeconds },
      syscalls: { reads: cpuAtChange.syscalls.reads - cpuAtGo.syscalls.reads, writes: cpuAtChange.syscalls.writes - cpuAtGo.syscalls.writes },
      otherCores: Math.max(0, otherCores),
      peakRssMb,
      probes: probeResult,
    }
    options.log(
      `${system.name}: acked ${generatorResult.acked} (${Math.round(figure.ackedPerS)}/s), stored ${count}, drain ${figure.drainS.toFixed(1)} s, ` +
        `CPU per 1,000 readings/s ${count ? `${pctPer1000(figure.cpuS.system / count)!.toFixed(2)} % of a core, influxd ${pctPer1000(figure.cpuS.influxd / count)!.toFixed(2)} %` : 'n/a'}, ` +
        `peak RSS ${peakRssMb.toFixed(0)} MB, other processes ${figure.otherCores.toFixed(2)} cores`,
    )
    return figure
  } finally {
    clearInterval(rssTimer)
    await stopChild(generator.child, 5_000)
  }
}

/**
 * The arguments for `node` to run `piazza start` as the command runs itself: with its shebang's
 * Node flags (the collector as in production), then any extra ones (later flags win).
 */
export function piazzaStartArgs(extraNodeFlags: string[] = []): string[] {
  return [...shebangFlags(PIAZZA_CLI), ...extraNodeFlags, PIAZZA_CLI, 'start']
}

/** The Node flags of a script's `#!/usr/bin/env -S node …` line. */
function shebangFlags(script: string): string[] {
  const first = readFileSync(script, 'utf8').split('\n', 1)[0]!
  const match = /^#!\/usr\/bin\/env(?: -S)? node(.*)$/.exec(first)
  if (!match) throw new Error(`${script} does not start with a '#!/usr/bin/env node' line`)
  return match[1]!.trim().split(/\s+/).filter(Boolean)
}

/** The largest .cpuprofile in the directory (the main thread's), summarised. */
function readProfile(dir: string, options: BenchOptions): ProfileSummary | undefined {
  try {
    const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))
    const biggest = files.map((f) => ({ f, size: statSync(join(dir, f)).size })).sort((a, b) => b.size - a.size)[0]
    if (!biggest) {
      options.log(`piazza: no .cpuprofile in ${dir} (the child must exit normally to write it)`)
      return undefined
    }
    options.log(`piazza: CPU profile kept in ${join(dir, biggest.f)} (open it in Chrome DevTools' Performance panel)`)
    return summariseProfile(JSON.parse(readFileSync(join(dir, biggest.f), 'utf8')) as CpuProfile)
  } catch (err) {
    options.log(`piazza: cannot read the CPU profile: ${(err as Error).message}`)
    return undefined
  }
}

interface Entry {
  report: SystemReport
  system?: SystemUnderTest
  /**
   * The baseline's fresh start after it fell over at a configuration. Only the baseline: a naive
   * pipeline is expected to fall over at some size, and should still be measured at the others.
   * A Piazza failure ends its phases, to be fixed rather than worked around.
   */
  revive?: () => Promise<SystemUnderTest>
  /** Configurations (`fleet/size`) it fell over at: skipped from then on. */
  failed: Set<string>
  /** Configurations this process has had its warm-up at (a fresh start has had none). */
  warmed: Set<string>
  /** Stopped when a phase failed, before the graceful stop at the end. */
  stoppedEarly?: boolean
}

/**
 * Both systems run side by side and the phases alternate between them (memory, then the load
 * rounds in alternating order, then overload), so a change in what else the machine is doing
 * hits both alike. The idle one costs next to nothing meanwhile.
 */
export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const onSignal = (signal: NodeJS.Signals) => {
    options.log(`bench: ${signal}, stopping everything`)
    killAll()
    process.exit(130)
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const onExit = () => killAll()
  process.once('exit', onExit)

  let influxd: Influxd | undefined
  try {
    options.log('bench: starting a private influxd')
    influxd = await startInfluxd()
    tempDirs.push(influxd.dataDir)
    const ping = await fetch(`${influxd.url}/ping`)
    const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}, Linux ${release()}, InfluxDB ${ping.headers.get('x-influxdb-version') ?? '?'}`
    const db = Object.assign(influxd, { pid: influxdPid(influxd) })

    // Every fleet and size, registered once: sizes of one fleet share their devices (a smaller
    // plan is the start of a larger one), the probe is a station in Firenze.
    const plans = new Map<string, PlannedDevice[]>()
    /** A configuration's key: its plan, its warm-up, the failures that skip it. */
    const configKey = (fleet: FleetName, size: number) => `${fleet}/${size}`
    for (const fleet of options.fleets) for (const size of options.sizes) plans.set(configKey(fleet, size), benchFleet(fleet, size))
    const registered = new Map<string, PlannedDevice>()
    for (const plan of plans.values()) for (const d of plan) registered.set(d.id, d)
    // The memory phase: a first batch, then idle connections, all distinct registered devices.
    const pool = [...registered.keys()]
    const extra = Math.max(0, options.idle - pool.length)
    for (let i = 0; i < extra; i++) {
      const id = `bench-idle-${String(i).padStart(5, '0')}`
      registered.set(id, { id, type: 'air-quality', city: 'firenze', name: `Bench idle ${i}`, lat: 43.7696, lon: 11.2558, interval: 60, metadata: { ...BENCH_QUOTAS } })
    }
    // The fleets' own devices first: their first logins (scrypt) are then done before the loads.
    const idleDevices = [...registered.keys()].slice(0, options.idle)
    registered.set(PROBE_DEVICE, { id: PROBE_DEVICE, type: 'air-quality', city: 'firenze', name: 'Bench probe', lat: 43.7696, lon: 11.2558, interval: 60, metadata: { ...BENCH_QUOTAS } })
    const allDevices = [...registered.values()]

    const entries: Entry[] = []
    for (const name of options.systems) {
      const entry: Entry = { report: { name, loads: [], stopped: 'not started', complaints: [], failures: [] }, failed: new Set(), warmed: new Set() }
      entries.push(entry)
      try {
        entry.system = name === 'piazza' ? await startPiazza(db, allDevices, options) : await startBaseline(db)
        if (name === 'baseline') {
          const { database } = entry.system
          entry.revive = () => startBaseline(db, database)
        }
      } catch (err) {
        entry.report.error = `start: ${(err as Error).message}`
        options.log(`${name}: FAILED to start: ${(err as Error).message}`)
      }
    }
    /**
     * Runs one phase on a system that is still fine; a failure ends that system's phases, but for
     * the baseline's at a configuration (`config`), which is skipped from then on while a fresh
     * baseline carries on with the others. A load phase then waits for the system to go quiet
     * (`quiet`) before the next phase starts.
     */
    const phase = async (entry: Entry, what: string, fn: (sut: SystemUnderTest, report: SystemReport) => Promise<void>, { load = false, config = '' } = {}) => {
      const { system, report } = entry
      if (!system || report.error || entry.failed.has(config)) return
      if (exited(system.process)) {
        report.error = `${what}: the process had exited (${system.process.exitCode ?? system.process.signalCode})`
        return
      }
      try {
        await fn(system, report)
        if (load && !exited(system.process) && !(await quiet(system.process.pid!))) {
          throw new Error(`still busy ${QUIET_TIMEOUT_MS / 1000} s after the load ended (a backlog it cannot work off)`)
        }
        // influxd too, its compactions of what the load wrote included: they are not the next phase's
        // work. Bounded, and not a failure: under a steady load they would be part of the cost.
        if (load) await quiet(db.pid)
      } catch (err) {
        const failure = `${what}: ${(err as Error).message}`
        options.log(`${report.name}: ${what} FAILED: ${(err as Error).message}`)
        // Stopped now, whatever it still does cannot weigh on the other system's phases.
        const current = entry.system ?? system // the restart phase replaces it
        const stopped = await current.stop()
        if (config && entry.revive) {
          entry.failed.add(config)
          report.failures.push(`${failure} (stopped: ${stopped})`)
          try {
            entry.system = await entry.revive()
            entry.warmed.clear()
            options.log(`${report.name}: started afresh; ${config} is skipped from now on`)
            return
          } catch (restartErr) {
            report.error = `a fresh start after ${what}: ${(restartErr as Error).message}`
          }
        } else {
          report.error = failure
        }
        // Its phases end here.
        report.stopped = stopped
        report.complaints = current.complaints()
        entry.stoppedEarly = true
      }
    }
    const loadOptions = (sut: SystemUnderTest, plan: PlannedDevice[], seconds: number, window: number, rate: number | undefined): LoadOptions => ({
      host: '127.0.0.1',
      port: sut.port,
      devices: plan.map((d) => ({ id: d.id, secret: sut.secret(d.id), model: { ...d, interval: d.interval ?? 60 } })),
      mode: 'load',
      seconds,
      window,
      rate,
      ackTimeoutMs: 30_000,
    })

    for (const entry of entries) {
      await phase(entry, 'memory', async (sut, report) => {
        report.memory = await measureMemory(sut, idleDevices, options)
      })
    }
    // Each round goes through every configuration in turn (sizes outside, fleets inside), rather
    // than one configuration's rounds in a row. This machine's speed drifts: for 30-70 s at a time
    // every function costs the same 20-30 % more (the profiles' shares stay put), and three rounds
    // in a row took such a spell whole into one configuration's median, deciding the flatness
    // line. In turn, a configuration's rounds lie a whole pass apart, so a spell reaches one of
    // them, and every configuration is measured early, midway and late in the process's life.
    // (Backwards every other pass would put a configuration's rounds side by side at the ends.)
    const configs = options.sizes.flatMap((size) =>
      options.fleets.map((fleet) => {
        const key = configKey(fleet, size)
        const plan = plans.get(key)!
        return { size, fleet, key, plan, counted: countedFields(plan.map((d) => d.type)) }
      }),
    )
    for (let round = 0; round < options.rounds; round++) {
      for (const [i, { size, fleet, key, plan, counted }] of configs.entries()) {
        // Alternate which system goes first from one configuration to the next, and per round.
        const order = (i + round) % 2 ? [...entries].reverse() : entries
        // Unmeasured warm-up at a process's first turn at a configuration: the JIT's ramp, and
        // Piazza's first logins (scrypt) of devices not seen yet.
        for (const entry of order) {
          if (entry.warmed.has(key)) continue
          entry.warmed.add(key)
          await phase(entry, `${fleet} ${size} warm-up`, async (sut) => {
            options.log(`${sut.name}: ${fleet} fleet, ${size} devices: warm-up, ${options.warmupSeconds} s of load, not measured`)
            const warm = loadOptions(sut, plan, options.warmupSeconds, options.window, options.rate)
            const generator = await connectGenerator(sut, warm)
            await runGenerator(generator, warm)
            await stopChild(generator.child, 5_000)
          }, { load: true, config: key })
        }
        for (const entry of order) {
          await phase(entry, `${fleet} ${size} round ${round + 1}`, async (sut, report) => {
            options.log(`${sut.name}: ${fleet} fleet, ${size} devices, round ${round + 1}/${options.rounds}: window ${options.window}, ${options.rate ? `${options.rate}/s offered` : 'closed loop'}, ${options.seconds} s`)
            const load = loadOptions(sut, plan, options.seconds, options.window, options.rate)
            report.loads.push(await runLoad(sut, db, load, options.probes, options, { fleet, counted }))
          }, { load: true, config: key })
        }
      }
    }
    if (options.pacedRate > 0) {
      // A city's monitoring network when the bench has one, at its largest size (already warmed up).
      const fleet: FleetName = options.fleets.includes('air-quality') ? 'air-quality' : options.fleets[0]!
      const size = Math.max(...options.sizes)
      const key = configKey(fleet, size)
      const plan = plans.get(key)!
      const counted = countedFields(plan.map((d) => d.type))
      for (const entry of entries) {
        await phase(entry, 'paced', async (sut, report) => {
          options.log(`${sut.name}: paced: ${fleet} fleet, ${size} devices, one message at a time each, ${options.pacedRate}/s in all, ${options.seconds} s`)
          const load = loadOptions(sut, plan, options.seconds, options.window, options.pacedRate)
          report.paced = { ...(await runLoad(sut, db, load, options.probes, options, { fleet, counted })), rate: options.pacedRate }
        }, { load: true, config: key })
      }
    }
    if (options.overloadSeconds > 0) {
      const fleet = options.fleets[0]!
      const plan = plans.get(configKey(fleet, options.sizes[0]!))!
      const counted = countedFields(plan.map((d) => d.type))
      for (const entry of entries) {
        await phase(entry, 'overload', async (sut, report) => {
          options.log(`${sut.name}: overload: ${fleet} fleet, ${plan.length} devices, ${options.overloadRate}/s offered, window ${options.overloadWindow}, ${options.overloadSeconds} s`)
          const load = loadOptions(sut, plan, options.overloadSeconds, options.overloadWindow, options.overloadRate)
          const run = await runLoad(sut, db, load, 0, options, { fleet, counted })
          report.overload = { ...run, rate: options.overloadRate, survived: !exited(sut.process) }
        }, { config: 'overload' })
      }
    }

    // Last, so the start-up work of a fleet that has reported (the snapshots load every station
    // with readings in its week) does not weigh on the rounds. Not under --profile: the new
    // process would write a second profile.
    for (const entry of options.profile ? [] : entries) {
      await phase(entry, 'restart', async (sut, report) => {
        if (!sut.restart) return
        report.restart = await measureRestart(sut, idleDevices.map((id) => registered.get(id)!), options, (next) => (entry.system = next))
      })
    }
    // A graceful stop, then the final counts: what survives a normal shutdown.
    for (const { system, report, stoppedEarly } of entries) {
      if (!system) continue
      if (!stoppedEarly) {
        report.stopped = await system.stop()
        report.complaints = system.complaints()
      }
      if (report.overload) report.overload.survived &&= !report.stopped.startsWith('had already exited')
      for (const run of [...report.loads, ...(report.paced ? [report.paced] : []), ...(report.overload ? [report.overload] : [])]) {
        run.storedFinal = await countReadings(system.name, db.url, system.database, run.counted, ...run.range).catch(() => undefined)
      }
      if (system.profileDir) report.profile = readProfile(system.profileDir, options)
    }
    const { log: _log, childEnv: _env, ...shown } = options
    return { machine, options: shown, systems: entries.map((e) => e.report) }
  } finally {
    killAll()
    await influxd?.stop()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    process.off('exit', onExit)
  }
}

// ---------------------------------------------------------------------------------------------
// The table

function fmt(value: number | undefined, digits = 0): string {
  if (value === undefined || !Number.isFinite(value)) return 'n/a'
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

const median = (values: number[]) => percentile(values, 50)
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0)

/** The lowest and highest of some values; none when there are none. */
const range = (values: number[]): [number, number] | undefined => (values.length ? [Math.min(...values), Math.max(...values)] : undefined)

/** Rates, CPU and drain: the median round. Counts: totals over the rounds. Latency: all probes pooled. */
function summary(loads: RunFigure[]) {
  const some = loads.length > 0
  const acked = sum(loads.map((r) => r.generator.acked))
  const final = some && loads.every((r) => r.storedFinal !== undefined) ? sum(loads.map((r) => r.storedFinal!)) : undefined
  const ackMs = loads.flatMap((r) => r.probes?.ackMs ?? [])
  const storedMs = loads.flatMap((r) => r.probes?.storedMs ?? [])
  const perReading = (f: (r: RunFigure) => number | undefined) => {
    const values = loads.flatMap((r) => {
      const v = f(r)
      return v === undefined || !r.storedWhenDrained ? [] : [v / r.storedWhenDrained]
    })
    return values.length ? median(values) : undefined
  }
  return {
    ackedPerS: some ? median(loads.map((r) => r.ackedPerS)) : undefined,
    bestAckedPerS: some ? Math.max(...loads.map((r) => r.ackedPerS)) : undefined,
    slowestSecond: some ? Math.min(...loads.map((r) => r.perSecondMin)) : undefined,
    landedPerS: some ? median(loads.map((r) => r.landedPerS)) : undefined,
    acked: some ? acked : undefined,
    stored: some ? sum(loads.map((r) => r.storedWhenDrained)) : undefined,
    storedFinal: final,
    lost: final === undefined ? undefined : acked - final,
    drainS: some ? median(loads.map((r) => r.drainS)) : undefined,
    storedP50: percentile(storedMs, 50),
    storedP99: percentile(storedMs, 99),
    ackP50: percentile(ackMs, 50),
    ackP99: percentile(ackMs, 99),
    /** CPU seconds per reading stored (× 1,000 × 100 = % of a core at 1,000 readings/s). */
    cpuSystem: perReading((r) => r.cpuS.system),
    /** The rounds' lowest and highest CPU per reading: how far one round strays from the median. */
    cpuSystemRange: range(loads.flatMap((r) => (r.storedWhenDrained ? [r.cpuS.system / r.storedWhenDrained] : []))),
    cpuInfluxd: perReading((r) => r.cpuS.influxd),
    readsPerReading: perReading((r) => r.syscalls.reads),
    writesPerReading: perReading((r) => r.syscalls.writes),
    splitProcess: perReading((r) => r.split?.process),
    splitIngest: perReading((r) => r.split?.ingest),
    splitListeners: perReading((r) => (r.split ? sum(Object.values(r.split.listeners)) : undefined)),
    splitMainThread: perReading((r) => r.split?.mainThread),
    splitGcYoung: perReading((r) => r.split?.gcYoung),
    splitGcOld: perReading((r) => r.split?.gcOld),
    /** The collector's work per reading stored. */
    gcAllocated: perReading((r) => r.gc?.allocated),
    gcPromoted: perReading((r) => r.gc?.promoted),
    gcScavenges: perReading((r) => r.gc?.scavenges),
    gcMarkCompacts: perReading((r) => r.gc?.markCompacts),
    listeners: Object.fromEntries(
      [...new Set(loads.flatMap((r) => Object.keys(r.split?.listeners ?? {})))].sort().map((name) => [name, perReading((r) => r.split?.listeners[name] ?? 0)]),
    ) as Record<string, number | undefined>,
    peakRss: some ? Math.max(...loads.map((r) => r.peakRssMb)) : undefined,
    otherCores: some ? median(loads.map((r) => r.otherCores)) : undefined,
    probes: storedMs.length,
  }
}

function table(rows: string[][], alignLeft = [0]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  const lines = rows.map((r) => r.map((c, i) => (alignLeft.includes(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd())
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '))
  return lines
}

/** CPU seconds per reading → % of one core at 1,000 readings/s. */
const pctPer1000 = (secondsPerReading: number | undefined) => (secondsPerReading === undefined ? undefined : secondsPerReading * 1000 * 100)
/** The issue's idle-memory target. */
const IDLE_TARGET = { connections: 10_000, mb: 400 }

/**
 * RSS with the target's idle connections: measured when the bench opened that many, else
 * projected from the per-connection figure; none when that figure is not positive (with few
 * connections RSS can move more by itself than they cost, which projected a negative total).
 */
function idleTargetMb(m: MemoryFigure, idle: number): number | undefined {
  const projected = m.rssAfterFirstLoginsMb + (m.perConnectionKb * IDLE_TARGET.connections) / 1024
  return idle >= IDLE_TARGET.connections || m.perConnectionKb > 0 ? projected : undefined
}

export function formatReport(report: BenchReport): string {
  const piazzaReport = report.systems.find((s) => s.name === 'piazza')
  const baselineReport = report.systems.find((s) => s.name === 'baseline')
  const o = report.options
  const out: string[] = []
  const ratio = (p: number | undefined, b: number | undefined) => (p !== undefined && b !== undefined && b !== 0 && Number.isFinite(p / b) ? `${fmt(p / b, 2)}x` : '')

  // Memory, once per system.
  {
    const pm = piazzaReport?.memory
    const bm = baselineReport?.memory
    type Row = [string, (m: MemoryFigure) => number, number]
    const rows: Row[] = [
      ['RSS at rest, MB', (m) => m.rssAtRestMb, 0],
      [`RSS after ${o.idle} first logins (closed again), MB`, (m) => m.rssAfterFirstLoginsMb, 0],
      [`RSS with ${o.idle} idle connections, MB`, (m) => m.rssWithIdleMb, 0],
      [`  at most from their opening (all at once) until settled, MB`, (m) => m.rssPeakConnectingMb, 0],
      ['  per idle connection (over the first logins), KB', (m) => m.perConnectionKb, 1],
      [`  ${IDLE_TARGET.connections.toLocaleString('en-US')} idle connections, MB${o.idle >= IDLE_TARGET.connections ? '' : ' (projected)'}`, (m) => idleTargetMb(m, o.idle) ?? NaN, 0],
    ]
    const t: string[][] = [['memory (lower is better)', 'Piazza', 'baseline', 'Piazza/baseline']]
    for (const [label, f, digits] of rows) {
      const p = pm && f(pm)
      const b = bm && f(bm)
      t.push([label, fmt(p, digits), fmt(b, digits), ratio(p, b)])
    }
    out.push(...table(t), '')
    for (const [name, m] of [['Piazza', pm], ['baseline', bm]] as const) {
      if (m?.unsettled.length) out.push(`${name}: measured at the settling limit, V8 still holding a burst's memory: ${m.unsettled.join('; ')}.`, '')
    }
    const r = piazzaReport?.restart
    if (r) {
      out.push(
        `Restart with ${r.devices} devices (stopped ${r.stopped}): running after ${fmt(r.upMs / 1000, 1)} s, ${r.connected} logged in again after ${fmt(r.connectedMs / 1000, 1)} s, ` +
          `${r.connected} readings acknowledged within ${fmt(r.publishingMs / 1000)} s${r.failed ? ` (${r.failed} logins failed)` : ''}.`,
        '',
      )
    }
  }

  // Per fleet and size: the pipeline figures side by side.
  const configs: { fleet: FleetName; devices: number }[] = []
  for (const fleet of o.fleets) for (const devices of o.sizes) configs.push({ fleet, devices })
  const group = (s: SystemReport | undefined, c: { fleet: FleetName; devices: number }) => summary(s?.loads.filter((r) => r.fleet === c.fleet && r.devices === c.devices) ?? [])
  type Summary = ReturnType<typeof summary>
  const results = configs.map((c) => ({ ...c, piazza: group(piazzaReport, c), baseline: group(baselineReport, c) }))
  const pipelineTable = (title: string, r: { piazza: Summary; baseline: Summary }): string[] => {
    type Row = [figure: string, value: (s: Summary) => number | undefined, digits: number, better: 'higher' | 'lower' | '']
    const rows: Row[] = [
      ['acked readings/s (QoS 1)', (s) => s.ackedPerS, 0, 'higher'],
      ['  slowest second (after the 1st), acked/s', (s) => s.slowestSecond, 0, 'higher'],
      ['stored readings/s, end to end', (s) => s.landedPerS, 0, 'higher'],
      ['lost = acked - stored after graceful stop', (s) => s.lost, 0, 'lower'],
      ['drain after load, s', (s) => s.drainS, 1, 'lower'],
      [`publish-to-stored p50, ms (${Math.max(r.piazza.probes, r.baseline.probes)} probes)`, (s) => s.storedP50, 0, 'lower'],
      ['publish-to-stored p99, ms', (s) => s.storedP99, 0, 'lower'],
      ['publish-to-PUBACK p99, ms', (s) => s.ackP99, 1, 'lower'],
      ['CPU per 1,000 readings/s, % of a core: system', (s) => pctPer1000(s.cpuSystem), 1, 'lower'],
      ['CPU per 1,000 readings/s, % of a core: influxd', (s) => pctPer1000(s.cpuInfluxd), 1, 'lower'],
      ['system calls per reading: reads', (s) => s.readsPerReading, 2, 'lower'],
      ['system calls per reading: writes', (s) => s.writesPerReading, 2, 'lower'],
      ['peak RSS under load, MB', (s) => s.peakRss, 0, 'lower'],
      ['other processes on the box, cores', (s) => s.otherCores, 2, ''],
    ]
    const t: string[][] = [[title, 'Piazza', 'baseline', 'Piazza/baseline', 'better']]
    for (const [figure, value, digits, better] of rows) {
      const p = value(r.piazza)
      const b = value(r.baseline)
      t.push([figure, fmt(p, digits), fmt(b, digits), better ? ratio(p, b) : '', better ? `${better} is better` : ''])
    }
    return table(t, [0, 4])
  }
  for (const r of results) out.push(...pipelineTable(`${r.fleet} fleet, ${r.devices.toLocaleString('en-US')} devices`, r), '')

  // The paced phase: what a real network sends, one message at a time per device.
  const pacedRun = piazzaReport?.paced ?? baselineReport?.paced
  const paced = pacedRun && {
    label: `paced ${pacedRun.fleet}, ${pacedRun.devices.toLocaleString('en-US')} devices`,
    piazza: summary(piazzaReport?.paced ? [piazzaReport.paced] : []),
    baseline: summary(baselineReport?.paced ? [baselineReport.paced] : []),
  }
  if (pacedRun && paced) {
    const every = pacedRun.devices / pacedRun.rate
    out.push(
      ...pipelineTable(`paced: ${pacedRun.fleet} fleet, ${pacedRun.devices.toLocaleString('en-US')} devices, each one message every ${fmt(every, every < 1 ? 2 : 1)} s (${fmt(pacedRun.rate)}/s offered)`, paced),
      'Each device sends one message at a time, as a real network does, so each costs a read and a PUBACK write of its own;',
      `the closed-loop rounds above send up to ${o.window} per read. An even pace, each device on its own phase.`,
      '',
    )
  }

  // Piazza's CPU by component: a regression points at its cause.
  const listenerNames = [...new Set(results.flatMap((r) => Object.keys(r.piazza.listeners)))].sort()
  const rows = [...results.map((r) => ({ ...r, label: `${r.fleet}, ${r.devices.toLocaleString('en-US')} devices` })), ...(paced ? [paced] : [])]
  if (results.some((r) => r.piazza.splitProcess !== undefined)) {
    const t: string[][] = [['Piazza CPU per 1,000 readings/s, % of a core', 'total', 'broker+rest', 'ingest', ...listenerNames, 'influxd', 'baseline influxd']]
    for (const r of rows) {
      const p = r.piazza
      const listeners = p.splitListeners ?? 0
      const brokerRest = p.splitProcess === undefined ? undefined : p.splitProcess - (p.splitIngest ?? 0) - listeners
      t.push([
        r.label,
        fmt(pctPer1000(p.splitProcess), 2),
        fmt(pctPer1000(brokerRest), 2),
        fmt(pctPer1000(p.splitIngest), 2),
        ...listenerNames.map((n) => fmt(pctPer1000(p.listeners[n]), 2)),
        fmt(pctPer1000(p.cpuInfluxd), 2),
        fmt(pctPer1000(r.baseline.cpuInfluxd), 2),
      ])
    }
    out.push(...table(t))
    out.push(
      'From the child\'s /metrics (PIAZZA_TIMING): ingest = ingest.accept (validation, encoding, log append; synchronous part); one column per',
      'feed listener (wall time around each call, on the event loop; public-snapshots also its city recomputations on timers);',
      'broker+rest = process CPU (all threads) minus those: aedes, sockets, the shipper\'s writes to InfluxDB, fsync, GC, and the other',
      'work on timers (pushes, alert ticks: per second, not per reading, so it weighs more at low rates). influxd from /proc.',
      '1 % of a core per 1,000 readings/s = 10 µs of CPU per reading.',
      '',
    )
    // The same CPU by thread, with the collector's share: what grows with the fleet when no component does.
    const threads: string[][] = [['Piazza CPU per 1,000 readings/s by thread, % of a core', 'total', 'main thread', 'GC young', 'GC old', 'other threads']]
    for (const r of rows) {
      const p = r.piazza
      const others = p.splitProcess === undefined || p.splitMainThread === undefined ? undefined : p.splitProcess - p.splitMainThread
      threads.push([r.label, fmt(pctPer1000(p.splitProcess), 2), fmt(pctPer1000(p.splitMainThread), 2), fmt(pctPer1000(p.splitGcYoung), 2), fmt(pctPer1000(p.splitGcOld), 2), fmt(pctPer1000(others), 2)])
    }
    out.push(...table(threads))
    out.push(
      'Main thread and other threads from /proc/PID/task; GC young and GC old are the main thread\'s pauses for garbage collection (part of',
      'its figure; from /metrics, nodejs_gc_duration_seconds): young-generation collections, and the steps of old-generation ones it runs.',
      'Other threads: V8\'s helpers (parallel scavenging, concurrent marking and sweeping), libuv\'s pool (the log\'s writes and fsync), workers.',
      '',
    )
  }
  if (rows.some((r) => r.piazza.gcAllocated !== undefined)) {
    const gc: string[][] = [['Piazza\'s garbage collector per reading', 'allocated, KB', 'promoted, B', 'scavenges per 10,000', 'full collections per 1M']]
    for (const r of rows) {
      const p = r.piazza
      gc.push([r.label, fmt(p.gcAllocated === undefined ? undefined : p.gcAllocated / 1024, 2), fmt(p.gcPromoted, 0), fmt(p.gcScavenges === undefined ? undefined : p.gcScavenges * 1e4, 2), fmt(p.gcMarkCompacts === undefined ? undefined : p.gcMarkCompacts * 1e6, 2)])
    }
    out.push(...table(gc))
    out.push(
      'From V8\'s --trace-gc-nvp on Piazza\'s stdout, over the same span as the CPU: bytes allocated, and bytes promoted from the young generation to the old',
      '(what makes full collections come), per reading stored. They move with what the code allocates and keeps, far less with the collector\'s state.',
      '',
    )
  }

  // The issue's targets.
  const check = (ok: boolean | undefined) => (ok === undefined ? 'NOT MEASURED' : ok ? 'PASS' : 'FAIL')
  const targets: string[][] = [['target', 'measured', 'result']]
  for (const fleet of o.fleets) {
    for (const devices of [50, 1000]) {
      const r = results.find((x) => x.fleet === fleet && x.devices === devices)
      const p = r?.piazza.landedPerS
      const b = r?.baseline.landedPerS
      const lossless = r?.piazza.lost === undefined ? undefined : r.piazza.lost <= 0
      const measured = p === undefined || b === undefined ? 'n/a' : `${fmt(p)}/s vs ${fmt(b)}/s = ${fmt(p / b, 2)}x${lossless === false ? `, Piazza LOST ${fmt(r!.piazza.lost)}` : ''}${r!.baseline.lost ? `, baseline lost ${fmt(r!.baseline.lost)}` : ''}`
      targets.push([`zero-loss stored rate ≥ 2x baseline, ${fleet}, ${devices} devices`, measured, check(p === undefined || b === undefined ? undefined : p / b >= 2 && lossless !== false)])
    }
    const perSize = results.filter((x) => x.fleet === fleet && x.piazza.cpuSystem !== undefined)
    const reference = perSize[0]?.piazza.cpuSystem
    const spread = perSize
      .map((x) => {
        const [lo, hi] = x.piazza.cpuSystemRange ?? []
        const rounds = lo !== undefined && hi !== undefined && lo !== hi ? ` (rounds ${fmt(pctPer1000(lo), 2)}-${fmt(pctPer1000(hi), 2)})` : ''
        return `${x.devices}: ${fmt(pctPer1000(x.piazza.cpuSystem), 1)} %${rounds}`
      })
      .join(', ')
    const within = reference === undefined || perSize.length < 2 ? undefined : perSize.every((x) => Math.abs(x.piazza.cpuSystem! / reference - 1) <= 0.2)
    const full = perSize.some((x) => x.devices === 50) && perSize.some((x) => x.devices === 10_000)
    targets.push([
      `Piazza CPU per 1,000 readings/s within ±20 % from 50 to 10,000 devices, ${fleet}`,
      spread || 'n/a',
      within === false ? 'FAIL' : within && full ? 'PASS' : within ? 'PASS so far (10,000 not run)' : 'NOT MEASURED',
    ])
  }
  for (const r of results) {
    const p = r.piazza.cpuInfluxd
    const b = r.baseline.cpuInfluxd
    targets.push([`influxd CPU per 1,000 readings/s ≤ baseline's, ${r.fleet}, ${r.devices} devices`, p === undefined || b === undefined ? 'n/a' : `${fmt(pctPer1000(p), 2)} % vs ${fmt(pctPer1000(b), 2)} %`, check(p === undefined || b === undefined ? undefined : p <= b)])
  }
  for (const r of results) {
    const p = r.piazza
    const us = p.splitProcess === undefined ? undefined : (p.splitProcess - (p.splitListeners ?? 0)) * 1e6
    targets.push([`broker+ingest ≤ 20 µs CPU per reading, ${r.fleet}, ${r.devices} devices`, us === undefined ? 'n/a' : `${fmt(us, 1)} µs (process minus feed listeners: an upper bound)`, check(us === undefined ? undefined : us <= 20)])
  }
  {
    const m = piazzaReport?.memory
    const mb = m && idleTargetMb(m, o.idle)
    const how = o.idle >= IDLE_TARGET.connections ? 'measured' : `projected from ${o.idle}`
    targets.push([`${IDLE_TARGET.connections.toLocaleString('en-US')} idle device connections ≤ ${IDLE_TARGET.mb} MB RSS`, mb === undefined ? (m ? `n/a (${fmt(m.perConnectionKb, 1)} KB per connection over ${o.idle}: too few to project)` : 'n/a') : `${fmt(mb)} MB (${how}: ${fmt(m!.rssAfterFirstLoginsMb)} MB + ${fmt(m!.perConnectionKb, 1)} KB each${m!.unsettled.length ? '; not settled' : ''})`, check(mb === undefined ? undefined : mb <= IDLE_TARGET.mb)])
  }
  {
    const r = piazzaReport?.restart
    const label = `${IDLE_TARGET.connections.toLocaleString('en-US')} devices back and publishing within 30 s of a restart`
    if (!r) targets.push([label, 'n/a', check(undefined)])
    else {
      const measured = `${fmt(r.publishingMs / 1000)} s for ${r.connected} of ${r.devices} (running after ${fmt(r.upMs / 1000, 1)} s, logged in after ${fmt(r.connectedMs / 1000, 1)} s)`
      const ok = r.connected === r.devices && r.publishingMs <= 30_000
      targets.push([label, measured, check(r.devices >= IDLE_TARGET.connections ? ok : undefined)])
    }
  }
  out.push('Targets (issue "Cost that follows the message rate"):', ...table(targets, [0, 1]), '')

  // Overload.
  if (piazzaReport?.overload || baselineReport?.overload) {
    const t: string[][] = [['overload', 'Piazza', 'baseline', 'better']]
    const pv = piazzaReport?.overload
    const bv = baselineReport?.overload
    const lost = (v: typeof pv) => (v?.storedFinal === undefined ? undefined : v.generator.acked - v.storedFinal)
    t.push(['acked readings/s', fmt(pv?.ackedPerS), fmt(bv?.ackedPerS), 'higher'])
    t.push(['lost = acked - stored', fmt(lost(pv)), fmt(lost(bv)), 'lower'])
    t.push(['peak RSS, MB', fmt(pv?.peakRssMb), fmt(bv?.peakRssMb), 'lower'])
    out.push(...table(t, [0, 3]), '')
  }

  if (piazzaReport?.profile) {
    out.push('Piazza CPU profile (--profile, the whole run: start-up, logins, every load), top 20 functions by self time:', formatProfile(piazzaReport.profile), '')
  }

  const notes: string[] = [
    `Machine: ${report.machine}.`,
    `Load: fleets ${o.fleets.join(', ')} at ${o.sizes.join(', ')} devices (one connection each, spread over the ten cities, live timestamps, QoS 1, one reading a message); ` +
      `${o.rounds} round(s) per system of ${o.seconds} s after ${o.warmupSeconds} s of warm-up, the systems alternating, each round going through the configurations in turn; window ${o.window}, ${o.rate ? `${o.rate}/s offered` : 'closed loop'}; ` +
      `${o.probes} latency probes a round; ${o.idle} idle connections for memory` +
      (o.pacedRate > 0 ? `; paced ${o.pacedRate}/s over the largest size for ${o.seconds} s` : '') +
      (o.overloadSeconds > 0 ? `; overload ${o.overloadRate}/s offered for ${o.overloadSeconds} s, window ${o.overloadWindow}.` : '.'),
    'Rates, CPU and drain are the median round; counts are totals. Absolute figures drift between machines (and here the generator,',
    'the system and influxd share the cores, with whatever else runs on the box): the ratios, measured in one run, are the point.',
  ]
  for (const s of report.systems) {
    const parts = [`${s.name}: stopped: ${s.stopped}`]
    const g = s.loads.map((r) => r.generator)
    if (g.length) {
      const cores = median(g.map((x) => x.cpuSeconds / (x.publishMs / 1000)))
      const errors = sum(g.map((x) => x.errors))
      const unacked = sum(g.map((x) => x.unacked)) + (s.overload?.generator.unacked ?? 0)
      const sample = g.flatMap((x) => x.errorSamples)[0]
      parts.push(`load generator ${fmt(cores * 100)} % of a core, ${errors} errors${unacked ? `, ${unacked} published but not acked within 30 s (stored may exceed acked)` : ''}${sample ? ` (${sample})` : ''}`)
    }
    const timeouts = sum(s.loads.map((r) => r.probes?.timeouts ?? 0))
    if (timeouts) parts.push(`${timeouts} probes not stored within ${PROBE_TIMEOUT_MS / 1000} s`)
    if (s.loads.some((r) => r.drainedByTimeout)) parts.push(`still draining after ${DRAIN_TIMEOUT_MS / 1000} s`)
    if (s.memory?.failed) parts.push(`${s.memory.failed} idle connections failed`)
    if (s.overload) {
      const og = s.overload.generator
      parts.push(
        `overload: ${s.overload.survived ? 'stayed up' : 'DID NOT SURVIVE'}, published ${fmt(og.published)}, acked ${fmt(og.acked)}, ` +
          `stored ${fmt(s.overload.storedFinal)}, ${og.errors} errors, drain ${fmt(s.overload.drainS, 1)} s`,
      )
    }
    if (s.failures.length) parts.push(`fell over at ${s.failures.length} configuration(s), each skipped from then on while a fresh start carried on with the others: ${s.failures.join('; ')}`)
    if (s.error) parts.push(`ERROR: ${s.error}`)
    if (s.complaints.length) parts.push(`printed ${s.complaints.length} warning/error lines, first: ${s.complaints[0]}`)
    notes.push(parts.join('; '))
  }
  return [...out, ...notes].join('\n')
}
