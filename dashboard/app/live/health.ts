/**
 * Device health as the server judges it (dashboard/server/device-states.ts): the one source of
 * truth; the app only shows it. Each state has a word, a symbol and a description, so it is
 * never told by colour alone.
 */

export const HEALTH_STATES = ['live', 'late', 'silent', 'pending', 'inactive'] as const
export type HealthState = (typeof HEALTH_STATES)[number]

export interface DeviceHealth {
  id: string
  state: HealthState
  /** When it entered the state, epoch ms. */
  since: number
  /** When the server last received a reading, epoch ms. */
  lastSeen: number | null
  /** Expected reporting interval, seconds. */
  interval: number
}

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

/** Parses one state from the API or a `device_states` event; undefined when unusable. */
export function parseHealth(raw: unknown): DeviceHealth | undefined {
  const h = raw as Partial<DeviceHealth> | null
  if (!h || typeof h.id !== 'string' || typeof h.state !== 'string' || !isHealthState(h.state) || typeof h.since !== 'number') return undefined
  return {
    id: h.id,
    state: h.state,
    since: h.since,
    lastSeen: typeof h.lastSeen === 'number' ? h.lastSeen : null,
    interval: typeof h.interval === 'number' ? h.interval : 60,
  }
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
