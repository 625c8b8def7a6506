import { createServer, type Server } from 'node:http'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort } from './child-server.ts'
import { readHaproxyExample, renderHaproxyConfig, startHaproxy, startHaproxyInFront, type Ports } from './haproxy.ts'

/**
 * The tests' HAProxy is ready only when it holds its front ports itself: a front port taken by
 * another process (free ports are only free until someone takes them) must not pass for HAProxy.
 */
describe('the tests’ HAProxy', () => {
  const servers: Server[] = []
  afterAll(() => {
    for (const server of servers) server.close()
  })

  /** A plain HTTP server answering 200 on a port of its own, as another test's node would. */
  async function squatter(): Promise<number> {
    const server = createServer((_req, res) => res.end('not haproxy'))
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return (server.address() as { port: number }).port
  }

  it('refuses to start, in HAProxy’s own words, when a front port is someone else’s', async () => {
    const node: Ports = { host: '127.0.0.1', mqttPort: await freePort(), wsPort: await freePort(), httpPort: await freePort() }
    const front: Ports = { host: '127.0.0.1', mqttPort: await freePort(), wsPort: await freePort(), httpPort: await squatter() }
    await expect(startHaproxy(renderHaproxyConfig(readHaproxyExample(), front, [node]))).rejects.toThrow(/cannot bind/i)
  })

  it('starts on front ports of its own', async () => {
    const node: Ports = { host: '127.0.0.1', mqttPort: await freePort(), wsPort: await freePort(), httpPort: await freePort() }
    const { haproxy, front } = await startHaproxyInFront('127.0.0.1', [node])
    try {
      // Nothing behind it: HAProxy itself answers, 503 with no server up.
      const res = await fetch(`http://${front.host}:${front.httpPort}/api/health`)
      expect(res.status).toBe(503)
    } finally {
      await haproxy.stop()
    }
  })
})
