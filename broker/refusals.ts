/**
 * Why the broker turned something down. Each refusal is logged once, at warn, where it is
 * decided, and counted by reason; the error aedes then passes around (to 'clientError' and the
 * like) is a Refusal, so those handlers know it has been logged already.
 */

export type RefusalReason =
  // CONNECT
  | 'no-credentials'
  | 'unknown-device'
  | 'bad-secret'
  | 'revoked'
  | 'decommissioned'
  | 'client-id-mismatch'
  // a verified TLS client certificate whose subject CN is not the client id
  | 'client-cert-mismatch'
  | 'client-id-too-long'
  | 'client-id-taken'
  | 'will-not-allowed'
  | 'auth-unavailable'
  // too many failed logins from this address or for this user name: backing off (broker/login-limiter.ts)
  | 'too-many-failures'
  | 'bad-protocol-version'
  | 'keepalive-not-allowed'
  // transport
  // all connections, or those from one address, at their limit
  | 'too-many-connections'
  // too many connections not logged in yet
  | 'too-many-pending'
  | 'packet-too-large'
  // PUBLISH / SUBSCRIBE
  | 'not-authenticated'
  | 'sys-topic'
  | 'service-publish'
  | 'topic-not-allowed'
  | 'retain-not-allowed'
  | 'subscribe-not-allowed'
  | 'topic-too-long'
  // the reading could not be recorded, so it is not acknowledged and the device will resend it
  | 'ingest-failed'
  // past the device's hard quota (broker/quotas.ts): not recorded, connection closed
  | 'over-quota'

/** MQTT 3.1.1 CONNACK return codes. */
export const CONNACK = {
  identifierRejected: 2,
  serverUnavailable: 3,
  badUsernameOrPassword: 4,
  notAuthorized: 5,
} as const

export class Refusal extends Error {
  constructor(
    readonly reason: RefusalReason,
    /** CONNACK return code, for refusals at CONNECT (aedes reads `returnCode`). */
    readonly returnCode?: number,
  ) {
    super(`refused: ${reason}`)
    this.name = 'Refusal'
  }
}

/** Where a refused login happened, for its message. */
export interface LoginRefusalContext {
  deviceId: string
  username?: string
  clientId: string
  certName?: string
  retryAfterMs?: number
}

const quote = (s: string | undefined) => `'${(s ?? '').slice(0, 64)}'`

/**
 * What an installer reads when a registered device's login is refused, and what to change, by
 * reason; the reasons not listed are not about a device's login.
 */
export const LOGIN_REFUSAL_MESSAGES: Partial<Record<RefusalReason, (at: LoginRefusalContext) => string>> = {
  'bad-secret': (at) => `wrong password: the broker refused user name ${quote(at.deviceId)} with the secret given. Copy the secret from the connection sheet (or rotate it) and set it on the device.`,
  'unknown-device': (at) => `user name ${quote(at.username)} is not a registered device: use ${quote(at.deviceId)} as both user name and client id.`,
  revoked: () => 'the device is revoked: the broker refuses its logins until an installer reactivates it.',
  decommissioned: () => 'the device is decommissioned: the broker refuses its logins.',
  'client-id-mismatch': (at) => `wrong client id ${quote(at.clientId)}: the client id must be the device id, ${quote(at.deviceId)} (the same as the user name).`,
  'client-cert-mismatch': (at) => `the TLS client certificate names ${quote(at.certName)}, not the client id ${quote(at.clientId)}.`,
  'no-credentials': (at) => `no user name or password: log in with user name ${quote(at.deviceId)} and the device's secret.`,
  'will-not-allowed': (at) => `the connection's last will is not allowed: a will must be on devices/${at.deviceId}/status and not retained.`,
  'too-many-failures': (at) =>
    `too many failed logins: the broker refuses logins for ${quote(at.deviceId)} without checking them${at.retryAfterMs ? ` for ${Math.ceil(at.retryAfterMs / 1000)} s` : ''}. Set the right secret on the device; it gets in once the wait is over.`,
  'auth-unavailable': () => 'the broker could not check the secret just now (the registry did not answer); the device should retry.',
}
