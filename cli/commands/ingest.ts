import { join } from 'node:path'
import { createRegistry, openRegistryDatabase } from '../../devices/registry.ts'
import { createIngest } from '../../ingest/ingest.ts'
import { createMqttSource } from '../../ingest/mqtt-source.ts'
import { createLogger } from '../logger.ts'
import { UsageError, type Command } from '../command.ts'
import { createStorage } from '../../platform/platform.ts'
import { untilSignal } from '../signals.ts'

export const ingestCommand: Command = {
  summary: 'Run ingest alone, consuming telemetry from an MQTT broker at MQTT_URL (aedes, Mosquitto, EMQX)',
  usage: 'ingest',
  options: {},
  async run({ config }) {
    const { url, username, password, clientId } = config.upstream
    if (!url) throw new UsageError('MQTT_URL must be set to the broker to consume from, e.g. mqtt://127.0.0.1:1883')
    const logger = createLogger(config.logLevel)
    const db = openRegistryDatabase(join(config.dataDir, 'registry.db'))
    const registry = createRegistry({ db })
    const ingest = await createIngest({
      dataDir: config.dataDir,
      storage: createStorage(config, logger),
      logger: logger.child({ part: 'ingest' }),
      ...config.ingest,
    })
    const source = createMqttSource({ url, username, password, clientId, lookupDevice: registry.get, ingest, logger: logger.child({ part: 'mqtt-source' }) })
    console.log(`Piazza ingest is consuming devices/+/telemetry from ${url} as '${clientId}'. Ctrl-C stops.`)
    const signal = await untilSignal()
    logger.info({ signal }, 'shutting down ingest')
    await source.close()
    await ingest.close()
    db.close()
    logger.flush()
    return 0
  },
}
