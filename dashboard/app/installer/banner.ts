import type { CommissioningState, Stage } from './api.ts'

/**
 * The commissioning page's one-line banner. "Checking that they are plausible…" is only true
 * while readings keep coming: a device silent for 5 of its intervals (when the operators' map
 * calls it silent) is told as stopped, with how long ago its last reading came.
 */

const BANNER: Record<Stage, string> = {
  waiting: 'Waiting for the device to connect…',
  connected: 'Connected. Waiting for the first reading…',
  receiving: 'Readings arrive. Checking that they are plausible…',
  plausible: 'Commissioned: the device sends good data.',
  revoked: 'Revoked: the broker refuses this device.',
  decommissioned: 'Decommissioned: out of service, its history is kept.',
}

/** Missed intervals after which a device counts as silent (as the server's device health). */
export const SILENT_INTERVALS = 5

export function silentFor(state: Pick<CommissioningState, 'stage' | 'lastReading' | 'device'>, now: number): number | undefined {
  if (state.stage !== 'receiving' || !state.lastReading) return undefined
  const gap = now - state.lastReading.receivedAt
  return gap > SILENT_INTERVALS * state.device.interval * 1000 ? gap : undefined
}

export function formatGap(ms: number): string {
  const s = Math.round(ms / 1000)
  if (s < 120) return `${s} s`
  if (s < 7200) return `${Math.round(s / 60)} min`
  return `${Math.round(s / 3600)} h`
}

export function bannerFor(state: Pick<CommissioningState, 'stage' | 'lastReading' | 'device'>, now: number): { text: string; silent: boolean } {
  const gap = silentFor(state, now)
  if (gap === undefined) return { text: BANNER[state.stage], silent: false }
  return {
    text: `No reading for ${formatGap(gap)} (expected every ${state.device.interval} s): the device stopped sending. Check its power and network.`,
    silent: true,
  }
}
