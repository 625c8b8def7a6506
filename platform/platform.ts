import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type Database from 'better-sqlite3'
import type { Logger } from 'pino'
import { createBroker, type Broker } from '../broker/broker.ts'
import { listenBroker, type BrokerListener } from '../broker/listen.ts'
import { createRegistry, openRegistryDatabase, type Registry } from '../devices/registry.ts'
import { loadOrCreateSecretKey } from '../devices/secret-key.ts'
import { buildApp, type AppDeps, type BuiltApp } from '../dashboard/server/app.ts'
import { createLocalFeed, type Feed } from '../feed/feed.ts'
import { createIngest } from '../ingest/ingest.ts'
import { createMqttSource } from '../ingest/mqtt-source.ts'
import type { Storage } from '../ingest/storage/contract.ts'
import { createEmbeddedStorage } from '../ingest/storage/embedded.ts'
import { createInfluxStorage } from '../ingest/storage/influx.ts'
import type { Config } from '../cli/config.ts'

/**
 * The composition root: the one place that creates the parts and wires them together, used
 * unchanged by `piazza start`, `piazza demo`, the tests and the benchmark.
 *
 *   broker ──telemetry──► ingest ──accepted / rejected──► feed ──► HTTP side (live stream,
 *     │                                                     ▲       device states, alerts,
 *     └──────────────── connections ────────────────────────┘       public snapshots,
 *                                                                   commissioning) and the
 *                                                                   broker's error feedback
 *
 * Building never binds a port; `listen()` does, so tests can build the platform and bind port 0.
 */

export const DASHBOARD_DIST = fileURLToPath(new URL('../dashboard/dist', import.meta.url))

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
      timeoutMs: storage.timeoutMs,
      logger: logger.child({ part: 'storage' }),
    })
  }
  return createEmbeddedStorage({ file: join(config.dataDir, 'readings.db'), retentionMs: storage.retentionMs, logger: logger.child({ part: 'storage' }) })
}

/**
 * The data directory's device registry, with the server key its secrets are stored under
 * (DATA_DIR/secret-key, created on first use): what `piazza start` and `piazza devices …` both
 * open, so they agree on every secret.
 */
export function openRegistry(dataDir: string): { db: Database.Database; registry: Registry } {
  const secretKey = loadOrCreateSecretKey(dataDir)
  const db = openRegistryDatabase(join(dataDir, 'registry.db'))
  return { db, registry: createRegistry({ db, secretKey }) }
}

export interface PlatformOptions {
  /** Replaces the in-process feed (e.g. one shared between nodes). */
  feed?: Feed
  /** Overrides of the HTTP side's settings: timings and limits (tests, benchmark). */
  http?: Partial<Omit<AppDeps, 'registry' | 'db' | 'storage' | 'ingestStatus' | 'broker' | 'feed' | 'logger'>>
}

export interface ListenOptions {
  host: string
  mqttPort: number
  wsPort?: number
  /** Without it the HTTP side is not bound (tests that use app.inject). */
  httpPort?: number
}

export async function createPlatform(config: Config, logger: Logger, options: PlatformOptions = {}) {
  const feed = options.feed ?? createLocalFeed({ onError: (err, event) => logger.error({ err, event }, 'a feed listener failed'), timing: config.timing })
  const { db, registry } = openRegistry(config.dataDir)
  const storage = createStorage(config, logger)
  const ingest = await createIngest({
    dataDir: config.dataDir,
    storage,
    logger: logger.child({ part: 'ingest' }),
    walBudgetBytes: config.ingest.walBudgetBytes,
    walFsync: config.ingest.walFsync,
    batchSize: config.ingest.batchSize,
    flushIntervalMs: config.ingest.flushIntervalMs,
    onAccepted: feed.accepted,
    onRejected: feed.rejected,
  })
  /** Milliseconds inside ingest.accept, counted only when config.timing (no wrapper otherwise). */
  let ingestMs = 0
  const broker: Broker = await createBroker({
    registry,
    serviceAccounts: config.mqtt.serviceAccounts,
    limits: { maxConnectionsPerAddress: config.mqtt.maxConnectionsPerAddress },
    logger: logger.child({ part: 'broker' }),
    onConnectionChange: feed.connection,
    onTelemetry: config.timing
      ? (device, payload, receivedAt, done) => {
          const started = performance.now()
          try {
            ingest.accept(device, `devices/${device.id}/telemetry`, payload, receivedAt, done)
          } finally {
            ingestMs += performance.now() - started
          }
        }
      : (device, payload, receivedAt, done) => ingest.accept(device, `devices/${device.id}/telemetry`, payload, receivedAt, done),
  })
  const stopFeedback = feed.subscribe({ rejected: (device, rejections) => broker.reportRejections(device.id, rejections) }, 'error-feedback')

  let listener: BrokerListener | undefined
  // Known once the broker listens (port 0 picks a free port); connection sheets ask for it later.
  let mqttPorts: { port: number; wsPort?: number } | undefined
  let web: BuiltApp
  try {
    web = await buildApp({
      staticDir: existsSync(DASHBOARD_DIST) ? DASHBOARD_DIST : undefined,
      mapStyleUrl: config.mapStyleUrl,
      adminPassword: config.adminPassword,
      publicData: { license: config.dataLicense, attribution: config.dataAttribution },
      mqttPublic: () => mqttPorts && { host: config.publicHost, port: mqttPorts.port, wsPort: mqttPorts.wsPort, wsPath: '/mqtt' },
      rateLimit: { max: config.httpRateLimitPerMinute, windowMs: 60_000 },
      trustProxy: config.trustProxy,
      realtime: { maxSocketsPerAddress: config.socketsPerAddress },
      ...options.http,
      registry,
      db,
      storage,
      ingestStatus: ingest,
      broker: { listening: () => listener !== undefined, stats: () => broker.stats() },
      feed,
      timing: config.timing ? { ingestSeconds: () => ingestMs / 1000, listenerSeconds: feed.listenerSeconds } : undefined,
      logger,
    })
  } catch (err) {
    await broker.close().catch(() => {})
    await ingest.close().catch(() => {})
    db.close()
    throw err
  }
  // Changes made by other processes (`piazza devices revoke`) reach the broker and the HTTP side as our own do.
  const stopWatchingRegistry = registry.watchChanges({ onError: (err) => logger.error({ err }, 'reading the registry change log failed') })

  let closing: Promise<void> | undefined
  return {
    config,
    feed,
    registry,
    db,
    storage,
    ingest,
    broker,
    web,

    /** Binds the broker's ports and, when asked, the HTTP port; answers the ports bound. */
    async listen(ports: ListenOptions): Promise<{ port: number; wsPort?: number; httpPort?: number }> {
      listener = await listenBroker(broker, { host: ports.host, port: ports.mqttPort, wsPort: ports.wsPort })
      mqttPorts = listener
      if (ports.httpPort === undefined) return { port: listener.port, wsPort: listener.wsPort }
      await web.app.listen({ host: ports.host, port: ports.httpPort })
      const address = web.app.server.address()
      const httpPort = typeof address === 'object' && address ? address.port : ports.httpPort
      return { port: listener.port, wsPort: listener.wsPort, httpPort }
    },

    /**
     * Web side first (no new sockets or requests), then the broker stops accepting, then ingest
     * makes every acknowledged reading durable and ships what it can.
     */
    close(): Promise<void> {
      closing ??= (async () => {
        await web.close()
        await listener?.close()
        await broker.close()
        stopFeedback()
        await ingest.close()
        stopWatchingRegistry()
        registry.close()
        db.close()
      })()
      return closing
    },
  }
}

export type Platform = Awaited<ReturnType<typeof createPlatform>>

export interface RunningServer extends Platform {
  urls: { http: string; mqtt: string; mqttWs: string }
  mqttPort: number
}

/** What `piazza start` and `piazza demo` run: the platform, listening on the configured ports. */
export async function startServer(config: Config, logger: Logger, options: PlatformOptions = {}): Promise<RunningServer> {
  const platform = await createPlatform(config, logger, options)
  try {
    const ports = await platform.listen({ host: config.bindHost, mqttPort: config.mqtt.port, wsPort: config.mqtt.wsPort, httpPort: config.httpPort })
    const host = config.publicHost
    return Object.assign(platform, {
      mqttPort: ports.port,
      urls: { http: `http://${host}:${ports.httpPort}`, mqtt: `mqtt://${host}:${ports.port}`, mqttWs: `ws://${host}:${ports.wsPort}/mqtt` },
    })
  } catch (err) {
    await platform.close().catch(() => {})
    throw err
  }
}

/** Runs `work` against the data directory's registry, closing it after (the `piazza devices` commands). */
export async function withRegistry<T>(config: Config, work: (registry: Registry) => Promise<T> | T): Promise<T> {
  const { db, registry } = openRegistry(config.dataDir)
  try {
    return await work(registry)
  } finally {
    db.close()
  }
}

/** `piazza ingest`: ingest alone, consuming telemetry from another MQTT broker. */
export async function startIngestNode(config: Config, logger: Logger, source: { url: string; username?: string; password?: string; clientId: string }) {
  const { db, registry } = openRegistry(config.dataDir)
  const ingest = await createIngest({ dataDir: config.dataDir, storage: createStorage(config, logger), logger: logger.child({ part: 'ingest' }), ...config.ingest })
  const consumer = createMqttSource({ ...source, lookupDevice: registry.get, ingest, logger: logger.child({ part: 'mqtt-source' }) })
  return {
    async close() {
      await consumer.close()
      await ingest.close()
      db.close()
    },
  }
}
