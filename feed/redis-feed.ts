import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import type { LoginRefusal } from '../devices/device-schemas.ts'
import type { Rejection, ValidReading } from '../devices/readings.ts'
import type { DeviceRef, RegistryChange } from '../devices/registry.ts'
import { createLocalFeed, type AlertChange, type Feed, type LocalFeedOptions } from './feed.ts'

/**
 * The feed between nodes, over Redis pub/sub: every event published on one node reaches the
 * listeners of every node sharing the Redis.
 *
 * Pub/sub rather than Streams: these are live events (what happened a moment ago), each node acts
 * on them at once and nothing is lost that matters if one is missed — readings are durable in each
 * node's WAL and in storage, and state rebuilds from there. Pub/sub keeps nothing in Redis, needs no
 * trimming or consumer positions, and is one hop. The price: a node that is cut off from Redis
 * misses what was published meanwhile (it is counted below as `dropped` on the publishing side).
 *
 * A node's own events go to its listeners at once, synchronously, exactly as the in-process feed
 * (the same listener isolation), and to Redis; what comes back from Redis carrying this node's id is
 * skipped, so nothing is delivered twice. Redis down never blocks nor fails a publisher: the event
 * is delivered locally and dropped for the others; ioredis reconnects by itself and re-subscribes.
 */

export interface RedisFeedOptions extends LocalFeedOptions {
  url: string
  /** The channel every node shares. Default 'piazza:feed'. */
  channel?: string
  /** This node's id, carried by each message so it can skip its own. Default: random. */
  nodeId?: string
  /** Redis unreachable, a message that could not be read: log it (called once per incident, not per event). */
  onRedisError?(err: unknown, what: 'connection' | 'message'): void
}

export interface RedisFeedStatus {
  /** Both connections (publish and subscribe) are up. */
  connected: boolean
  /** Events not sent to the other nodes because Redis was unreachable. */
  dropped: number
  /** Messages from Redis that could not be read (skipped). */
  malformed: number
}

export interface RedisFeed extends Feed {
  readonly nodeId: string
  status(): RedisFeedStatus
  /** Resolves once subscribed and able to publish (events flow both ways). Start-up does not wait for it. */
  ready(): Promise<void>
  close(): Promise<void>
}

/** What crosses Redis: the node that published it and the event, with only the device fields listeners get. */
type Message =
  | { n: string; e: 'accepted'; d: DeviceRef; r: readonly ValidReading[]; t: number }
  | { n: string; e: 'rejected'; d: DeviceRef; r: readonly Rejection[]; t: number }
  | { n: string; e: 'connection'; id: string; c: boolean }
  | { n: string; e: 'registry'; change: RegistryChange }
  | { n: string; e: 'login-refused'; refusal: LoginRefusal }
  | { n: string; e: 'alerts'; change: AlertChange }

const ref = (d: DeviceRef): DeviceRef => ({ id: d.id, type: d.type, city: d.city })

export function createRedisFeed(options: RedisFeedOptions): RedisFeed {
  const channel = options.channel ?? 'piazza:feed'
  const nodeId = options.nodeId ?? randomUUID()
  const local = createLocalFeed(options)
  // Publishing connection without an offline queue: while Redis is away a publish fails at once
  // instead of piling up in memory.
  const pub = new Redis(options.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false })
  // Subscribing connection: ioredis re-subscribes by itself after each reconnect. No ready check:
  // its INFO fails once the connection is in subscriber mode (see broker/cluster-mq.ts).
  const sub = new Redis(options.url, { maxRetriesPerRequest: null, enableReadyCheck: false })
  const counts = { dropped: 0, malformed: 0 }
  let down = false
  let closing = false
  const trouble = (err: unknown) => {
    if (down || closing) return
    down = true
    try {
      options.onRedisError?.(err, 'connection')
    } catch {
      // a logger that throws changes nothing here
    }
  }
  for (const connection of [pub, sub]) {
    connection.on('error', trouble)
    // A server that goes away cleanly closes the connection without an error first.
    connection.on('close', () => trouble(new Error('the connection to Redis closed')))
    connection.on('ready', () => {
      if (pub.status === 'ready' && sub.status === 'ready') down = false
    })
  }
  const subscribed = sub.subscribe(channel).then(() => undefined)
  // Not awaited by anyone at start-up; a failure here is the same as Redis being down.
  subscribed.catch(trouble)
  const publishing = new Promise<void>((resolve) => (pub.status === 'ready' ? resolve() : pub.once('ready', () => resolve())))

  // Device → the node holding its connection, as far as this node heard. A device that logs in on
  // node B takes over from node A, whose 'disconnected' then arrives after B's 'connected': that
  // stale end of a session is not the device's end, and is not delivered.
  const holders = new Map<string, string>()
  const connection = (node: string, deviceId: string, connected: boolean) => {
    if (connected) holders.set(deviceId, node)
    else {
      const holder = holders.get(deviceId)
      if (holder !== undefined && holder !== node) return
      holders.delete(deviceId)
    }
    local.connection(deviceId, connected)
  }

  let malformedReported = false
  sub.on('message', (from: string, text: string) => {
    if (from !== channel) return
    let message: Message
    try {
      message = JSON.parse(text) as Message
    } catch (err) {
      counts.malformed += 1
      if (!malformedReported) {
        malformedReported = true
        options.onRedisError?.(err, 'message')
      }
      return
    }
    if (message.n === nodeId) return
    switch (message.e) {
      case 'accepted':
        return local.accepted(message.d, message.r, message.t)
      case 'rejected':
        return local.rejected(message.d, message.r, message.t)
      case 'connection':
        return connection(message.n, message.id, message.c)
      case 'registry':
        return local.registry(message.change)
      case 'login-refused':
        return local.loginRefused(message.refusal)
      case 'alerts':
        return local.alerts(message.change)
      default:
        counts.malformed += 1
    }
  })

  const send = (message: Message) => {
    if (pub.status !== 'ready') {
      counts.dropped += 1
      return
    }
    pub.publish(channel, JSON.stringify(message)).catch((err: unknown) => {
      counts.dropped += 1
      trouble(err)
    })
  }

  return {
    nodeId,
    accepted(device, readings, receivedAt) {
      local.accepted(device, readings, receivedAt)
      send({ n: nodeId, e: 'accepted', d: ref(device), r: readings, t: receivedAt })
    },
    rejected(device, rejections, receivedAt) {
      local.rejected(device, rejections, receivedAt)
      send({ n: nodeId, e: 'rejected', d: ref(device), r: rejections, t: receivedAt })
    },
    connection(deviceId, connected) {
      connection(nodeId, deviceId, connected)
      send({ n: nodeId, e: 'connection', id: deviceId, c: connected })
    },
    registry(change) {
      local.registry(change)
      send({ n: nodeId, e: 'registry', change })
    },
    loginRefused(refusal) {
      local.loginRefused(refusal)
      send({ n: nodeId, e: 'login-refused', refusal })
    },
    alerts(change) {
      local.alerts(change)
      send({ n: nodeId, e: 'alerts', change })
    },
    subscribe: local.subscribe,
    ...(local.listenerSeconds && { listenerSeconds: local.listenerSeconds }),
    ...(local.timed && { timed: local.timed }),
    status: () => ({ connected: pub.status === 'ready' && sub.status === 'ready', ...counts }),
    ready: () => Promise.all([subscribed, publishing]).then(() => undefined),
    async close() {
      closing = true
      pub.disconnect()
      sub.disconnect()
    },
  }
}
