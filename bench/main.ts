import { pathToFileURL } from 'node:url'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import type { BenchOptions, SystemName } from './bench.ts'
import type { FleetName } from './fleet.ts'

/**
 * The benchmark, a program of its own beside the product (not a `piazza` sub-command):
 *
 *   npm run bench -- [options]                      (installs influxd and chromium if missing)
 *   node --import tsx bench/main.ts [options]
 *
 * It runs the product as a user would (`cli/piazza.mjs start` in a child process) and measures it
 * against a naive baseline, then the citizens' public API and the operators' dashboard.
 */

const PARTS = ['pipeline', 'public', 'mobility', 'dashboard'] as const
const FLEETS: readonly FleetName[] = ['mixed', 'air-quality']
/** 10,000 is allowed but slow (10,000 devices registered first): opt-in, and the only size above 1,000. */
const MAX_DEVICES = 10_000

const USAGE =
  'node --import tsx bench/main.ts [--quick] [--fleet mixed|air-quality] [--devices 50,1000,10000] [--seconds S] [--rounds N] [--warmup S] [--window W] [--rate R] ' +
  '[--idle N] [--probes N] [--paced-rate R] [--overload-seconds S] [--overload-rate R] [--overload-window W] [--systems piazza,baseline] [--parts pipeline,public,mobility,dashboard] [--profile] [--json] [--cluster]'
const SUMMARY = 'Benchmark Piazza against a naive aedes + InfluxDB-client pipeline on this machine (prints ratios)'

type OptionSpec = NonNullable<ParseArgsConfig['options']>[string] & { description: string }

const OPTIONS: Record<string, OptionSpec> = {
  quick: { type: 'boolean', description: 'a short smoke run: 50 devices, 1 round of 5 s after 2 s of warm-up, 100 idle, 3 s overload' },
  fleet: { type: 'string', description: 'mixed (every device type, realistic proportions) or air-quality (every device a station); default both, one after the other' },
  devices: { type: 'string', description: `fleet sizes, comma-separated; each device is its own connection (default 50,1000, quick 50; up to ${MAX_DEVICES.toLocaleString('en-US')}, slow)` },
  seconds: { type: 'string', description: 'seconds of load per system, fleet, size and round (default 15, quick 5)' },
  rounds: { type: 'string', description: 'load rounds per system, fleet and size, alternating between the systems; medians are reported (default 5, quick 1)' },
  warmup: { type: 'string', description: 'seconds of unmeasured load before each fleet and size (default 5, quick 2)' },
  window: { type: 'string', description: 'unacknowledged QoS 1 messages per connection (default 20)' },
  rate: { type: 'string', description: 'target offered readings/s instead of the closed-loop maximum' },
  idle: { type: 'string', description: 'idle connections for the memory figure (default 1000, quick 100; 10000 measures the target instead of projecting it)' },
  probes: { type: 'string', description: 'publish-to-stored latency probes during the load (default 20, quick 8)' },
  'paced-rate': {
    type: 'string',
    description: 'readings/s in all in the paced phase: every device of the largest size one message at a time at an even pace, as a real network sends, 0 to skip (default 20000: 10,000 devices every 0.5 s; quick 0)',
  },
  'overload-seconds': { type: 'string', description: 'seconds of overload per system, 0 to skip (default 5, quick 3)' },
  'overload-rate': { type: 'string', description: 'offered readings/s in the overload phase (default 100000)' },
  'overload-window': { type: 'string', description: 'unacknowledged messages per connection in the overload phase (default 500)' },
  systems: { type: 'string', description: 'which systems to run, comma-separated (default piazza,baseline)' },
  profile: { type: 'boolean', description: 'run Piazza under --cpu-prof, print the top 20 functions by self time and the share of GC, and keep the .cpuprofile (its path is printed)' },
  json: { type: 'boolean', description: 'also print the full report as JSON' },
  cluster: {
    type: 'boolean',
    description: 'instead of the parts: 1 node against 2 behind HAProxy with Redis and PostgreSQL (same fleet, --devices default 200; --seconds measured, default 6, after --warmup, default 2, of the same run), and the Redis hop of the feed',
  },
  parts: { type: 'string', description: `which benchmarks, comma-separated: ${PARTS.join(', ')} (default all)` },
  help: { type: 'boolean', short: 'h', description: 'print this help' },
}

/** A mistake in how the benchmark was called: printed as one line, exit code 2. */
class UsageError extends Error {}

function usage(): string {
  const lines = [`Usage: ${USAGE}`, '', SUMMARY, '', 'Options:']
  for (const [option, spec] of Object.entries(OPTIONS)) {
    const flag = `--${option}${spec.type === 'string' ? ' <value>' : ''}`
    lines.push(`  ${flag.padEnd(26)} ${spec.description}`)
  }
  return lines.join('\n')
}

function positive(name: string, raw: string | boolean | undefined, fallback: number, { integer = true, zero = false } = {}): number {
  if (raw === undefined) return fallback
  const value = Number(raw)
  const ok = typeof raw === 'string' && raw.trim() !== '' && Number.isFinite(value) && (!integer || Number.isInteger(value)) && (zero ? value >= 0 : value > 0)
  if (!ok) throw new UsageError(`--${name} must be a ${integer ? 'whole ' : ''}number ${zero ? '≥ 0' : '> 0'}, got '${raw}'`)
  return value
}

type Values = Record<string, string | boolean | undefined>

function fleets(raw: string | boolean | undefined): FleetName[] {
  if (raw === undefined) return [...FLEETS]
  const list = String(raw).split(',').map((f) => f.trim())
  for (const f of list) if (!(FLEETS as readonly string[]).includes(f)) throw new UsageError(`--fleet takes ${FLEETS.join(' or ')}, got '${f}'`)
  return [...new Set(list)] as FleetName[]
}

function sizes(raw: string | boolean | undefined, fallback: string): number[] {
  const list = String(raw ?? fallback).split(',').map((s) => s.trim())
  const out = list.map((s) => {
    const n = Number(s)
    if (s === '' || !Number.isInteger(n) || n < 1 || n > MAX_DEVICES) throw new UsageError(`--devices takes whole numbers from 1 to ${MAX_DEVICES}, got '${s}'`)
    return n
  })
  return [...new Set(out)].sort((a, b) => a - b)
}

function parse(argv: string[]): Values {
  const options = Object.fromEntries(Object.entries(OPTIONS).map(([key, { description: _description, ...spec }]) => [key, spec]))
  try {
    return parseArgs({ args: argv, options, allowPositionals: false, strict: true }).values as Values
  } catch (err) {
    const code = (err as { code?: string }).code
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) throw new UsageError((err as Error).message)
    throw err
  }
}

async function run(values: Values): Promise<number> {
  const quick = values.quick === true
  const systems = String(values.systems ?? 'piazza,baseline').split(',').map((s) => s.trim()) as SystemName[]
  for (const s of systems) if (s !== 'piazza' && s !== 'baseline') throw new UsageError(`--systems takes piazza and/or baseline, got '${s}'`)
  const options: BenchOptions = {
    systems: [...new Set(systems)],
    seconds: positive('seconds', values.seconds, quick ? 5 : 15, { integer: false }),
    rounds: positive('rounds', values.rounds, quick ? 1 : 5),
    warmupSeconds: positive('warmup', values.warmup, quick ? 2 : 5, { integer: false, zero: true }),
    fleets: fleets(values.fleet),
    sizes: sizes(values.devices, quick ? '50' : '50,1000'),
    profile: values.profile === true,
    window: positive('window', values.window, 20),
    rate: values.rate === undefined ? undefined : positive('rate', values.rate, 0),
    idle: positive('idle', values.idle, quick ? 100 : 1000),
    probes: positive('probes', values.probes, quick ? 8 : 20, { zero: true }),
    pacedRate: positive('paced-rate', values['paced-rate'], quick ? 0 : 20_000, { zero: true }),
    overloadSeconds: positive('overload-seconds', values['overload-seconds'], quick ? 3 : 5, { integer: false, zero: true }),
    overloadRate: positive('overload-rate', values['overload-rate'], 100_000),
    overloadWindow: positive('overload-window', values['overload-window'], 500),
    // The Piazza child gets a clean environment plus the bench's settings: a DATA_DIR or
    // INFLUX_URL set for the real deployment must not leak into the benchmark.
    childEnv: Object.fromEntries(['PATH', 'HOME', 'TMPDIR', 'LANG'].flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : []))),
    log: (line) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${line}`),
  }
  if (options.window > 65_000 || options.overloadWindow > 65_000) throw new UsageError('--window and --overload-window must be at most 65000 (MQTT message ids)')
  if (values.cluster === true) {
    console.log('\nCluster mode: 1 node against 2 behind HAProxy (Redis, PostgreSQL), against a single node on embedded defaults, same fleet, same run')
    const { benchCluster, formatClusterBench } = await import('./cluster.ts')
    const result = await benchCluster({
      devices: sizes(values.devices, quick ? '50' : '200')[0]!,
      seconds: positive('seconds', values.seconds, quick ? 4 : 6),
      warmupSeconds: positive('warmup', values.warmup, 2, { zero: true }),
      window: options.window,
      feedEvents: quick ? 5000 : 20_000,
      childEnv: options.childEnv,
      log: options.log,
    })
    console.log(formatClusterBench(result))
    if (values.json) console.log(JSON.stringify(result, null, 2))
    return 0
  }
  const parts = String(values.parts ?? PARTS.join(',')).split(',').map((p) => p.trim())
  for (const p of parts) if (!(PARTS as readonly string[]).includes(p)) throw new UsageError(`--parts takes ${PARTS.join(', ')}, got '${p}'`)
  let failed = false
  // Each part is loaded when it runs, so --help and a mistyped option answer at once.
  if (parts.includes('pipeline')) {
    const { formatReport, runBench } = await import('./bench.ts')
    const report = await runBench(options)
    console.log(formatReport(report))
    if (values.json) console.log(JSON.stringify(report, null, 2))
    failed ||= report.systems.some((s) => s.error)
  }
  if (parts.includes('public')) {
    console.log('\nCitizens\' public API: snapshots against computing from storage per request, same run')
    const { benchPublic, formatPublicBench } = await import('./public.ts')
    const result = await benchPublic({ seconds: quick ? 3 : 5, connections: 20, log: options.log })
    console.log(formatPublicBench(result))
  }
  if (parts.includes('mobility')) {
    console.log('\nGTFS-Realtime for 2,000 buses (and a static GTFS of 115,200 stop_times rows): snapshot against per request, worker against event loop, same run')
    const { benchMobility } = await import('./mobility.ts')
    const { formatPublicBench } = await import('./public.ts')
    console.log(formatPublicBench(await benchMobility({ vehicles: 2000, seconds: quick ? 3 : 5, parses: quick ? 1 : 3, connections: 20, log: options.log })))
  }
  if (parts.includes('dashboard')) {
    console.log("\nOperators' dashboard in headless Chromium: updates batched per animation frame against React state per message, and the virtualised device list against every row in the page, same run")
    const { benchDashboard, DASHBOARD_MODES, formatDashboardBench } = await import('./dashboard.ts')
    const modes = [...DASHBOARD_MODES, 'full-list' as const]
    const rows = await benchDashboard({ devices: 5000, seconds: quick ? 5 : 15, warmupSeconds: quick ? 2 : 5, rounds: quick ? 1 : 2, modes, log: options.log })
    console.log(formatDashboardBench(rows))
  }
  return failed ? 1 : 0
}

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(usage())
    return 0
  }
  try {
    return await run(parse(argv))
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`bench: ${err.message}`)
      return 2
    }
    throw err
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = await main(process.argv.slice(2))
