import type { Server, Socket } from 'socket.io'
import { KINDS } from '../../../devices/kinds.ts'
import type { Rejection, ValidReading } from '../../../devices/readings.ts'
import { DEVICE_ID_PATTERN, type Device, type Registry } from '../../../devices/registry.ts'
import { findCity } from '../../../devices/region.ts'
import type { DeadLetter } from '../../../ingest/storage/contract.ts'
import type { Feed } from '../../../feed/feed.ts'
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
 * Memory is bounded: the newest MAX_TRACKED devices with activity are remembered.
 */

export const CITY_RADIUS_KM = 15
const MAX_TRACKED = 20_000
const MAX_REJECTIONS = 20
const MAX_TIMES = 12
const EMIT_COALESCE_MS = 100
const DEAD_LETTER_SEED_MS = 3_600_000

/** Great-circle distance, km. */
export function distanceKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180
  const dLat = (lat2 - lat1) * rad
  const dLon = (lon2 - lon1) * rad
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2
  return 2 * 6371.0088 * Math.asin(Math.min(1, Math.sqrt(a)))
}

export type CheckState = 'pending' | 'ok' | 'warn' | 'fail'
export interface Check {
  state: CheckState
  message: string
}

export type Stage = 'waiting' | 'connected' | 'receiving' | 'plausible' | 'revoked' | 'decommissioned'

export interface CommissioningRejection {
  /** When it was received, epoch ms. */
  at: number
  code: string
  reason: string
  /** Position in a batch payload. */
  index?: number
}

export interface CommissioningReading {
  /** Device time, epoch ms. */
  time: number
  receivedAt: number
  /** The kind's fields and tags. */
  values: Record<string, number | string>
}

export interface CommissioningState {
  device: Pick<Device, 'id' | 'type' | 'name' | 'city' | 'lat' | 'lon' | 'interval' | 'status' | 'createdBy'> & { cityName: string }
  stage: Stage
  connected: boolean
  /** Last login, epoch ms. */
  connectedAt?: number
  disconnectedAt?: number
  firstReading?: CommissioningReading
  lastReading?: CommissioningReading
  /** Accepted readings and refused ones seen by this server. */
  accepted: number
  rejected: number
  /** Newest first. */
  rejections: CommissioningRejection[]
  /** Median gap between recent device timestamps, seconds. */
  measuredInterval?: number
  checks: { connection: Check; reading: Check; values: Check; location: Check; interval: Check }
  updatedAt: number
}

interface Track {
  connected?: boolean
  everConnected: boolean
  connectedAt?: number
  disconnectedAt?: number
  first?: CommissioningReading
  last?: CommissioningReading
  accepted: number
  rejected: number
  rejections: CommissioningRejection[]
  /** Recent distinct device timestamps, ascending. */
  times: number[]
  lastEvent?: 'accepted' | 'rejected'
  seeded?: boolean
}

export interface CommissioningUser {
  username: string
  role: string
}

export interface CommissioningDeps {
  registry: Pick<Registry, 'get' | 'onChange'>
  feed?: Pick<Feed, 'subscribe'>
  broker?: { isConnected(deviceId: string): boolean }
  /** The newest reading the live hub holds (received before this module watched). */
  latest?: (deviceId: string) => { time: number; values: Record<string, number>; receivedAt: number } | undefined
  /** Recent refused payloads from storage, to show what happened before the page was opened. */
  deadLetters?: (query: { deviceId: string; limit: number }) => Promise<DeadLetter[]>
  /** The current account of a socket's user (role and cities may have changed); undefined when gone or disabled. */
  lookupUser(username: string): Actor | undefined
}

type Ack = (answer: unknown) => void
const DEVICE_ID = new RegExp(DEVICE_ID_PATTERN)
const room = (id: string) => `commissioning:${id}`

function pick(device: Pick<Device, 'type'>, values: Record<string, unknown>): Record<string, number | string> {
  const kind = KINDS[device.type]
  const out: Record<string, number | string> = {}
  for (const name of [...kind.tagNames, ...kind.fieldNames]) {
    const v = values[name]
    if (typeof v === 'number' || typeof v === 'string') out[name] = v
  }
  return out
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const seconds = (s: number) => (s >= 120 ? `${+(s / 60).toFixed(1)} min` : `${+s.toFixed(1)} s`)

export function createCommissioning(deps: CommissioningDeps) {
  const { registry, broker } = deps
  const tracks = new Map<string, Track>()
  const pendingEmits = new Map<string, NodeJS.Timeout>()
  let io: Server | undefined
  const unsubscribers: (() => void)[] = []

  function track(id: string): Track {
    let t = tracks.get(id)
    if (t) {
      // Most recently active last: the oldest is dropped first.
      tracks.delete(id)
      tracks.set(id, t)
      return t
    }
    t = { everConnected: false, accepted: 0, rejected: 0, rejections: [], times: [] }
    tracks.set(id, t)
    if (tracks.size > MAX_TRACKED) tracks.delete(tracks.keys().next().value!)
    return t
  }

  function scheduleEmit(id: string): void {
    if (!io || pendingEmits.has(id)) return
    if ((io.sockets.adapter.rooms.get(room(id))?.size ?? 0) === 0) return
    const timer = setTimeout(() => {
      pendingEmits.delete(id)
      const state = stateOf(id)
      if (state && io) io.to(room(id)).emit('commissioning', state)
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
      if (!t.times.includes(r.time)) t.times.push(r.time)
    }
    t.times.sort((a, b) => a - b)
    if (t.times.length > MAX_TIMES) t.times.splice(0, t.times.length - MAX_TIMES)
    const reading = { time: newest.time, receivedAt, values: pick(device, newest.values) }
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

  if (deps.feed) unsubscribers.push(deps.feed.subscribe({ accepted: onAccepted, rejected: onRejected, connection: onConnection }))
  unsubscribers.push(registry.onChange((change) => scheduleEmit(change.device.id)))

  /** Fills a device's track from what the server knew before (live hub, dead letters). */
  async function seed(device: Device): Promise<void> {
    const t = tracks.get(device.id) ?? track(device.id)
    if (t.seeded) return
    t.seeded = true
    const latest = deps.latest?.(device.id)
    if (latest && !t.last) {
      const reading = { time: latest.time, receivedAt: latest.receivedAt, values: pick(device, latest.values) }
      t.first = reading
      t.last = reading
      t.times = [latest.time]
      t.lastEvent ??= 'accepted'
    }
    if (t.connected === undefined && broker?.isConnected(device.id)) {
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
    if (!device) return undefined
    const t = tracks.get(id) ?? { everConnected: false, accepted: 0, rejected: 0, rejections: [], times: [] }
    const city = findCity(device.city)
    const connected = t.connected ?? broker?.isConnected(id) ?? false
    const everConnected = t.everConnected || connected || t.first !== undefined

    let connection: Check
    if (device.status !== 'active') connection = { state: 'fail', message: `the device is ${device.status}: the broker refuses it` }
    else if (connected) connection = { state: 'ok', message: 'connected to the broker' }
    else if (everConnected) connection = { state: 'warn', message: 'not connected now (it was connected before)' }
    else connection = { state: 'pending', message: `waiting for the device to connect with client id and username '${id}'` }

    const reading: Check = t.first
      ? { state: 'ok', message: `${t.accepted} reading${t.accepted === 1 ? '' : 's'} accepted` }
      : { state: 'pending', message: `waiting for the first reading on devices/${id}/telemetry` }

    let values: Check
    if (t.lastEvent === 'rejected' && t.rejections[0]) values = { state: 'fail', message: `the last payload was refused: ${t.rejections[0].reason}` }
    else if (t.last) {
      const kind = KINDS[device.type]
      const fields = kind.fieldNames.filter((f) => typeof t.last!.values[f] === 'number')
      values = { state: 'ok', message: `${fields.length} field${fields.length === 1 ? '' : 's'} within range: ${fields.join(', ')}` }
    } else values = { state: 'pending', message: 'waiting for a reading' }

    let location: Check
    if (!city) location = { state: 'fail', message: `unknown city '${device.city}'` }
    else {
      const km = distanceKm(device.lat, device.lon, city.lat, city.lon)
      location =
        km <= CITY_RADIUS_KM
          ? { state: 'ok', message: `${km.toFixed(1)} km from the centre of ${city.name}` }
          : { state: 'fail', message: `${km.toFixed(1)} km from the centre of ${city.name}, more than ${CITY_RADIUS_KM} km: correct the location or the city` }
      const lat = t.last?.values.lat
      const lon = t.last?.values.lon
      if (location.state === 'ok' && device.type === 'bus' && typeof lat === 'number' && typeof lon === 'number') {
        const away = distanceKm(lat, lon, city.lat, city.lon)
        if (away > CITY_RADIUS_KM) location = { state: 'warn', message: `the bus reports a position ${away.toFixed(1)} km from the centre of ${city.name}` }
      }
    }

    let interval: Check
    let measuredInterval: number | undefined
    if (t.times.length < 2) {
      interval = { state: 'pending', message: `waiting for ${t.times.length === 0 ? 'two readings' : 'a second reading'} to measure the interval (expected every ${seconds(device.interval)})` }
    } else {
      const gaps: number[] = []
      for (let i = 1; i < t.times.length; i++) gaps.push((t.times[i]! - t.times[i - 1]!) / 1000)
      measuredInterval = +median(gaps).toFixed(3)
      const ratio = measuredInterval / device.interval
      interval =
        ratio >= 0.5 && ratio <= 1.5
          ? { state: 'ok', message: `about every ${seconds(measuredInterval)} (expected ${seconds(device.interval)})` }
          : {
              state: 'fail',
              message: `readings come every ${seconds(measuredInterval)}, expected every ${seconds(device.interval)}: fix the device's reporting interval or the expected interval`,
            }
    }

    let stage: Stage
    if (device.status === 'revoked' || device.status === 'decommissioned') stage = device.status
    else if ([reading, values, interval].every((c) => c.state === 'ok') && location.state !== 'fail' && location.state !== 'pending') stage = 'plausible'
    else if (t.first) stage = 'receiving'
    else if (everConnected) stage = 'connected'
    else stage = 'waiting'

    const state: CommissioningState = {
      device: {
        id: device.id,
        type: device.type,
        name: device.name,
        city: device.city,
        cityName: city?.name ?? device.city,
        lat: device.lat,
        lon: device.lon,
        interval: device.interval,
        status: device.status,
        createdBy: device.createdBy,
      },
      stage,
      connected,
      accepted: t.accepted,
      rejected: t.rejected,
      rejections: t.rejections,
      checks: { connection, reading, values, location, interval },
      updatedAt: Date.now(),
    }
    if (t.connectedAt !== undefined) state.connectedAt = t.connectedAt
    if (t.disconnectedAt !== undefined) state.disconnectedAt = t.disconnectedAt
    if (t.first) state.firstReading = t.first
    if (t.last) state.lastReading = t.last
    if (measuredInterval !== undefined) state.measuredInterval = measuredInterval
    return state
  }

  type Answer = { ok: true; state: CommissioningState } | { ok: false; error: { status: number; code: string; message: string } }

  /** Whether this user may watch this device, and its state (seeded) when they may. */
  async function watchable(username: string | undefined, payload: unknown): Promise<Answer> {
    const fail = (status: number, code: string, message: string): Answer => ({ ok: false, error: { status, code, message } })
    if (!username) return fail(401, 'unauthorized', 'log in to watch a device being commissioned')
    const actor = deps.lookupUser(username)
    if (!actor) return fail(401, 'unauthorized', 'the session has ended; log in again')
    const id = (payload as { device?: unknown } | null)?.device
    if (typeof id !== 'string' || !DEVICE_ID.test(id)) return fail(400, 'validation', `give { "device": "<id>" } with an id matching ${DEVICE_ID_PATTERN}`)
    const device = registry.get(id)
    if (!device) return fail(404, 'not-found', `no device with id '${id}'`)
    const refusal = deviceRefusal(actor, device, 'see')
    if (refusal) return fail(403, 'forbidden', refusal)
    await seed(device)
    return { ok: true, state: stateOf(id)! }
  }

  function onSocket(socket: Socket): void {
    const user = () => (socket.data as { user?: CommissioningUser }).user
    socket.on('commissioning:watch', (payload: unknown, ack?: unknown) => {
      void watchable(user()?.username, payload).then((answer) => {
        if (answer.ok) void socket.join(room(answer.state.device.id))
        if (typeof ack === 'function') (ack as Ack)(answer)
        else if (!answer.ok) socket.emit('subscription_error', { event: 'commissioning:watch', ...answer })
      })
    })
    socket.on('commissioning:unwatch', (payload: unknown, ack?: unknown) => {
      const id = (payload as { device?: unknown } | null)?.device
      if (typeof id === 'string') void socket.leave(room(id))
      if (typeof ack === 'function') (ack as Ack)({ ok: true })
    })
  }

  return {
    attach(server: Server): void {
      io = server
      server.on('connection', onSocket)
    },
    detach(): void {
      io?.off('connection', onSocket)
      io = undefined
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
