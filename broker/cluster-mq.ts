import { Redis } from 'ioredis'
import mqemitter, { type MQEmitter, type Message } from 'mqemitter'
import mqemitterRedis from 'mqemitter-redis'
import { createLoginOrder } from './login-order.ts'

/**
 * aedes's message bus for a broker that is one node of several: mqemitter-redis, so a message
 * for a device (its `errors` topic, later commands) reaches it on whichever node it is connected
 * to, and aedes's own `$SYS/…/new/clients` announcement makes a device that logs in on node B
 * close its older connection on node A (one live session per client id cluster-wide). aedes acts
 * on every such announcement; this emitter holds back the ones for a login older than this node's
 * own, so two logins at once on two nodes leave the newer one, not none (broker/login-order.ts).
 *
 * What devices send (telemetry, status) stays on this node's in-process emitter: ingest and the
 * feed carry readings between nodes already, and a Redis hop per reading would make the MQTT path
 * depend on Redis. Every subscription is made on both emitters and each message is emitted on
 * exactly one, so nothing arrives twice.
 *
 * Redis never holds a device back: a shared emit answers aedes at once (the Redis publish goes on
 * behind it; a failure is counted and reported), subscriptions answer once made locally, and the
 * publishing connection has no offline queue, so while Redis is away messages for devices on
 * other nodes are dropped (QoS 0 feedback) rather than piled up. ioredis reconnects by itself and
 * subscribes again.
 */

export interface ClusterMqOptions {
  url: string
  /** aedes's concurrency (messages delivered at once). */
  concurrency?: number
  /** Redis unreachable or a publish failed: called once per incident. */
  onError?(err: unknown): void
}

export interface ClusterMq extends MQEmitter {
  stats(): { connected: boolean; dropped: number }
}

/** Topics devices publish: delivered on this node only. */
const FROM_DEVICE = /^devices\/[^/]+\/(telemetry|status)$/
/** aedes's announcements of a login and of a client gone, `$SYS/<node>/…/clients`. */
const LOGIN = /^\$SYS\/[^/]+\/new\/clients$/
const LOGOUT = /^\$SYS\/[^/]+\/disconnect\/clients$/
const LOGINS = '$SYS/+/new/clients'

type Listener = (message: Message, done: () => void) => void

export function createClusterMq(options: ClusterMqOptions): ClusterMq {
  const emitterOptions = { concurrency: options.concurrency, matchEmptyLevels: true } // as aedes's default [MQTT-4.7.1-3]
  const local = mqemitter(emitterOptions)
  const pubConn = new Redis(options.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 })
  // Subscriptions wait for Redis however long it takes; ioredis re-subscribes after a reconnect.
  // No ready check: ioredis sends SUBSCRIBE (a command flagged 'loading') before it, and the check's
  // INFO then fails on the connection now in subscriber mode, which drops the subscription.
  const subConn = new Redis(options.url, { maxRetriesPerRequest: null, enableReadyCheck: false })
  const shared = mqemitterRedis({ ...emitterOptions, pubConn, subConn })
  const logins = createLoginOrder()
  /** aedes's listeners for logins, as given → as subscribed (held back when older than ours). */
  const loginListeners = new Map<Listener, Listener>()
  const forLogins = (topic: string, listener: Listener): Listener => {
    if (topic !== LOGINS) return listener
    let wrapped = loginListeners.get(listener)
    if (!wrapped) {
      wrapped = (message, done) =>
        logins.heard(message.topic, String(message.payload)) ? listener(message, done) : done()
      loginListeners.set(listener, wrapped)
    }
    return wrapped
  }
  let dropped = 0
  let down = false
  let closing = false
  const trouble = (err: unknown) => {
    if (down || closing) return
    down = true
    options.onError?.(err)
  }
  // mqemitter-redis re-emits connection errors here; unheard, an 'error' event would throw.
  ;(shared as unknown as { state: NodeJS.EventEmitter }).state.on('error', trouble)
  for (const connection of [pubConn, subConn]) {
    connection.on('close', () => trouble(new Error('the connection to Redis closed')))
    connection.on('ready', () => {
      if (pubConn.status === 'ready' && subConn.status === 'ready') down = false
    })
  }
  subConn.on('ready', () => logins.resubscribed())

  const mq = {
    get current() {
      return local.current + shared.current
    },
    get concurrent() {
      return local.concurrent + shared.concurrent
    },
    on(topic: string, listener: Listener, callback?: () => void) {
      local.on(topic, forLogins(topic, listener), callback)
      shared.on(topic, forLogins(topic, listener))
      return mq
    },
    removeListener(topic: string, listener: Listener, callback?: () => void) {
      const wrapped = forLogins(topic, listener)
      if (topic === LOGINS) loginListeners.delete(listener)
      local.removeListener(topic, wrapped, callback)
      shared.removeListener(topic, wrapped)
    },
    emit(message: Message, callback?: (error?: Error) => void) {
      const { topic } = message
      if (FROM_DEVICE.test(topic)) return local.emit(message, callback)
      // Only aedes's own announcements are $SYS: messages for devices skip the two tests below.
      const announcement = topic.startsWith('$SYS/')
      if (announcement && LOGOUT.test(topic)) logins.left(String(message.payload))
      if (pubConn.status !== 'ready') {
        dropped += 1
        return callback?.()
      }
      const login = announcement && LOGIN.test(topic) ? String(message.payload) : undefined
      if (login !== undefined) logins.announced(topic, login)
      shared.emit(message, (err) => {
        if (!err) return
        dropped += 1
        if (login !== undefined) logins.notAnnounced(topic, login)
        trouble(err)
      })
      callback?.()
    },
    close(callback: () => void) {
      closing = true
      let pending = 2
      const done = () => {
        if (--pending === 0) callback()
      }
      local.close(done)
      // mqemitter-redis closes with quit() and waits for 'end'; with Redis gone quit() would wait or
      // reject unheard. These connections are ours: end them at once instead.
      for (const connection of [pubConn, subConn]) {
        connection.quit = async () => {
          connection.disconnect()
          return 'OK'
        }
      }
      shared.close(done)
    },
    stats: () => ({ connected: pubConn.status === 'ready' && subConn.status === 'ready', dropped }),
  }
  return mq
}
