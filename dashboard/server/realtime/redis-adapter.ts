import { createAdapter } from '@socket.io/redis-adapter'
import { Redis } from 'ioredis'

/**
 * The Socket.IO Redis adapter for cluster mode: a room emit made on one node (a session ended,
 * a user's sockets closed) reaches the browsers on every node. Pub/sub, like the feed: what the
 * adapter carries is live, and nothing of it needs to outlive a Redis restart.
 *
 * Redis down must cost the node nothing but the cross-node part: the publishing connection has no
 * offline queue (emits for other nodes are dropped, not piled up in memory) and its failures are
 * counted here instead of surfacing as unhandled rejections (the adapter does not await them).
 * ioredis reconnects and re-subscribes by itself.
 */

export interface RedisAdapterOptions {
  url: string
  /** Redis unreachable: called once per incident. */
  onError?(err: unknown): void
}

export interface RedisAdapter {
  adapter: ReturnType<typeof createAdapter>
  status(): { connected: boolean; dropped: number }
  close(): void
}

export function createRedisAdapter(options: RedisAdapterOptions): RedisAdapter {
  const pub = new Redis(options.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 })
  // No ready check: its INFO fails once the connection is in subscriber mode (see broker/cluster-mq.ts).
  const sub = new Redis(options.url, { maxRetriesPerRequest: null, enableReadyCheck: false })
  let dropped = 0
  let down = false
  let closing = false
  const trouble = (err: unknown) => {
    if (down || closing) return
    down = true
    options.onError?.(err)
  }
  for (const connection of [pub, sub]) {
    connection.on('error', trouble)
    connection.on('close', () => trouble(new Error('the connection to Redis closed')))
    connection.on('ready', () => {
      if (pub.status === 'ready' && sub.status === 'ready') down = false
    })
  }
  const publish = pub.publish.bind(pub) as (channel: string, message: string | Buffer) => Promise<number>
  pub.publish = ((channel: string, message: string | Buffer) => {
    const sent = publish(channel, message)
    sent.catch((err: unknown) => {
      dropped += 1
      trouble(err)
    })
    return sent
  }) as typeof pub.publish

  return {
    adapter: createAdapter(pub, sub),
    status: () => ({ connected: pub.status === 'ready' && sub.status === 'ready', dropped }),
    close() {
      closing = true
      pub.disconnect()
      sub.disconnect()
    },
  }
}
