import type { Command } from '../command.ts'
import { createLogger } from '../logger.ts'
import { createPlatform } from '../platform.ts'
import { untilSignal } from '../signals.ts'

export const startCommand: Command = {
  summary: 'Run the platform: MQTT broker, ingest and storage in one process',
  usage: 'start',
  options: {},
  async run({ config }) {
    const logger = createLogger(config.logLevel)
    const platform = await createPlatform(config, logger)
    const ports = await platform.listen({ host: config.bindHost, mqttPort: config.mqtt.port, wsPort: config.mqtt.wsPort })
    const storage = config.storage.kind === 'influxdb' ? `InfluxDB ${config.storage.url} (database ${config.storage.database})` : `embedded store in ${config.dataDir}`
    console.log(`Piazza is running.
  MQTT        mqtt://${config.publicHost}:${ports.port}   (WebSocket ws://${config.publicHost}:${ports.wsPort}/mqtt)
  Storage     ${storage}
  Data        ${config.dataDir}
Add a device with 'npx piazza devices add --type air-quality --city Firenze --name "My station"'. Ctrl-C stops.`)
    const signal = await untilSignal()
    logger.info({ signal }, 'shutting down: no new connections, flushing acknowledged readings')
    await platform.close()
    logger.info('stopped cleanly')
    logger.flush()
    return 0
  },
}
