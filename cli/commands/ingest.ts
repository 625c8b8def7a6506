import { startIngestNode } from '../../platform/platform.ts'
import { UsageError, type Command } from '../command.ts'
import { createLogger } from '../logger.ts'
import { untilSignal } from '../signals.ts'

export const ingestCommand: Command = {
  summary: 'Run ingest alone, consuming telemetry from an MQTT broker at MQTT_URL (aedes, Mosquitto, EMQX)',
  usage: 'ingest',
  options: {},
  async run({ config }) {
    const { url, username, password, clientId } = config.upstream
    if (!url) throw new UsageError('MQTT_URL must be set to the broker to consume from, e.g. mqtt://127.0.0.1:1883')
    const logger = createLogger(config.logLevel)
    const node = await startIngestNode(config, logger, { url, username, password, clientId })
    console.log(`Piazza ingest is consuming devices/+/telemetry from ${url} as '${clientId}'. Ctrl-C stops.`)
    const signal = await untilSignal()
    logger.info({ signal }, 'shutting down ingest')
    await node.close()
    logger.flush()
    return 0
  },
}
