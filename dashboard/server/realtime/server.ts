import type { Server as HttpServer, IncomingMessage } from 'node:http'
import { Server, type ServerOptions } from 'socket.io'
import type { TSchema, Static } from 'typebox'
import { Compile } from 'typebox/compile'
import type { ClientToServerEvents } from '../../shared/events.ts'
import type { ErrorBody } from '../../shared/realtime.ts'
import { words } from '../../shared/words.ts'
import { INSTALLERS_ROOM, sessionRoom, STAFF_ROOM, userRoom } from './rooms.ts'
import type { RealtimeServer, RealtimeSocket, SocketUser } from './types.ts'

/**
 * The one Socket.IO server of the HTTP side, shared by every feature that talks to browsers
 * (live stream, device states, alerts, commissioning). It checks the handshake (same origin, a
 * session or anonymous), puts each logged-in socket in its user's room and in `staff` or
 * `installers`, and ends sockets whose session has ended. Features push with room emits and
 * receive events through `listen()`, which validates the payload against its schema first.
 */

export interface RealtimeAuth {
  /** From the handshake: a user, 'anonymous', or null to refuse (an explicit token that is wrong). */
  authenticate(handshake: { cookieHeader?: string; token?: unknown }): Promise<{ user: SocketUser; credential: string } | 'anonymous' | null>
  /** Whether a credential accepted earlier still holds (checked without extending it). */
  stillValid(credential: string): Promise<boolean>
}

export interface RealtimeOptions {
  /** How often each node rechecks its sockets' sessions. Default 60 s; 0 never. */
  recheckSessionsMs?: number
  /** Sockets open at once from one address (on this node). Default 100. */
  maxSocketsPerAddress?: number
  /** Events a socket may send: this many a second on average, in bursts of up to `eventBurst`. Defaults 20 and 60. */
  eventsPerSecond?: number
  eventBurst?: number
  /** A socket refused this many events in a row (it goes on regardless) is disconnected. Default 100. */
  maxRefusedEvents?: number
  /**
   * Cluster mode: the Socket.IO adapter that carries room emits between nodes (the Redis adapter,
   * built by the platform). Without it, the in-memory adapter of a single node.
   */
  adapter?: ServerOptions['adapter']
}

export type Ack = (answer: unknown) => void

export interface Realtime {
  io: RealtimeServer
  /**
   * Handles a browser event: the payload is checked against `schema`; a bad one is answered
   * `{ ok: false, error: { status: 400, code: 'validation', message } }` (through the ack, or a
   * `subscription_error` event without one) and never reaches the handler.
   */
  listen<S extends TSchema>(
    event: keyof ClientToServerEvents,
    schema: S,
    handler: (socket: RealtimeSocket, payload: Static<S>, answer: (result: unknown) => void) => void,
    explain?: (payload: unknown) => string,
  ): void
  /** Ends, on every node, the sockets opened with this session (it was just ended) or by this user (all theirs were). */
  endSession(credential: string): void
  endUser(username: string): void
  stats(): { refusedConnections: number; refusedEvents: number; disconnectedForEvents: number }
  close(): Promise<void>
}

export function createRealtime(server: HttpServer, auth: RealtimeAuth, options: RealtimeOptions = {}): Realtime {
  const io: RealtimeServer = new Server(server, {
    path: '/socket.io',
    serveClient: false,
    maxHttpBufferSize: 16 * 1024,
    allowRequest: (request, callback) => callback(null, sameOrigin(request)),
    ...(options.adapter && { adapter: options.adapter }),
  })
  const handlers: ((socket: RealtimeSocket) => void)[] = []
  const maxPerAddress = options.maxSocketsPerAddress ?? 100
  const perAddress = new Map<string, number>()
  const stats = { refusedConnections: 0, refusedEvents: 0, disconnectedForEvents: 0 }

  // Before authentication: an address that holds its share of sockets gets no more.
  io.use((socket, next) => {
    const address = socket.handshake.address
    const open = perAddress.get(address) ?? 0
    if (open >= maxPerAddress) {
      stats.refusedConnections += 1
      const err = new Error('too many connections') as Error & { data?: ErrorBody }
      err.data = { status: 429, code: 'too-many-requests', message: `at most ${maxPerAddress} live connections from one address`, words: words('live-too-many', { max: maxPerAddress }) }
      return next(err)
    }
    perAddress.set(address, open + 1)
    socket.once('disconnect', () => {
      const n = (perAddress.get(address) ?? 1) - 1
      if (n <= 0) perAddress.delete(address)
      else perAddress.set(address, n)
    })
    next()
  })

  io.use(async (socket, next) => {
    const token = (socket.handshake.auth as Record<string, unknown> | undefined)?.token
    let result: Awaited<ReturnType<RealtimeAuth['authenticate']>>
    try {
      result = await auth.authenticate({ cookieHeader: socket.handshake.headers.cookie, token })
    } catch {
      const refused = new Error('unavailable') as Error & { data?: ErrorBody }
      refused.data = { status: 503, code: 'unavailable', message: 'sessions cannot be checked right now; try again', words: words('live-sessions-unavailable') }
      return next(refused)
    }
    if (result === null) {
      const err = new Error('unauthorized') as Error & { data?: ErrorBody }
      err.data = { status: 401, code: 'unauthorized', message: 'the token is unknown or expired; log in again', words: words('live-token-ended') }
      return next(err)
    }
    if (result !== 'anonymous') {
      socket.data.user = result.user
      socket.data.credential = result.credential
    }
    next()
  })

  const eventsPerSecond = options.eventsPerSecond ?? 20
  const burst = options.eventBurst ?? 60
  const maxRefused = options.maxRefusedEvents ?? 100
  io.on('connection', (socket) => {
    // A token bucket per socket for everything it sends; past it, events are refused (answered
    // 429 when they carry an ack) and a socket that keeps on is disconnected.
    let tokens = burst
    let last = Date.now()
    let refusedInARow = 0
    socket.use((packet, next) => {
      const now = Date.now()
      tokens = Math.min(burst, tokens + ((now - last) / 1000) * eventsPerSecond)
      last = now
      if (tokens >= 1) {
        tokens -= 1
        refusedInARow = 0
        return next()
      }
      stats.refusedEvents += 1
      refusedInARow += 1
      const ack = packet[packet.length - 1]
      if (typeof ack === 'function') {
        ;(ack as Ack)({ ok: false, error: { status: 429, code: 'too-many-requests', message: `at most ${eventsPerSecond} events a second per connection` } })
      }
      if (refusedInARow >= maxRefused) {
        stats.disconnectedForEvents += 1
        socket.disconnect(true)
      }
    })
    const user = socket.data.user
    if (user) void socket.join([userRoom(user.username), sessionRoom(socket.data.credential!), user.role === 'installer' ? INSTALLERS_ROOM : STAFF_ROOM])
    for (const handler of handlers) handler(socket)
  })

  // Each node checks its own sockets; a session ended through the API is ended at once by a room emit.
  const recheckMs = options.recheckSessionsMs ?? 60_000
  const recheck =
    recheckMs > 0
      ? setInterval(() => {
          for (const socket of io.of('/').sockets.values()) {
            const credential = socket.data.credential
            if (credential === undefined) continue
            // A check that fails (database unreachable) keeps the socket: the next recheck decides.
            auth.stillValid(credential).then(
              (valid) => {
                if (valid) return
                socket.emit('session_expired')
                socket.disconnect(true)
              },
              () => {},
            )
          }
        }, recheckMs)
      : undefined
  recheck?.unref()

  return {
    io,
    listen(event, schema, handler, explain) {
      const check = Compile(schema)
      handlers.push((socket) => {
        // The one place where untyped arguments arrive: they are checked against the schema below.
        const on = socket.on.bind(socket) as (event: string, listener: (...args: unknown[]) => void) => void
        on(event, (...args: unknown[]) => {
          // The ack is the last argument when the client asked for one; a payload may be absent.
          const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as Ack) : undefined
          const payload = args[0]
          const answer = (result: unknown) => {
            if (ack) ack(result)
            else if ((result as { ok?: boolean }).ok === false) socket.emit('subscription_error', { event, ...(result as { ok: false; error: ErrorBody }) })
          }
          if (!check.Check(payload)) {
            const message = explain?.(payload) ?? `invalid ${event} payload: ${[...check.Errors(payload)][0]?.message ?? 'does not match its schema'}`
            return answer({ ok: false, error: { status: 400, code: 'validation', message } })
          }
          handler(socket, payload, answer)
        })
      })
    },
    endSession(credential) {
      io.to(sessionRoom(credential)).emit('session_expired')
      io.in(sessionRoom(credential)).disconnectSockets(true)
    },
    stats: () => ({ ...stats }),
    endUser(username) {
      io.to(userRoom(username)).emit('session_expired')
      io.in(userRoom(username)).disconnectSockets(true)
    },
    async close() {
      clearInterval(recheck)
      io.disconnectSockets(true)
      io.engine.close()
    },
  }
}

/**
 * Browsers send Origin on the Socket.IO handshake: refuse other sites, so a page elsewhere cannot
 * open a stream with the visitor's cookie. Clients without Origin (scripts) authenticate with a token.
 */
function sameOrigin(request: IncomingMessage): boolean {
  const origin = request.headers.origin
  if (!origin) return true
  let host: string
  try {
    host = new URL(origin).host
  } catch {
    return false
  }
  const forwarded = request.headers['x-forwarded-host']
  const hosts = [request.headers.host, ...(Array.isArray(forwarded) ? forwarded : forwarded ? forwarded.split(',') : [])].map((h) => h?.trim())
  return hosts.includes(host)
}
