import { join } from 'node:path'
import type { Logger } from 'pino'
import { createBroker, type Broker, type BrokerDeps } from '../broker/broker.ts'
import { listenBroker } from '../broker/listen.ts'
import { createRegistry, openRegistryDatabase } from '../devices/registry.ts'
import { createIngest, type IngestOptions } from '../ingest/ingest.ts'
import type { Storage } from '../ingest/storage/contract.ts'
import { createEmbeddedStorage } from '../ingest/storage/embedded.ts'
import { createInfluxStorage } from '../ingest/storage/influx.ts'
import type { Config } from '../cli/config.ts'

/**
 * The whole platform in one process: registry, storage, ingest and the broker feeding ingest in
 * process (no network hop between them). Listening is a separate step, so tests can build the
 * platform and bind port 0.
 */

export function createStorage(config: Config, logger: Logger): Storage {
  const storage = config.storage
  if (storage.kind === 'influxdb') {
    return createInfluxStorage({
      url: storage.url,
      database: storage.database,
      retentionPolicy: storage.retentionPolicy,
      username: storage.username,
      password: storage.password,
      retentionMs: storage.retentionMs,
      logger: logger.child({ part: 'storage' }),
    })
  }
  return createEmbeddedStorage({ file: join(config.dataDir, 'readings.db'), retentionMs: storage.retentionMs, logger: logger.child({ part: 'storage' }) })
}

export interface PlatformHooks {
  onAccepted?: IngestOptions['onAccepted']
  onRejected?: IngestOptions['onRejected']
  onConnectionChange?: BrokerDeps['onConnectionChange']
}

/** A device hears about its rejected readings on devices/{id}/errors, at most once a second. */
const ERROR_FEEDBACK_INTERVAL_MS = 1000

export async function createPlatform(config: Config, logger: Logger, hooks: PlatformHooks = {}) {
  const db = openRegistryDatabase(join(config.dataDir, 'registry.db'))
  const registry = createRegistry({ db })
  const storage = createStorage(config, logger)
  let broker: Broker | undefined
  const lastFeedback = new Map<string, number>()
  const ingest = await createIngest({
    dataDir: config.dataDir,
    storage,
    logger: logger.child({ part: 'ingest' }),
    walBudgetBytes: config.ingest.walBudgetBytes,
    walFsync: config.ingest.walFsync,
    batchSize: config.ingest.batchSize,
    flushIntervalMs: config.ingest.flushIntervalMs,
    limits: undefined,
    onAccepted: hooks.onAccepted,
    onRejected: (device, rejections, receivedAt) => {
      hooks.onRejected?.(device, rejections, receivedAt)
      const now = Date.now()
      if (now - (lastFeedback.get(device.id) ?? 0) < ERROR_FEEDBACK_INTERVAL_MS) return
      if (lastFeedback.size > 100_000) lastFeedback.clear()
      lastFeedback.set(device.id, now)
      broker?.publishToDevice(device.id, 'errors', JSON.stringify({ rejections, at: new Date(now).toISOString() }))
    },
  })
  broker = await createBroker({
    registry,
    serviceAccounts: config.mqtt.serviceAccounts,
    limits: { maxConnectionsPerAddress: config.mqtt.maxConnectionsPerAddress },
    logger: logger.child({ part: 'broker' }),
    onConnectionChange: hooks.onConnectionChange,
    onTelemetry: (device, payload, receivedAt, done) => ingest.accept(device, `devices/${device.id}/telemetry`, payload, receivedAt, done),
  })

  let listeners: Awaited<ReturnType<typeof listenBroker>> | undefined

  return {
    registry,
    db,
    storage,
    ingest,
    broker: broker as Broker,

    async listen(ports: { host: string; mqttPort: number; wsPort?: number }) {
      listeners = await listenBroker(broker!, { host: ports.host, port: ports.mqttPort, wsPort: ports.wsPort })
      return listeners
    },

    /** Stop accepting, let every acknowledged reading become durable and ship what can be shipped, close. */
    async close() {
      await listeners?.close()
      await broker?.close()
      await ingest.close()
      registry.close()
      db.close()
    },
  }
}

export type Platform = Awaited<ReturnType<typeof createPlatform>>
