import { describe, expect, it } from 'vitest'
import { createProgressPrinter, formatProgress } from './progress.ts'
import type { SimulatorStats } from './simulator.ts'

const base: SimulatorStats = {
  elapsedMs: 0,
  devices: 1000,
  connected: 0,
  generated: 0,
  published: 0,
  acked: 0,
  failed: 0,
  buffered: 0,
  dropped: 0,
  messages: 0,
  backlogs: 0,
  badPayloads: 0,
  refusedLogins: 0,
  connectionErrors: 0,
  bursts: 0,
  silent: 0,
}

describe('progress line', () => {
  it('shows elapsed time, connections, rate since the previous line, acks, buffer and errors', () => {
    const first = { ...base, elapsedMs: 5_000, connected: 998, published: 500, acked: 480, buffered: 12, refusedLogins: 2 }
    const second = { ...first, elapsedMs: 3_725_000, published: 1_500, acked: 1_490, failed: 1, connectionErrors: 3 }
    const lines: string[] = []
    const print = createProgressPrinter((line) => lines.push(line))
    print(first)
    print(second)
    expect(lines[0]).toBe('[sim 00:00:05] 998/1,000 connected · 100.0 readings/s · acked 480 · buffered 12 · errors 2 (refused 2, connection 0, failed 0)')
    // 1,000 more readings over 3,720 s.
    expect(lines[1]).toContain('[sim 01:02:05]')
    expect(lines[1]).toContain('0.3 readings/s')
    expect(lines[1]).toContain('errors 6 (refused 2, connection 3, failed 1)')
  })

  it('mentions faults only when there are some', () => {
    expect(formatProgress({ ...base, elapsedMs: 1000 })).not.toMatch(/bad payloads|bursts|silent|dropped/)
    const line = formatProgress({ ...base, elapsedMs: 1000, badPayloads: 4, bursts: 1, silent: 2, dropped: 7 })
    expect(line).toContain('bad payloads 4')
    expect(line).toContain('bursts 1')
    expect(line).toContain('silent 2')
    expect(line).toContain('dropped 7')
  })
})
