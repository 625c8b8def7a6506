import type { Command } from '../command.ts'
import { checkFdLimit } from '../fd-limit.ts'
import { createLogger } from '../logger.ts'
import { startServer } from '../../platform/platform.ts'
import { stopWithin, untilSignal } from '../signals.ts'

export const startCommand: Command = {
  summary: 'Run the platform: MQTT broker, ingest, storage, API and dashboard in one process',
  usage: 'start',
  options: {},
  async run({ config }) {
    const logger = createLogger(config.logLevel)
    // Connections plus room for the write-ahead log, the registry, HTTP and dashboard clients.
    checkFdLimit(logger, config.mqtt.maxConnections + 1024)
    const server = await startServer(config, logger)
    const storage = config.storage.kind === 'influxdb' ? `InfluxDB ${config.storage.url} (database ${config.storage.database})` : `embedded store in ${config.dataDir}`
    const admin = server.web.generatedAdminPassword
    const cluster = config.redisUrl ? `\n  Cluster     Redis ${withoutPassword(config.redisUrl)} (messages between nodes)` : ''
    console.log(`Piazza is running.
  Dashboard   ${server.urls.http}        (API docs ${server.urls.http}/api/docs)
  MQTT        ${server.urls.mqtt}   (WebSocket ${server.urls.mqttWs})${server.urls.mqtts ? `\n  MQTT/TLS    ${server.urls.mqtts}   (secure WebSocket ${server.urls.mqttWss})` : ''}
  Storage     ${storage}${cluster}
  Data        ${config.dataDir}${admin ? `\n  Admin       user 'admin', password '${admin}' (generated; shown only this once)` : ''}
Add a device with 'npx piazza devices add --type air-quality --city Firenze --name "My station"'. Ctrl-C stops.`)
    const signal = await untilSignal()
    logger.info({ signal }, 'shutting down: no new connections, flushing acknowledged readings')
    await stopWithin(server.close(), config.shutdownTimeoutMs, () => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'stopping took too long; exiting now, the write-ahead log keeps every acknowledged reading for the next start')
      logger.flush()
    })
    logger.info('stopped cleanly')
    logger.flush()
    return 0
  },
}

/** A Redis URL fit to print: its password replaced. */
function withoutPassword(url: string): string {
  const parsed = new URL(url)
  if (parsed.password) parsed.password = '***'
  return parsed.toString()
}
