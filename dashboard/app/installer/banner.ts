import { appLang } from '../locale.ts'
import type { CommissioningState } from './api.ts'
import { INSTALLER_STRINGS } from './strings.ts'

/**
 * The commissioning page's one-line banner. "Checking that they are plausible…" is only true
 * while readings keep coming: a device silent for 5 of its intervals (when the operators' map
 * calls it silent) is told as stopped, with how long ago its last reading came. A device not
 * connected whose last login (since its last session) was refused is told why, in plain words,
 * rather than "waiting for the device".
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

type BannerState = Pick<CommissioningState, 'stage' | 'lastReading' | 'device'> & Partial<Pick<CommissioningState, 'connected' | 'connectedAt' | 'disconnectedAt' | 'loginRefusal'>>

/** The refusal that stands now: the device is not connected and was refused after its last session (as the server's connection check). */
export function standingRefusal(state: BannerState): CommissioningState['loginRefusal'] {
  const r = state.loginRefusal
  if (!r || state.connected || state.stage === 'revoked' || state.stage === 'decommissioned') return undefined
  return r.at >= (state.disconnectedAt ?? state.connectedAt ?? 0) ? r : undefined
}

export function bannerFor(state: BannerState, now: number): { text: string; silent: boolean; refused: boolean } {
  const t = INSTALLER_STRINGS[appLang()].banner
  const refusal = standingRefusal(state)
  if (refusal) {
    const words = t.refused[refusal.reason]
    const text = words === undefined ? t.refusedOther(refusal.message) : typeof words === 'string' ? words : words(state.device.id)
    return { text, silent: false, refused: true }
  }
  const gap = silentFor(state, now)
  if (gap === undefined) return { text: t[state.stage], silent: false, refused: false }
  return {
    text: t.stopped(formatGap(gap), state.device.interval),
    silent: true,
    refused: false,
  }
}
