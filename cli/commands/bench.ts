import { UsageError, type Command } from '../command.ts'
import { formatReport, runBench, type BenchOptions, type SystemName } from '../../bench/bench.ts'
import { benchDashboard, formatDashboardBench } from '../../bench/dashboard.ts'
import { benchPublic, formatPublicBench } from '../../bench/public.ts'

const PARTS = ['pipeline', 'public', 'dashboard'] as const

function positive(name: string, raw: string | boolean | undefined, fallback: number, { integer = true, zero = false } = {}): number {
  if (raw === undefined) return fallback
  const value = Number(raw)
  const ok = typeof raw === 'string' && raw.trim() !== '' && Number.isFinite(value) && (!integer || Number.isInteger(value)) && (zero ? value >= 0 : value > 0)
  if (!ok) throw new UsageError(`--${name} must be a ${integer ? 'whole ' : ''}number ${zero ? '≥ 0' : '> 0'}, got '${raw}'`)
  return value
}

export const benchCommand: Command = {
  summary: 'Benchmark Piazza against a naive aedes + InfluxDB-client pipeline on this machine (prints ratios)',
  usage: 'bench [--quick] [--seconds S] [--rounds N] [--connections N] [--window W] [--rate R] [--idle N] [--probes N] [--overload-seconds S] [--systems piazza,baseline] [--json]',
  options: {
    quick: { type: 'boolean', description: 'a short smoke run: 1 round of 5 s, 20 connections, 200 idle, 3 s overload' },
    seconds: { type: 'string', description: 'seconds of load per system and round (default 15, quick 5)' },
    rounds: { type: 'string', description: 'load rounds per system, alternating between the systems; medians are reported (default 3, quick 1)' },
    connections: { type: 'string', description: 'publishing connections (default 100, quick 20)' },
    window: { type: 'string', description: 'unacknowledged QoS 1 messages per connection (default 20)' },
    rate: { type: 'string', description: 'target offered readings/s instead of the closed-loop maximum' },
    idle: { type: 'string', description: 'idle connections for the memory figure (default 1000, quick 200)' },
    probes: { type: 'string', description: 'publish-to-stored latency probes during the load (default 20, quick 8)' },
    'overload-seconds': { type: 'string', description: 'seconds of overload per system, 0 to skip (default 5, quick 3)' },
    'overload-rate': { type: 'string', description: 'offered readings/s in the overload phase (default 100000)' },
    'overload-window': { type: 'string', description: 'unacknowledged messages per connection in the overload phase (default 500)' },
    systems: { type: 'string', description: 'which systems to run, comma-separated (default piazza,baseline)' },
    json: { type: 'boolean', description: 'also print the full report as JSON' },
    parts: { type: 'string', description: `which benchmarks, comma-separated: ${PARTS.join(', ')} (default all)` },
  },
  async run({ values }) {
    const quick = values.quick === true
    const systems = String(values.systems ?? 'piazza,baseline').split(',').map((s) => s.trim()) as SystemName[]
    for (const s of systems) if (s !== 'piazza' && s !== 'baseline') throw new UsageError(`--systems takes piazza and/or baseline, got '${s}'`)
    const options: BenchOptions = {
      systems: [...new Set(systems)],
      seconds: positive('seconds', values.seconds, quick ? 5 : 15, { integer: false }),
      rounds: positive('rounds', values.rounds, quick ? 1 : 3),
      connections: positive('connections', values.connections, quick ? 20 : 100),
      window: positive('window', values.window, 20),
      rate: values.rate === undefined ? undefined : positive('rate', values.rate, 0),
      idle: positive('idle', values.idle, quick ? 200 : 1000),
      probes: positive('probes', values.probes, quick ? 8 : 20, { zero: true }),
      overloadSeconds: positive('overload-seconds', values['overload-seconds'], quick ? 3 : 5, { integer: false, zero: true }),
      overloadRate: positive('overload-rate', values['overload-rate'], 100_000),
      overloadWindow: positive('overload-window', values['overload-window'], 500),
      // The Piazza child gets a clean environment plus the bench's settings: a DATA_DIR or
      // INFLUX_URL set for the real deployment must not leak into the benchmark.
      childEnv: Object.fromEntries(['PATH', 'HOME', 'TMPDIR', 'LANG'].flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : []))),
      log: (line) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${line}`),
    }
    if (options.window > 65_000 || options.overloadWindow > 65_000) throw new UsageError('--window and --overload-window must be at most 65000 (MQTT message ids)')
    const parts = String(values.parts ?? PARTS.join(',')).split(',').map((p) => p.trim())
    for (const p of parts) if (!(PARTS as readonly string[]).includes(p)) throw new UsageError(`--parts takes ${PARTS.join(', ')}, got '${p}'`)
    let failed = false
    if (parts.includes('pipeline')) {
      const report = await runBench(options)
      console.log(formatReport(report))
      if (values.json) console.log(JSON.stringify(report, null, 2))
      failed ||= report.systems.some((s) => s.error)
    }
    if (parts.includes('public')) {
      console.log('\nCitizens\' public API: snapshots against computing from storage per request, same run')
      const result = await benchPublic({ seconds: quick ? 3 : 5, connections: 20, log: options.log })
      console.log(formatPublicBench(result))
    }
    if (parts.includes('dashboard')) {
      console.log('\nOperators\' dashboard in headless Chromium: updates batched per animation frame against React state per message, same run')
      const rows = await benchDashboard({ devices: 5000, seconds: quick ? 5 : 15, warmupSeconds: quick ? 2 : 5, rounds: quick ? 1 : 2, log: options.log })
      console.log(formatDashboardBench(rows))
    }
    return failed ? 1 : 0
  },
}
