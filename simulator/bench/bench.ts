import { fork, spawn, type ChildProcess } from 'node:child_process'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { cpus, release, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import mqtt from 'mqtt'
import { createRegistry, openRegistryDatabase } from '../../devices/registry.ts'
import { startInfluxd, type Influxd } from '../../test/support/influxd.ts'
import type { BaselineMessage } from './baseline.ts'
import type { LoadCommand, LoadMessage, LoadOptions, LoadResult } from './load.ts'

/**
 * `piazza bench`: Piazza against a naive baseline (bare aedes + MQTT.js + the InfluxDB client's
 * defaults), both measured in the same run on the same machine against one private influxd, so
 * the ratios mean something even though absolute figures drift between machines.
 *
 * Every party runs in its own process so its CPU and memory can be read from /proc: influxd,
 * the system under test (Piazza's `start`, or baseline.ts) and the load generator (load.ts).
 * Every wait is bounded, and every child is killed at the end, on error and on Ctrl-C.
 */

export type SystemName = 'piazza' | 'baseline'

export interface BenchOptions {
  systems: SystemName[]
  /** Seconds of load per system. */
  seconds: number
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

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
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
const PROBE_DEVICE = 'bench-probe'
const PROBE_TIMEOUT_MS = 15_000
const PROBE_POLL_MS = 5
const DRAIN_TIMEOUT_MS = 60_000
/** The count is taken as final once it has not moved for this long. */
const DRAIN_STABLE_MS = 3_000
const START_TIMEOUT_MS = 60_000
const STOP_TIMEOUT_MS = 30_000
const HOUR = 3_600_000

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

  // Registered before start: scrypt costs ~25 ms a device, so they are hashed all at once and
  // the threadpool spreads them over the cores.
  options.log(`piazza: registering ${devices.length} devices`)
  const db = openRegistryDatabase(join(dataDir, 'registry.db'))
  const registry = createRegistry({ db })
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
  const timeout = 30_000 + options.devices.length * 100 // logins are hashed one by one on a busy box
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
  rssBeforeMb: number
  rssAfterMb: number
  perConnectionKb: number
}

export interface Latency {
  n: number
  timeouts: number
  ackP50: number
  ackP99: number
  storedP50: number
  storedP99: number
}

export interface RunFigure {
  generator: LoadResult
  ackedPerS: number
  /** Acknowledgements per full second of publishing: the steadiness of the rate. */
  perSecondMin: number
  perSecondMedian: number
  storedWhenDrained: number
  /** Seconds from the end of publishing to the last change of the stored count. */
  drainS: number
  drainedByTimeout: boolean
  landedPerS: number
  cpuS: { system: number; influxd: number; generator: number }
  peakRssMb: number
}

export interface SystemReport {
  name: SystemName
  memory?: MemoryFigure
  load?: RunFigure & { latency: Latency; storedFinal?: number }
  overload?: RunFigure & { rate: number; survived: boolean; storedFinal?: number }
  stopped: string
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Opens idle connections and reads the system's RSS before and after. */
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
  // A few logins first, so one-off growth (code paths compiled, the threadpool's allocations
  // for scrypt) is in the "before" figure rather than charged to the idle connections.
  const warmup = await connectGenerator(system, login(warm))
  await stopGenerator(warmup)
  await sleep(1000)
  const pid = system.process.pid!
  const rssBeforeMb = rssMb(pid)
  options.log(`${system.name}: opening ${devices.length} idle connections`)
  const idle = await connectGenerator(system, login(devices))
  await sleep(2000)
  const rssAfterMb = rssMb(pid)
  await stopGenerator(idle)
  if (idle.connectFailed) options.log(`${system.name}: ${idle.connectFailed} idle connections failed, e.g. ${idle.errorSamples[0]}`)
  await sleep(1000)
  return {
    connections: idle.connected,
    failed: idle.connectFailed,
    rssBeforeMb,
    rssAfterMb,
    perConnectionKb: idle.connected ? ((rssAfterMb - rssBeforeMb) * 1024) / idle.connected : NaN,
  }
}

/** Sequential probes while the load runs: publish one reading, poll InfluxDB until it is there. */
async function runProbes(system: SystemUnderTest, influxUrl: string, count: number, seconds: number, startedAt: number): Promise<Latency> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${system.port}`, {
    clientId: PROBE_DEVICE,
    username: PROBE_DEVICE,
    password: system.secret(PROBE_DEVICE),
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 30_000,
  })
  const acks: number[] = []
  const stored: number[] = []
  let timeouts = 0
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
      acks.push(performance.now() - sent)
      for (;;) {
        if (await probeStored(influxUrl, system.database, ts).catch(() => false)) {
          stored.push(performance.now() - sent)
          break
        }
        if (performance.now() - sent > PROBE_TIMEOUT_MS) {
          timeouts += 1
          stored.push(PROBE_TIMEOUT_MS)
          break
        }
        await sleep(PROBE_POLL_MS)
      }
    }
  } finally {
    await client.endAsync(true)
  }
  return { n: stored.length, timeouts, ackP50: percentile(acks, 50), ackP99: percentile(acks, 99), storedP50: percentile(stored, 50), storedP99: percentile(stored, 99) }
}

/**
 * One load run: connect, publish, then wait until the stored count stops moving (or reaches what
 * was acknowledged). CPU is read at 'go' and at the poll where the count last changed.
 */
async function runLoad(
  system: SystemUnderTest,
  influxd: { url: string; pid: number },
  load: LoadOptions,
  options: BenchOptions,
  during?: (goAt: number) => Promise<void>,
): Promise<RunFigure> {
  const generator = await connectGenerator(system, load)
  if (generator.connectFailed) options.log(`${system.name}: ${generator.connectFailed} load connections failed, e.g. ${generator.errorSamples[0]}`)
  const pid = system.process.pid!
  let peakRssMb = rssMb(pid)
  const rssTimer = setInterval(() => (peakRssMb = Math.max(peakRssMb, rssMb(pid) || 0)), 100)
  try {
    const cpuAtGo = { system: cpuSeconds(pid), influxd: cpuSeconds(influxd.pid) }
    const goAt = Date.now()
    const [generatorResult] = await Promise.all([runGenerator(generator, load), during?.(goAt)])
    const publishEnd = goAt + generatorResult.publishMs
    const range = [load.startTs, load.startTs + HOUR] as const

    // Drain: poll the count until it reaches what was published, or stops moving.
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
    const full = generatorResult.perSecond.slice(0, Math.floor(generatorResult.publishMs / 1000))
    const elapsedS = Math.max(lastChangeAt, publishEnd) - goAt
    return {
      generator: generatorResult,
      ackedPerS: generatorResult.acked / (generatorResult.publishMs / 1000),
      perSecondMin: Math.min(...full),
      perSecondMedian: percentile(full, 50),
      storedWhenDrained: count,
      drainS: Math.max(0, lastChangeAt - publishEnd) / 1000,
      drainedByTimeout,
      landedPerS: count / (elapsedS / 1000),
      cpuS: {
        system: cpuAtChange.system - cpuAtGo.system,
        influxd: cpuAtChange.influxd - cpuAtGo.influxd,
        generator: generatorResult.cpuSeconds,
      },
      peakRssMb,
    }
  } finally {
    clearInterval(rssTimer)
    await stopChild(generator.child, 5_000)
  }
}

async function measureSystem(name: SystemName, influxd: Influxd & { pid: number }, options: BenchOptions): Promise<SystemReport> {
  const loadDevices = deviceIds(options.connections, 'bench')
  const idleDevices = deviceIds(options.idle, 'bench')
  const warmDevices = deviceIds(WARM_DEVICES, 'bench-warm')
  const all = [...new Set([...loadDevices, ...idleDevices, ...warmDevices, PROBE_DEVICE])]
  const report: SystemReport = { name, stopped: 'not started', complaints: [] }
  let system: SystemUnderTest | undefined
  try {
    system = name === 'piazza' ? await startPiazza(influxd, all, options) : await startBaseline(influxd)
    const sut = system

    report.memory = await measureMemory(sut, idleDevices, warmDevices, options)
    options.log(`${name}: ${report.memory.perConnectionKb.toFixed(1)} KB per idle connection`)

    // Readings of different phases live in different hours, so each phase is counted on its own.
    const base = Date.now() - 3 * HOUR
    const common = { host: '127.0.0.1', port: sut.port, devices: loadDevices.map((id) => ({ id, secret: sut.secret(id) })), mode: 'load' as const, ackTimeoutMs: 15_000 }
    const load: LoadOptions = { ...common, seconds: options.seconds, window: options.window, rate: options.rate, startTs: base }
    options.log(`${name}: load, ${options.connections} connections, window ${options.window}, ${options.rate ? `${options.rate}/s offered` : 'closed loop'}, ${options.seconds} s`)
    let latency: Latency | undefined
    const run = await runLoad(sut, influxd, load, options, async (goAt) => {
      latency = await runProbes(sut, influxd.url, options.probes, options.seconds, goAt)
    })
    report.load = { ...run, latency: latency! }
    options.log(`${name}: acked ${run.generator.acked}, stored ${run.storedWhenDrained} (drain ${run.drainS.toFixed(1)} s)`)

    if (options.overloadSeconds > 0 && !exited(sut.process)) {
      const overload: LoadOptions = { ...common, seconds: options.overloadSeconds, window: options.overloadWindow, rate: options.overloadRate, startTs: base + HOUR }
      options.log(`${name}: overload, ${options.overloadRate}/s offered, window ${options.overloadWindow}, ${options.overloadSeconds} s`)
      try {
        const run = await runLoad(sut, influxd, overload, options)
        report.overload = { ...run, rate: options.overloadRate, survived: !exited(sut.process) }
        options.log(`${name}: acked ${run.generator.acked}, stored ${run.storedWhenDrained}, peak RSS ${run.peakRssMb.toFixed(0)} MB`)
      } catch (err) {
        options.log(`${name}: overload run failed: ${(err as Error).message}`)
        report.error = `overload: ${(err as Error).message}`
      }
    }
    if (report.overload) report.overload.survived = !exited(sut.process)

    // A graceful stop, then the final counts: what survives a normal shutdown.
    report.stopped = await sut.stop()
    if (report.load) report.load.storedFinal = await countReadings(influxd.url, sut.database, base, base + HOUR)
    if (report.overload) report.overload.storedFinal = await countReadings(influxd.url, sut.database, base + HOUR, base + 2 * HOUR)
  } catch (err) {
    report.error = (err as Error).message
    options.log(`${name}: FAILED: ${(err as Error).message}`)
    if (system) report.stopped = await system.stop()
  } finally {
    report.complaints = system?.complaints() ?? []
  }
  return report
}

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
    const withPid = Object.assign(influxd, { pid: influxdPid(influxd) })
    const systems: SystemReport[] = []
    for (const name of options.systems) systems.push(await measureSystem(name, withPid, options))
    const { log: _log, childEnv: _env, ...shown } = options
    return { machine, options: shown, systems }
  } finally {
    await influxd?.stop()
    killAll()
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

export function formatReport(report: BenchReport): string {
  const piazza = report.systems.find((s) => s.name === 'piazza')
  const baseline = report.systems.find((s) => s.name === 'baseline')
  type Row = [figure: string, get: (s: SystemReport) => number | undefined, digits: number, better: 'higher' | 'lower' | '']
  const per1000 = (s: SystemReport, cpu: 'system' | 'influxd') => (s.load ? (s.load.cpuS[cpu] / s.load.storedWhenDrained) * 1000 : undefined)
  const rows: Row[] = [
    ['acked readings/s (QoS 1, load)', (s) => s.load?.ackedPerS, 0, 'higher'],
    ['  slowest full second, acked/s', (s) => s.load?.perSecondMin, 0, 'higher'],
    ['stored readings/s, end to end', (s) => s.load?.landedPerS, 0, 'higher'],
    ['acked (load)', (s) => s.load?.generator.acked, 0, ''],
    ['stored once drained', (s) => s.load?.storedWhenDrained, 0, ''],
    ['stored after graceful stop', (s) => s.load?.storedFinal, 0, ''],
    ['lost = acked - stored', (s) => (s.load?.storedFinal === undefined ? undefined : s.load.generator.acked - s.load.storedFinal), 0, 'lower'],
    ['drain after load, s', (s) => s.load?.drainS, 1, 'lower'],
    ['publish-to-stored p50, ms', (s) => s.load?.latency.storedP50, 0, 'lower'],
    ['publish-to-stored p99, ms', (s) => s.load?.latency.storedP99, 0, 'lower'],
    ['publish-to-PUBACK p50, ms', (s) => s.load?.latency.ackP50, 1, 'lower'],
    ['publish-to-PUBACK p99, ms', (s) => s.load?.latency.ackP99, 1, 'lower'],
    ['RSS per idle connection, KB', (s) => s.memory?.perConnectionKb, 1, 'lower'],
    ['CPU s per 1,000 stored: system', (s) => per1000(s, 'system'), 4, 'lower'],
    ['CPU s per 1,000 stored: influxd', (s) => per1000(s, 'influxd'), 4, 'lower'],
    ['peak RSS under load, MB', (s) => s.load?.peakRssMb, 0, 'lower'],
    ['overload: acked readings/s', (s) => s.overload?.ackedPerS, 0, 'higher'],
    ['overload: lost = acked - stored', (s) => (s.overload?.storedFinal === undefined ? undefined : s.overload.generator.acked - s.overload.storedFinal), 0, 'lower'],
    ['overload: peak RSS, MB', (s) => s.overload?.peakRssMb, 0, 'lower'],
  ]
  const table: string[][] = [['figure', 'Piazza', 'baseline', 'Piazza/baseline', 'better']]
  for (const [figure, get, digits, better] of rows) {
    const p = piazza && get(piazza)
    const b = baseline && get(baseline)
    const ratio = better && p !== undefined && b !== undefined && Number.isFinite(p / b) && b !== 0 ? `${fmt(p / b, 2)}x` : ''
    table.push([figure, fmt(p, digits), fmt(b, digits), ratio, better ? `${better} is better` : ''])
  }
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)))
  const lines = table.map((r) => r.map((c, i) => (i === 0 || i === 4 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd())
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '))

  const o = report.options
  const notes: string[] = [
    '',
    `Machine: ${report.machine}.`,
    `Load: ${o.connections} connections, window ${o.window}, ${o.rate ? `${o.rate}/s offered` : 'closed loop'}, ${o.seconds} s; ${o.probes} latency probes; ${o.idle} idle connections for memory` +
      (o.overloadSeconds > 0 ? `; overload ${o.overloadRate}/s offered for ${o.overloadSeconds} s, window ${o.overloadWindow}.` : '.'),
    'Absolute figures drift between machines (and here generator, system and influxd share the cores): the ratios, measured in one run, are the point.',
  ]
  for (const s of report.systems) {
    const g = s.load?.generator
    const parts = [`${s.name}: stopped: ${s.stopped}`]
    if (g) parts.push(`load generator used ${fmt((g.cpuSeconds / (g.publishMs / 1000)) * 100)} % of a core, ${g.errors} errors${g.unacked ? `, ${g.unacked} never acked` : ''}${g.errorSamples.length ? ` (${g.errorSamples[0]})` : ''}`)
    if (s.load) parts.push(`latency probes: ${s.load.latency.n}${s.load.latency.timeouts ? `, ${s.load.latency.timeouts} not stored within ${PROBE_TIMEOUT_MS / 1000} s` : ''}`)
    if (s.load?.drainedByTimeout) parts.push(`still draining after ${DRAIN_TIMEOUT_MS / 1000} s`)
    if (s.memory?.failed) parts.push(`${s.memory.failed} idle connections failed`)
    if (s.overload) {
      const og = s.overload.generator
      parts.push(`overload: ${s.overload.survived ? 'stayed up' : 'DID NOT SURVIVE'}, published ${fmt(og.published)}, acked ${fmt(og.acked)}, stored ${fmt(s.overload.storedFinal)}, ${og.errors} errors, drain ${fmt(s.overload.drainS, 1)} s`)
    }
    if (s.error) parts.push(`ERROR: ${s.error}`)
    if (s.complaints.length) parts.push(`printed ${s.complaints.length} warning/error lines, first: ${s.complaints[0]}`)
    notes.push(parts.join('; '))
  }
  return [...lines, ...notes].join('\n')
}
