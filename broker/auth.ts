import type { Client, ConnectPacket, PublishPacket, Subscription } from 'aedes'
import { createHash, timingSafeEqual } from 'node:crypto'
import type { Device, Registry } from '../devices/registry.ts'
import type { Intake } from './intake.ts'
import type { BrokerLimits } from './limits.ts'
import type { MqttLoginLimiter } from './login-limiter.ts'
import type { Quotas } from './quotas.ts'
import { CONNACK, Refusal, type RefusalReason } from './refusals.ts'

/**
 * Who may connect and what they may do, as aedes hooks (callback style):
 *  - a device logs in with username = client id = its device id and password = its secret; it
 *    may publish to devices/{id}/telemetry and devices/{id}/status only (the status topic is
 *    also its only allowed will), never retained, and subscribe only under devices/{id}/;
 *  - a service account (configured user name and password) may subscribe under devices/ and
 *    publish nothing;
 *  - nobody else gets in.
 * Over TLS, a verified client certificate (when one is presented) must name the client id as its
 * subject CN, or the login is refused ('client-cert-mismatch'); the password is checked as usual.
 * A device presenting such a certificate and no password logs in on the certificate alone when
 * certificate login is on for every device (`certificateLogin`) or for it (metadata
 * `auth.certificate` = true); otherwise that is 'no-credentials'.
 * Failed logins are counted per remote address and per user name (broker/login-limiter.ts);
 * past the free ones, attempts are refused with 'not authorised' before any secret is checked.
 */

export interface ServiceAccount {
  username: string
  password: string
}

export type Principal = { kind: 'device'; device: Device } | { kind: 'service'; username: string }

export interface AuthDeps {
  registry: Pick<Registry, 'checkCredentials' | 'get'>
  /** A verified client certificate naming the device replaces its secret, for every device (else only where its metadata says `auth.certificate`). */
  certificateLogin?: boolean
  serviceAccounts: readonly ServiceAccount[]
  limits: Pick<BrokerLimits, 'maxClientIdLength' | 'maxTopicLength'>
  loginLimiter: MqttLoginLimiter
  /** The connection's remote address (for the login limiter). */
  addressOf(client: Client): string
  /** The subject CN of the connection's verified TLS client certificate, if it presented one. */
  clientCertNameOf?(client: Client): string | undefined
  onTelemetry(device: Device, payload: Buffer, receivedAt: number, done: (err?: Error, readings?: number) => void): void
  /** Counts the telemetry messages being recorded (broker/intake.ts). */
  intake: Pick<Intake, 'begin' | 'end'>
  /** Per-device quotas (broker/quotas.ts); without them nothing is limited. */
  quotas?: Quotas
  /**
   * A device over its hard quota: tell it why, then call back with the refusal that closes the
   * connection. Nothing of the message is recorded.
   */
  overQuota?(client: Client, device: Device, reason: string, callback: (refusal: Refusal) => void): void
  onStatus?(device: Device, status: string): void
  /** Counts and logs a refusal once, and returns the error to hand to aedes. */
  refuse(reason: RefusalReason, client: Client | null, details?: Record<string, unknown>, returnCode?: number): Refusal
  /** Called when a login succeeds, before the CONNACK. */
  onAuthenticated(client: Client, principal: Principal): void
  /** Whether a live device connection holds this client id (a service account must not take it over). */
  isDeviceConnected(clientId: string): boolean
  /**
   * Whether the connection was cut off by the packet-size guard. The guard closes the connection
   * while aedes reads a chunk, but aedes still parses that chunk, so packets in it (the oversized
   * one included, when it fits in the chunk) reach the hooks and must be turned away.
   */
  wasCutOff(client: Client): boolean
}

/** Secrets are a few dozen bytes; anything much longer is not one and is not worth hashing. */
const MAX_PASSWORD_BYTES = 1024

type Will = ConnectPacket['will']
type AuthenticateCallback = (error: Refusal | null, success: boolean | null) => void

const sha256 = (value: string | Buffer) => createHash('sha256').update(value).digest()

export function createAuth(deps: AuthDeps) {
  const { registry, limits, refuse } = deps
  // Hashing both sides gives equal-length buffers, so timingSafeEqual also hides the length.
  const services = new Map(deps.serviceAccounts.map((a) => [a.username, sha256(a.password)]))
  const principals = new WeakMap<Client, Principal>()
  // aedes hands authenticate() only the user name and password; the will comes from preConnect.
  const wills = new WeakMap<Client, Will>()

  // Bumped when a device is revoked or re-keyed, so a login checked against the old row retries.
  const changes = new Map<string, number>()

  const statusTopic = (id: string) => `devices/${id}/status`

  function allow(client: Client, principal: Principal, callback: AuthenticateCallback) {
    principals.set(client, principal)
    deps.onAuthenticated(client, principal)
    callback(null, true)
  }

  /** A wrong secret or an unknown name: counted against the address and the name. */
  function failed(client: Client, username: string, reason: 'bad-secret' | 'unknown-device', callback: AuthenticateCallback) {
    deps.loginLimiter.fail(deps.addressOf(client), username)
    callback(refuse(reason, client, { username: username.slice(0, 128) }, CONNACK.badUsernameOrPassword), null)
  }

  function authenticateService(client: Client, username: string, password: Buffer, expected: Buffer, callback: AuthenticateCallback) {
    if (!timingSafeEqual(sha256(password), expected)) return failed(client, username, 'bad-secret', callback)
    deps.loginLimiter.succeed(username)
    if (wills.get(client)) return callback(refuse('will-not-allowed', client, { username }, CONNACK.notAuthorized), null)
    if (deps.isDeviceConnected(client.id)) {
      return callback(refuse('client-id-taken', client, { username }, CONNACK.identifierRejected), null)
    }
    allow(client, { kind: 'service', username }, callback)
  }

  function authenticateDevice(client: Client, id: string, secret: string, callback: AuthenticateCallback) {
    const version = changes.get(id)
    registry.checkCredentials(id, secret).then(
      (check) => {
        // Revoked or re-keyed while the secret was being checked (scrypt takes a while): the row
        // read is stale, and the revocation would miss this not-yet-registered connection.
        if (changes.get(id) !== version) return authenticateDevice(client, id, secret, callback)
        if (!check.ok) {
          // Unknown device and wrong secret look the same from outside (return code, time, limits): no probing for ids.
          if (check.reason === 'unknown-device' || check.reason === 'bad-secret') return failed(client, id, check.reason, callback)
          return callback(refuse(check.reason, client, { username: id }, CONNACK.notAuthorized), null)
        }
        deps.loginLimiter.succeed(id)
        if (client.id !== id) return callback(refuse('client-id-mismatch', client, { username: id }, CONNACK.identifierRejected), null)
        const will = wills.get(client)
        if (will && (will.topic !== statusTopic(id) || will.retain)) {
          return callback(refuse('will-not-allowed', client, { username: id, willTopic: will.topic.slice(0, 128) }, CONNACK.notAuthorized), null)
        }
        allow(client, { kind: 'device', device: check.device }, callback)
      },
      (err: unknown) => {
        callback(refuse('auth-unavailable', client, { username: id, err: String(err) }, CONNACK.serverUnavailable), null)
      },
    )
  }

  /** A device whose verified certificate names it (checked by the caller), with no password. */
  function authenticateByCertificate(client: Client, username: string | undefined, callback: AuthenticateCallback) {
    const device = registry.get(client.id)
    const allowed = device && (deps.certificateLogin === true || device.metadata?.['auth.certificate'] === true || device.metadata?.['auth.certificate'] === 'true')
    if (!device || !allowed) return callback(refuse('no-credentials', client, { username: username?.slice(0, 128), certName: client.id.slice(0, 128) }, CONNACK.notAuthorized), null)
    if (username !== undefined && username !== client.id) return callback(refuse('client-id-mismatch', client, { username: username.slice(0, 128) }, CONNACK.identifierRejected), null)
    if (device.status !== 'active') return callback(refuse(device.status, client, { username: client.id }, CONNACK.notAuthorized), null)
    const will = wills.get(client)
    if (will && (will.topic !== statusTopic(device.id) || will.retain)) {
      return callback(refuse('will-not-allowed', client, { username: device.id, willTopic: will.topic.slice(0, 128) }, CONNACK.notAuthorized), null)
    }
    allow(client, { kind: 'device', device }, callback)
  }

  function publishTelemetry(client: Client, device: Device, payload: Buffer, callback: (error?: Error | null) => void) {
    const quotas = deps.quotas
    if (quotas) {
      const check = quotas.admit(device, payload.length)
      if (!check.ok) {
        if (deps.overQuota) return deps.overQuota(client, device, check.reason, callback)
        return callback(refuse('over-quota', client, { device: device.id, quota: check.reason }))
      }
    }
    const intake = deps.intake
    let called = false
    const done = (err?: Error, readings?: number) => {
      if (called) return
      called = true
      intake.end()
      if (err) return callback(refuse('ingest-failed', client, { err: err.message }))
      // Over quota but under the hard limit: hold the PUBACK until the buckets refill. aedes
      // reads nothing more from this connection meanwhile, so only this device slows down.
      const delay = quotas ? quotas.recorded(device, readings ?? 1) : 0
      if (delay > 0) setTimeout(() => callback(null), delay).unref()
      else callback(null)
    }
    intake.begin()
    try {
      deps.onTelemetry(device, payload, Date.now(), done)
    } catch (err) {
      done(err instanceof Error ? err : new Error(String(err)))
    }
  }

  return {
    /** Call when a device's status or secret changes. */
    deviceChanged(deviceId: string): void {
      changes.set(deviceId, (changes.get(deviceId) ?? 0) + 1)
    },

    principalOf(client: Client): Principal | undefined {
      return principals.get(client)
    },

    preConnect(client: Client, packet: ConnectPacket, callback: (error: Error | null, success: boolean) => void): void {
      // Sessions are always clean: with in-memory persistence a persistent session would queue
      // QoS 1 messages for a subscriber that went away, without bound. The CONNACK then says
      // sessionPresent = false, as it should.
      packet.clean = true
      if (packet.will) wills.set(client, packet.will)
      callback(null, true)
    },

    authenticate(client: Client, username: string | undefined, password: Buffer | undefined, callback: AuthenticateCallback): void {
      if (client.id.length > limits.maxClientIdLength) {
        return callback(refuse('client-id-too-long', client, { username: username?.slice(0, 128) }, CONNACK.identifierRejected), null)
      }
      // A verified client certificate names the one client it is for; the password is still required.
      const certName = deps.clientCertNameOf?.(client)
      if (certName !== undefined && certName !== client.id) {
        return callback(refuse('client-cert-mismatch', client, { username: username?.slice(0, 128), certName: certName.slice(0, 128) }, CONNACK.notAuthorized), null)
      }
      // The certificate was verified against TLS_CA_FILE in the handshake: nothing to guess, so no login limiter.
      if (certName !== undefined && (!password || password.length === 0)) return authenticateByCertificate(client, username, callback)
      if (!username || !password || password.length === 0) {
        return callback(refuse('no-credentials', client, { username: username?.slice(0, 128) }, CONNACK.notAuthorized), null)
      }
      const throttle = deps.loginLimiter.check(deps.addressOf(client), username)
      if (!throttle.allowed) {
        return callback(refuse('too-many-failures', client, { username: username.slice(0, 128), retryAfterMs: throttle.retryAfterMs }, CONNACK.notAuthorized), null)
      }
      if (password.length > MAX_PASSWORD_BYTES) return failed(client, username, 'bad-secret', callback)
      const service = services.get(username)
      if (service) return authenticateService(client, username, password, service, callback)
      authenticateDevice(client, username, password.toString('utf8'), callback)
    },

    /**
     * Called for every PUBLISH and for the will when a connection drops. For telemetry the
     * callback waits for onTelemetry's done: aedes sends the PUBACK only after it, and reads
     * nothing more from the socket meanwhile, which is how backpressure reaches publishers.
     * An error closes the connection (MQTT 3.1.1 has no negative PUBACK).
     */
    authorizePublish(client: Client | null, packet: PublishPacket, callback: (error?: Error | null) => void): void {
      // client is null only for a will aedes finds left over by another broker instance.
      if (client && deps.wasCutOff(client)) return callback(new Error('connection closed'))
      const principal = client && principals.get(client)
      if (!client || !principal) return callback(refuse('not-authenticated', client, { topic: packet.topic.slice(0, 128) }))
      const topic = packet.topic
      if (topic.startsWith('$')) return callback(refuse('sys-topic', client, { topic: topic.slice(0, 128) }))
      if (principal.kind === 'service') return callback(refuse('service-publish', client, { topic: topic.slice(0, 128) }))
      const { device } = principal
      const isTelemetry = topic === `devices/${device.id}/telemetry`
      if (!isTelemetry && topic !== statusTopic(device.id)) return callback(refuse('topic-not-allowed', client, { topic: topic.slice(0, 128) }))
      if (packet.retain) return callback(refuse('retain-not-allowed', client, { topic }))
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload
      if (isTelemetry) return publishTelemetry(client, device, payload, callback)
      deps.onStatus?.(device, payload.toString('utf8'))
      callback(null)
    },

    /** A refused filter gets return code 128 in the SUBACK; the connection stays up. */
    authorizeSubscribe(client: Client, subscription: Subscription, callback: (error: Error | null, subscription?: Subscription | null) => void): void {
      if (deps.wasCutOff(client)) return callback(null, null)
      const principal = principals.get(client)
      const topic = subscription.topic
      if (topic.length > limits.maxTopicLength) {
        refuse('topic-too-long', client, { length: topic.length })
        return callback(null, null)
      }
      const prefix = principal?.kind === 'device' ? `devices/${principal.device.id}/` : principal?.kind === 'service' ? 'devices/' : undefined
      if (prefix === undefined || !topic.startsWith(prefix)) {
        refuse('subscribe-not-allowed', client, { topic })
        return callback(null, null)
      }
      callback(null, subscription)
    },
  }
}

export type Auth = ReturnType<typeof createAuth>
