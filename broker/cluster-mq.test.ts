import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { Message } from 'mqemitter'
import { startRedis, type RedisServer } from '../testkit/redis.ts'
import { createClusterMq, type ClusterMq } from './cluster-mq.ts'

const WAIT = { timeout: 30_000 }

/**
 * Two nodes' emitters on one real Redis, each subscribed to logins as aedes is (`$SYS/+/new/clients`
 * decides whether a node closes its own client with that id) and to a second pattern that hears
 * every announcement, as a witness of the order Redis delivered them in.
 */
describe('the cluster emitter, over one Redis', () => {
  let redis: RedisServer
  let a: Node
  let b: Node
  beforeAll(async () => {
    redis = await startRedis()
    a = await startNode('node-a', redis.url)
    b = await startNode('node-b', redis.url)
    await vi.waitFor(() => expect([a.mq.stats().connected, b.mq.stats().connected]).toEqual([true, true]), WAIT)
  })
  afterAll(async () => {
    await Promise.all([a, b].map((node) => node && new Promise<void>((resolve) => node.mq.close(resolve))))
    await redis?.close()
  })

  it('lets exactly one node act on the other login when a device logs in on both at once: the one whose login Redis delivered first', async () => {
    // Both logins are made before either announcement can come back from Redis.
    login(a, 'dev-at-once')
    login(b, 'dev-at-once')
    await vi.waitFor(() => expect([a, b].map((node) => about('dev-at-once', node.witnessed).length)).toEqual([2, 2]), WAIT)
    // Redis delivers in one order to both.
    expect(about('dev-at-once', a.witnessed)).toEqual(about('dev-at-once', b.witnessed))
    const older = about('dev-at-once', a.witnessed)[0]?.startsWith('$SYS/node-a/') ? a : b
    const newer = older === a ? b : a
    expect(foreign(older, 'dev-at-once')).toEqual([`$SYS/${newer.name}/new/clients dev-at-once`])
    expect(foreign(newer, 'dev-at-once')).toEqual([])
  })

  it("lets a node act on a later login elsewhere once its own has come back from Redis", async () => {
    login(a, 'dev-one-after')
    await vi.waitFor(() => expect(about('dev-one-after', a.witnessed)).toHaveLength(1), WAIT)
    login(b, 'dev-one-after')
    await vi.waitFor(() => expect(foreign(a, 'dev-one-after')).toEqual(['$SYS/node-b/new/clients dev-one-after']), WAIT)
    // B had no login of its own when A's came: aedes acts on it, with no client there to close.
    expect(foreign(b, 'dev-one-after')).toEqual(['$SYS/node-a/new/clients dev-one-after'])
  })

  it("acts on a later login once this node's client has gone and come back on the same node", async () => {
    login(a, 'dev-again')
    a.mq.emit({ topic: '$SYS/node-a/disconnect/clients', payload: Buffer.from('dev-again') })
    login(a, 'dev-again')
    await vi.waitFor(() => expect(about('dev-again', a.witnessed)).toHaveLength(2), WAIT)
    login(b, 'dev-again')
    await vi.waitFor(() => expect(foreign(a, 'dev-again')).toEqual(['$SYS/node-b/new/clients dev-again']), WAIT)
  })
})

interface Node {
  name: string
  mq: ClusterMq
  /** Announcements delivered to the login listener (aedes would close its client on another node's). */
  acted: string[]
  /** Every announcement heard, in Redis's order. */
  witnessed: string[]
}

async function startNode(name: string, url: string): Promise<Node> {
  const node = { name, mq: createClusterMq({ url }), acted: [], witnessed: [] }
  const subscribe = (topic: string, into: string[]) =>
    new Promise<void>((resolve) => node.mq.on(topic, (message: Message, done: () => void) => (into.push(`${message.topic} ${String(message.payload)}`), done()), resolve))
  await subscribe('$SYS/+/new/clients', node.acted)
  await subscribe('$SYS/+/new/+', node.witnessed)
  return node
}

function login(node: Node, clientId: string) {
  node.mq.emit({ topic: `$SYS/${node.name}/new/clients`, payload: Buffer.from(clientId) })
}

function about(clientId: string, lines: string[]) {
  return lines.filter((line) => line.endsWith(` ${clientId}`))
}

/** Another node's announcements for that client id that reached this node's login listener. */
function foreign(node: Node, clientId: string) {
  return about(clientId, node.acted).filter((line) => !line.startsWith(`$SYS/${node.name}/`))
}
