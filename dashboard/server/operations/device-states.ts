import type { Server, Socket } from 'socket.io'
import type { DeviceType } from '../../../devices/kinds.ts'
import type { Device, DeviceStatus, Registry } from '../../../devices/registry.ts'
import type { Feed } from '../../../feed/feed.ts'

/**
 * Device health, judged on the server (the one source of truth the dashboard and the alert rules
 * read): every device is `live`, `late` or `silent` against its own expected reporting interval,
 * `pending` until it first reports, and `inactive` when it is revoked or decommissioned (which
 * never counts as silent).
 *
 *   live ──(no reading for > lateAfter × interval)──► late ──(> silentAfter × interval)──► silent
 *     ▲                                                 │  ▲                                   │
 *     └──(a reading ≤ recoverWithin × interval after ───┘  └──────────(any reading)────────────┘
 *         the previous one: back on schedule)
 *
 * Hysteresis: going late takes a gap of more than 2 intervals, coming back takes a gap of at
 * most 1.5 intervals between two readings, so a device reporting every ~1.8 intervals stays in
 * whichever state it is in instead of flapping; a silent device's first reading makes it late,
 * not live, until it shows it is back on schedule. A device never seen since this server started
 * counts from the later of the start and its registration: pending, then silent after
 * silentAfter intervals.
 *
 * Arrival times are the server's (the feed's receivedAt), not the device clock's. Changes go to
 * listeners synchronously (the alert engine) and, coalesced, to logged-in sockets as
 * `device_states` events: `{ items: DeviceStateView[], more }`, at most `maxPerMessage` per tick.
 */

export const HEALTH_STATES = ['live', 'late', 'silent', 'pending', 'inactive'] as const
export type HealthState = (typeof HEALTH_STATES)[number]

export interface DeviceStateView {
  id: string
  state: HealthState
  /** When it entered this state, epoch ms. */
  since: number
  /** When this server last received a reading from it, epoch ms; null when not since start. */
  lastSeen: number | null
  /** Expected reporting interval, seconds. */
  interval: number
}

export interface DeviceStateChange extends DeviceStateView {
  previous: HealthState
  type: DeviceType
  city: string
}

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

/** The state after a reading arrives at `now` (pure; the tracker's rule, exported for tests). */
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

/** The state at `now` with no new reading (pure). */
export function stateAt(d: Pick<TrackedDevice, 'state' | 'lastSeen' | 'interval' | 'reference'>, now: number, t: StateThresholds = DEFAULT_THRESHOLDS): HealthState {
  if (d.state === 'inactive') return 'inactive'
  const intervalMs = d.interval * 1000
  const age = now - (d.lastSeen ?? d.reference)
  if (age > t.silentAfter * intervalMs) return 'silent'
  if (d.lastSeen === null) return d.state === 'silent' ? 'silent' : 'pending'
  if (age > t.lateAfter * intervalMs && d.state === 'live') return 'late'
  return d.state
}

export interface DeviceStatesOptions {
  registry: Pick<Registry, 'list' | 'onChange' | 'get'>
  feed?: Pick<Feed, 'subscribe'>
  clock?: () => number
  thresholds?: Partial<StateThresholds>
  /** How often ages are checked. Default 500 ms. */
  checkMs?: number
  /** How often the registry is re-read for changes made by other processes (the CLI). Default 30 s. */
  resyncMs?: number
  /** Coalesced socket pushes, this often. Default 250 ms. */
  pushMs?: number
  maxPerMessage?: number
  /** Start the timers (default true); tests drive check() themselves. */
  timers?: boolean
}

/** Who may see which device on a socket: undefined for everything. */
export type SocketVisibility = (socket: Socket) => ((device: { id: string; city: string }) => boolean) | undefined

export function createDeviceStates(options: DeviceStatesOptions) {
  const clock = options.clock ?? Date.now
  const t: StateThresholds = { ...DEFAULT_THRESHOLDS, ...options.thresholds }
  const checkMs = options.checkMs ?? 500
  const maxPerMessage = options.maxPerMessage ?? 1000
  const startedAt = clock()
  const devices = new Map<string, TrackedDevice>()
  const listeners = new Set<(change: DeviceStateChange) => void>()
  /** Changes not yet pushed to sockets, newest per device. */
  let unpushed = new Map<string, TrackedDevice>()
  const timers: NodeJS.Timeout[] = []
  let io: Server | undefined
  let visibility: SocketVisibility | undefined

  const view = (d: TrackedDevice): DeviceStateView => ({ id: d.id, state: d.state, since: d.since, lastSeen: d.lastSeen, interval: d.interval })

  function transition(d: TrackedDevice, next: HealthState, now: number): void {
    if (next === d.state) return
    const previous = d.state
    d.state = next
    d.since = now
    unpushed.set(d.id, d)
    const change: DeviceStateChange = { ...view(d), previous, type: d.type, city: d.city }
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
      unpushed.set(d.id, d)
      return
    }
    existing.type = device.type
    existing.city = device.city
    existing.interval = device.interval
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

  function resync(): void {
    const now = clock()
    const seen = new Set<string>()
    for (const device of options.registry.list().items) {
      seen.add(device.id)
      upsert(device, now)
    }
    for (const id of devices.keys()) if (!seen.has(id)) devices.delete(id)
  }

  /** Ages every device; returns how many changed state. */
  function check(now = clock()): number {
    let changed = 0
    for (const d of devices.values()) {
      const next = stateAt(d, now, t)
      if (next !== d.state) {
        transition(d, next, now)
        changed += 1
      }
    }
    return changed
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
    transition(d, next, receivedAt)
  }

  function push(): void {
    if (!io || unpushed.size === 0) return
    const all = [...unpushed.values()]
    const batch = all.slice(0, maxPerMessage)
    unpushed = new Map(all.slice(maxPerMessage).map((d) => [d.id, d]))
    const more = unpushed.size
    const items = batch.map(view)
    for (const socket of io.of('/').sockets.values()) {
      if (!(socket.data as { user?: unknown }).user) continue
      const visible = visibility?.(socket)
      const mine = visible ? items.filter((_, i) => visible(batch[i]!)) : items
      if (mine.length > 0) socket.emit('device_states', { items: mine, more })
    }
  }

  resync()
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
      }),
    )
  }
  if (options.timers !== false) {
    timers.push(setInterval(() => check(), checkMs))
    timers.push(setInterval(resync, options.resyncMs ?? 30_000))
    timers.push(setInterval(push, options.pushMs ?? 250))
    for (const timer of timers) timer.unref()
  }

  return {
    thresholds: t,
    /** A reading arrived (the feed does this when given). */
    seen,
    check,
    resync,
    /** Sends what changed to the sockets now (tests; the timer does it every pushMs). */
    push,
    get(id: string): DeviceStateView | undefined {
      const d = devices.get(id)
      return d && view(d)
    },
    list(filter?: (d: TrackedDevice) => boolean): DeviceStateView[] {
      const out: DeviceStateView[] = []
      for (const d of devices.values()) if (!filter || filter(d)) out.push(view(d))
      return out
    },
    counts(filter?: (d: TrackedDevice) => boolean): Record<HealthState, number> {
      const counts = Object.fromEntries(HEALTH_STATES.map((s) => [s, 0])) as Record<HealthState, number>
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
    /** Pushes changes to logged-in sockets (filtered per socket by `visible`). */
    attach(server: Server, visible?: SocketVisibility): void {
      io = server
      visibility = visible
    },
    close(): void {
      for (const timer of timers) clearInterval(timer)
      timers.length = 0
      for (const unsubscribe of unsubscribers) unsubscribe()
      listeners.clear()
      io = undefined
    },
  }
}

export type DeviceStates = ReturnType<typeof createDeviceStates>
