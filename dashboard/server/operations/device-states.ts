import TinyQueue from 'tinyqueue'
import type { Device, Registry } from '../../../devices/registry.ts'
import type { Feed } from '../../../feed/feed.ts'
import type { DeviceStateView, HealthState } from '../../shared/operations.ts'
import {
  DEFAULT_THRESHOLDS,
  emptyCounts,
  keepsStateUntil,
  stateAfterReading,
  stateAt,
  stateView,
  type DeviceStateChange,
  type StateThresholds,
  type TrackedDevice,
} from './device-health.ts'
import { createDeviceStatePush } from './device-state-push.ts'
import type { PushServer, UserVisibility } from './push.ts'

/**
 * Device health, judged on the server (the one source of truth the dashboard and the alert rules
 * read): every device is `live`, `late` or `silent` against its own expected reporting interval,
 * `pending` until it first reports, and `inactive` when it is revoked or decommissioned (which
 * never counts as silent). The rules are in device-health.ts; this is the tracker that applies
 * them to every registered device.
 *
 * The cost follows the readings, not the fleet: a reading is O(1); aging looks only at the
 * devices whose time has come, from a queue ordered by when each would next change state with no
 * reading (at most one entry per device, moved on lazily: a reading only pushes that moment
 * later, so the entry is looked at when it falls due and put back at the new moment). A device
 * reporting on schedule is looked at about once per `lateAfter` intervals; a silent or inactive
 * one never. The registry is listed once, at start; its changes (other processes' too, from its
 * change log) arrive through onChange.
 *
 * Arrival times are the server's (the feed's receivedAt), not the device clock's. Changes go to
 * listeners synchronously (the alert engine) and, coalesced, to logged-in sockets as
 * `device_states` events (device-state-push.ts): `{ items, more }`, at most `maxPerMessage` per tick.
 */

export { HEALTH_STATES, type DeviceStateView, type HealthState } from '../../shared/operations.ts'
export { DEFAULT_THRESHOLDS, stateAfterReading, stateAt, type DeviceStateChange, type StateThresholds, type TrackedDevice } from './device-health.ts'

export interface DeviceStatesOptions {
  registry: Pick<Registry, 'list' | 'onChange' | 'get'>
  feed?: Pick<Feed, 'subscribe'>
  clock?: () => number
  thresholds?: Partial<StateThresholds>
  /** How often the devices falling due are aged. Default 500 ms. */
  checkMs?: number
  /** Coalesced socket pushes, this often. Default 250 ms. */
  pushMs?: number
  maxPerMessage?: number
  /** Start the timers (default true); tests drive check() themselves. */
  timers?: boolean
}

export function createDeviceStates(options: DeviceStatesOptions) {
  const clock = options.clock ?? Date.now
  const t: StateThresholds = { ...DEFAULT_THRESHOLDS, ...options.thresholds }
  const checkMs = options.checkMs ?? 500
  const maxPerMessage = options.maxPerMessage ?? 1000
  const startedAt = clock()
  const devices = new Map<string, TrackedDevice>()
  /** When each device is next looked at by check(): the entry matching its `dueAt` counts, others are stale. */
  const dueAt = new Map<TrackedDevice, number>()
  const queue = new TinyQueue<{ at: number; device: TrackedDevice }>([], (a, b) => a.at - b.at)
  const listeners = new Set<(change: DeviceStateChange) => void>()
  const pusher = createDeviceStatePush({ maxPerMessage })
  const timers: NodeJS.Timeout[] = []

  /** Keeps d's entry in the queue no later than the moment its state would change with no reading. */
  function schedule(d: TrackedDevice): void {
    const at = keepsStateUntil(d, t)
    if (at === Number.POSITIVE_INFINITY) return
    const current = dueAt.get(d)
    // An earlier entry stays: when it falls due, d is judged and put back at its moment then.
    if (current !== undefined && current <= at) return
    dueAt.set(d, at)
    queue.push({ at, device: d })
  }

  function transition(d: TrackedDevice, next: HealthState, now: number, since = now): void {
    if (next === d.state) return
    const previous = d.state
    d.state = next
    d.since = since
    schedule(d)
    pusher.changed(d)
    const change: DeviceStateChange = { ...stateView(d), previous, type: d.type, city: d.city }
    for (const listener of listeners) {
      try {
        listener(change)
      } catch {
        // A listener's failure must not stop the others (or the ingest path that called us).
      }
    }
  }

  function upsert(device: Device, now: number): void {
    const existing = devices.get(device.id)
    const created = Date.parse(device.createdAt)
    if (!existing) {
      const d: TrackedDevice = {
        id: device.id,
        type: device.type,
        city: device.city,
        interval: device.interval,
        status: device.status,
        state: device.status === 'active' ? 'pending' : 'inactive',
        since: now,
        lastSeen: null,
        reference: Math.max(startedAt, Number.isFinite(created) ? created : startedAt),
      }
      devices.set(d.id, d)
      schedule(d)
      pusher.changed(d)
      return
    }
    existing.type = device.type
    existing.city = device.city
    if (existing.interval !== device.interval) {
      existing.interval = device.interval
      schedule(existing)
    }
    if (existing.status !== device.status) {
      existing.status = device.status
      if (device.status !== 'active') transition(existing, 'inactive', now)
      else {
        // Reactivated: judged afresh from now.
        existing.reference = now
        existing.lastSeen = null
        transition(existing, 'pending', now)
      }
    }
  }

  /** Ages the devices whose moment has passed: how many it looked at, and how many changed state. */
  function check(now = clock()): { examined: number; changed: number } {
    let examined = 0
    let changed = 0
    for (let top = queue.peek(); top !== undefined && top.at < now; top = queue.peek()) {
      queue.pop()
      const d = top.device
      if (dueAt.get(d) !== top.at) continue // moved earlier since; that entry counts
      dueAt.delete(d)
      examined += 1
      const next = stateAt(d, now, t)
      if (next !== d.state) {
        transition(d, next, now)
        changed += 1
      }
      schedule(d)
    }
    return { examined, changed }
  }

  function seen(deviceId: string, receivedAt: number): void {
    let d = devices.get(deviceId)
    if (!d) {
      // Registered by another process (the CLI) since the last resync.
      const device = options.registry.get(deviceId)
      if (!device) return
      upsert(device, receivedAt)
      d = devices.get(deviceId)!
    }
    const next = stateAfterReading(d, receivedAt, t)
    d.lastSeen = Math.max(d.lastSeen ?? 0, receivedAt)
    // A reading only moves d's moment later: its entry stays, and is looked at when it falls due.
    transition(d, next, receivedAt)
  }

  /**
   * Restores what a previous run knew (at start, from storage): the device's newest stored
   * reading was at `readingTime` (device time). Judged as a running tracker would have: live at
   * that reading, then late / silent as time passed, each state counted from when it would have
   * begun. Ignored when the device has been seen since this tracker started (newer information
   * wins), is not tracked, or is inactive. Returns whether it was applied.
   */
  function restore(deviceId: string, readingTime: number): boolean {
    const d = devices.get(deviceId)
    if (!d || d.state === 'inactive' || d.lastSeen !== null || !Number.isFinite(readingTime)) return false
    const now = clock()
    // A device clock ahead of ours must not make it look fresher than now.
    const lastSeen = Math.min(readingTime, now)
    const intervalMs = d.interval * 1000
    const next = stateAt({ state: 'live', lastSeen, interval: d.interval, reference: d.reference }, now, t)
    const since = next === 'silent' ? lastSeen + t.silentAfter * intervalMs : next === 'late' ? lastSeen + t.lateAfter * intervalMs : lastSeen
    d.lastSeen = lastSeen
    if (next === d.state) {
      // Already there (e.g. silent since start): keep the listeners quiet, only move the start.
      d.since = Math.min(d.since, since)
      schedule(d)
      pusher.changed(d)
      return true
    }
    transition(d, next, now, since)
    return true
  }

  // Once, at start; from then on the registry's changes say what moved.
  for (const device of options.registry.list().items) upsert(device, startedAt)
  const unsubscribers: (() => void)[] = []
  unsubscribers.push(options.registry.onChange((change) => upsert(change.device, clock())))
  if (options.feed) {
    unsubscribers.push(
      options.feed.subscribe({
        // On the ingest path: never throw back into it.
        accepted: (device, _readings, receivedAt) => {
          try {
            seen(device.id, receivedAt)
          } catch {
            // A registry read failing (closing down) must not fail ingest; the next reading retries.
          }
        },
      }, 'device-states'),
    )
  }
  if (options.timers !== false) {
    timers.push(setInterval(() => check(), checkMs))
    timers.push(setInterval(() => void pusher.push(), options.pushMs ?? 250))
    for (const timer of timers) timer.unref()
  }

  return {
    thresholds: t,
    /** A reading arrived (the feed does this when given). */
    seen,
    restore,
    check,
    /** Sends what changed to the sockets now (tests; the timer does it every pushMs); resolves when the installers' messages have gone out. */
    push: (): Promise<void> => pusher.push(),
    get(id: string): DeviceStateView | undefined {
      const d = devices.get(id)
      return d && stateView(d)
    },
    list(filter?: (d: TrackedDevice) => boolean): DeviceStateView[] {
      const out: DeviceStateView[] = []
      for (const d of devices.values()) if (!filter || filter(d)) out.push(stateView(d))
      return out
    },
    counts(filter?: (d: TrackedDevice) => boolean): Record<HealthState, number> {
      const counts = emptyCounts()
      for (const d of devices.values()) if (!filter || filter(d)) counts[d.state] += 1
      return counts
    },
    tracked(id: string): Readonly<TrackedDevice> | undefined {
      return devices.get(id)
    },
    onChange(listener: (change: DeviceStateChange) => void): () => void {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    /**
     * Pushes changes to logged-in sockets by room: staff get them all, each installer online the
     * devices `visible` gives them (without it, everyone gets everything).
     */
    attach(server: PushServer, visible?: UserVisibility): void {
      pusher.attach(server, visible)
    },
    /** Stops; resolves once an installers' push under way has finished (it sends nothing more). */
    close(): Promise<void> {
      for (const timer of timers) clearInterval(timer)
      timers.length = 0
      for (const unsubscribe of unsubscribers) unsubscribe()
      listeners.clear()
      pusher.attach(undefined)
      return pusher.idle()
    },
  }
}

export type DeviceStates = ReturnType<typeof createDeviceStates>
