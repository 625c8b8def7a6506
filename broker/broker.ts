import { Aedes, type AedesOptions, type Client } from 'aedes'
import type { EventEmitter } from 'node:events'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import type { LoginRefusal } from '../devices/device-schemas.ts'
import { DEVICE_ID_PATTERN, type Device, type Registry } from '../devices/registry.ts'
import { createAuth, type Principal, type ServiceAccount } from './auth.ts'
import { createClusterMq, type ClusterMq } from './cluster-mq.ts'
import { createConnectionCounter, DEFAULT_BROKER_LIMITS, guardPacketSize, type BrokerLimits, type ConnectionSlot } from './limits.ts'
import type { Rejection } from '../devices/readings.ts'
import { createErrorFeedback } from './feedback.ts'
import { createIntake, type IntakeStats } from './intake.ts'
import { createMqttLoginLimiter, type MqttLoginLimits } from './login-limiter.ts'
import { createPersistence } from './persistence.ts'
import { createQuotas, type QuotaSettings } from './quotas.ts'
import { LOGIN_REFUSAL_MESSAGES, Refusal, type RefusalReason } from './refusals.ts'

export { DEFAULT_BROKER_LIMITS, type BrokerLimits, type ConnectionSlot } from './limits.ts'
export type { ServiceAccount } from './auth.ts'
export type { MqttLoginLimits } from './login-limiter.ts'

/**
 * The MQTT broker: aedes (MQTT 3.1.1) with Piazza's login rules, limits and hooks. It binds no
 * port; listen.ts hands it TCP sockets and WebSocket streams.
 */

export interface BrokerDeps {
  registry: Pick<Registry, 'checkCredentials' | 'get' | 'onChange'>
  serviceAccounts: readonly ServiceAccount[]
  /** Over TLS, a verified client certificate naming the device logs it in without its secret, for every device (else only devices whose metadata says `auth.certificate`). */
  certificateLogin?: boolean
  /** Merged over DEFAULT_BROKER_LIMITS. */
  limits?: Partial<BrokerLimits>
  /** Failed-login backoff per address and per user name (defaults in broker/login-limiter.ts). */
  loginLimits?: MqttLoginLimits
  logger: Logger
  /**
   * A telemetry message from an authenticated device. Call done once it is durably recorded
   * (or with an error if it cannot be): only then is a QoS 1 PUBACK sent, and nothing more is
   * read from that connection meanwhile.
   */
  onTelemetry(device: Device, payload: Buffer, receivedAt: number, done: (err?: Error, readings?: number) => void): void
  /** Per-device quota settings (broker/quotas.ts); the rates come from each device's interval and metadata. */
  quotas?: Partial<QuotaSettings> | false
  /** A device refused for being over its quota (the commissioning page shows it). */
  onOverQuota?(device: Device, reason: string): void
  /** A registered device's login was refused (the commissioning page shows it); at most one a second per device. */
  onLoginRefused?(refusal: LoginRefusal): void
  /** A message on devices/{id}/status, including the device's will when it drops off. */
  onStatus?(device: Device, status: string): void
  /** Fires true when a device logs in (again on a takeover by a new connection) and false when its connection ends. */
  onConnectionChange?(deviceId: string, connected: boolean): void
  /**
   * Cluster mode: the Redis every node shares, so messages for a device reach it on whichever node
   * it is connected to and a client id lives on one node at a time (broker/cluster-mq.ts).
   * Without it aedes's in-process emitter, as for a single node.
   */
  redisUrl?: string
}

export interface BrokerStats {
  /** Open transport connections, logged in or not (WebSocket-port sockets from before their upgrade included). */
  connections: number
  /** Of those, the ones not logged in yet. */
  pending: number
  /** Devices logged in. */
  devices: number
  refused: Partial<Record<RefusalReason, number>>
  /** PUBACKs held back for being over quota. */
  quotaSlowed: number
  /** Telemetry messages being recorded, and connections waiting for their turn to read (broker/intake.ts). */
  intake: IntakeStats
  /** Cluster mode only: whether the Redis connections are up, and messages for devices on other nodes dropped while not. */
  redis?: { connected: boolean; dropped: number }
}

/** Where a connection comes from. */
export interface ConnectionMeta {
  remoteAddress?: string
  /** The verified client certificate's name, for TLS connections that presented one. */
  clientCertName?: string
  /** The TCP or TLS socket under a WebSocket stream (a plain TCP connection is its own socket). */
  socket?: Duplex
}

export interface Broker {
  aedes: Aedes
  readonly limits: Readonly<BrokerLimits>
  readonly logger: Logger
  /**
   * Takes a connection slot for a newly accepted socket (the caps in all, per address and not
   * logged in). Undefined when a cap is reached: the refusal is logged and counted, and the
   * caller closes the socket at once.
   */
  admit(remoteAddress: string | undefined): ConnectionSlot | undefined
  /**
   * Serves one connection: a TCP socket or a WebSocket stream. Without a slot it takes one
   * itself (and destroys the stream if it gets none); with one (taken by admit for the raw socket
   * under a WebSocket) it uses that, and the caller releases it when the raw socket closes.
   * `meta.socket` is that raw socket: while the connection waits its turn to read, the intake
   * stops reading it, so what the device sends meanwhile stays in the kernel.
   */
  handleConnection(stream: Duplex, meta: ConnectionMeta, slot?: ConnectionSlot): void
  connectedDevices(): number
  isConnected(deviceId: string): boolean
  disconnect(deviceId: string, reason: string): void
  /** Server-side publish to devices/{id}/{subtopic}, QoS 0, e.g. subtopic 'errors'. */
  publishToDevice(deviceId: string, subtopic: string, payload: string): void
  /** Tells a device on devices/{id}/errors why readings were refused (throttled per device). */
  reportRejections(deviceId: string, rejections: readonly Rejection[]): void
  stats(): BrokerStats
  close(): Promise<void>
}

const DEVICE_ID = new RegExp(DEVICE_ID_PATTERN)
const SUBTOPIC = /^[A-Za-z0-9_-]{1,64}$/

/** Errors that are ordinary network life (resets, timeouts) rather than misbehaviour. */
function isRoutine(err: Error & { code?: string }): boolean {
  return (
    err.code !== undefined ||
    ['keep alive timeout', 'connect did not arrive in time', 'connection closed'].includes(err.message)
  )
}

export async function createBroker(deps: BrokerDeps): Promise<Broker> {
  const limits: Readonly<BrokerLimits> = Object.freeze({ ...DEFAULT_BROKER_LIMITS, ...deps.limits })
  const logger = deps.logger
  for (const account of deps.serviceAccounts) {
    if (!account.username || !account.password) throw new Error('every MQTT service account needs a user name and a password')
  }

  const refused: Partial<Record<RefusalReason, number>> = {}
  const streams = new Set<Duplex>()
  const addressOf = new WeakMap<object, string>() // connection stream → remote address
  const certNameOf = new WeakMap<object, string>() // connection stream → verified client certificate CN
  const socketOf = new WeakMap<object, Duplex>() // WebSocket stream → the raw socket under it
  const cutOff = new WeakSet<object>() // connection streams closed for an oversized packet
  const counter = createConnectionCounter(limits)
  const slotOf = new WeakMap<object, ConnectionSlot>() // connection stream → its slot
  // Devices logged in, by id, with the connection that holds the id (the newest on a takeover).
  const devices = new Map<string, Client>()

  function refuse(reason: RefusalReason, client: Client | null, details?: Record<string, unknown>, returnCode?: number): Refusal {
    refused[reason] = (refused[reason] ?? 0) + 1
    logger.warn({ reason, clientId: client?.id?.slice(0, 128), address: client ? addressOf.get(client.conn) : undefined, ...details }, 'mqtt refused')
    if (deps.onLoginRefused && client) announceLoginRefusal(reason, client, details)
    return new Refusal(reason, returnCode)
  }

  // Refused logins of registered devices, for the installer commissioning them: one a second per
  // device at most, whatever a misconfigured device or a guesser sends.
  const lastAnnounced = new Map<string, number>()
  function announceLoginRefusal(reason: RefusalReason, client: Client, details: Record<string, unknown> | undefined) {
    // Refusals after login (topics, quotas, ingest) are not for this: no registry read for them.
    const messageFor = LOGIN_REFUSAL_MESSAGES[reason]
    if (!messageFor) return
    const username = typeof details?.username === 'string' ? details.username : undefined
    // The page to show it on: the user name's device, else the client id's (a mistyped user name).
    const deviceId = [username, client.id].find((id): id is string => typeof id === 'string' && DEVICE_ID.test(id) && deps.registry.get(id) !== undefined)
    if (!deviceId) return
    const now = Date.now()
    if (now - (lastAnnounced.get(deviceId) ?? Number.NEGATIVE_INFINITY) < 1000) return
    if (lastAnnounced.size >= 10_000) lastAnnounced.clear()
    lastAnnounced.set(deviceId, now)
    const certName = typeof details?.certName === 'string' ? details.certName : undefined
    const retryAfterMs = typeof details?.retryAfterMs === 'number' ? details.retryAfterMs : undefined
    deps.onLoginRefused!({ deviceId, reason, message: messageFor({ deviceId, username, clientId: client.id, certName, retryAfterMs }), at: now })
  }

  const quotas = createQuotas(deps.quotas || {})
  const refusedOverQuota = new WeakSet<Client>() // connections being closed for being over quota

  const loginLimiter = createMqttLoginLimiter(deps.loginLimits)
  const intake = createIntake({ maxInFlight: limits.maxMessagesInFlight })
  const auth = createAuth({
    intake,
    quotas: deps.quotas === false ? undefined : quotas,
    overQuota(client, device, reason, callback) {
      // Packets already read from the socket still reach the hooks while it closes: turned away uncounted.
      refusedOverQuota.add(client)
      // Counted every time, logged once per device per minute (a device reconnecting in a loop
      // would otherwise flood the log).
      refused['over-quota'] = (refused['over-quota'] ?? 0) + 1
      if (quotas.shouldLog(device.id)) logger.warn({ reason: 'over-quota', clientId: device.id, address: addressOf.get(client.conn), quota: reason }, 'mqtt refused')
      try {
        deps.onOverQuota?.(device, reason)
      } catch (err) {
        logger.error({ err }, 'onOverQuota failed')
      }
      // Tell the device first; the refusal closes the connection once the message is on its way.
      const message = JSON.stringify({ rejections: [{ code: 'over-quota', reason }], at: new Date().toISOString() })
      // Written straight to this connection (its own subscription to the topic is not required
      // to have been routed first); the refusal follows once the write is done.
      client.publish({ cmd: 'publish', topic: `devices/${device.id}/errors`, payload: Buffer.from(message), qos: 0, retain: false, dup: false }, () => {
        callback(new Refusal('over-quota'))
      })
    },
    registry: deps.registry,
    certificateLogin: deps.certificateLogin,
    serviceAccounts: deps.serviceAccounts,
    limits,
    loginLimiter,
    addressOf: (client) => addressOf.get(client.conn) ?? 'unknown',
    clientCertNameOf: (client) => certNameOf.get(client.conn),
    onTelemetry: deps.onTelemetry,
    onStatus: deps.onStatus,
    refuse,
    isDeviceConnected: (clientId) => devices.has(clientId),
    wasCutOff: (client) => cutOff.has(client.conn) || refusedOverQuota.has(client),
    onAuthenticated(client: Client, principal: Principal) {
      // The connection may have dropped while the secret was being checked.
      // From here on the connection may send full-size packets and no longer counts as pending.
      slotOf.get(client.conn)?.loggedIn()
      // Logins never wait their turn (a CONNECT is small, and the connect timeout runs); readings do.
      if (!client.closed) intake.hold(client.conn, socketOf.get(client.conn))
      if (principal.kind !== 'device' || client.closed) return
      devices.set(principal.device.id, client)
      deps.onConnectionChange?.(principal.device.id, true)
    },
  })

  const mq: ClusterMq | undefined = deps.redisUrl
    ? createClusterMq({ url: deps.redisUrl, concurrency: limits.concurrency, onError: (err) => logger.warn({ err: String(err) }, 'mqtt: Redis unreachable; messages for devices on other nodes are dropped until it is back') })
    : undefined
  const aedes = await Aedes.createBroker({
    ...(mq && { mq }),
    persistence: createPersistence(),
    concurrency: limits.concurrency,
    connectTimeout: limits.connectTimeoutMs,
    drainTimeout: limits.drainTimeoutMs,
    keepaliveLimit: limits.keepaliveLimitSeconds,
    queueLimit: limits.queueLimit,
    // aedes applies this to MQTT 3.1 only; authenticate checks it for 3.1.1.
    maxClientsIdLength: limits.maxClientIdLength,
    maxTopicLevels: limits.maxTopicLevels,
    preConnect: auth.preConnect,
    // aedes types the error as having a returnCode from its const enum; a Refusal carries the same number.
    authenticate: auth.authenticate as AedesOptions['authenticate'],
    authorizePublish: auth.authorizePublish,
    authorizeSubscribe: auth.authorizeSubscribe,
  })

  // aedes reports a client's failure here and then closes that client; nothing escapes to the
  // process. Refusals were logged where they were decided.
  function onClientError(client: Client | null, err: Error & { errorCode?: number }) {
    if (err instanceof Refusal) return
    // CONNACK refusals aedes decides itself, before authenticate.
    if (err.errorCode === 1) return void refuse('bad-protocol-version', client)
    if (err.errorCode === 6) return void refuse('keepalive-not-allowed', client)
    const context = { clientId: client?.id?.slice(0, 128), address: client ? addressOf.get(client.conn) : undefined, err: err.message }
    if (isRoutine(err)) logger.debug(context, 'mqtt connection error')
    else logger.warn(context, 'mqtt connection error')
  }
  aedes.on('clientError', onClientError)
  aedes.on('connectionError', onClientError)
  // aedes emits 'error' for persistence failures; without a listener EventEmitter would throw.
  ;(aedes as EventEmitter).on('error', (err: Error) => logger.error({ err }, 'mqtt broker error'))

  // A revoked, decommissioned or re-keyed device loses its live connection at once.
  const stopWatching = deps.registry.onChange((change) => {
    // Failures counted against an id before it existed guarded nothing; the new device starts clean.
    if (change.kind === 'added') loginLimiter.succeed(change.device.id)
    if (change.kind === 'rotated') {
      auth.deviceChanged(change.device.id)
      disconnect(change.device.id, 'secret rotated')
    } else if (change.kind === 'status' && change.device.status !== 'active') {
      auth.deviceChanged(change.device.id)
      disconnect(change.device.id, change.device.status)
    }
  })

  function disconnect(deviceId: string, reason: string) {
    const client = devices.get(deviceId)
    if (!client) return
    logger.info({ device: deviceId, reason }, 'disconnecting device')
    client.close()
  }

  function admit(remoteAddress: string | undefined): ConnectionSlot | undefined {
    const address = remoteAddress ?? 'unknown'
    const taken = counter.acquire(address)
    if ('slot' in taken) return taken.slot
    refuse(taken.refusal, null, { address, limit: taken.limit, scope: taken.scope })
    return undefined
  }

  function handleConnection(stream: Duplex, meta: ConnectionMeta, given?: ConnectionSlot) {
    const address = meta.remoteAddress ?? 'unknown'
    // An 'error' without a listener would crash the process. aedes adds its own listener to the
    // streams it takes; this one covers streams refused before that and errors after aedes let go.
    stream.on('error', () => {})
    if (aedes.closed) return void stream.destroy()
    const slot = given ?? admit(address)
    if (!slot) return void stream.destroy()
    streams.add(stream)
    addressOf.set(stream, address)
    slotOf.set(stream, slot)
    if (meta.clientCertName !== undefined) certNameOf.set(stream, meta.clientCertName)
    if (meta.socket !== undefined) socketOf.set(stream, meta.socket)
    const client = aedes.handle(stream)
    stream.once('close', () => {
      streams.delete(stream)
      // A given slot belongs to the raw socket under this stream; its owner releases it too.
      slot.release()
      const principal = auth.principalOf(client)
      if (principal?.kind === 'device' && devices.get(principal.device.id) === client) {
        devices.delete(principal.device.id)
        deps.onConnectionChange?.(principal.device.id, false)
      }
    })
    // Until the login succeeds only a small CONNECT is accepted: an unfinished large one would
    // otherwise hold up to maxPacketSize per socket. A packet pipelined behind the CONNECT in the
    // same read is held to the same limit (mqtt.js and devices wait for the CONNACK).
    let loggedIn = false
    const limitNow = () => {
      if (!loggedIn && auth.principalOf(client)) loggedIn = true
      return loggedIn ? limits.maxPacketSize : limits.maxConnectPacketSize
    }
    guardPacketSize(stream, limitNow, (size, limit) => {
      cutOff.add(stream)
      stream.destroy(refuse('packet-too-large', client, { address, size, limit, loggedIn }))
    })
  }

  function publishToDevice(deviceId: string, subtopic: string, payload: string) {
    // Both end up in a topic: no wildcards or extra levels may slip in.
    if (!DEVICE_ID.test(deviceId)) throw new Error(`invalid device id '${deviceId}'`)
    if (!SUBTOPIC.test(subtopic)) throw new Error(`invalid device subtopic '${subtopic}'`)
    const topic = `devices/${deviceId}/${subtopic}`
    // QoS 0: sessions are clean, so QoS 1 would promise nothing more to an offline device.
    aedes.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain: false, dup: false }, (err) => {
      if (err) logger.warn({ topic, err: err.message }, 'mqtt publish to device failed')
    })
  }
  const feedback = createErrorFeedback({ publish: publishToDevice })

  return {
    aedes,
    limits,
    logger,
    admit,
    handleConnection,
    connectedDevices: () => devices.size,
    isConnected: (deviceId) => devices.has(deviceId),
    disconnect,
    publishToDevice,
    reportRejections(deviceId, rejections) {
      if (DEVICE_ID.test(deviceId)) feedback.report(deviceId, rejections)
    },
    stats: () => ({ connections: counter.open, pending: counter.pending, devices: devices.size, refused: { ...refused }, quotaSlowed: quotas.stats().slowed, intake: intake.stats(), ...(mq && { redis: mq.stats() }) }),
    async close() {
      stopWatching()
      intake.close()
      await new Promise<void>((resolve) => aedes.close(() => resolve()))
      // aedes closes the logged-in clients; sockets that never logged in are ours to end.
      for (const stream of streams) stream.destroy()
    },
  }
}
