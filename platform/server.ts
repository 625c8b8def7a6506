import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Logger } from 'pino'
import { buildApp, type BuiltApp } from '../dashboard/server/app.ts'
import { createFeed } from '../feed/feed.ts'
import { createLiveHub } from '../dashboard/server/realtime/live.ts'
import type { Config } from '../cli/config.ts'
import { createPlatform, type Platform } from './platform.ts'

/**
 * Everything `piazza start` and `piazza demo` run in one process: the platform (broker, ingest,
 * storage) and the HTTP server (API, live stream, dashboard). The only place that listens.
 */

export const DASHBOARD_DIST = fileURLToPath(new URL('../dashboard/dist', import.meta.url))

export interface RunningServer {
  platform: Platform
  web: BuiltApp
  urls: { http: string; mqtt: string; mqttWs: string }
  mqttPort: number
  close(): Promise<void>
}

export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const feed = createFeed()
  const live = createLiveHub()
  feed.subscribe({
    accepted: (device, readings, receivedAt) => live.push(device, readings, receivedAt),
    connection: (deviceId, connected) => live.connectionChanged(deviceId, connected),
  })
  const platform = await createPlatform(config, logger, {
    onAccepted: feed.accepted,
    onRejected: feed.rejected,
    onConnectionChange: feed.connection,
  })
  let web: BuiltApp | undefined
  // Known once the broker listens (port 0 picks a free port); connection sheets ask for it later.
  let mqttPorts: { port: number; wsPort?: number } | undefined
  try {
    web = await buildApp({
      registry: platform.registry,
      db: platform.db,
      storage: platform.storage,
      ingestStatus: platform.ingest,
      broker: platform.broker,
      live,
      feed,
      logger,
      staticDir: existsSync(DASHBOARD_DIST) ? DASHBOARD_DIST : undefined,
      mapStyleUrl: config.mapStyleUrl,
      adminPassword: config.adminPassword,
      publicData: { license: config.dataLicense, attribution: config.dataAttribution },
      mqttPublic: () => mqttPorts && { host: config.publicHost, port: mqttPorts.port, wsPort: mqttPorts.wsPort, wsPath: '/mqtt' },
    })
    const ports = await platform.listen({ host: config.bindHost, mqttPort: config.mqtt.port, wsPort: config.mqtt.wsPort })
    mqttPorts = ports
    await web.app.listen({ host: config.bindHost, port: config.httpPort })
    const address = web.app.server.address()
    const httpPort = typeof address === 'object' && address ? address.port : config.httpPort
    const host = config.publicHost
    const server: RunningServer = {
      platform,
      web,
      mqttPort: ports.port,
      urls: { http: `http://${host}:${httpPort}`, mqtt: `mqtt://${host}:${ports.port}`, mqttWs: `ws://${host}:${ports.wsPort}/mqtt` },
      // Stop the web side first (no new sockets or requests), then the platform drains ingest.
      async close() {
        await web!.close()
        await platform.close()
      },
    }
    return server
  } catch (err) {
    await web?.close().catch(() => {})
    await platform.close().catch(() => {})
    throw err
  }
}
