import { KINDS } from '../../../devices/kinds.ts'
import type { Rejection, ValidReading } from '../../../devices/readings.ts'
import { DEVICE_ID_PATTERN, type Device, type Registry } from '../../../devices/registry.ts'
import { findCity } from '../../../devices/region.ts'
import type { DeadLetter } from '../../../ingest/storage/contract.ts'
import type { Feed } from '../../../feed/feed.ts'
import type { LoginRefusal } from '../../../devices/device-schemas.ts'
import { WatchSchema } from '../../shared/realtime.ts'
import type { CommissioningReading, CommissioningRejection, CommissioningState, WatchAnswer } from '../../shared/commissioning.ts'
import { words, type Words } from '../../shared/words.ts'
import { assess, type Track } from './commissioning-checks.ts'
import { commissioningRoom as room, commissioningRoomDevice } from '../realtime/rooms.ts'
import type { Realtime } from '../realtime/server.ts'
import type { RealtimeServer } from '../realtime/types.ts'
import { deviceRefusal, type Actor } from '../identity/permissions.ts'

/**
 * The commissioning view of one device, live: what an installer on a street corner needs to know
 * in the two minutes after mounting a sensor. Built from the feed (connections, accepted and
 * rejected readings as they happen) and the registry, and answered over Socket.IO:
 *
 *   client → `commissioning:watch` { device } with an ack → { ok: true, state } or
 *            { ok: false, error: { status, code, message } } (401 without a session, 403 for a
 *            device the user may not see, 404 unknown, 400 malformed);
 *   client → `commissioning:unwatch` { device };
 *   server → `commissioning` (CommissioningState) to every socket watching that device, whenever
 *            anything about it changes (coalesced per device to one message per 100 ms).
 *
 * The stages go waiting → connected → receiving → plausible: connected once, a first reading,
 * values accepted, the location within CITY_RADIUS_KM of its city's centre, and readings arriving
 * about every `interval` seconds (device timestamps, median of the recent gaps within 0.5–1.5×).
 * Every rejected payload is listed at once with its exact reason.
 *
 * Memory is bounded: at most MAX_TRACKED devices are remembered, in two generations of half that
 * each. A device is found in the current one, or moved up from the previous one; when the current
 * one is full it becomes the previous one, and the devices with no activity for a whole generation
 * are forgotten. One map lookup per message, where keeping one map in order of activity took a
 * delete and an insert. A generation holds half of MAX_TRACKED (50,000): a fleet with more
 * devices reporting than a generation holds moves every one of them from generation to
 * generation (a delete and an insert per message again, and a new map each time one fills) and
 * forgets the devices that report less often than the generations turn over, so they never reach
 * 'plausible'. The 20,000 this was before (generations of 10,000) did that to a fleet of 10,001.
 * A remembered device takes under 1 KB (its counts, its last 12 timestamps, its first and last
 * readings), plus the reasons of up to 20 refused payloads when it has any.
 */

const DEVICE_ID = new RegExp(DEVICE_ID_PATTERN)
const MAX_TRACKED = 100_000
const MAX_REJECTIONS = 20
const MAX_TIMES = 12
const EMIT_COALESCE_MS = 100
const DEAD_LETTER_SEED_MS = 3_600_000

export interface CommissioningUser {
  username: string
  role: string
}

export interface CommissioningDeps {
  registry: Pick<Registry, 'get' | 'onChange'>
  feed?: Pick<Feed, 'subscribe'>
  /** Which devices are logged in now, as the feed says. */
  connections?: { isConnected(deviceId: string): boolean }
  /** The newest reading the live hub holds (received before this module watched). */
  latest?: (deviceId: string) => { time: number; values: Record<string, number>; receivedAt: number } | undefined
  /** Recent refused payloads from storage, to show what happened before the page was opened. */
  deadLetters?: (query: { deviceId: string; limit: number }) => Promise<DeadLetter[]>
  /** The current account of a socket's user (role and cities may have changed); undefined when gone or disabled. */
  lookupUser(username: string): Actor | undefined
  /** Devices remembered at most (default MAX_TRACKED). */
  maxTracked?: number
}

/** Keeps the newest MAX_TIMES distinct times, ascending; in-order arrivals (nearly all) take the short way. */
function addTime(times: number[], time: number): void {
  const n = times.length
  if (n === 0 || time > times[n - 1]!) {
    times.push(time)
    if (n === MAX_TIMES) times.shift()
    return
  }
  if (times.includes(time)) return
  times.push(time)
  times.sort((a, b) => a - b)
  if (times.length > MAX_TIMES) times.shift()
}

export function createCommissioning(deps: CommissioningDeps) {
  const { registry, connections } = deps
  const maxTracked = deps.maxTracked ?? MAX_TRACKED
  let tracks = new Map<string, Track>()
  let previous = new Map<string, Track>()
  const tracked = (id: string): Track | undefined => tracks.get(id) ?? previous.get(id)
  const pendingEmits = new Map<string, NodeJS.Timeout>()
  let io: RealtimeServer | undefined
  // Devices someone watches on this node, kept from the adapter's room events: the ingest path
  // asks it by id instead of making a room name per message to look up.
  const watched = new Set<string>()
  let stopFollowingRooms: (() => void) | undefined
  const unsubscribers: (() => void)[] = []

  function track(id: string): Track {
    let t = tracks.get(id)
    if (t) return t
    t = previous.get(id)
    if (t) previous.delete(id)
    else t = { everConnected: false, accepted: 0, rejected: 0, rejections: [], times: [] }
    if (tracks.size >= maxTracked / 2) {
      previous = tracks
      tracks = new Map()
    }
    tracks.set(id, t)
    return t
  }

  function scheduleEmit(id: string): void {
    if (!io || !watched.has(id) || pendingEmits.has(id)) return
    const timer = setTimeout(() => {
      pendingEmits.delete(id)
      const state = stateOf(id)
      if (state && io) io.local.to(room(id)).emit('commissioning', state)
    }, EMIT_COALESCE_MS)
    timer.unref()
    pendingEmits.set(id, timer)
  }

  // On the ingest path for every message: no registry read here, the feed says the device's type.
  function onAccepted(device: Pick<Device, 'id' | 'type'>, readings: readonly ValidReading[], receivedAt: number): void {
    if (readings.length === 0) return
    const t = track(device.id)
    let newest = readings[0]!
    for (const r of readings) {
      if (r.time >= newest.time) newest = r
      addTime(t.times, r.time)
    }
    const reading = { time: newest.time, receivedAt, values: newest.values }
    t.first ??= reading
    if (!t.last || reading.time >= t.last.time) t.last = reading
    t.accepted += readings.length
    t.lastEvent = 'accepted'
    scheduleEmit(device.id)
  }

  function onRejected(device: { id: string }, rejections: readonly Rejection[], receivedAt: number): void {
    const t = track(device.id)
    for (const r of rejections) {
      const entry: CommissioningRejection = { at: receivedAt, code: r.code, reason: r.reason }
      if (r.index !== undefined) entry.index = r.index
      t.rejections.unshift(entry)
    }
    if (t.rejections.length > MAX_REJECTIONS) t.rejections.length = MAX_REJECTIONS
    t.rejected += rejections.length
    t.lastEvent = 'rejected'
    scheduleEmit(device.id)
  }

  function onConnection(deviceId: string, connected: boolean): void {
    const t = track(deviceId)
    t.connected = connected
    if (connected) {
      t.everConnected = true
      t.connectedAt = Date.now()
    } else t.disconnectedAt = Date.now()
    scheduleEmit(deviceId)
  }

  function onLoginRefused(refusal: LoginRefusal): void {
    const t = track(refusal.deviceId)
    t.loginRefusal = refusal
    scheduleEmit(refusal.deviceId)
  }

  if (deps.feed) unsubscribers.push(deps.feed.subscribe({ accepted: onAccepted, rejected: onRejected, connection: onConnection, loginRefused: onLoginRefused }, 'commissioning'))
  unsubscribers.push(registry.onChange((change) => scheduleEmit(change.device.id)))

  /** Fills a device's track from what the server knew before (live hub, dead letters). */
  async function seed(device: Device): Promise<void> {
    const t = track(device.id)
    if (t.seeded) return
    t.seeded = true
    const latest = deps.latest?.(device.id)
    if (latest && !t.last) {
      const reading = { time: latest.time, receivedAt: latest.receivedAt, values: latest.values }
      t.first = reading
      t.last = reading
      t.times = [latest.time]
      t.lastEvent ??= 'accepted'
    }
    if (t.connected === undefined && connections?.isConnected(device.id)) {
      t.connected = true
      t.everConnected = true
    }
    if (deps.deadLetters && t.rejections.length === 0) {
      try {
        const letters = await deps.deadLetters({ deviceId: device.id, limit: MAX_REJECTIONS })
        const since = Date.now() - DEAD_LETTER_SEED_MS
        const recent = letters.filter((l) => l.receivedAt >= since).map((l) => ({ at: l.receivedAt, code: l.code, reason: l.reason }))
        if (t.rejections.length === 0 && recent.length > 0) {
          t.rejections = recent
          t.rejected = recent.length
          if (!t.last || recent[0]!.at > t.last.receivedAt) t.lastEvent = 'rejected'
        }
      } catch {
        // Storage down: the live events still come.
      }
    }
  }

  function stateOf(id: string): CommissioningState | undefined {
    const device = registry.get(id)
    return device && assess(device, tracked(id), connections?.isConnected(id) ?? false)
  }

  /** Whether this user may watch this device, and its state (seeded) when they may. */
  async function watchable(username: string | undefined, payload: unknown): Promise<WatchAnswer> {
    const fail = (status: number, code: string, message: string, said?: Words): WatchAnswer => ({ ok: false, error: { status, code, message, ...(said ? { words: said } : {}) } })
    if (!username) return fail(401, 'unauthorized', 'log in to watch a device being commissioned')
    const actor = deps.lookupUser(username)
    if (!actor) return fail(401, 'unauthorized', 'the session has ended; log in again')
    const id = (payload as { device?: unknown } | null)?.device
    if (typeof id !== 'string' || !DEVICE_ID.test(id)) return fail(400, 'validation', `give { "device": "<id>" } with an id matching ${DEVICE_ID_PATTERN}`)
    const device = registry.get(id)
    if (!device) return fail(404, 'not-found', `no device with id '${id}'`, words('no-device', { id }))
    const refusal = deviceRefusal(actor, device, 'see')
    if (refusal) return fail(403, 'forbidden', refusal.message, refusal.words)
    await seed(device)
    return { ok: true, state: stateOf(id)! }
  }

  return {
    /** Answers `commissioning:watch` / `commissioning:unwatch` on the realtime server; pushes go to each device's room. */
    attach(realtime: Realtime): void {
      stopFollowingRooms?.()
      io = realtime.io
      const adapter = io.of('/').adapter
      const created = (name: string) => {
        const id = commissioningRoomDevice(name)
        if (id !== undefined) watched.add(id)
      }
      const deleted = (name: string) => {
        const id = commissioningRoomDevice(name)
        if (id !== undefined) watched.delete(id)
      }
      for (const name of adapter.rooms.keys()) created(name)
      adapter.on('create-room', created)
      adapter.on('delete-room', deleted)
      stopFollowingRooms = () => {
        adapter.off('create-room', created)
        adapter.off('delete-room', deleted)
        watched.clear()
      }
      realtime.listen('commissioning:watch', WatchSchema, (socket, payload, answer) => {
        void watchable(socket.data.user?.username, payload).then((result) => {
          if (result.ok) void socket.join(room(result.state.device.id))
          answer(result)
        })
      }, () => `give { "device": "<id>" } with an id matching ${DEVICE_ID_PATTERN}`)
      realtime.listen('commissioning:unwatch', WatchSchema, (socket, payload, answer) => {
        void socket.leave(room(payload.device))
        answer({ ok: true })
      })
    },
    detach(): void {
      io = undefined
      stopFollowingRooms?.()
      stopFollowingRooms = undefined
      for (const timer of pendingEmits.values()) clearTimeout(timer)
      pendingEmits.clear()
    },
    close(): void {
      this.detach()
      for (const stop of unsubscribers.splice(0)) stop()
    },
    /** The state for the HTTP route; seeded like a watch. */
    async state(device: Device): Promise<CommissioningState> {
      await seed(device)
      return stateOf(device.id)!
    },
    /** Exposed for tests and the HTTP route. */
    stateOf,
    onAccepted,
    onRejected,
    onConnection,
    watchable,
  }
}

export type Commissioning = ReturnType<typeof createCommissioning>
