import { createServer as createHttpServer, type Server as HttpServer } from 'node:http'
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net'
import { createWebSocketStream, WebSocketServer } from 'ws'
import type { Broker, ConnectionSlot } from './broker.ts'

/**
 * The only place the broker binds ports: MQTT over TCP, and MQTT over WebSocket (paths /mqtt
 * and /) when wsPort is given. Port 0 picks a free port; the actual ports are returned.
 */

export interface BrokerListener {
  port: number
  wsPort?: number
  /** Stops accepting and ends the connections these servers accepted. */
  close(): Promise<void>
}

const WS_PATHS = new Set(['/', '/mqtt'])

function listen(server: TcpServer | HttpServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve((server.address() as { port: number }).port)
    })
  })
}

function closeServer(server: TcpServer | HttpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}

export async function listenBroker(
  broker: Pick<Broker, 'admit' | 'handleConnection' | 'limits' | 'logger'>,
  options: { host: string; port: number; wsPort?: number },
): Promise<BrokerListener> {
  const { logger } = broker
  const sockets = new Set<Socket>()
  const track = (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  }

  const tcp = createTcpServer((socket) => {
    track(socket)
    broker.handleConnection(socket, { remoteAddress: socket.remoteAddress })
  })
  const port = await listen(tcp, options.port, options.host)
  // After listening, errors (e.g. EMFILE on accept) must not crash the process.
  tcp.on('error', (err) => logger.error({ err }, 'mqtt tcp server error'))

  let http: HttpServer | undefined
  let wss: WebSocketServer | undefined
  let wsPort: number | undefined
  if (options.wsPort !== undefined) {
    // mqtt.js and browsers send one MQTT packet (or part of one) per WebSocket message, so a
    // message may be as large as one packet; ws refuses larger ones before buffering them.
    wss = new WebSocketServer({ noServer: true, maxPayload: broker.limits.maxPacketSize + 8 })
    wss.on('error', (err) => logger.error({ err }, 'mqtt websocket server error'))
    const ws = wss
    http = createHttpServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' })
      res.end('MQTT over WebSocket: open a WebSocket to /mqtt\n')
    })
    // Every raw socket takes a connection slot from its 'connection' event, like a TCP socket,
    // and must upgrade within the CONNECT timeout; aedes' own timeout then covers the CONNECT.
    const slots = new WeakMap<Socket, ConnectionSlot>()
    const upgraded = new WeakSet<Socket>()
    http.on('connection', (socket: Socket) => {
      socket.on('error', () => {})
      const slot = broker.admit(socket.remoteAddress)
      if (!slot) return void socket.destroy()
      track(socket)
      slots.set(socket, slot)
      const timer = setTimeout(() => {
        if (!upgraded.has(socket)) socket.destroy()
      }, broker.limits.connectTimeoutMs)
      timer.unref()
      socket.once('close', () => {
        clearTimeout(timer)
        slot.release()
      })
    })
    http.on('clientError', (_err, socket) => socket.destroy())
    http.on('upgrade', (req, rawSocket, head) => {
      const socket = rawSocket as Socket
      const slot = slots.get(socket)
      if (!slot) return void socket.destroy()
      const path = new URL(req.url ?? '/', 'http://localhost').pathname
      if (!WS_PATHS.has(path)) {
        socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')
        return
      }
      upgraded.add(socket)
      ws.handleUpgrade(req, socket, head, (websocket) => {
        broker.handleConnection(createWebSocketStream(websocket), { remoteAddress: req.socket.remoteAddress }, slot)
      })
    })
    try {
      wsPort = await listen(http, options.wsPort, options.host)
    } catch (err) {
      await closeServer(tcp)
      throw err
    }
    http.on('error', (err) => logger.error({ err }, 'mqtt websocket server error'))
  }

  return {
    port,
    wsPort,
    async close() {
      const closing = [closeServer(tcp)]
      if (http) closing.push(closeServer(http))
      wss?.close()
      // server.close() waits for open connections to end; end them.
      for (const socket of sockets) socket.destroy()
      await Promise.all(closing)
    },
  }
}
