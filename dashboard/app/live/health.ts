import { Compile } from 'typebox/compile'
import { DeviceStateSchema, HEALTH_STATES, type DeviceStateView, type HealthState } from '../../shared/operations.ts'
import { appLang } from '../locale.ts'
import { LIVE_STRINGS } from './strings.ts'

/**
 * Device health as the server judges it (dashboard/server/operations/device-states.ts): the one
 * source of truth; the app only shows it. The states and the shape are the server's
 * (dashboard/shared/operations.ts). Each state has a word, a symbol and a description, so it is
 * never told by colour alone.
 */

export { HEALTH_STATES, type HealthState }

/** One device's health: `since` when it entered the state, `lastSeen` the last reading, epoch ms; `interval` seconds. */
export type DeviceHealth = DeviceStateView

export interface HealthInfo {
  label: string
  /** A text symbol that matches the map's badge. */
  symbol: string
  description: string
}

const SYMBOLS: Readonly<Record<HealthState, string>> = { live: '●', late: '◔', silent: '✕', pending: '○', inactive: '–' }

/** A state's word, symbol and description in the app's language. */
export function healthText(state: HealthState): HealthInfo {
  return { ...LIVE_STRINGS[appLang()].health[state], symbol: SYMBOLS[state] }
}

export function isHealthState(value: string): value is HealthState {
  return (HEALTH_STATES as readonly string[]).includes(value)
}

const checkHealth = Compile(DeviceStateSchema)

/** One state from the API or a `device_states` event, when it matches the server's schema; undefined otherwise. */
export function parseHealth(raw: unknown): DeviceHealth | undefined {
  return checkHealth.Check(raw) ? raw : undefined
}

/** The newer of two states of a device (by `since`, then by lastSeen); the incoming one on a tie. */
export function newerHealth(prev: DeviceHealth | undefined, next: DeviceHealth): DeviceHealth {
  if (!prev) return next
  if (next.since < prev.since) return prev
  if (next.since === prev.since && (next.lastSeen ?? 0) < (prev.lastSeen ?? 0)) return prev
  if (next.since === prev.since && next.state === prev.state && next.lastSeen === prev.lastSeen && next.interval === prev.interval) return prev
  return next
}

/** "12 s", "4 min", "3 h 5 min", "2 d" ("2 g" in Italian). */
export function formatAge(ms: number): string {
  const u = LIVE_STRINGS[appLang()].units
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 90) return `${s} ${u.s}`
  const m = Math.round(s / 60)
  if (m < 90) return `${m} ${u.min}`
  const h = Math.floor(m / 60)
  if (h < 48) return m % 60 ? `${h} ${u.h} ${m % 60} ${u.min}` : `${h} ${u.h}`
  return `${Math.round(h / 24)} ${u.d}`
}

/** "4 min ago", "4 min fa". */
export function formatAgo(ms: number): string {
  return LIVE_STRINGS[appLang()].ago(formatAge(ms))
}
