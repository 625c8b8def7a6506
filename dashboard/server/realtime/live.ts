import type { Server, Socket } from 'socket.io'
import { KINDS, isDeviceType, type DeviceType } from '../../../devices/kinds.ts'
import { DEVICE_ID_PATTERN } from '../../../devices/registry.ts'
import { cityIds, findCity } from '../../../devices/region.ts'

/**
 * The live stream. Ingest calls push() for every accepted message; push only overwrites the
 * device's latest reading in a Map. Every coalesceMs a tick sends each socket ONE `update`
 * message with the devices that changed since its last message and match its subscriptions, so
 * thousands of readings a second reach a browser as a few small messages a second.
 *
 * Nothing queues per socket: each socket remembers only the tick it was last served. A socket
 * whose transport is backed up is skipped, and once it drains it gets the latest state of
 * everything that changed meanwhile (not the history), so a slow browser costs no memory.
 *
 * Subscriptions are filters: `{ city?, type?, device? }` (all given keys must match), or
 * `{ public: true, ... }` for the public room. Logged-in sockets may use any; anonymous sockets
 * only the public room, which carries air-quality values (pm25, pm10, no2, o3, so2, co) with the
 * station id and city, nothing else. `subscribe` / `unsubscribe` answer through the ack callback:
 * `{ ok: true, snapshot }` (the room's current state) or `{ ok: false, error: { status, code, message } }`.
 *
 * Events to the browser: `update` (LiveUpdate[]), `status` (LiveStatus[], devices connecting and
 * disconnecting, logged-in sockets only), `session_expired` (then disconnect).
 */

export interface LiveDevice {
  id: string
  type: DeviceType
  city: string
}

export interface LiveReading {
  /** Device time, epoch ms. */
  time: number
  values: Record<string, unknown>
}

export interface LiveUpdate {
  id: string
  type: DeviceType
  city: string
  time: number
  /** The kind's fields (numbers) and tags (lane, route). */
  values: Record<string, number | string>
}

export interface LiveStatus {
  id: string
  type: DeviceType
  city: string
  connected: boolean
  /** When it changed, epoch ms. */
  at: number
}

export interface LiveUser {
  username: string
  role: string
}

export interface LiveAuth {
  /** From the handshake: a user, 'anonymous', or null to refuse (an explicit token that is wrong). */
  authenticate(handshake: { cookieHeader?: string; token?: unknown }): { user: LiveUser; credential: string } | 'anonymous' | null
  /** Whether a credential accepted earlier still holds (checked every recheckMs, without extending it). */
  stillValid(credential: string): boolean
  /**
   * Role enforcement of rooms: whether this logged-in user may have this non-public subscription
   * (e.g. an installer only their cities and devices). An error refuses it; undefined allows it.
   */
  authorize?(user: LiveUser, subscription: { city?: string; type?: string; device?: string }): { status: number; code: string; message: string } | undefined
}

export interface LiveHubOptions {
  coalesceMs?: number
  /** A socket whose WebSocket has more than this many bytes unsent is skipped for the tick. */
  maxBufferedBytes?: number
  /** Or whose engine.io write buffer holds this many packets (long-polling clients). */
  maxQueuedPackets?: number
  maxSubscriptionsPerSocket?: number
  recheckSessionsMs?: number
}

export const PUBLIC_TYPE: DeviceType = 'air-quality'
export const PUBLIC_FIELDS: readonly string[] = ['pm25', 'pm10', 'no2', 'o3', 'so2', 'co']

interface Subscription {
  public: boolean
  city?: string
  type?: DeviceType
  device?: string
}

interface Entry {
  id: string
  type: DeviceType
  city: string
  /** Newest reading; undefined while only a connection status is known. */
  time?: number
  values?: Record<string, unknown>
  receivedAt?: number
  connected?: boolean
  connectionAt?: number
  /** The tick that sends the current reading / status. */
  readingVersion: number
  statusVersion: number
  /** The tick this entry is queued in `dirty` for. */
  dirtyIn: number
  full?: LiveUpdate
  public?: LiveUpdate
}

interface Client {
  socket: Socket
  user: LiveUser | null
  credential?: string
  subs: Subscription[]
  /** Everything changed in ticks up to this one has been sent (or was not wanted). */
  sentUpTo: number
}

type Ack = (answer: unknown) => void
type SubscriptionError = { status: number; code: string; message: string }

const SUBSCRIPTION_KEYS = ['public', 'city', 'type', 'device']
const DEVICE_ID = new RegExp(DEVICE_ID_PATTERN)

function parseSubscription(payload: unknown, user: LiveUser | null): Subscription | SubscriptionError {
  const invalid = (message: string): SubscriptionError => ({ status: 400, code: 'validation', message })
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    return invalid('a subscription is an object such as { "city": "firenze" } or { "public": true }')
  }
  const p = payload as Record<string, unknown>
  for (const key of Object.keys(p)) {
    if (!SUBSCRIPTION_KEYS.includes(key)) return invalid(`unknown subscription key '${key}' (allowed: ${SUBSCRIPTION_KEYS.join(', ')})`)
  }
  const sub: Subscription = { public: false }
  if (p.public !== undefined) {
    if (typeof p.public !== 'boolean') return invalid('public must be true or false')
    sub.public = p.public
  }
  if (p.city !== undefined) {
    const city = typeof p.city === 'string' ? findCity(p.city) : undefined
    if (!city) return invalid(`unknown city ${JSON.stringify(p.city)}; cities: ${cityIds.join(', ')}`)
    sub.city = city.id
  }
  if (p.type !== undefined) {
    if (typeof p.type !== 'string' || !isDeviceType(p.type)) return invalid(`unknown device type ${JSON.stringify(p.type)}; types: ${Object.keys(KINDS).join(', ')}`)
    if (sub.public && p.type !== PUBLIC_TYPE) return invalid(`the public room carries only ${PUBLIC_TYPE} readings`)
    sub.type = p.type
  }
  if (p.device !== undefined) {
    if (typeof p.device !== 'string' || !DEVICE_ID.test(p.device)) return invalid(`device must be a device id matching ${DEVICE_ID_PATTERN}`)
    sub.device = p.device
  }
  if (!sub.public && sub.city === undefined && sub.type === undefined && sub.device === undefined) {
    return invalid('give at least one of city, type or device, or public: true')
  }
  if (!sub.public && !user) {
    return { status: 401, code: 'unauthorized', message: 'log in to subscribe to city, type or device rooms; without a session only { "public": true } is allowed' }
  }
  return sub
}

const sameSubscription = (a: Subscription, b: Subscription) => a.public === b.public && a.city === b.city && a.type === b.type && a.device === b.device

function matches(sub: Subscription, e: Entry): boolean {
  return (
    (sub.city === undefined || sub.city === e.city) &&
    (sub.type === undefined || sub.type === e.type) &&
    (sub.device === undefined || sub.device === e.id) &&
    (!sub.public || e.type === PUBLIC_TYPE)
  )
}

/** 'full' when a non-public subscription matches, 'public' when only public ones do. */
function accessTo(client: Client, e: Entry): 'full' | 'public' | null {
  let viaPublic = false
  for (const sub of client.subs) {
    if (!matches(sub, e)) continue
    if (!sub.public) return 'full'
    viaPublic = true
  }
  return viaPublic ? 'public' : null
}

function fullView(e: Entry): LiveUpdate {
  if (!e.full) {
    const kind = KINDS[e.type]
    const values: Record<string, number | string> = {}
    for (const tag of kind.tagNames) {
      const v = e.values![tag]
      if (typeof v === 'number' || typeof v === 'string') values[tag] = v
    }
    for (const field of kind.fieldNames) {
      const v = e.values![field]
      if (typeof v === 'number') values[field] = v
    }
    e.full = { id: e.id, type: e.type, city: e.city, time: e.time!, values }
  }
  return e.full
}

function publicView(e: Entry): LiveUpdate {
  if (!e.public) {
    const values: Record<string, number> = {}
    for (const field of PUBLIC_FIELDS) {
      const v = e.values![field]
      if (typeof v === 'number') values[field] = v
    }
    e.public = { id: e.id, type: e.type, city: e.city, time: e.time!, values }
  }
  return e.public
}

function backedUp(socket: Socket, maxBufferedBytes: number, maxQueuedPackets: number): boolean {
  const conn = socket.conn as unknown as { writeBuffer?: unknown[]; transport?: { socket?: { bufferedAmount?: unknown } } }
  if ((conn.writeBuffer?.length ?? 0) >= maxQueuedPackets) return true
  const buffered = conn.transport?.socket?.bufferedAmount
  return typeof buffered === 'number' && buffered > maxBufferedBytes
}

export function createLiveHub(options: LiveHubOptions = {}) {
  const {
    coalesceMs = 250,
    maxBufferedBytes = 1024 * 1024,
    maxQueuedPackets = 8,
    maxSubscriptionsPerSocket = 32,
    recheckSessionsMs = 60_000,
  } = options
  const entries = new Map<string, Entry>()
  const clients = new Map<string, Client>()
  let dirty: Entry[] = []
  let tickCount = 0
  let timer: NodeJS.Timeout | undefined
  let auth: LiveAuth | undefined
  let lookupDevice: ((id: string) => LiveDevice | undefined) | undefined
  let lastRecheck = Date.now()
  const stats = { updatesSent: 0, statusSent: 0, skippedBackedUp: 0 }

  function markDirty(e: Entry): void {
    if (e.dirtyIn !== tickCount + 1) {
      e.dirtyIn = tickCount + 1
      dirty.push(e)
    }
  }

  function newEntry(device: LiveDevice): Entry {
    const e: Entry = { id: device.id, type: device.type, city: device.city, readingVersion: 0, statusVersion: 0, dirtyIn: 0 }
    entries.set(device.id, e)
    return e
  }

  function snapshot(sub: Subscription): LiveUpdate[] {
    const out: LiveUpdate[] = []
    for (const e of entries.values()) {
      if (e.time === undefined || !matches(sub, e)) continue
      out.push(sub.public ? publicView(e) : fullView(e))
    }
    return out
  }

  function recheckSessions(): void {
    if (!auth) return
    for (const client of clients.values()) {
      if (client.credential !== undefined && !auth.stillValid(client.credential)) {
        client.socket.emit('session_expired')
        client.socket.disconnect(true)
      }
    }
  }

  function serve(client: Client, tick: number, changed: Entry[]): void {
    const caughtUp = client.sentUpTo === tick - 1
    if (client.subs.length === 0 || (caughtUp && changed.length === 0)) {
      client.sentUpTo = tick
      return
    }
    if (backedUp(client.socket, maxBufferedBytes, maxQueuedPackets)) {
      stats.skippedBackedUp += 1
      return
    }
    const since = client.sentUpTo
    const updates: LiveUpdate[] = []
    const statuses: LiveStatus[] = []
    const consider = (e: Entry) => {
      const wantReading = e.time !== undefined && e.readingVersion > since
      const wantStatus = e.statusVersion > since
      if (!wantReading && !wantStatus) return
      const access = accessTo(client, e)
      if (!access) return
      if (wantReading) updates.push(access === 'full' ? fullView(e) : publicView(e))
      if (wantStatus && access === 'full') statuses.push({ id: e.id, type: e.type, city: e.city, connected: e.connected!, at: e.connectionAt! })
    }
    if (caughtUp) for (const e of changed) consider(e)
    else for (const e of entries.values()) consider(e)
    client.sentUpTo = tick
    if (statuses.length) {
      stats.statusSent += 1
      client.socket.emit('status', statuses)
    }
    if (updates.length) {
      stats.updatesSent += 1
      client.socket.emit('update', updates)
    }
  }

  function tick(): void {
    const current = ++tickCount
    const changed = dirty
    dirty = []
    const now = Date.now()
    if (now - lastRecheck >= recheckSessionsMs) {
      lastRecheck = now
      recheckSessions()
    }
    for (const client of clients.values()) serve(client, current, changed)
  }

  function onConnection(socket: Socket): void {
    const data = socket.data as { user?: LiveUser; credential?: string }
    const client: Client = { socket, user: data.user ?? null, credential: data.credential, subs: [], sentUpTo: tickCount }
    clients.set(socket.id, client)

    const answer = (ack: unknown, event: string, result: unknown) => {
      if (typeof ack === 'function') (ack as Ack)(result)
      else if ((result as { ok: boolean }).ok === false) socket.emit('subscription_error', { event, ...(result as { error: SubscriptionError }) })
    }

    socket.on('subscribe', (payload: unknown, ack?: unknown) => {
      const sub = parseSubscription(payload, client.user)
      if ('status' in sub) return answer(ack, 'subscribe', { ok: false, error: sub })
      const denied = !sub.public && client.user ? auth?.authorize?.(client.user, sub) : undefined
      if (denied) return answer(ack, 'subscribe', { ok: false, error: denied })
      if (!client.subs.some((s) => sameSubscription(s, sub))) {
        if (client.subs.length >= maxSubscriptionsPerSocket) {
          return answer(ack, 'subscribe', {
            ok: false,
            error: { status: 429, code: 'too-many-requests', message: `at most ${maxSubscriptionsPerSocket} subscriptions per connection` },
          })
        }
        client.subs.push(sub)
      }
      answer(ack, 'subscribe', { ok: true, subscription: sub, snapshot: snapshot(sub) })
    })

    socket.on('unsubscribe', (payload: unknown, ack?: unknown) => {
      // No payload (or null): drop every subscription.
      if (payload === undefined || payload === null || typeof payload === 'function') {
        const removed = client.subs.length
        client.subs = []
        return answer(typeof payload === 'function' ? payload : ack, 'unsubscribe', { ok: true, removed })
      }
      const sub = parseSubscription(payload, client.user)
      if ('status' in sub) return answer(ack, 'unsubscribe', { ok: false, error: sub })
      const before = client.subs.length
      client.subs = client.subs.filter((s) => !sameSubscription(s, sub))
      answer(ack, 'unsubscribe', { ok: true, removed: before - client.subs.length })
    })

    socket.on('disconnect', () => clients.delete(socket.id))
  }

  return {
    coalesceMs,

    /** Ingest's onAccepted hook: keeps only the newest reading per device. */
    push(device: LiveDevice, readings: readonly LiveReading[], receivedAt: number): void {
      let newest = readings[0]
      if (!newest) return
      for (let i = 1; i < readings.length; i++) if (readings[i]!.time >= newest.time) newest = readings[i]!
      const e = entries.get(device.id) ?? newEntry(device)
      e.receivedAt = receivedAt
      if (e.time !== undefined && newest.time < e.time && e.type === device.type) return
      e.type = device.type
      e.city = device.city
      e.time = newest.time
      e.values = newest.values
      e.full = undefined
      e.public = undefined
      e.readingVersion = tickCount + 1
      markDirty(e)
    },

    /** The broker's onConnectionChange hook. Devices the hub cannot place (unknown type/city) are ignored. */
    connectionChanged(deviceId: string, connected: boolean): void {
      let e = entries.get(deviceId)
      if (!e) {
        const device = lookupDevice?.(deviceId)
        if (!device) return
        e = newEntry(device)
      }
      e.connected = connected
      e.connectionAt = Date.now()
      e.statusVersion = tickCount + 1
      markDirty(e)
    },

    attach(io: Server, liveAuth: LiveAuth, lookup?: (id: string) => LiveDevice | undefined): void {
      if (timer) throw new Error('live hub is already attached')
      auth = liveAuth
      lookupDevice = lookup
      io.use((socket, next) => {
        const token = (socket.handshake.auth as Record<string, unknown> | undefined)?.token
        const result = liveAuth.authenticate({ cookieHeader: socket.handshake.headers.cookie, token })
        if (result === null) {
          const err = new Error('unauthorized') as Error & { data?: unknown }
          err.data = { status: 401, code: 'unauthorized', message: 'the token is unknown or expired; log in again' }
          return next(err)
        }
        if (result !== 'anonymous') {
          socket.data.user = result.user
          socket.data.credential = result.credential
        }
        next()
      })
      io.on('connection', onConnection)
      timer = setInterval(tick, coalesceMs)
      timer.unref()
    },

    /** Stops the ticks and forgets the sockets (the Socket.IO server is closed by its owner). */
    detach(): void {
      clearInterval(timer)
      timer = undefined
      clients.clear()
      auth = undefined
    },

    /** Runs a tick now (tests, and a last send before shutdown). */
    flush: tick,

    /** Newest live values of a device's fields, as received (not yet necessarily stored). */
    latest(deviceId: string): { time: number; values: Record<string, number>; receivedAt: number } | undefined {
      const e = entries.get(deviceId)
      if (!e || e.time === undefined) return undefined
      const values: Record<string, number> = {}
      for (const field of KINDS[e.type].fieldNames) {
        const v = e.values![field]
        if (typeof v === 'number') values[field] = v
      }
      return { time: e.time, values, receivedAt: e.receivedAt! }
    },

    /** When this process last received a reading from the device, epoch ms. */
    lastSeen(deviceId: string): number | undefined {
      return entries.get(deviceId)?.receivedAt
    },

    socketCount(): number {
      return clients.size
    },

    stats() {
      return { sockets: clients.size, devices: entries.size, ...stats }
    },
  }
}

export type LiveHub = ReturnType<typeof createLiveHub>
