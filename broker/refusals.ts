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
