import { describe, expect, it } from 'vitest'
import { formatReport, type BenchReport, type MemoryFigure, type RunFigure } from './bench.ts'

/** The report's text, from a made-up run: what a reader of `npm run bench` gets. */

function run(fleet: RunFigure['fleet'], devices: number, ackedPerS: number): RunFigure {
  const stored = ackedPerS * 10
  return {
    fleet,
    devices,
    counted: [{ type: 'air-quality', field: 'pm25' }],
    generator: { connected: devices, connectFailed: 0, published: stored, acked: stored, unacked: 0, errors: 0, errorSamples: [], perSecond: [], publishMs: 10_000, lastAckMs: 10_000, cpuSeconds: 1, firstTs: 0, lastTs: 1 },
    range: [0, 1],
    ackedPerS,
    perSecondMin: ackedPerS,
    storedWhenDrained: stored,
    storedFinal: stored,
    drainS: 1,
    drainedByTimeout: false,
    landedPerS: ackedPerS,
    // 5 µs of CPU per reading stored: 0.5 % of a core per 1,000 readings/s.
    cpuS: { system: stored * 5e-6, influxd: stored * 1e-6, generator: 1 },
    syscalls: { reads: stored, writes: stored },
    split: { process: stored * 5e-6, ingest: stored * 1e-6, listeners: { live: stored * 1e-7 }, mainThread: stored * 4e-6, gcYoung: stored * 6e-7, gcOld: stored * 1e-7 },
    // 8 KB allocated and 100 B promoted per reading, a scavenge every 4,000 readings, a full collection every 500,000.
    gc: { allocated: stored * 8192, promoted: stored * 100, scavenges: stored / 4000, markCompacts: stored / 500_000 },
    otherCores: 0,
    peakRssMb: 300,
  }
}

describe('bench report', () => {
  it('prints the paced phase in a table of its own and in the CPU split, and keeps it out of the targets', () => {
    const report: BenchReport = {
      machine: 'test',
      options: { systems: ['piazza'], seconds: 10, rounds: 1, warmupSeconds: 5, fleets: ['air-quality'], sizes: [50, 10_000], profile: false, window: 20, idle: 100, probes: 0, pacedRate: 20_000, overloadSeconds: 0, overloadRate: 0, overloadWindow: 500 },
      systems: [
        {
          name: 'piazza',
          loads: [run('air-quality', 50, 60_000), run('air-quality', 10_000, 55_000)],
          paced: { ...run('air-quality', 10_000, 19_900), rate: 20_000 },
          stopped: 'cleanly',
          complaints: [],
          failures: [],
        },
      ],
    }
    const text = formatReport(report)
    expect(text).toContain('paced: air-quality fleet, 10,000 devices, each one message every 0.50 s (20,000/s offered)')
    expect(text).toMatch(/^acked readings\/s \(QoS 1\)\s+19,900/m)
    expect(text).toMatch(/^paced air-quality, 10,000 devices\s+0\.50\s/m)
    expect(text).toContain('paced 20000/s over the largest size for 10 s')
    // The CPU by thread: main thread 4 µs (0.40 %) of which GC 0.6 and 0.1 µs, other threads 1 µs.
    expect(text).toMatch(/^air-quality, 10,000 devices\s+0\.50\s+0\.40\s+0\.06\s+0\.01\s+0\.10$/m)
    expect(text).toMatch(/^paced air-quality, 10,000 devices\s+0\.50\s+0\.40\s+0\.06\s+0\.01\s+0\.10$/m)
    // The collector per reading.
    expect(text).toMatch(/^air-quality, 10,000 devices\s+8\.00\s+100\s+2\.50\s+2\.00$/m)
    expect(text).toMatch(/^paced air-quality, 10,000 devices\s+8\.00\s+100\s+2\.50\s+2\.00$/m)
    // The targets are the closed-loop rounds' alone.
    expect(text).toMatch(/within ±20 % from 50 to 10,000 devices, air-quality\s+50: 0\.5 %, 10000: 0\.5 %\s+PASS/)
  })

  it("says where the baseline fell over and carried on afresh, without calling it the run's error", () => {
    const report: BenchReport = {
      machine: 'test',
      options: { systems: ['piazza', 'baseline'], seconds: 10, rounds: 1, warmupSeconds: 5, fleets: ['mixed'], sizes: [50, 10_000], profile: false, window: 20, idle: 100, probes: 0, pacedRate: 0, overloadSeconds: 0, overloadRate: 0, overloadWindow: 500 },
      systems: [
        { name: 'piazza', loads: [run('mixed', 50, 60_000), run('mixed', 10_000, 55_000)], stopped: 'cleanly', complaints: [], failures: [] },
        { name: 'baseline', loads: [run('mixed', 50, 20_000)], stopped: 'exited 0', complaints: [], failures: ['mixed 10000 warm-up: still busy 60 s after the load ended (stopped: exited 0)'] },
      ],
    }
    const text = formatReport(report)
    expect(text).toContain('baseline: stopped: exited 0; load generator 10 % of a core, 0 errors; fell over at 1 configuration(s), each skipped from then on while a fresh start carried on with the others: mixed 10000 warm-up: still busy 60 s')
    expect(text).not.toContain('ERROR')
    expect(text).toMatch(/zero-loss stored rate ≥ 2x baseline, mixed, 50 devices\s+60,000\/s vs 20,000\/s = 3\.00x\s+PASS/)
  })

  it('projects the idle-memory target from a positive per-connection figure only, and says so when there is none', () => {
    const memory = (perConnectionKb: number): MemoryFigure => ({ connections: 100, failed: 0, rssAtRestMb: 144, rssAfterFirstLoginsMb: 160, rssWithIdleMb: 160 + (perConnectionKb * 100) / 1024, rssPeakConnectingMb: 170, unsettled: [], perConnectionKb })
    const report = (m: MemoryFigure): BenchReport => ({
      machine: 'test',
      options: { systems: ['piazza'], seconds: 5, rounds: 1, warmupSeconds: 2, fleets: ['air-quality'], sizes: [50], profile: false, window: 20, idle: 100, probes: 0, pacedRate: 0, overloadSeconds: 0, overloadRate: 0, overloadWindow: 500 },
      systems: [{ name: 'piazza', loads: [], memory: m, stopped: 'cleanly', complaints: [], failures: [] }],
    })
    // 160 MB + 10,000 × 10.24 KB = 260 MB.
    expect(formatReport(report(memory(10.24)))).toMatch(/idle device connections ≤ 400 MB RSS\s+260 MB \(projected from 100: 160 MB \+ 10\.2 KB each\)\s+PASS/)
    // RSS fell while 100 connected (a measured -43.6 KB each projected -266 MB, and passed).
    const text = formatReport(report(memory(-43.6)))
    expect(text).toMatch(/idle device connections ≤ 400 MB RSS\s+n\/a \(-43\.6 KB per connection over 100: too few to project\)\s+NOT MEASURED/)
    expect(text).toMatch(/^ {2}10,000 idle connections, MB \(projected\)\s+n\/a/m)
  })

  it("decides flatness on each size's median round and shows the rounds' range beside it", () => {
    // CPU per reading scaled: 0.5 % of a core per 1,000 readings/s times `factor`.
    const round = (devices: number, factor: number) => {
      const r = run('air-quality', devices, 50_000)
      return { ...r, cpuS: { ...r.cpuS, system: r.cpuS.system * factor } }
    }
    const report = (at10k: number[]): BenchReport => ({
      machine: 'test',
      options: { systems: ['piazza'], seconds: 10, rounds: 5, warmupSeconds: 5, fleets: ['air-quality'], sizes: [50, 10_000], profile: false, window: 20, idle: 100, probes: 0, pacedRate: 0, overloadSeconds: 0, overloadRate: 0, overloadWindow: 500 },
      systems: [{ name: 'piazza', loads: [...[1, 1, 1, 1, 1].map((f) => round(50, f)), ...at10k.map((f) => round(10_000, f))], stopped: 'cleanly', complaints: [], failures: [] }],
    })
    // Two slow rounds of five: the median is still 0.5 %.
    expect(formatReport(report([1, 1.6, 1, 1.6, 1]))).toMatch(/within ±20 % from 50 to 10,000 devices, air-quality\s+50: 0\.5 %, 10000: 0\.5 % \(rounds 0\.50-0\.80\)\s+PASS/)
    // Three: the median is 0.8 %, 60 % over.
    expect(formatReport(report([1, 1.6, 1.6, 1.6, 1]))).toMatch(/10000: 0\.8 % \(rounds 0\.50-0\.80\)\s+FAIL/)
  })
})
