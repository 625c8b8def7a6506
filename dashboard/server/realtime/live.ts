import { randomBytes } from 'node:crypto'
import { KINDS, type DeviceType } from '../../../devices/kinds.ts'
import type { DeviceRef } from '../../../devices/registry.ts'
import type { Feed } from '../../../feed/feed.ts'
import { SubscriptionSchema, UnsubscribeSchema, type ErrorBody, type LiveUpdate } from '../../shared/realtime.ts'
import { createLiveState, fullView, publicView, statusView, type Entry, type LiveReading } from './live-state.ts'
import type { Realtime } from './server.ts'
import { checkSubscription, explainSubscription, matches, roomOf, roomsOf, sameSubscription, type Subscription } from './subscriptions.ts'
import type { RealtimeServer, RealtimeSocket } from './types.ts'

export type { LiveReading } from './live-state.ts'

/**
 * The live stream. The feed's accepted readings and connection changes only overwrite each
 * device's newest state (live-state.ts); every coalesceMs a tick emits, to each room with
 * changes, ONE `update` message with the devices that changed (and a `status` message for
 * connection changes, logged-in rooms only), so thousands of readings a second reach a browser as
 * a few small messages a second.
 *
 * Subscriptions are filters `{ city?, type?, device? }` (all given keys must match) or
 * `{ public: true, … }` for the citizens' room (air-quality values only); each maps to one room
 * (subscriptions.ts). `subscribe` / `unsubscribe` answer through the ack: `{ ok: true,
 * subscription, snapshot }` (the room's current state) or `{ ok: false, error }`.
 *
 * Nothing queues per socket: a socket whose transport is backed up is moved to the `live:lagging`
 * room, which every emit skips; once it drains it gets a `resync` event and subscribes again,
 * getting the current state in the answer. Messages carry a per-room sequence number so a
 * browser that misses one can do the same.
 */

export interface LiveRoomAuth {
  /** Whether this logged-in user may have this non-public subscription (e.g. an installer: only their cities and devices). */
  authorize?(username: string, subscription: { city?: string; type?: string; device?: string }): ErrorBody | undefined
  /** The registry's view of a device, to place connection changes and check device subscriptions. */
  lookup(id: string): DeviceRef | undefined
}

export interface LiveHubOptions {
  coalesceMs?: number
  /** A socket whose WebSocket has more than this many bytes unsent is lagging. */
  maxBufferedBytes?: number
  /** Or whose engine.io write buffer holds this many packets (long-polling clients). */
  maxQueuedPackets?: number
  maxSubscriptionsPerSocket?: number
}

export const LAGGING_ROOM = 'live:lagging'

function backedUp(socket: RealtimeSocket, maxBufferedBytes: number, maxQueuedPackets: number): boolean {
  const conn = socket.conn as unknown as { writeBuffer?: unknown[]; transport?: { socket?: { bufferedAmount?: unknown } } }
  if ((conn.writeBuffer?.length ?? 0) >= maxQueuedPackets) return true
  const buffered = conn.transport?.socket?.bufferedAmount
  return typeof buffered === 'number' && buffered > maxBufferedBytes
}

export function createLiveHub(options: LiveHubOptions = {}) {
  const { coalesceMs = 250, maxBufferedBytes = 1024 * 1024, maxQueuedPackets = 8, maxSubscriptionsPerSocket = 32 } = options
  const state = createLiveState()
  const hub = randomBytes(4).toString('hex')
  const seq = new Map<string, number>()
  const subscriptions = new WeakMap<RealtimeSocket, Subscription[]>()
  const lagging = new Set<RealtimeSocket>()
  const stats = { updatesSent: 0, statusSent: 0, skippedBackedUp: 0 }
  let io: RealtimeServer | undefined
  let rooms: LiveRoomAuth | undefined
  let timer: NodeJS.Timeout | undefined

  const push = (device: DeviceRef, readings: readonly LiveReading[], receivedAt: number) => state.reading(device, readings, receivedAt)
  function connectionChanged(deviceId: string, connected: boolean): void {
    const known = state.get(deviceId) ?? rooms?.lookup(deviceId)
    if (known) state.connection(known, connected, Date.now())
  }

  function snapshot(sub: Subscription): LiveUpdate[] {
    const out: LiveUpdate[] = []
    for (const e of state.entries.values()) {
      if (e.time === undefined || !matches(sub, e)) continue
      out.push(sub.public ? publicView(e) : fullView(e))
    }
    return out
  }

  /** Moves sockets in and out of the lagging room; those that drained are told to resync. */
  function checkLagging(server: RealtimeServer): void {
    for (const socket of server.of('/').sockets.values()) {
      if (!subscriptions.get(socket)?.length) continue
      const behind = backedUp(socket, maxBufferedBytes, maxQueuedPackets)
      if (behind && !lagging.has(socket)) {
        lagging.add(socket)
        void socket.join(LAGGING_ROOM)
      } else if (!behind && lagging.has(socket)) {
        lagging.delete(socket)
        void socket.leave(LAGGING_ROOM)
        socket.emit('resync')
      }
      if (behind) stats.skippedBackedUp += 1
    }
  }

  /** A device's rooms, made again only when its city or type changes (not per tick). */
  function roomsOfEntry(e: Entry): { full: string[]; public: string[] } {
    if (e.rooms?.city !== e.city || e.rooms.type !== e.type) e.rooms = { city: e.city, type: e.type, ...roomsOf(e) }
    return e.rooms
  }

  function tick(): void {
    const server = io
    const changed = state.takeDirty()
    if (!server) return
    checkLagging(server)
    if (changed.length === 0) return
    const updates = new Map<string, LiveUpdate[]>()
    const statuses = new Map<string, Entry[]>()
    const add = <T>(map: Map<string, T[]>, room: string, item: T) => {
      const list = map.get(room)
      if (list) list.push(item)
      else map.set(room, [item])
    }
    // With thousands of devices changing every tick, only the rooms someone listens to on this
    // node are filled, and views are made only for those: the rest costs a lookup per room.
    const listened = server.of('/').adapter.rooms
    for (const e of changed) {
      const targets = roomsOfEntry(e)
      if (e.readingChanged && e.time !== undefined) {
        for (const room of targets.full) if (listened.has(room)) add(updates, room, fullView(e))
        for (const room of targets.public) if (listened.has(room)) add(updates, room, publicView(e))
      }
      if (e.statusChanged) for (const room of targets.full) if (listened.has(room)) add(statuses, room, e)
      e.readingChanged = false
      e.statusChanged = false
    }
    // Status of a tick before its update, as browsers expect.
    for (const [room, entries] of statuses) {
      stats.statusSent += 1
      server.local.to(room).except(LAGGING_ROOM).emit('status', { room, items: entries.map(statusView) })
    }
    for (const [room, list] of updates) {
      const n = (seq.get(room) ?? 0) + 1
      seq.set(room, n)
      stats.updatesSent += 1
      server.local.to(room).except(LAGGING_ROOM).emit('update', { room, hub, seq: n, updates: list })
    }
  }

  function subscribe(socket: RealtimeSocket, payload: Parameters<typeof checkSubscription>[0], answer: (result: unknown) => void): void {
    const sub = checkSubscription(payload, socket.data.user)
    if ('status' in sub) return answer({ ok: false, error: sub })
    const user = socket.data.user
    const denied = !sub.public && user ? rooms?.authorize?.(user.username, sub) : undefined
    if (denied) return answer({ ok: false, error: denied })
    const subs = subscriptions.get(socket) ?? []
    if (!subs.some((s) => sameSubscription(s, sub))) {
      if (subs.length >= maxSubscriptionsPerSocket) {
        return answer({ ok: false, error: { status: 429, code: 'too-many-requests', message: `at most ${maxSubscriptionsPerSocket} subscriptions per connection` } })
      }
      subs.push(sub)
      subscriptions.set(socket, subs)
      // A device filter that contradicts the device's own city or type matches nothing: no room.
      const device = sub.device === undefined ? undefined : (state.get(sub.device) ?? rooms?.lookup(sub.device))
      if (!device || matches(sub, device)) void socket.join(roomOf(sub))
    }
    answer({ ok: true, subscription: sub, snapshot: snapshot(sub) })
  }

  function unsubscribe(socket: RealtimeSocket, payload: Parameters<typeof checkSubscription>[0] | null | undefined, answer: (result: unknown) => void): void {
    const subs = subscriptions.get(socket) ?? []
    let removed: Subscription[]
    if (payload === undefined || payload === null) removed = subs.splice(0)
    else {
      const sub = checkSubscription(payload, socket.data.user)
      if ('status' in sub) return answer({ ok: false, error: sub })
      removed = subs.filter((s) => sameSubscription(s, sub))
      subscriptions.set(socket, subs.filter((s) => !sameSubscription(s, sub)))
    }
    const left = new Set((subscriptions.get(socket) ?? []).map(roomOf))
    for (const sub of removed) if (!left.has(roomOf(sub))) void socket.leave(roomOf(sub))
    answer({ ok: true, removed: removed.length })
  }

  return {
    coalesceMs,
    hub,

    /** Ingest's accepted readings (through the feed): keeps only the newest per device. */
    push,
    /** The broker's connection changes (through the feed). Devices the registry cannot place are ignored. */
    connectionChanged,

    /** A device's newest stored reading, restored at start; ignored once a reading has been received (newer wins). */
    seed: (device: DeviceRef, reading: LiveReading): boolean => state.seed(device, reading),

    /** Takes readings and connection changes from the feed; returns the unsubscribe function. */
    follow(feed: Pick<Feed, 'subscribe'>): () => void {
      return feed.subscribe({ accepted: push, connection: connectionChanged }, 'live')
    },

    attach(realtime: Realtime, auth: LiveRoomAuth): void {
      if (timer) throw new Error('live hub is already attached')
      io = realtime.io
      rooms = auth
      realtime.listen('subscribe', SubscriptionSchema, subscribe, explainSubscription)
      realtime.listen('unsubscribe', UnsubscribeSchema, unsubscribe, explainSubscription)
      realtime.io.on('connection', (socket) => socket.on('disconnect', () => lagging.delete(socket)))
      timer = setInterval(tick, coalesceMs)
      timer.unref()
    },

    /** Stops the ticks (the Socket.IO server is closed by its owner). */
    detach(): void {
      clearInterval(timer)
      timer = undefined
      io = undefined
    },

    /** Runs a tick now (tests, and a last send before shutdown). */
    flush: tick,

    /** Newest live values of a device's fields, as received (not yet necessarily stored). */
    latest(deviceId: string): { time: number; values: Record<string, number>; receivedAt: number } | undefined {
      const e = state.get(deviceId)
      if (!e || e.time === undefined) return undefined
      const values: Record<string, number> = {}
      for (const field of KINDS[e.type].fieldNames) {
        const v = e.values![field]
        if (typeof v === 'number') values[field] = v
      }
      return { time: e.time, values, receivedAt: e.receivedAt! }
    },

    /**
     * Every device of a type with a reading: its newest tags and fields (as logged-in users see
     * them) and when it was received, for the public mobility feeds' snapshots.
     */
    readingsOf(type: DeviceType): { id: string; city: string; time: number; values: Record<string, number | string>; receivedAt: number }[] {
      const out: { id: string; city: string; time: number; values: Record<string, number | string>; receivedAt: number }[] = []
      for (const e of state.entries.values()) {
        if (e.type !== type || e.time === undefined) continue
        out.push({ id: e.id, city: e.city, time: e.time, values: fullView(e).values, receivedAt: e.receivedAt ?? e.time })
      }
      return out
    },

    /**
     * When this process last received a reading from the device, epoch ms; for a device not heard
     * from since the start, its newest stored reading's (device) time, when restored.
     */
    lastSeen(deviceId: string): number | undefined {
      return state.get(deviceId)?.receivedAt
    },

    /** Whether the device is logged in to the broker, as the feed last said. */
    isConnected(deviceId: string): boolean {
      return state.get(deviceId)?.connected === true
    },

    /** Connected devices, as the feed says. */
    connectedCount(): number {
      let n = 0
      for (const e of state.entries.values()) if (e.connected) n += 1
      return n
    },

    socketCount(): number {
      return io?.of('/').sockets.size ?? 0
    },

    stats() {
      return { sockets: io?.of('/').sockets.size ?? 0, devices: state.entries.size, lagging: lagging.size, ...stats }
    },
  }
}

export type LiveHub = ReturnType<typeof createLiveHub>
