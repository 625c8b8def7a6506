import { startChildServer, freePort, socketAnswers, tempDir } from './child-server.ts'

/**
 * A private Redis for tests: Debian's redis-server on a free loopback port, its own directory,
 * no persistence (no RDB snapshots, no AOF). Assumes /usr/bin/redis-server (test/support/prepare.sh
 * installs it). stop() and start() keep the port, so a test can take Redis away and bring it back.
 */

export interface RedisServer {
  url: string
  port: number
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>
  /** Starts again on the same port. */
  start(): Promise<void>
  /** Stops it and removes its directory. */
  close(): Promise<void>
}

export async function startRedis(): Promise<RedisServer> {
  const dir = tempDir('redis')
  const port = await freePort()
  const server = await startChildServer({
    name: 'redis-server',
    command: '/usr/bin/redis-server',
    args: ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning', '--logfile', ''],
    dir,
    ready: { what: `answering PING on port ${port}`, probe: () => socketAnswers({ host: '127.0.0.1', port }, 'PING\r\n', (text) => text.startsWith('+PONG')) },
  })
  return { url: `redis://127.0.0.1:${port}`, port, start: server.start, stop: server.stop, close: server.close }
}

