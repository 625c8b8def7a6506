import type { DeviceType } from '../../../devices/kinds.ts'
import type { DeviceStatus } from '../../../devices/registry.ts'
import { HEALTH_STATES, type DeviceStateView, type HealthState } from '../../shared/operations.ts'

/**
 * The rules of device health (pure): which state a device is in after a reading, or after time
 * passes without one, against its own expected reporting interval.
 *
 *   live ──(no reading for > lateAfter × interval)──► late ──(> silentAfter × interval)──► silent
 *     ▲                                                 │  ▲                                   │
 *     └──(a reading ≤ recoverWithin × interval after ───┘  └──────────(any reading)────────────┘
 *         the previous one: back on schedule)
 *
 * Hysteresis: going late takes a gap of more than 2 intervals, coming back takes a gap of at
 * most 1.5 intervals between two readings, so a device reporting every ~1.8 intervals stays in
 * whichever state it is in instead of flapping; a silent device's first reading makes it late,
 * not live, until it shows it is back on schedule. A device never seen counts from its
 * `reference` (the tracker's start or its registration, the later): pending, then silent after
 * silentAfter intervals. `inactive` (revoked, decommissioned) never changes with time.
 */

export { HEALTH_STATES, type DeviceStateView, type HealthState }

export interface StateThresholds {
  /** Late after this many intervals without a reading. Default 2. */
  lateAfter: number
  /** Silent after this many. Default 5. */
  silentAfter: number
  /** Back to live when a reading follows the previous one within this many intervals. Default 1.5. */
  recoverWithin: number
}

export const DEFAULT_THRESHOLDS: StateThresholds = { lateAfter: 2, silentAfter: 5, recoverWithin: 1.5 }

/** One device as the tracker keeps it. */
export interface TrackedDevice {
  id: string
  type: DeviceType
  city: string
  interval: number
  status: DeviceStatus
  state: HealthState
  since: number
  lastSeen: number | null
  /** Counted from here while never seen: the tracker's start or the registration, the later. */
  reference: number
}

/** A state change, as listeners (the alert engine) get it. */
export interface DeviceStateChange extends DeviceStateView {
  previous: HealthState
  type: DeviceType
  city: string
}

/** What the API and the pushes show of a tracked device. */
export const stateView = (d: TrackedDevice): DeviceStateView => ({ id: d.id, state: d.state, since: d.since, lastSeen: d.lastSeen, interval: d.interval })

/** The state after a reading arrives at `now`. */
export function stateAfterReading(d: Pick<TrackedDevice, 'state' | 'lastSeen' | 'interval'>, now: number, t: StateThresholds = DEFAULT_THRESHOLDS): HealthState {
  switch (d.state) {
    case 'inactive':
      return 'inactive'
    case 'live':
    case 'pending':
      return 'live'
    case 'late':
    case 'silent': {
      const gap = d.lastSeen === null ? Number.POSITIVE_INFINITY : now - d.lastSeen
      if (gap <= t.recoverWithin * d.interval * 1000) return 'live'
      return 'late'
    }
  }
}

/** The state at `now` with no new reading. */
export function stateAt(d: Pick<TrackedDevice, 'state' | 'lastSeen' | 'interval' | 'reference'>, now: number, t: StateThresholds = DEFAULT_THRESHOLDS): HealthState {
  if (d.state === 'inactive') return 'inactive'
  const intervalMs = d.interval * 1000
  const age = now - (d.lastSeen ?? d.reference)
  if (age > t.silentAfter * intervalMs) return 'silent'
  if (d.lastSeen === null) return d.state === 'silent' ? 'silent' : 'pending'
  if (age > t.lateAfter * intervalMs && d.state === 'live') return 'late'
  return d.state
}

/**
 * The last moment `d` keeps its state with no new reading: stateAt turns it once `now` is past
 * this. Infinity when time alone never changes it (inactive, silent). A reading only moves it later.
 */
export function keepsStateUntil(d: Pick<TrackedDevice, 'state' | 'lastSeen' | 'interval' | 'reference'>, t: StateThresholds = DEFAULT_THRESHOLDS): number {
  if (d.state === 'inactive' || d.state === 'silent') return Number.POSITIVE_INFINITY
  const intervalMs = d.interval * 1000
  const from = d.lastSeen ?? d.reference
  return d.state === 'live' && d.lastSeen !== null ? from + t.lateAfter * intervalMs : from + t.silentAfter * intervalMs
}

/** Devices per state, every state present. */
export function emptyCounts(): Record<HealthState, number> {
  return Object.fromEntries(HEALTH_STATES.map((s) => [s, 0])) as Record<HealthState, number>
}
