import { io } from 'socket.io-client'
import { Compile } from 'typebox/compile'
import {
  LiveUpdateSchema,
  StatusMessageSchema,
  SubscribeAnswerSchema,
  UpdateMessageSchema,
  type ConnectionStatus,
  type ErrorBody,
  type LiveUpdate,
  type SubscriptionRequest,
} from '../../shared/realtime.ts'
import type { Words } from '../../shared/words.ts'
import { CommissioningStateSchema, WatchAnswerSchema, type CommissioningState, type WatchAnswer } from '../../shared/commissioning.ts'
import { newerHealth, parseHealth, type DeviceHealth } from './health.ts'

/**
 * The one realtime connection of a browser tab, kept outside React. It owns the Socket.IO client,
 * keeps the latest state per device, and applies incoming updates at most once per animation
 * frame: the server already coalesces every ~250 ms, but several batches (plus snapshots and REST
 * seeds) can land between two paints and there is no point re-rendering or re-uploading the map
 * more than once a frame.
 *
 * Components read it through `subscribe`/`getDevice`/`getConnection`/`getStatus` with
 * useSyncExternalStore. A device's state object is replaced only when that device changes, so a
 * component selecting one device re-renders only for that device. Imperative consumers (the map,
 * the chart) use `onFlush` to get the ids and raw updates applied in a frame.
 *
 * The protocol is dashboard/shared/realtime.ts; every message is checked against its schema and
 * dropped (counted in `stats().dropped`) when it does not match. Subscriptions are additive
 * filters `{ city?, type?, device? }`; `subscribe` answers through its ack with the room's
 * current state (`snapshot`) or an error; `unsubscribe` without a payload drops them all.
 * `update` messages carry `{ room, hub, seq, updates }`: `seq` counts the messages a hub sent to
 * a room, and the server drops a tick for a socket that cannot take it, so a gap means readings
 * were missed: the manager then subscribes again, and the answers' snapshots fill the gap.
 * `status` carries `{ room, items }` (device connected or not), `device_states` device health
 * (dashboard/shared/operations.ts), `session_expired` the end of the session.
 *
 * The installer's commissioning page watches a device through the same socket
 * (`watchCommissioning`; `commissioning:watch`, `commissioning` and their schemas in
 * dashboard/shared/commissioning.ts): one socket per tab.
 */

export type { LiveUpdate }

/** The latest known state of one device: values merged over its updates (fields can arrive separately). */
export type DeviceState = LiveUpdate

/** A device's broker connection as the `status` event reports it (`at`: when it changed, epoch ms). */
export type DeviceConnection = Pick<ConnectionStatus, 'connected' | 'at'>

export type LiveState = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'error' | 'expired'
export interface LiveStatus {
  state: LiveState
  /** Why, for 'error' (e.g. the handshake was refused): the server's English sentence, or the transport's error. */
  message?: string
  /** The server's refusal as a code and figures, for the page's language. */
  words?: Words
}

/** One server-side subscription; all given keys must match (the citizens' `public` room is not the app's). */
export type LiveFilter = Omit<SubscriptionRequest, 'public'>

/** What a frame applied: which devices changed (readings, connection or health) and every update, in arrival order. */
export interface FlushBatch {
  changed: ReadonlySet<string>
  updates: readonly LiveUpdate[]
  /** Health changes applied in this frame. */
  health?: readonly DeviceHealth[]
}

/**
 * How updates reach subscribers. 'frame' (the app): buffered and applied once per animation
 * frame. 'per-message' applies and publishes every socket message as it arrives, 'per-update'
 * every single device update in it (the benchmark's baselines, live/baseline.ts).
 */
export type LiveMode = 'frame' | 'per-message' | 'per-update'

/** Server events the manager passes through untouched to whoever listens (the alerts store). */
export type PassThroughEvent = 'alerts' | 'alert_rules'

/** The answer to `commissioning:watch` (dashboard/shared/commissioning.ts). */
export type CommissioningAnswer = WatchAnswer

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

export interface LiveStats {
  /** `update` messages received (valid ones). */
  messages: number
  /** Device updates in them. */
  updates: number
  /** Frames applied. */
  flushes: number
  /** Messages (or items of a list) that failed their schema and were dropped. */
  dropped: number
  /** Sequence gaps seen (each one re-sends the subscriptions). */
  gaps: number
}

const defaultSocket = (): SocketLike =>
  // Same origin, default path; the session cookie authenticates the handshake.
  io({ path: '/socket.io', withCredentials: true }) as unknown as SocketLike

const defaultFrame = (callback: () => void): unknown =>
  typeof requestAnimationFrame === 'function' ? requestAnimationFrame(() => callback()) : setTimeout(callback, 16)

// The protocol's checkers, compiled once.
const isUpdate = Compile(LiveUpdateSchema)
const isUpdateMessage = Compile(UpdateMessageSchema)
const isStatusMessage = Compile(StatusMessageSchema)
const isSubscribeAnswer = Compile(SubscribeAnswerSchema)

const isCommissioningState = Compile(CommissioningStateSchema)
const isWatchAnswer = Compile(WatchAnswerSchema)

/** Folds an update into a device's previous state; returns the previous object when nothing changes. */
export function mergeState(prev: DeviceState | undefined, u: LiveUpdate): DeviceState {
  if (!prev) return u
  // An older reading (late delivery, or a REST seed racing the stream) must not overwrite newer values.
  if (u.time < prev.time) return prev
  // The same reading again (a snapshot after a reconnect or a new subscription): nothing changed.
  if (u.time === prev.time && Object.entries(u.values).every(([k, v]) => prev.values[k] === v)) return prev
  return { id: u.id, type: u.type, city: u.city, time: u.time, values: { ...prev.values, ...u.values } }
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

interface CommissioningWatcher {
  onState: (state: CommissioningState) => void
  onAnswer?: (answer: CommissioningAnswer) => void
}

export function createConnectionManager(options: ConnectionOptions = {}) {
  const createSocket = options.createSocket ?? defaultSocket
  const requestFrame = options.requestFrame ?? defaultFrame
  const maxPending = options.maxPending ?? 50_000

  const devices = new Map<string, DeviceState>()
  const connections = new Map<string, DeviceConnection>()
  const health = new Map<string, DeviceHealth>()
  let pendingHealth: DeviceHealth[] = []
  let mode: LiveMode = options.mode ?? 'frame'
  /** Wraps store notifications (a benchmark baseline renders each one at once with React's flushSync). */
  let notifyWrapper: ((fn: () => void) => void) | undefined
  const passThrough = new Map<PassThroughEvent, Set<(payload: unknown) => void>>()
  const stats: LiveStats = { messages: 0, updates: 0, flushes: 0, dropped: 0, gaps: 0 }
  /** Goes up whenever any device's health changes (for views filtered by state). */
  let healthVersion = 0
  const listeners = new Set<() => void>()
  const flushListeners = new Set<(batch: FlushBatch) => void>()
  let pending: LiveUpdate[] = []
  let pendingConnections: (DeviceConnection & { id: string })[] = []
  let frameRequested = false
  let status: LiveStatus = { state: 'idle' }
  /** When the stream last brought data, or was last known current (a disconnect): the age of what is shown. */
  let lastDataAt: number | undefined
  let socket: SocketLike | null = null
  let connected = false
  let subscriptions: LiveFilter[] = []
  /** The last `seq` per hub and room; forgotten once a round of subscriptions is answered. */
  const seqs = new Map<string, number>()
  /** Counts rounds of subscriptions; a gap seen while one is unanswered needs no other. */
  let round = 0
  let roundOpen = false
  const watchers = new Map<string, Set<CommissioningWatcher>>()

  const notifyAll = () => {
    for (const listener of [...listeners]) listener()
  }
  const notify = () => (notifyWrapper ? notifyWrapper(notifyAll) : notifyAll())

  const setStatus = (state: LiveState, message?: string, words?: Words) => {
    if (status.state === state && status.message === message) return
    status = message === undefined ? { state } : words ? { state, message, words } : { state, message }
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

  /** Buffers checked updates and schedules one flush for the next frame. */
  const buffer = (updates: readonly LiveUpdate[]) => {
    for (const u of updates) pending.push(u)
    if (pending.length > maxPending) pending = compact(pending)
    schedule()
  }

  /** Feeds updates in as if they came from the socket (REST seeds, tests): each one is checked, the bad ones dropped. */
  const ingest = (raw: readonly unknown[]) => {
    const good: LiveUpdate[] = []
    for (const r of raw) {
      if (isUpdate.Check(r)) good.push(r)
      else stats.dropped += 1
    }
    buffer(good)
  }

  /** What the stream's `update` event does, by mode (the baselines publish at once). */
  const receive = (updates: readonly LiveUpdate[]) => {
    lastDataAt = Date.now()
    stats.messages += 1
    stats.updates += updates.length
    if (mode === 'frame') return buffer(updates)
    if (mode === 'per-message') {
      pending.push(...updates)
      return flush()
    }
    for (const u of updates) {
      pending.push(u)
      flush()
    }
  }

  const ingestHealth = (raw: readonly unknown[]) => {
    for (const r of raw) {
      const h = parseHealth(r)
      if (h) pendingHealth.push(h)
      else stats.dropped += 1
    }
    if (pendingHealth.length > maxPending) pendingHealth = [...new Map(pendingHealth.map((h) => [h.id, h])).values()]
    schedule()
  }

  const ingestConnections = (items: readonly ConnectionStatus[]) => {
    for (const { id, connected, at } of items) pendingConnections.push({ id, connected, at })
    // Only the newest per device matters; keep the buffer bounded like the readings'.
    if (pendingConnections.length > maxPending) pendingConnections = [...new Map(pendingConnections.map((c) => [c.id, c])).values()]
    schedule()
  }

  /**
   * Sends each subscription; each answer carries the room's current state, fed in like updates.
   * Once every answer of the round is in, the sequence numbers seen so far are forgotten: the
   * snapshots are the new baseline.
   */
  const sendSubscriptions = (s: SocketLike) => {
    const mine = ++round
    let unanswered = subscriptions.length
    roundOpen = unanswered > 0
    if (!roundOpen) seqs.clear()
    const answered = () => {
      if (--unanswered > 0 || mine !== round) return
      roundOpen = false
      seqs.clear()
    }
    for (const sub of subscriptions) {
      s.emit('subscribe', sub, (answer: unknown) => {
        if (socket !== s) return
        answered()
        if (!isSubscribeAnswer.Check(answer)) {
          stats.dropped += 1
          return setStatus('error', 'the server sent a malformed subscribe answer')
        }
        if (answer.ok) buffer(answer.snapshot)
        else if (answer.error.status === 401) setStatus('expired', answer.error.message)
        // A room this user may not see (an installer outside their cities): the others still flow.
        else if (answer.error.status === 403) console.warn(`live subscription ${JSON.stringify(sub)} refused: ${answer.error.message}`)
        else setStatus('error', answer.error.message, answer.error.words)
      })
    }
  }

  /** Drops every subscription on the server and sends them again (after a change, or a gap in the stream). */
  const resubscribe = (s: SocketLike) => {
    s.emit('unsubscribe')
    sendSubscriptions(s)
  }

  /** Records a message's sequence number; true when messages before it went missing. */
  const gapBefore = (hub: string, room: string, seq: number): boolean => {
    const key = `${hub}\u0000${room}`
    const last = seqs.get(key)
    seqs.set(key, seq)
    return last !== undefined && seq > last + 1
  }

  const sendWatch = (s: SocketLike, device: string) => {
    s.emit('commissioning:watch', { device }, (answer: unknown) => {
      if (socket !== s) return
      if (!isWatchAnswer.Check(answer)) {
        stats.dropped += 1
        return
      }
      for (const w of [...(watchers.get(device) ?? [])]) {
        w.onAnswer?.(answer)
        if (answer.ok) w.onState(answer.state)
      }
    })
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
        for (const device of watchers.keys()) sendWatch(s, device)
      })
      s.on('disconnect', (reason: string) => {
        if (socket !== s) return
        connected = false
        lastDataAt = Date.now()
        if (status.state !== 'expired') setStatus(reason === 'io client disconnect' ? 'idle' : 'reconnecting')
      })
      s.on('connect_error', (err: Error & { data?: Partial<ErrorBody> }) => {
        if (socket !== s) return
        // A refusal by the server carries its reason in data; a transport failure only a message.
        setStatus('error', err?.data?.message || err?.message || 'connection refused', err?.data?.words)
      })
      s.on('session_expired', () => {
        if (socket !== s) return
        setStatus('expired', 'session expired')
      })
      s.on('update', (message: unknown) => {
        if (socket !== s) return
        if (!isUpdateMessage.Check(message)) {
          stats.dropped += 1
          return
        }
        const gap = gapBefore(message.hub, message.room, message.seq)
        receive(message.updates)
        if (gap) {
          stats.gaps += 1
          // Ticks were dropped for this socket: the snapshots of a new round fill them in.
          if (!roundOpen && connected) resubscribe(s)
        }
      })
      // The server skipped this socket while it could not take messages: get the current state again.
      s.on('resync', () => {
        if (socket !== s) return
        stats.gaps += 1
        if (!roundOpen && connected) resubscribe(s)
      })
      s.on('status', (message: unknown) => {
        if (socket !== s) return
        if (isStatusMessage.Check(message)) ingestConnections(message.items)
        else stats.dropped += 1
      })
      s.on('device_states', (payload: unknown) => {
        if (socket !== s) return
        const items = (payload as { items?: unknown } | null)?.items
        if (Array.isArray(items)) ingestHealth(items)
        else stats.dropped += 1
      })
      s.on('commissioning', (state: unknown) => {
        if (socket !== s) return
        if (!isCommissioningState.Check(state)) {
          stats.dropped += 1
          return
        }
        for (const w of [...(watchers.get(state.device.id) ?? [])]) w.onState(state)
      })
      for (const event of ['alerts', 'alert_rules'] as const) {
        s.on(event, (payload: unknown) => {
          if (socket !== s) return
          for (const listener of [...(passThrough.get(event) ?? [])]) listener(payload)
        })
      }
    },

    /** Closes the socket and forgets every device (used on logout). Commissioning watches stay until their unwatch. */
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
      seqs.clear()
      roundOpen = false
      lastDataAt = undefined
      status = { state: 'idle' }
      notify()
    },

    /** Whether the socket is open (connected or connecting). */
    isOpen: (): boolean => socket !== null,

    /**
     * Replaces the server-side subscriptions: drops them all, then subscribes to each filter
     * (the server adds subscriptions up; it has no "everything" filter, so the whole region is
     * one subscription per city).
     */
    setSubscriptions(next: readonly LiveFilter[]): void {
      const clean = next.map(cleanFilter).filter((f) => Object.keys(f).length > 0)
      if (JSON.stringify(clean) === JSON.stringify(subscriptions)) return
      subscriptions = clean
      if (socket && connected) resubscribe(socket)
    },

    getSubscriptions: (): readonly LiveFilter[] => subscriptions,

    /**
     * Watches one device being commissioned: `commissioning:watch` { device } now (or on connect)
     * and after every reconnection; `onAnswer` gets each answer (the state, or why not: 401, 403,
     * 404), `onState` the state in the answer and in every later `commissioning` event for the
     * device. The returned function stops watching (`commissioning:unwatch` when it was the last
     * watcher of that device).
     */
    watchCommissioning(device: string, onState: (state: CommissioningState) => void, onAnswer?: (answer: CommissioningAnswer) => void): () => void {
      const watcher: CommissioningWatcher = { onState, onAnswer }
      let set = watchers.get(device)
      if (!set) watchers.set(device, (set = new Set()))
      set.add(watcher)
      if (socket && connected) sendWatch(socket, device)
      let stopped = false
      return () => {
        if (stopped) return
        stopped = true
        set.delete(watcher)
        if (set.size > 0 || watchers.get(device) !== set) return
        watchers.delete(device)
        if (socket && connected) socket.emit('commissioning:unwatch', { device })
      }
    },

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

    get mode(): LiveMode {
      return mode
    },
    /** How updates reach subscribers from now on (set before `connect`). */
    setMode(next: LiveMode): void {
      mode = next
    },
    /** Wraps every store notification (e.g. in React's flushSync, to render each one at once). */
    setNotifyWrapper(wrapper: ((fn: () => void) => void) | undefined): void {
      notifyWrapper = wrapper
    },
    /** Messages and updates received, frames applied, messages dropped, gaps seen. */
    stats: (): LiveStats => ({ ...stats }),

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
    /** When the shown data was last known current (epoch ms): a reading arrived, or the stream dropped; undefined before any. */
    getLastDataAt: (): number | undefined => lastDataAt,
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

/** The tab's single connection. Creating it opens nothing; `connect()` does, after login. */
export const live = createConnectionManager()
