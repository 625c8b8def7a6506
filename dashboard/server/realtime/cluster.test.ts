import { createServer, type Server as HttpServer } from 'node:http'
import { io as connect, type Socket as ClientSocket } from 'socket.io-client'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { startRedis, type RedisServer } from '../../../testkit/redis.ts'
import { createRedisAdapter, type RedisAdapter } from './redis-adapter.ts'
import { STAFF_ROOM } from './rooms.ts'
import { createRealtime, type Realtime } from './server.ts'

/** Deadline for conditions that cross Redis: generous, for a busy machine (never an expected time). */
const WAIT = { timeout: 30_000 }

/**
 * Two realtime servers (two nodes) on one Redis through the Socket.IO Redis adapter, and real
 * socket.io-client sockets (the browser library) over WebSocket.
 */

interface Node {
  http: HttpServer
  url: string
  adapter: RedisAdapter
  realtime: Realtime
}

const tokens: Record<string, { username: string; role: 'admin' | 'installer' }> = {
  'token-ada': { username: 'ada', role: 'admin' },
  'token-ida': { username: 'ida', role: 'installer' },
}

async function startNode(redisUrl: string): Promise<Node> {
  const http = createServer()
  const adapter = createRedisAdapter({ url: redisUrl })
  const realtime = createRealtime(
    http,
    {
      async authenticate({ token }) {
        const user = typeof token === 'string' ? tokens[token] : undefined
        return user ? { user, credential: String(token) } : 'anonymous'
      },
      stillValid: async () => true,
    },
    { recheckSessionsMs: 0, adapter: adapter.adapter },
  )
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  const address = http.address()
  if (!address || typeof address === 'string') throw new Error('not listening')
  return { http, url: `http://127.0.0.1:${address.port}`, adapter, realtime }
}

async function stopNode(node: Node | undefined) {
  if (!node) return
  await node.realtime.close()
  node.adapter.close()
  await new Promise<void>((resolve) => node.http.close(() => resolve()))
}

describe('realtime servers of a cluster, over one Redis', () => {
  let redis: RedisServer
  let one: Node
  let two: Node
  const sockets: ClientSocket[] = []

  async function open(node: Node, token: string): Promise<ClientSocket> {
    const socket = connect(node.url, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { token } })
    sockets.push(socket)
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('connect_error', reject)
    })
    return socket
  }

  beforeAll(async () => {
    redis = await startRedis()
    one = await startNode(redis.url)
    two = await startNode(redis.url)
  })
  afterAll(async () => {
    for (const socket of sockets) socket.disconnect()
    await stopNode(one)
    await stopNode(two)
    await redis?.close()
  })

  it('delivers a room emit made on node 1 to a browser socket on node 2', async () => {
    const socket = await open(two, 'token-ada')
    const got: unknown[] = []
    socket.on('alerts' as never, (payload: unknown) => void got.push(payload))
    // The adapter's subscriptions reach Redis a moment after start: emit until the socket hears.
    await vi.waitFor(
      () => {
        one.realtime.io.to(STAFF_ROOM).emit('alerts', { probe: true } as never)
        expect(got.length).toBeGreaterThan(0)
      },
      { timeout: 20_000, interval: 200 },
    )
    expect(got[0]).toEqual({ probe: true })
    expect(one.adapter.status()).toMatchObject({ connected: true })
  })

  it("keeps a node's local emit on that node", async () => {
    const there = await open(two, 'token-ada')
    const here = await open(one, 'token-ada')
    const gotThere: unknown[] = []
    const gotHere: unknown[] = []
    there.on('alerts' as never, (p: unknown) => void gotThere.push(p))
    here.on('alerts' as never, (p: unknown) => void gotHere.push(p))
    one.realtime.io.local.to(STAFF_ROOM).emit('alerts', { local: true } as never)
    // Then a cluster-wide one: once it arrived on node 2, the local one would have too.
    one.realtime.io.to(STAFF_ROOM).emit('alerts', { everywhere: true } as never)
    await vi.waitFor(() => expect(gotThere).toContainEqual({ everywhere: true }), WAIT)
    expect(gotThere).not.toContainEqual({ local: true })
    await vi.waitFor(() => expect(gotHere).toEqual([{ local: true }, { everywhere: true }]), WAIT)
  })

  it("ends a user's sockets on every node when the user is ended on one", async () => {
    const socket = await open(two, 'token-ida')
    const expired = new Promise<void>((resolve) => socket.once('session_expired' as never, () => resolve()))
    const gone = new Promise<void>((resolve) => socket.once('disconnect', () => resolve()))
    one.realtime.endUser('ida')
    await expired
    await gone
    expect(socket.connected).toBe(false)
  })
})
