import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { cpus, release, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import mqtt from 'mqtt'
import { createRegistry, openRegistryDatabase } from '../devices/registry.ts'
import { loadOrCreateSecretKey } from '../devices/secret-key.ts'
import { startInfluxd, type Influxd } from '../testkit/influxd.ts'
import type { BaselineMessage } from './baseline.ts'
import type { LoadCommand, LoadMessage, LoadOptions, LoadResult } from './load.ts'

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
  /** Load rounds per system, alternating between the systems. */
  rounds: number
  connections: number
  window: number
  /** Target offered readings/s for the main load; undefined = closed-loop maximum. */
  rate?: number
  /** Idle connections opened for the memory figure. */
  idle: number
  /** Sequential latency probes during the load. */
  probes: number
  /** Seconds of overload per system; 0 skips it. */
  overloadSeconds: number
  overloadRate: number
  overloadWindow: number
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
const WARM_DEVICES = 8
const WARMUP_SECONDS = 5
const PROBE_DEVICE = 'bench-probe'
const PROBE_TIMEOUT_MS = 15_000
const PROBE_POLL_MS = 5
const DRAIN_TIMEOUT_MS = 60_000
/** The count is taken as final once it has not moved for this long. */
const DRAIN_STABLE_MS = 3_000
const START_TIMEOUT_MS = 60_000
const STOP_TIMEOUT_MS = 30_000
const HOUR = 3_600_000

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
async function stopChild(child: ChildProcess, timeoutMs = STOP_TIMEOUT_MS): Promise<string> {
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

function nextMessage<T>(child: ChildProcess, what: string, timeoutMs: number, accept: (m: T) => boolean = () => true): Promise<T> {
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

/** User + system CPU seconds of a process, all its threads. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after "(comm)": state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK
  } catch {
    return NaN
  }
}

function rssMb(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) / 1024 : NaN
  } catch {
    return NaN
  }
}

/**
 * RSS once it has stopped moving (2 s within 1 MB, at most 15 s): right after start-up or a burst
 * of logins V8 is still collecting and shrinking, which would swamp a per-connection figure.
 */
async function settledRssMb(pid: number): Promise<number> {
  const samples: number[] = []
  const deadline = Date.now() + 15_000
  for (;;) {
    samples.push(rssMb(pid))
    const recent = samples.slice(-9)
    if (recent.length === 9 && Math.max(...recent) - Math.min(...recent) < 1) break
    if (Date.now() > deadline) break
    await sleep(250)
  }
  return samples.at(-1)!
}

/** CPU seconds the whole machine spent busy (all processes), from /proc/stat. */
function machineBusySeconds(): number {
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

/** Readings in [from, to) counted by their pm25 field (probes carry no pm25, so they are not counted). */
async function countReadings(url: string, database: string, from: number, to: number): Promise<number> {
  const body = await influxQuery(url, database, `SELECT count("pm25") FROM "air-quality" WHERE time >= ${from}ms AND time < ${to}ms`)
  const value = body.results?.[0]?.series?.[0]?.values[0]?.[1]
  return typeof value === 'number' ? value : 0 // no series yet, or no database yet
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
  database: string
  secret(deviceId: string): string
  /** Warnings and errors it printed, for the report. */
  complaints(): string[]
  stop(): Promise<string>
}

function deviceIds(count: number, prefix: string): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(4, '0')}`)
}

async function startPiazza(influxd: Influxd, devices: string[], options: BenchOptions): Promise<SystemUnderTest> {
  const dataDir = mkdtempSync(join(tmpdir(), 'piazza-bench-'))
  tempDirs.push(dataDir)
  const database = `piazza_bench_${Date.now()}`

  options.log(`piazza: registering ${devices.length} devices`)
  const db = openRegistryDatabase(join(dataDir, 'registry.db'))
  const registry = createRegistry({ db, secretKey: loadOrCreateSecretKey(dataDir) })
  const secrets = new Map<string, string>()
  try {
    await Promise.all(
      devices.map(async (id) => {
        const { secret } = await registry.add({ id, type: 'air-quality', city: 'firenze', name: `Bench ${id}` }, 'bench')
        secrets.set(id, secret)
      }),
    )
  } finally {
    registry.close()
    db.close()
  }

  const child = track(
    spawn(process.execPath, [PIAZZA_CLI, 'start'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...options.childEnv,
        DATA_DIR: dataDir,
        INFLUX_URL: influxd.url,
        INFLUX_DB: database,
        BIND_HOST: '127.0.0.1',
        MQTT_PORT: '0',
        MQTT_WS_PORT: '0',
        HTTP_PORT: '0',
        LOG_LEVEL: 'warn',
      },
    }),
  )
  let stdout = ''
  let stderrTail = ''
  const complaints: string[] = []
  child.stdout!.on('data', (chunk: Buffer) => (stdout = (stdout + chunk.toString()).slice(-10_000)))
  child.stderr!.on('data', (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString()).slice(-4000)
    for (const line of chunk.toString().split('\n')) if (line.trim()) complaints.push(line.slice(0, 400))
  })

  options.log('piazza: starting `piazza start`')
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      clearInterval(poll)
      reject(new Error(`piazza start printed no 'Piazza is running.' within ${START_TIMEOUT_MS / 1000} s:\n${stdout}\n${stderrTail}`))
    }, START_TIMEOUT_MS)
    const poll = setInterval(() => {
      const match = /Piazza is running\.[\s\S]*?mqtt:\/\/[^\s:]+:(\d+)/.exec(stdout)
      if (match) {
        clearTimeout(timer)
        clearInterval(poll)
        resolve(Number(match[1]))
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
    port,
    database,
    secret: (id) => secrets.get(id) ?? '',
    complaints: () => complaints,
    stop: () => stopChild(child),
  }
}

async function startBaseline(influxd: Influxd): Promise<SystemUnderTest> {
  const database = `baseline_bench_${Date.now()}`
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
  /** After WARM_DEVICES first logins, closed again. */
  rssAfterFirstLoginsMb: number
  rssWithIdleMb: number
  /** (with idle connections - at rest) / connections. */
  perConnectionKb: number
}

/** Publish-to-PUBACK and publish-to-stored times of the latency probes, ms. */
export interface Probes {
  ackMs: number[]
  storedMs: number[]
  timeouts: number
}

export interface RunFigure {
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
  /** Cores used by processes outside the benchmark during the run: high means the figures are disturbed. */
  otherCores: number
  peakRssMb: number
  probes?: Probes
}

export interface SystemReport {
  name: SystemName
  memory?: MemoryFigure
  /** One per round. */
  loads: RunFigure[]
  overload?: RunFigure & { rate: number; survived: boolean }
  stopped: string
  /** Warning and error lines the system printed. */
  complaints: string[]
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
 * RSS of the system at rest, after a few first logins (closed again), and with `devices` idle
 * connections open; per connection = (with connections - at rest) / count. The first logins are
 * shown apart because they can cost a lot once (a slow password hash such as scrypt takes
 * 16 MiB a hash on each thread, which the allocator keeps for a while and trims later), which
 * makes RSS deltas taken after them meaningless (they came out negative).
 */
async function measureMemory(system: SystemUnderTest, devices: string[], warm: string[], options: BenchOptions): Promise<MemoryFigure> {
  const login = (ids: string[]): LoadOptions => ({
    host: '127.0.0.1',
    port: system.port,
    devices: ids.map((id) => ({ id, secret: system.secret(id) })),
    mode: 'idle',
    seconds: 0,
    window: 1,
    startTs: 0,
    ackTimeoutMs: 0,
  })
  const pid = system.process.pid!
  const rssAtRestMb = await settledRssMb(pid)
  const warmup = await connectGenerator(system, login(warm))
  const rssAfterFirstLoginsMb = await settledRssMb(pid)
  await stopGenerator(warmup)
  options.log(`${system.name}: opening ${devices.length} idle connections`)
  const idle = await connectGenerator(system, login(devices))
  const rssWithIdleMb = await settledRssMb(pid)
  await stopGenerator(idle)
  if (idle.connectFailed) options.log(`${system.name}: ${idle.connectFailed} idle connections failed, e.g. ${idle.errorSamples[0]}`)
  const perConnectionKb = idle.connected ? ((rssWithIdleMb - rssAtRestMb) * 1024) / idle.connected : NaN
  options.log(`${system.name}: RSS ${rssAtRestMb.toFixed(0)} MB at rest, ${rssAfterFirstLoginsMb.toFixed(0)} MB after ${warm.length} logins, ${rssWithIdleMb.toFixed(0)} MB with ${idle.connected} idle connections`)
  await sleep(1000)
  return { connections: idle.connected, failed: idle.connectFailed, rssAtRestMb, rssAfterFirstLoginsMb, rssWithIdleMb, perConnectionKb }
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

/**
 * One load run: connect, publish (with latency probes alongside, if asked), then wait until the
 * stored count reaches what was published or stops moving. CPU is read at 'go' and at the poll
 * where the count last changed.
 */
async function runLoad(system: SystemUnderTest, influxd: { url: string; pid: number }, load: LoadOptions, probes: number, options: BenchOptions): Promise<RunFigure> {
  const generator = await connectGenerator(system, load)
  if (generator.connectFailed) options.log(`${system.name}: ${generator.connectFailed} load connections failed, e.g. ${generator.errorSamples[0]}`)
  const pid = system.process.pid!
  let peakRssMb = rssMb(pid)
  const rssTimer = setInterval(() => (peakRssMb = Math.max(peakRssMb, rssMb(pid) || 0)), 100)
  try {
    const cpuAtGo = { system: cpuSeconds(pid), influxd: cpuSeconds(influxd.pid), machine: machineBusySeconds(), self: process.cpuUsage() }
    const goAt = Date.now()
    const [generatorResult, probeResult] = await Promise.all([
      runGenerator(generator, load),
      probes > 0 ? runProbes(system, influxd.url, probes, load.seconds, goAt) : undefined,
    ])
    const publishEnd = goAt + generatorResult.publishMs
    const self = process.cpuUsage(cpuAtGo.self)
    const ours = cpuSeconds(pid) - cpuAtGo.system + cpuSeconds(influxd.pid) - cpuAtGo.influxd + generatorResult.cpuSeconds + (self.user + self.system) / 1e6
    const otherCores = (machineBusySeconds() - cpuAtGo.machine - ours) / ((Date.now() - goAt) / 1000)
    const range: [number, number] = [load.startTs, load.startTs + HOUR]

    let count = -1
    let lastChangeAt = Date.now()
    let cpuAtChange = { system: cpuSeconds(pid), influxd: cpuSeconds(influxd.pid) }
    const deadline = Date.now() + DRAIN_TIMEOUT_MS
    let drainedByTimeout = false
    for (;;) {
      const now = await countReadings(influxd.url, system.database, ...range).catch(() => count)
      const cpu = { system: cpuSeconds(pid), influxd: cpuSeconds(influxd.pid) }
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
    // Full seconds of publishing, the first left out: it holds the JIT warm-up of every process.
    const full = generatorResult.perSecond.slice(1, Math.floor(generatorResult.publishMs / 1000))
    const figure: RunFigure = {
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
      otherCores: Math.max(0, otherCores),
      peakRssMb,
      probes: probeResult,
    }
    options.log(
      `${system.name}: acked ${generatorResult.acked} (${Math.round(figure.ackedPerS)}/s), stored ${count}, drain ${figure.drainS.toFixed(1)} s, ` +
        `peak RSS ${peakRssMb.toFixed(0)} MB, other processes ${figure.otherCores.toFixed(2)} cores`,
    )
    return figure
  } finally {
    clearInterval(rssTimer)
    await stopChild(generator.child, 5_000)
  }
}

interface Entry {
  report: SystemReport
  system?: SystemUnderTest
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

    const loadDevices = deviceIds(options.connections, 'bench')
    const idleDevices = deviceIds(options.idle, 'bench')
    const warmDevices = deviceIds(WARM_DEVICES, 'bench-warm')
    const allDevices = [...new Set([...loadDevices, ...idleDevices, ...warmDevices, PROBE_DEVICE])]
    // Each phase's readings carry timestamps in their own hour, in the past (allowed up to the retention).
    const base = Date.now() - (options.rounds + 3) * HOUR

    const entries: Entry[] = []
    for (const name of options.systems) {
      const entry: Entry = { report: { name, loads: [], stopped: 'not started', complaints: [] } }
      entries.push(entry)
      try {
        entry.system = name === 'piazza' ? await startPiazza(db, allDevices, options) : await startBaseline(db)
      } catch (err) {
        entry.report.error = `start: ${(err as Error).message}`
        options.log(`${name}: FAILED to start: ${(err as Error).message}`)
      }
    }
    /** Runs one phase on a system that is still fine; a failure ends that system's phases. */
    const phase = async (entry: Entry, what: string, fn: (sut: SystemUnderTest, report: SystemReport) => Promise<void>) => {
      const { system, report } = entry
      if (!system || report.error) return
      if (exited(system.process)) {
        report.error = `${what}: the process had exited (${system.process.exitCode ?? system.process.signalCode})`
        return
      }
      try {
        await fn(system, report)
      } catch (err) {
        report.error = `${what}: ${(err as Error).message}`
        options.log(`${report.name}: ${what} FAILED: ${(err as Error).message}`)
      }
    }
    const loadOptions = (sut: SystemUnderTest, seconds: number, window: number, rate: number | undefined, startTs: number): LoadOptions => ({
      host: '127.0.0.1',
      port: sut.port,
      devices: loadDevices.map((id) => ({ id, secret: sut.secret(id) })),
      mode: 'load',
      seconds,
      window,
      rate,
      startTs,
      ackTimeoutMs: 30_000,
    })

    for (const entry of entries) {
      await phase(entry, 'memory', async (sut, report) => {
        report.memory = await measureMemory(sut, idleDevices, warmDevices, options)
      })
    }
    // Unmeasured warm-up, so the first round does not carry the JIT's ramp (Piazza's took ~4 s).
    for (const entry of entries) {
      await phase(entry, 'warm-up', async (sut) => {
        options.log(`${sut.name}: warm-up, ${WARMUP_SECONDS} s of load, not measured`)
        const warm = loadOptions(sut, WARMUP_SECONDS, options.window, options.rate, base + (options.rounds + 1) * HOUR)
        const generator = await connectGenerator(sut, warm)
        await runGenerator(generator, warm)
        await stopChild(generator.child, 5_000)
      })
    }
    for (let round = 0; round < options.rounds; round++) {
      for (const entry of round % 2 ? [...entries].reverse() : entries) {
        await phase(entry, `load round ${round + 1}`, async (sut, report) => {
          options.log(`${sut.name}: load round ${round + 1}/${options.rounds}: ${options.connections} connections, window ${options.window}, ${options.rate ? `${options.rate}/s offered` : 'closed loop'}, ${options.seconds} s`)
          const load = loadOptions(sut, options.seconds, options.window, options.rate, base + round * HOUR)
          report.loads.push(await runLoad(sut, db, load, options.probes, options))
        })
      }
    }
    if (options.overloadSeconds > 0) {
      for (const entry of entries) {
        await phase(entry, 'overload', async (sut, report) => {
          options.log(`${sut.name}: overload: ${options.overloadRate}/s offered, window ${options.overloadWindow}, ${options.overloadSeconds} s`)
          const load = loadOptions(sut, options.overloadSeconds, options.overloadWindow, options.overloadRate, base + options.rounds * HOUR)
          const run = await runLoad(sut, db, load, 0, options)
          report.overload = { ...run, rate: options.overloadRate, survived: !exited(sut.process) }
        })
      }
    }

    // A graceful stop, then the final counts: what survives a normal shutdown.
    for (const { system, report } of entries) {
      if (!system) continue
      report.stopped = await system.stop()
      report.complaints = system.complaints()
      if (report.overload) report.overload.survived &&= !report.stopped.startsWith('had already exited')
      for (const run of [...report.loads, ...(report.overload ? [report.overload] : [])]) {
        run.storedFinal = await countReadings(db.url, system.database, ...run.range).catch(() => undefined)
      }
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

/** Rates, CPU and drain: the median round. Counts: totals over the rounds. Latency: all probes pooled. */
function summary(s: SystemReport) {
  const loads = s.loads
  const some = loads.length > 0
  const acked = sum(loads.map((r) => r.generator.acked))
  const final = some && loads.every((r) => r.storedFinal !== undefined) ? sum(loads.map((r) => r.storedFinal!)) : undefined
  const ackMs = loads.flatMap((r) => r.probes?.ackMs ?? [])
  const storedMs = loads.flatMap((r) => r.probes?.storedMs ?? [])
  const o = s.overload
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
    rssAtRest: s.memory?.rssAtRestMb,
    firstLogins: s.memory ? s.memory.rssAfterFirstLoginsMb - s.memory.rssAtRestMb : undefined,
    withIdle: s.memory?.rssWithIdleMb,
    perConnectionKb: s.memory?.perConnectionKb,
    cpuSystem: some ? median(loads.map((r) => (r.cpuS.system / r.storedWhenDrained) * 1000)) : undefined,
    cpuInfluxd: some ? median(loads.map((r) => (r.cpuS.influxd / r.storedWhenDrained) * 1000)) : undefined,
    peakRss: some ? Math.max(...loads.map((r) => r.peakRssMb)) : undefined,
    otherCores: some ? median(loads.map((r) => r.otherCores)) : undefined,
    overloadAckedPerS: o?.ackedPerS,
    overloadLost: o?.storedFinal === undefined ? undefined : o.generator.acked - o.storedFinal,
    overloadPeakRss: o?.peakRssMb,
    probes: storedMs.length,
  }
}

export function formatReport(report: BenchReport): string {
  type Summary = ReturnType<typeof summary>
  const piazzaReport = report.systems.find((s) => s.name === 'piazza')
  const baselineReport = report.systems.find((s) => s.name === 'baseline')
  const piazza = piazzaReport && summary(piazzaReport)
  const baseline = baselineReport && summary(baselineReport)
  const n = Math.max(piazza?.probes ?? 0, baseline?.probes ?? 0)
  type Row = [figure: string, key: keyof Summary, digits: number, better: 'higher' | 'lower' | '']
  const rows: Row[] = [
    ['acked readings/s (QoS 1)', 'ackedPerS', 0, 'higher'],
    ['  best round, acked/s', 'bestAckedPerS', 0, 'higher'],
    ['  slowest second (after the 1st), acked/s', 'slowestSecond', 0, 'higher'],
    ['stored readings/s, end to end', 'landedPerS', 0, 'higher'],
    ['acked, all rounds', 'acked', 0, ''],
    ['stored once drained', 'stored', 0, ''],
    ['stored after graceful stop', 'storedFinal', 0, ''],
    ['lost = acked - stored', 'lost', 0, 'lower'],
    ['drain after load, s', 'drainS', 1, 'lower'],
    [`publish-to-stored p50, ms (${n} probes)`, 'storedP50', 0, 'lower'],
    ['publish-to-stored p99, ms', 'storedP99', 0, 'lower'],
    ['publish-to-PUBACK p50, ms', 'ackP50', 1, 'lower'],
    ['publish-to-PUBACK p99, ms', 'ackP99', 1, 'lower'],
    ['RSS at rest, MB', 'rssAtRest', 0, 'lower'],
    [`RSS growth from ${WARM_DEVICES} first logins, MB`, 'firstLogins', 1, 'lower'],
    [`RSS with ${report.options.idle} idle connections, MB`, 'withIdle', 0, 'lower'],
    ['  per idle connection (over RSS at rest), KB', 'perConnectionKb', 1, 'lower'],
    ['CPU s per 1,000 stored: system', 'cpuSystem', 4, 'lower'],
    ['CPU s per 1,000 stored: influxd', 'cpuInfluxd', 4, 'lower'],
    ['peak RSS under load, MB', 'peakRss', 0, 'lower'],
    ['other processes on the box, cores', 'otherCores', 2, ''],
    ['overload: acked readings/s', 'overloadAckedPerS', 0, 'higher'],
    ['overload: lost = acked - stored', 'overloadLost', 0, 'lower'],
    ['overload: peak RSS, MB', 'overloadPeakRss', 0, 'lower'],
  ]
  const table: string[][] = [['figure', 'Piazza', 'baseline', 'Piazza/baseline', 'better']]
  for (const [figure, key, digits, better] of rows) {
    const p = piazza?.[key]
    const b = baseline?.[key]
    const ratio = better && p !== undefined && b !== undefined && b !== 0 && Number.isFinite(p / b) ? `${fmt(p / b, 2)}x` : ''
    table.push([figure, fmt(p, digits), fmt(b, digits), ratio, better ? `${better} is better` : ''])
  }
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)))
  const lines = table.map((r) => r.map((c, i) => (i === 0 || i === 4 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd())
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '))

  const o = report.options
  const notes: string[] = [
    '',
    `Machine: ${report.machine}.`,
    `Load: ${o.rounds} round(s) per system, alternating, of ${o.seconds} s, ${o.connections} connections, window ${o.window}, ${o.rate ? `${o.rate}/s offered` : 'closed loop'}; ` +
      `${o.probes} latency probes a round; ${o.idle} idle connections for memory` +
      (o.overloadSeconds > 0 ? `; overload ${o.overloadRate}/s offered for ${o.overloadSeconds} s, window ${o.overloadWindow}.` : '.'),
    'Rates, CPU and drain are the median round; counts are totals. Absolute figures drift between machines (and here the generator,',
    'the system and influxd share the cores, with whatever else runs on the box): the ratios, measured in one run, are the point.',
  ]
  for (const s of report.systems) {
    const parts = [`${s.name}: stopped: ${s.stopped}`]
    if (s.loads.length) parts.push(`acked/s by round ${s.loads.map((r) => fmt(r.ackedPerS)).join(' / ')}`)
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
    if (s.error) parts.push(`ERROR: ${s.error}`)
    if (s.complaints.length) parts.push(`printed ${s.complaints.length} warning/error lines, first: ${s.complaints[0]}`)
    notes.push(parts.join('; '))
  }
  return [...lines, ...notes].join('\n')
}
