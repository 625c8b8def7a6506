import { Compile } from 'typebox/compile'
import { DeviceStateSchema, HEALTH_STATES, type DeviceStateView, type HealthState } from '../../shared/operations.ts'

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

export const HEALTH: Readonly<Record<HealthState, HealthInfo>> = {
  live: { label: 'Live', symbol: '●', description: 'reporting on schedule' },
  late: { label: 'Late', symbol: '◔', description: 'missed 2 or more reporting intervals' },
  silent: { label: 'Silent', symbol: '✕', description: 'nothing for 5 or more reporting intervals' },
  pending: { label: 'No data yet', symbol: '○', description: 'has not reported since the server started' },
  inactive: { label: 'Inactive', symbol: '–', description: 'revoked or decommissioned; not expected to report' },
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

/** "12 s", "4 min", "3 h 5 min", "2 d". */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 90) return `${s} s`
  const m = Math.round(s / 60)
  if (m < 90) return `${m} min`
  const h = Math.floor(m / 60)
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`
  return `${Math.round(h / 24)} d`
}
