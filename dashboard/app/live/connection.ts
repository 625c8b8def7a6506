import { io } from 'socket.io-client'
import { toMillis } from '../api/client.ts'
import type { Values } from '../api/types.ts'
import { newerHealth, parseHealth, type DeviceHealth } from './health.ts'

/**
 * The one realtime connection, kept outside React. It owns the Socket.IO client, keeps the
 * latest state per device, and applies incoming updates at most once per animation frame: the
 * server already coalesces every ~250 ms, but several batches (plus snapshots and REST seeds) can
 * land between two paints and there is no point re-rendering or re-uploading the map more than
 * once a frame.
 *
 * Components read it through `subscribe`/`getDevice`/`getConnection`/`getStatus` with
 * useSyncExternalStore. A device's state object is replaced only when that device changes, so a
 * component selecting one device re-renders only for that device. Imperative consumers (the map,
 * the chart) use `onFlush` to get the ids and raw updates applied in a frame.
 *
 * Server protocol (dashboard/server/realtime/live.ts): subscriptions are additive filters
 * `{ city?, type?, device? }` (at least one key); `subscribe` answers through its ack with
 * `{ ok, snapshot }` (the room's current state) or `{ ok: false, error }`; `unsubscribe` without
 * a payload drops them all. Events: `update` (readings), `status` (device connected or not),
 * `session_expired`.
 */

/** An update as the server sends it (one element of an `update` event's array). */
export interface RawUpdate {
  id: string
  type?: string
  city?: string
  time: string | number
  values: Values
}

/** An update after parsing: time in epoch milliseconds. */
export interface LiveUpdate {
  id: string
  type: string
  city: string
  time: number
  values: Values
}

/** The latest known state of one device: values merged over its updates (fields can arrive separately). */
export type DeviceState = LiveUpdate

/** A device's broker connection as the `status` event reports it. */
export interface DeviceConnection {
  connected: boolean
  /** When it changed, epoch ms. */
  at: number
}

export type LiveState = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'error' | 'expired'
export interface LiveStatus {
  state: LiveState
  /** Why, for 'error' (e.g. the handshake was refused). */
  message?: string
}

/** One server-side subscription; all given keys must match. */
export interface LiveFilter {
  city?: string
  type?: string
  device?: string
}

interface SubscribeAnswer {
  ok?: boolean
  snapshot?: unknown
  error?: { status?: number; message?: string }
}

/** What a frame applied: which devices changed (readings, connection or health) and every update, in arrival order. */
export interface FlushBatch {
  changed: ReadonlySet<string>
  updates: readonly LiveUpdate[]
  /** Health changes applied in this frame. */
  health?: readonly DeviceHealth[]
}

/**
 * How updates reach subscribers. 'frame' (the app): buffered and applied once per animation
 * frame. The others exist only as benchmark baselines (`?baseline=per-message` or
 * `?baseline=per-update` in the page URL): 'per-message' applies and publishes every socket
 * message as it arrives, 'per-update' every single device update in it, each one rendered at
 * once (React state per incoming update, as a naive app would do).
 */
export type LiveMode = 'frame' | 'per-message' | 'per-update'

/** The mode the page URL asks for (`?baseline=per-message|per-update`), 'frame' otherwise. */
export function modeFromUrl(search: string): LiveMode {
  const baseline = new URLSearchParams(search).get('baseline')
  return baseline === 'per-message' || baseline === 'per-update' ? baseline : 'frame'
}

/** Server events the manager passes through untouched to whoever listens (the alerts store). */
export type PassThroughEvent = 'alerts' | 'alert_rules'

/** The part of a Socket.IO client the manager uses, so tests can pass a fake. */
export interface SocketLike {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  on(event: string, listener: (...args: any[]) => void): unknown
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  emit(event: string, ...args: any[]): unknown
  disconnect(): unknown
}

export interface ConnectionOptions {
  createSocket?: () => SocketLike
  /** Schedules the flush; requestAnimationFrame in the browser, a fake in tests. */
  requestFrame?: (callback: () => void) => unknown
  /**
   * Above this many buffered updates (a hidden tab gets no animation frames), the buffer is
   * compacted to one merged update per device so memory stays bounded.
   */
  maxPending?: number
  mode?: LiveMode
}

const defaultSocket = (): SocketLike =>
  // Same origin, default path; the session cookie authenticates the handshake.
  io({ path: '/socket.io', withCredentials: true }) as unknown as SocketLike

const defaultFrame = (callback: () => void): unknown =>
  typeof requestAnimationFrame === 'function' ? requestAnimationFrame(() => callback()) : setTimeout(callback, 16)

/** Parses one raw update; undefined when it is unusable. */
export function parseUpdate(raw: unknown): LiveUpdate | undefined {
  const u = raw as Partial<RawUpdate> | null
  if (!u || typeof u.id !== 'string' || !u.values || typeof u.values !== 'object') return undefined
  const time = toMillis(u.time)
  if (!Number.isFinite(time)) return undefined
  return { id: u.id, type: String(u.type ?? ''), city: String(u.city ?? ''), time, values: u.values }
}

/** Folds an update into a device's previous state; returns the previous object when nothing changes. */
export function mergeState(prev: DeviceState | undefined, u: LiveUpdate): DeviceState {
  if (!prev) return u
  // An older reading (late delivery, or a REST seed racing the stream) must not overwrite newer values.
  if (u.time < prev.time) return prev
  // The same reading again (a snapshot after a reconnect or a new subscription): nothing changed.
  if (u.time === prev.time && Object.entries(u.values).every(([k, v]) => prev.values[k] === v)) return prev
  return { id: u.id, type: u.type || prev.type, city: u.city || prev.city, time: u.time, values: { ...prev.values, ...u.values } }
}

/** Parses one `status` element; undefined when unusable. */
export function parseConnection(raw: unknown): (DeviceConnection & { id: string }) | undefined {
  const s = raw as { id?: unknown; connected?: unknown; at?: unknown } | null
  if (!s || typeof s.id !== 'string' || typeof s.connected !== 'boolean') return undefined
  const at = toMillis(s.at)
  return { id: s.id, connected: s.connected, at: Number.isFinite(at) ? at : Date.now() }
}

/** Drops empty keys; the server refuses unknown or empty values. */
function cleanFilter(f: LiveFilter): LiveFilter {
  const clean: LiveFilter = {}
  if (f.city) clean.city = f.city
  if (f.type) clean.type = f.type
  if (f.device) clean.device = f.device
  return clean
}

/** Keeps one merged update per device, in order of each device's last arrival. */
export function compact(updates: readonly LiveUpdate[]): LiveUpdate[] {
  const byId = new Map<string, LiveUpdate>()
  for (const u of updates) {
    const merged = mergeState(byId.get(u.id), u)
    byId.delete(u.id)
    byId.set(u.id, merged)
  }
  return [...byId.values()]
}

export function createConnectionManager(options: ConnectionOptions = {}) {
  const createSocket = options.createSocket ?? defaultSocket
  const requestFrame = options.requestFrame ?? defaultFrame
  const maxPending = options.maxPending ?? 50_000

  const devices = new Map<string, DeviceState>()
  const connections = new Map<string, DeviceConnection>()
  const health = new Map<string, DeviceHealth>()
  let pendingHealth: DeviceHealth[] = []
  const mode: LiveMode = options.mode ?? 'frame'
  /** Wraps store notifications; the per-update baseline sets it to React's flushSync. */
  let notifyWrapper: ((fn: () => void) => void) | undefined
  const passThrough = new Map<PassThroughEvent, Set<(payload: unknown) => void>>()
  const stats = { messages: 0, updates: 0, flushes: 0 }
  /** Goes up whenever any device's health changes (for views filtered by state). */
  let healthVersion = 0
  const listeners = new Set<() => void>()
  const flushListeners = new Set<(batch: FlushBatch) => void>()
  let pending: LiveUpdate[] = []
  let pendingConnections: (DeviceConnection & { id: string })[] = []
  let frameRequested = false
  let status: LiveStatus = { state: 'idle' }
  let socket: SocketLike | null = null
  let connected = false
  let subscriptions: LiveFilter[] = []

  const notifyAll = () => {
    for (const listener of [...listeners]) listener()
  }
  const notify = () => (notifyWrapper ? notifyWrapper(notifyAll) : notifyAll())

  const setStatus = (state: LiveState, message?: string) => {
    if (status.state === state && status.message === message) return
    status = message === undefined ? { state } : { state, message }
    notify()
  }

  const flush = () => {
    frameRequested = false
    const updates = pending
    const statuses = pendingConnections
    const healthUpdates = pendingHealth
    pending = []
    pendingConnections = []
    pendingHealth = []
    const changed = new Set<string>()
    for (const u of updates) {
      const prev = devices.get(u.id)
      const next = mergeState(prev, u)
      if (next !== prev) {
        devices.set(u.id, next)
        changed.add(u.id)
      }
    }
    for (const { id, connected, at } of statuses) {
      const prev = connections.get(id)
      if (prev && (prev.at > at || prev.connected === connected)) continue
      connections.set(id, { connected, at })
      changed.add(id)
    }
    const appliedHealth: DeviceHealth[] = []
    for (const h of healthUpdates) {
      const prev = health.get(h.id)
      const next = newerHealth(prev, h)
      if (next === prev) continue
      health.set(h.id, next)
      appliedHealth.push(next)
      changed.add(h.id)
    }
    if (appliedHealth.length > 0) healthVersion += 1
    if (changed.size === 0 && updates.length === 0) return
    stats.flushes += 1
    const batch: FlushBatch = { changed, updates, health: appliedHealth }
    for (const listener of [...flushListeners]) listener(batch)
    if (changed.size > 0) notify()
  }

  const schedule = () => {
    if (!frameRequested && (pending.length > 0 || pendingConnections.length > 0 || pendingHealth.length > 0)) {
      frameRequested = true
      requestFrame(flush)
    }
  }

  /** Buffers updates and schedules one flush for the next frame. */
  const ingest = (raw: readonly unknown[]) => {
    for (const r of raw) {
      const u = parseUpdate(r)
      if (u) pending.push(u)
    }
    if (pending.length > maxPending) pending = compact(pending)
    schedule()
  }

  /** What the stream's `update` event does, by mode (the baselines publish at once). */
  const receive = (raw: readonly unknown[]) => {
    stats.messages += 1
    stats.updates += raw.length
    if (mode === 'frame') return ingest(raw)
    if (mode === 'per-message') {
      for (const r of raw) {
        const u = parseUpdate(r)
        if (u) pending.push(u)
      }
      return flush()
    }
    for (const r of raw) {
      const u = parseUpdate(r)
      if (!u) continue
      pending.push(u)
      flush()
    }
  }

  const ingestHealth = (raw: readonly unknown[]) => {
    for (const r of raw) {
      const h = parseHealth(r)
      if (h) pendingHealth.push(h)
    }
    if (pendingHealth.length > maxPending) pendingHealth = [...new Map(pendingHealth.map((h) => [h.id, h])).values()]
    schedule()
  }

  const ingestConnections = (raw: readonly unknown[]) => {
    for (const r of raw) {
      const c = parseConnection(r)
      if (c) pendingConnections.push(c)
    }
    // Only the newest per device matters; keep the buffer bounded like the readings'.
    if (pendingConnections.length > maxPending) pendingConnections = [...new Map(pendingConnections.map((c) => [c.id, c])).values()]
    schedule()
  }

  /** Sends each subscription; each ack carries the room's current state, fed in like updates. */
  const sendSubscriptions = (s: SocketLike) => {
    for (const sub of subscriptions) {
      s.emit('subscribe', sub, (answer: SubscribeAnswer | undefined) => {
        if (socket !== s) return
        if (answer?.ok) {
          if (Array.isArray(answer.snapshot)) ingest(answer.snapshot)
        } else if (answer?.error?.status === 401) setStatus('expired', answer.error.message)
        // A room this user may not see (an installer outside their cities): the others still flow.
        else if (answer?.error?.status === 403) console.warn(`live subscription ${JSON.stringify(sub)} refused: ${answer.error.message}`)
        else setStatus('error', answer?.error?.message ?? 'subscription refused')
      })
    }
  }

  return {
    /** Opens the socket (once); safe to call again. */
    connect(): void {
      if (socket) return
      setStatus('connecting')
      const s = createSocket()
      socket = s
      s.on('connect', () => {
        if (socket !== s) return
        connected = true
        setStatus('live')
        // A new connection has no subscriptions on the server: send them after each (re)connect.
        sendSubscriptions(s)
      })
      s.on('disconnect', (reason: string) => {
        if (socket !== s) return
        connected = false
        if (status.state !== 'expired') setStatus(reason === 'io client disconnect' ? 'idle' : 'reconnecting')
      })
      s.on('connect_error', (err: Error) => {
        if (socket !== s) return
        setStatus('error', err?.message || 'connection refused')
      })
      s.on('session_expired', () => {
        if (socket !== s) return
        setStatus('expired', 'session expired')
      })
      s.on('update', (batch: unknown) => {
        if (socket !== s) return
        receive(Array.isArray(batch) ? batch : [batch])
      })
      s.on('status', (batch: unknown) => {
        if (socket !== s) return
        ingestConnections(Array.isArray(batch) ? batch : [batch])
      })
      s.on('device_states', (payload: unknown) => {
        if (socket !== s) return
        const items = (payload as { items?: unknown } | null)?.items
        if (Array.isArray(items)) ingestHealth(items)
      })
      for (const event of ['alerts', 'alert_rules'] as const) {
        s.on(event, (payload: unknown) => {
          if (socket !== s) return
          for (const listener of [...(passThrough.get(event) ?? [])]) listener(payload)
        })
      }
    },

    /** Closes the socket and forgets every device (used on logout). */
    close(): void {
      const s = socket
      socket = null
      connected = false
      s?.disconnect()
      devices.clear()
      connections.clear()
      health.clear()
      pending = []
      pendingConnections = []
      pendingHealth = []
      subscriptions = []
      status = { state: 'idle' }
      notify()
    },

    /**
     * Replaces the server-side subscriptions: drops them all, then subscribes to each filter
     * (the server adds subscriptions up; it has no "everything" filter, so the whole region is
     * one subscription per city).
     */
    setSubscriptions(next: readonly LiveFilter[]): void {
      const clean = next.map(cleanFilter).filter((f) => Object.keys(f).length > 0)
      if (JSON.stringify(clean) === JSON.stringify(subscriptions)) return
      subscriptions = clean
      if (socket && connected) {
        socket.emit('unsubscribe')
        sendSubscriptions(socket)
      }
    },

    getSubscriptions: (): readonly LiveFilter[] => subscriptions,

    /** Feeds updates in as if they came from the socket (REST seeds, tests). */
    ingest,

    /** Feeds device health in (the REST snapshot, tests); merged by recency with the stream's. */
    ingestHealth,

    /** Listens to a server event the manager does not interpret (alerts). */
    onEvent(event: PassThroughEvent, listener: (payload: unknown) => void): () => void {
      let set = passThrough.get(event)
      if (!set) passThrough.set(event, (set = new Set()))
      set.add(listener)
      return () => {
        set.delete(listener)
      }
    },

    mode,
    /** Wraps every store notification (the per-update baseline passes React's flushSync). */
    setNotifyWrapper(wrapper: ((fn: () => void) => void) | undefined): void {
      notifyWrapper = wrapper
    },
    /** Messages and updates received, frames applied: for the benchmark. */
    stats: () => ({ ...stats }),

    // ---- store API for useSyncExternalStore: stable function identities.
    subscribe(listener: () => void): () => void {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },
    getDevice: (id: string): DeviceState | undefined => devices.get(id),
    getConnection: (id: string): DeviceConnection | undefined => connections.get(id),
    getHealth: (id: string): DeviceHealth | undefined => health.get(id),
    getHealthMap: (): ReadonlyMap<string, DeviceHealth> => health,
    getHealthVersion: (): number => healthVersion,
    getStatus: (): LiveStatus => status,
    /** All current states; the map reads it when it (re)builds its source. */
    getDevices: (): ReadonlyMap<string, DeviceState> => devices,

    /** Called once per applied frame, before store subscribers. */
    onFlush(listener: (batch: FlushBatch) => void): () => void {
      flushListeners.add(listener)
      return () => {
        flushListeners.delete(listener)
      }
    },
  }
}

export type ConnectionManager = ReturnType<typeof createConnectionManager>

/** The app's single connection. Creating it opens nothing; `connect()` does, after login. */
export const live = createConnectionManager({ mode: typeof location === 'undefined' ? 'frame' : modeFromUrl(location.search) })

// The benchmark (bench/dashboard.ts) reads these counters from the page.
if (typeof window !== 'undefined') (window as unknown as { __piazzaLiveStats?: () => unknown }).__piazzaLiveStats = () => ({ mode: live.mode, ...live.stats() })
