import { appLang } from '../locale.ts'
import type { CommissioningState } from './api.ts'
import { INSTALLER_STRINGS } from './strings.ts'

/**
 * The commissioning page's one-line banner. "Checking that they are plausible…" is only true
 * while readings keep coming: a device silent for 5 of its intervals (when the operators' map
 * calls it silent) is told as stopped, with how long ago its last reading came.
 */

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
  const t = INSTALLER_STRINGS[appLang()].banner
  const gap = silentFor(state, now)
  if (gap === undefined) return { text: t[state.stage], silent: false }
  return {
    text: t.stopped(formatGap(gap), state.device.interval),
    silent: true,
  }
}
