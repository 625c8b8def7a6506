import type { CommissioningState, WatchAnswer } from './commissioning.ts'
import type { OperationsServerEvents } from './operations.ts'
import type { EventError, StatusMessage, SubscribeAnswer, SubscriptionRequest, UnsubscribeAnswer, UpdateMessage, WatchRequest } from './realtime.ts'

/**
 * Every Socket.IO event between the server and the browsers, by direction, for typed servers and
 * clients. Each payload is the Static<> of a schema in realtime.ts, operations.ts or
 * commissioning.ts: the server checks what it receives against those schemas, the apps what they
 * receive.
 */

export interface ServerToClientEvents extends OperationsServerEvents {
  /** One tick's readings for one live room. */
  update: (message: UpdateMessage) => void
  /** Devices connecting and disconnecting, for one logged-in live room. */
  status: (message: StatusMessage) => void
  /** The socket missed messages (it could not take them): subscribe again for the current state. */
  resync: () => void
  commissioning: (state: CommissioningState) => void
  /** The session ended; the server disconnects the socket next. */
  session_expired: () => void
  /** An event sent without an ack was refused. */
  subscription_error: (error: EventError) => void
}

export interface ClientToServerEvents {
  subscribe: (payload: SubscriptionRequest, ack?: (answer: SubscribeAnswer) => void) => void
  unsubscribe: (payload?: SubscriptionRequest | null, ack?: (answer: UnsubscribeAnswer) => void) => void
  'commissioning:watch': (payload: WatchRequest, ack?: (answer: WatchAnswer) => void) => void
  'commissioning:unwatch': (payload: WatchRequest, ack?: (answer: { ok: true } | WatchAnswer) => void) => void
}
