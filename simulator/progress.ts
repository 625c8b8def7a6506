import type { SimulatorStats } from './simulator.ts'

/**
 * The progress line of a long simulator run. The simulator calls onProgress with its stats every
 * few seconds; a printer turns each snapshot into one line (rates from the previous snapshot)
 * and hands it to `write`, which the CLI points at stderr so stdout stays clean.
 */

function duration(ms: number): string {
  const s = Math.floor(ms / 1000)
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`
}

const count = (n: number) => n.toLocaleString('en-US')

export function formatProgress(stats: SimulatorStats, previous?: SimulatorStats): string {
  const since = previous ?? { ...stats, elapsedMs: 0, published: 0 }
  const seconds = (stats.elapsedMs - since.elapsedMs) / 1000
  const perSecond = seconds > 0 ? (stats.published - since.published) / seconds : 0
  const errors = stats.failed + stats.refusedLogins + stats.connectionErrors
  const parts = [
    `${count(stats.connected)}/${count(stats.devices)} connected`,
    `${perSecond.toFixed(1)} readings/s`,
    `acked ${count(stats.acked)}`,
    `buffered ${count(stats.buffered)}`,
    `errors ${count(errors)} (refused ${count(stats.refusedLogins)}, connection ${count(stats.connectionErrors)}, failed ${count(stats.failed)})`,
  ]
  if (stats.dropped) parts.push(`dropped ${count(stats.dropped)}`)
  if (stats.badPayloads) parts.push(`bad payloads ${count(stats.badPayloads)}`)
  if (stats.bursts) parts.push(`bursts ${count(stats.bursts)}`)
  if (stats.silent) parts.push(`silent ${count(stats.silent)}`)
  return `[sim ${duration(stats.elapsedMs)}] ${parts.join(' · ')}`
}

/** An onProgress callback that writes one line per snapshot. */
export function createProgressPrinter(write: (line: string) => void): (stats: SimulatorStats) => void {
  let previous: SimulatorStats | undefined
  return (stats) => {
    write(formatProgress(stats, previous))
    previous = stats
  }
}
