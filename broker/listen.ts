import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http'
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { createServer as createTlsServer, type SecureContextOptions, type Server as TlsServer, type TLSSocket } from 'node:tls'
import { createWebSocketStream, WebSocketServer } from 'ws'
import type { Broker, ConnectionSlot } from './broker.ts'

/**
 * The only place the broker binds ports: MQTT over TCP, and MQTT over WebSocket (paths /mqtt
 * and /) when wsPort is given; with `tls`, MQTT over TLS (tlsPort) and MQTT over secure
 * WebSocket (wssPort) too. Port 0 picks a free port; the actual ports are returned.
 */

export interface BrokerTlsOptions {
  /** PEM certificate chain, private key and, for client certificates, the CA(s) that sign them. */
  context: { cert: Buffer; key: Buffer; ca?: Buffer }
  tlsPort: number
  wssPort?: number
}

export interface BrokerListener {
  port: number
  wsPort?: number
  tlsPort?: number
  wssPort?: number
  /** Replaces the certificate (and key, CA) of the TLS servers; new handshakes use it. Throws when the pair is bad. */
  setSecureContext(context: { cert: Buffer; key: Buffer; ca?: Buffer }): void
  /** Stops accepting and ends the connections these servers accepted. */
  close(): Promise<void>
}

const WS_PATHS = new Set(['/', '/mqtt'])

type AnyServer = TcpServer | HttpServer | HttpsServer | TlsServer

function listen(server: AnyServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve((server.address() as { port: number }).port)
    })
  })
}

function closeServer(server: AnyServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}

/** The subject CN of a client certificate the TLS handshake verified against the configured CA; undefined otherwise. */
export function verifiedClientCertName(socket: TLSSocket): string | undefined {
  if (!socket.authorized) return undefined
  const cn = socket.getPeerCertificate()?.subject?.CN
  return typeof cn === 'string' && cn !== '' ? cn : Array.isArray(cn) ? cn[0] : undefined
}

function tlsContextOptions(context: BrokerTlsOptions['context']): SecureContextOptions {
  return { cert: context.cert, key: context.key, ...(context.ca ? { ca: context.ca } : {}) }
}

export async function listenBroker(
  broker: Pick<Broker, 'admit' | 'handleConnection' | 'limits' | 'logger'>,
  options: { host: string; port: number; wsPort?: number; tls?: BrokerTlsOptions },
): Promise<BrokerListener> {
  const { logger } = broker
  const sockets = new Set<Socket>()
  const track = (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  }
  const servers: AnyServer[] = []
  const closeAll = () => Promise.all(servers.map(closeServer))
  const bind = async (server: AnyServer, port: number, name: string): Promise<number> => {
    try {
      const bound = await listen(server, port, options.host)
      servers.push(server)
      // After listening, errors (e.g. EMFILE on accept) must not crash the process.
      server.on('error', (err) => logger.error({ err }, `${name} server error`))
      return bound
    } catch (err) {
      await closeAll()
      throw err
    }
  }

  // mqtt.js and browsers send one MQTT packet (or part of one) per WebSocket message, so a
  // message may be as large as one packet; ws refuses larger ones before buffering them.
  let wss: WebSocketServer | undefined
  /** The upgrade handling shared by the plain and the secure WebSocket servers. */
  const webSocketServer = (server: HttpServer | HttpsServer): void => {
    if (!wss) {
      wss = new WebSocketServer({ noServer: true, maxPayload: broker.limits.maxPacketSize + 8 })
      wss.on('error', (err) => logger.error({ err }, 'mqtt websocket server error'))
    }
    const ws = wss
    server.on('request', (_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' })
      res.end('MQTT over WebSocket: open a WebSocket to /mqtt\n')
    })
    // Every socket takes a connection slot when it is accepted (after the handshake on the secure
    // port: that is the socket 'upgrade' sees), like a TCP socket, and must upgrade within the
    // CONNECT timeout; aedes' own timeout then covers the CONNECT.
    const slots = new WeakMap<Duplex, ConnectionSlot>()
    const upgraded = new WeakSet<Duplex>()
    const admit = (socket: Socket) => {
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
    }
    if ('setSecureContext' in server) {
      server.on('connection', track) // the raw socket, so close() can end handshakes
      server.on('secureConnection', admit)
    } else {
      server.on('connection', admit)
    }
    server.on('clientError', (_err: Error, socket: Duplex) => socket.destroy())
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const slot = slots.get(socket)
      if (!slot) return void socket.destroy()
      const path = new URL(req.url ?? '/', 'http://localhost').pathname
      if (!WS_PATHS.has(path)) {
        socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')
        return
      }
      upgraded.add(socket)
      const clientCertName = 'encrypted' in req.socket ? verifiedClientCertName(req.socket as TLSSocket) : undefined
      ws.handleUpgrade(req, socket, head, (websocket) => {
        // Before login a message may be no larger than a CONNECT: ws checks a frame's announced
        // length against its receiver's limit before buffering the frame, so a socket that has not
        // logged in cannot make the broker hold 256 KiB. ws sets one limit per server; the
        // receiver's field is not public API (ws 8), hence the guarded write and the test in
        // broker/prelogin.test.ts that fails if ws stops honouring it.
        const receiver = (websocket as unknown as { _receiver?: { _maxPayload?: number } })._receiver
        const small = receiver && typeof receiver._maxPayload === 'number'
        if (small) receiver._maxPayload = broker.limits.maxConnectPacketSize + 8
        const raised: ConnectionSlot = {
          address: slot.address,
          loggedIn() {
            if (small) receiver._maxPayload = broker.limits.maxPacketSize + 8
            slot.loggedIn()
          },
          release: () => slot.release(),
        }
        broker.handleConnection(createWebSocketStream(websocket), { remoteAddress: req.socket.remoteAddress, clientCertName, socket }, raised)
      })
    })
  }

  const tcp = createTcpServer((socket) => {
    track(socket)
    broker.handleConnection(socket, { remoteAddress: socket.remoteAddress })
  })
  const port = await bind(tcp, options.port, 'mqtt tcp')

  let wsPort: number | undefined
  if (options.wsPort !== undefined) {
    const http = createHttpServer()
    webSocketServer(http)
    wsPort = await bind(http, options.wsPort, 'mqtt websocket')
  }

  let tlsServer: TlsServer | undefined
  let httpsServer: HttpsServer | undefined
  let tlsPort: number | undefined
  let wssPort: number | undefined
  if (options.tls) {
    const { tls } = options
    // With a CA, client certificates are asked for but not required; a presented one that the CA
    // did not sign leaves the socket unauthorised (no certificate name), not refused.
    const secure = {
      ...tlsContextOptions(tls.context),
      requestCert: tls.context.ca !== undefined,
      rejectUnauthorized: false,
      // A handshake left unfinished holds a socket; give it no longer than a CONNECT.
      handshakeTimeout: broker.limits.connectTimeoutMs,
    }
    tlsServer = createTlsServer(secure, (socket) => {
      broker.handleConnection(socket, { remoteAddress: socket.remoteAddress, clientCertName: verifiedClientCertName(socket) })
    })
    // The raw socket, so close() can end connections still in the handshake.
    tlsServer.on('connection', track)
    tlsServer.on('tlsClientError', (err, socket) => {
      logger.debug({ err: err.message, address: socket.remoteAddress }, 'mqtt tls handshake failed')
      socket.destroy()
    })
    tlsPort = await bind(tlsServer, tls.tlsPort, 'mqtt tls')
    if (tls.wssPort !== undefined) {
      httpsServer = createHttpsServer(secure)
      webSocketServer(httpsServer)
      httpsServer.on('tlsClientError', (_err, socket) => socket.destroy())
      wssPort = await bind(httpsServer, tls.wssPort, 'mqtt secure websocket')
    }
  }

  return {
    port,
    wsPort,
    tlsPort,
    wssPort,
    setSecureContext(context) {
      const options = tlsContextOptions(context)
      // setSecureContext builds the context first and throws on a bad pair, keeping the old one.
      tlsServer?.setSecureContext(options)
      httpsServer?.setSecureContext(options)
    },
    async close() {
      const closing = closeAll()
      wss?.close()
      // server.close() waits for open connections to end; end them.
      for (const socket of sockets) socket.destroy()
      await closing
    },
  }
}
