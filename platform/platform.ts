import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type Database from 'better-sqlite3'
import pg from 'pg'
import type { Logger } from 'pino'
import { createBroker, type Broker } from '../broker/broker.ts'
import { listenBroker, type BrokerListener } from '../broker/listen.ts'
import { readTlsFiles, watchTlsFiles } from '../broker/tls-files.ts'
import { createRegistry, openRegistryDatabase, type Registry } from '../devices/registry.ts'
import { createPostgresRegistryStore, keyCheckValue } from '../devices/registry-postgres.ts'
import { createPostgresAccountStore } from '../dashboard/server/identity/account-store-postgres.ts'
import type { AccountStore } from '../dashboard/server/identity/account-store.ts'
import type { AuditStore } from '../dashboard/server/identity/audit.ts'
import { createPostgresAuditStore } from '../dashboard/server/identity/audit-store-postgres.ts'
import { createPostgresAlertStore } from '../dashboard/server/operations/alerts/store-postgres.ts'
import { createPostgresNotifyStore } from '../dashboard/server/operations/notify/store-postgres.ts'
import { createLeadership, type Leadership } from './leader.ts'
import { loadOrCreateSecretKey } from '../devices/secret-key.ts'
import { buildApp, type AppDeps, type BuiltApp } from '../dashboard/server/app.ts'
import type { RedisStatus } from '../dashboard/server/http/health-routes.ts'
import { createRedisAdapter, type RedisAdapter } from '../dashboard/server/realtime/redis-adapter.ts'
import { createLocalFeed, TIMING_SAMPLE, type Feed } from '../feed/feed.ts'
import { createRedisFeed, type RedisFeed } from '../feed/redis-feed.ts'
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
 *
 * Cluster mode (config.redisUrl): the feed is the Redis feed, so every node hears every node's
 * readings, connections and registry changes; the broker's aedes shares messages for devices and
 * session takeovers over Redis; Socket.IO room emits cross nodes through the Redis adapter. The
 * registry's announcements go out on the feed and the parts listen to the feed's, so a device
 * revoked on one node loses its connection on whichever node holds it. Ingest never touches Redis.
 * With DATABASE_URL as well, alerts and contact points are in PostgreSQL, every node follows the
 * others' alert changes on the feed, and only the leader (leader.ts) judges alerts and notifies.
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
      familyRetentionMs: storage.familyRetentionMs,
      hourlyRetentionMs: storage.hourlyRetentionMs,
      timeoutMs: storage.timeoutMs,
      logger: logger.child({ part: 'storage' }),
    })
  }
  return createEmbeddedStorage({
    file: join(config.dataDir, 'readings.db'),
    retentionMs: storage.retentionMs,
    familyRetentionMs: storage.familyRetentionMs,
    hourlyRetentionMs: storage.hourlyRetentionMs,
    logger: logger.child({ part: 'storage' }),
  })
}

/**
 * The shared state: the device registry with the server key its secrets are stored under
 * (DATA_DIR/secret-key, created on first use), and the SQLite database of the data directory
 * (users, sessions, alert rules and alerts, audit log). With DATABASE_URL the registry, users and
 * sessions and the audit log live in PostgreSQL, shared by every node (each node needs the same
 * secret-key file); so do alerts and contact points once the nodes also share a feed (REDIS_URL:
 * createPlatform). What `piazza start`
 * and `piazza devices …` both open, so they agree on every device and secret.
 */
export interface SharedState {
  db: Database.Database
  /** DATA_DIR/secret-key: device secrets are hashed, contact points' secrets sealed, under it. */
  secretKey: Buffer
  registry: Registry
  /** Set with DATABASE_URL: users and sessions in PostgreSQL. */
  accountStore?: AccountStore
  /** Set with DATABASE_URL: the audit log in PostgreSQL. */
  auditStore?: AuditStore
  /** Set with DATABASE_URL. */
  pool?: pg.Pool
  close(): Promise<void>
}

export async function openSharedState(config: Pick<Config, 'dataDir' | 'databaseUrl'>, logger?: Logger): Promise<SharedState> {
  const secretKey = loadOrCreateSecretKey(config.dataDir)
  const db = openRegistryDatabase(join(config.dataDir, 'registry.db'))
  if (!config.databaseUrl) {
    const registry = createRegistry({ db, secretKey })
    return {
      db,
      secretKey,
      registry,
      async close() {
        await registry.close()
        db.close()
      },
    }
  }
  // Registry and user reads are served from memory; sessions are read per authenticated request.
  // Bounded waits: an unreachable database fails a request in seconds instead of holding it (and
  // the registry's queue of writes and polls) forever.
  const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 10, connectionTimeoutMillis: 5000, query_timeout: 15_000 })
  // An idle connection that breaks (server restart) must not crash the process: the pool replaces it.
  pool.on('error', () => {})
  try {
    const registry = createRegistry({ store: await createPostgresRegistryStore({ pool, keyCheck: keyCheckValue(secretKey) }), secretKey })
    const accountStore = await createPostgresAccountStore({ pool, onError: (err) => logger?.error({ err }, 'reading the user change log failed') })
    const auditStore = await createPostgresAuditStore(pool)
    return {
      db,
      secretKey,
      registry,
      accountStore,
      auditStore,
      pool,
      async close() {
        await registry.close()
        await accountStore.close()
        await pool.end()
        db.close()
      },
    }
  } catch (err) {
    await pool.end().catch(() => {})
    db.close()
    throw err
  }
}

export interface PlatformOptions {
  /** Replaces the in-process feed (e.g. one shared between nodes). */
  feed?: Feed
  /** Overrides of the HTTP side's settings: timings and limits (tests, benchmark). */
  /** How often the TLS certificate files are checked for changes (default 5 s; tests go faster). */
  tlsPollMs?: number
  http?: Partial<Omit<AppDeps, 'registry' | 'db' | 'accountStore' | 'auditStore' | 'shared' | 'storage' | 'ingestStatus' | 'broker' | 'feed' | 'logger'>>
}

/** The advisory-lock key of the alert leader (platform/leader.ts): 'PzAl'. */
const ALERT_LEADER_KEY = 0x507a416c

export interface ListenOptions {
  host: string
  mqttPort: number
  wsPort?: number
  /** MQTT over TLS and over secure WebSocket, when config.mqtt.tls is set; default the configured ports. */
  tlsPort?: number
  wssPort?: number
  /** Without it the HTTP side is not bound (tests that use app.inject). */
  httpPort?: number
}

/**
 * The registry as the parts see it in cluster mode: the same, but announcing changes from the feed,
 * which carries this node's own (sent there below) and every other node's.
 */
function announcedThroughFeed(registry: Registry, feed: Feed): { registry: Registry; stop: () => void } {
  const stop = registry.onChange((change) => feed.registry(change))
  return { registry: { ...registry, onChange: (listener) => feed.subscribe({ registry: listener }, 'registry') }, stop }
}

export async function createPlatform(config: Config, logger: Logger, options: PlatformOptions = {}) {
  const shared = await openSharedState(config, logger)
  const { db } = shared
  const onListenerError = (err: unknown, event: string) => logger.error({ err, event }, 'a feed listener failed')
  const redisLogger = logger.child({ part: 'redis' })
  const redisFeed: RedisFeed | undefined =
    !options.feed && config.redisUrl
      ? createRedisFeed({
          url: config.redisUrl,
          onError: onListenerError,
          timing: config.timing,
          onRedisError: (err, what) =>
            what === 'message'
              ? redisLogger.warn({ err: String(err) }, 'feed: a message from Redis could not be read (skipped, counted)')
              : redisLogger.warn({ err: String(err) }, 'feed: Redis unreachable; events stay on this node until it is back'),
        })
      : undefined
  const feed = options.feed ?? redisFeed ?? createLocalFeed({ onError: onListenerError, timing: config.timing })
  const announcing = config.redisUrl ? announcedThroughFeed(shared.registry, feed) : undefined
  const registry = announcing?.registry ?? shared.registry
  // Cluster mode: alerts and contact points in PostgreSQL too, judged and notified by one leader.
  const sharedAlerts =
    shared.pool && config.redisUrl
      ? { alertStore: await createPostgresAlertStore(shared.pool), notifyStore: await createPostgresNotifyStore(shared.pool, { keep: config.notify.deliveryLog, secretKey: shared.secretKey }) }
      : undefined
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
  let ingestCalls = 0
  const broker: Broker = await createBroker({
    registry,
    serviceAccounts: config.mqtt.serviceAccounts,
    certificateLogin: config.mqtt.tls?.certificateLogin ?? false,
    limits: {
      maxConnectionsPerAddress: config.mqtt.maxConnectionsPerAddress,
      maxConnections: config.mqtt.maxConnections,
      maxPendingConnections: config.mqtt.maxPendingConnections,
      maxMessagesInFlight: config.mqtt.maxMessagesInFlight,
    },
    logger: logger.child({ part: 'broker' }),
    redisUrl: config.redisUrl,
    onConnectionChange: feed.connection,
    quotas: config.mqtt.quotas ? { sustainedLimitMs: config.mqtt.quotaSustainedS * 1000 } : false,
    // The commissioning page lists it with the readings' rejections; nothing is stored.
    onOverQuota: (device, reason) => feed.rejected(device, [{ code: 'over-quota', reason }], Date.now()),
    onLoginRefused: (refusal) => feed.loginRefused(refusal),
    onTelemetry: config.timing
      ? (device, payload, receivedAt, done) => {
          // Sampled like the feed's listeners (TIMING_SAMPLE), so the clock reads stay out of the figure.
          if (ingestCalls++ % TIMING_SAMPLE !== 0) return ingest.accept(device, payload, receivedAt, done)
          const started = performance.now()
          try {
            ingest.accept(device, payload, receivedAt, done)
          } finally {
            ingestMs += (performance.now() - started) * TIMING_SAMPLE
          }
        }
      : ingest.accept,
  })
  // In cluster mode every node hears every rejection; only the node holding the device's connection
  // (where it was rejected: ingest is local) tells the device, or it would hear it once per node.
  const stopFeedback = feed.subscribe(
    {
      rejected: config.redisUrl
        ? (device, rejections) => broker.isConnected(device.id) && broker.reportRejections(device.id, rejections)
        : (device, rejections) => broker.reportRejections(device.id, rejections),
    },
    'error-feedback',
  )

  let listener: BrokerListener | undefined
  // Known once the broker listens (port 0 picks a free port); connection sheets ask for it later.
  let mqttPorts: { port: number; wsPort?: number; tlsPort?: number; wssPort?: number } | undefined
  let stopWatchingTls: (() => void) | undefined
  const adapter: RedisAdapter | undefined = config.redisUrl
    ? createRedisAdapter({ url: config.redisUrl, onError: (err) => redisLogger.warn({ err: String(err) }, 'realtime: Redis unreachable; browsers on other nodes miss room emits until it is back') })
    : undefined
  const redisStatus = (): RedisStatus => {
    const feedUp = redisFeed?.status().connected ?? true
    const mqtt = broker.stats().redis ?? { connected: true, dropped: 0 }
    const realtime = adapter?.status() ?? { connected: true, dropped: 0 }
    const ok = feedUp && mqtt.connected && realtime.connected
    return {
      ok,
      feed: feedUp,
      mqtt: mqtt.connected,
      realtime: realtime.connected,
      dropped: (redisFeed?.status().dropped ?? 0) + mqtt.dropped + realtime.dropped,
      ...(!ok && { detail: 'Redis is unreachable: this node acknowledges and stores readings, but other nodes miss its events until it is back (reconnecting by itself)' }),
    }
  }
  let web: BuiltApp
  try {
    web = await buildApp({
      staticDir: existsSync(DASHBOARD_DIST) ? DASHBOARD_DIST : undefined,
      map: config.map,
      gtfsDir: join(config.dataDir, 'gtfs'),
      adminPassword: config.adminPassword,
      publicData: { license: config.dataLicense, attribution: config.dataAttribution, contactEmail: config.dataContactEmail },
      mqttPublic: () =>
        mqttPorts && { host: config.publicHost, port: mqttPorts.port, wsPort: mqttPorts.wsPort, wsPath: '/mqtt', tlsPort: mqttPorts.tlsPort, wssPort: mqttPorts.wssPort },
      rateLimit: { max: config.httpRateLimitPerMinute, windowMs: 60_000 },
      trustProxy: config.trustProxy,
      notify: config.notify,
      ...options.http,
      realtime: { maxSocketsPerAddress: config.socketsPerAddress, ...options.http?.realtime, ...(adapter && { adapter: adapter.adapter }) },
      ...(config.redisUrl && { redis: { status: redisStatus } }),
      registry,
      db,
      secretKey: shared.secretKey,
      accountStore: shared.accountStore,
      auditStore: shared.auditStore,
      shared: sharedAlerts,
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
    adapter?.close()
    announcing?.stop()
    await redisFeed?.close()
    await shared.close()
    throw err
  }
  // One node judges alerts and notifies at a time: the holder of a PostgreSQL advisory lock.
  const leadership: Leadership | undefined = sharedAlerts
    ? createLeadership({
        key: ALERT_LEADER_KEY,
        async connect() {
          const client = new pg.Client({ connectionString: config.databaseUrl, application_name: 'piazza-alert-leader' })
          await client.connect()
          return client
        },
        onChange: (leading) => void web.operations.alerts.lead(leading),
        onError: (err) => logger.warn({ err: String(err) }, 'alerts: the leadership session failed; trying again'),
      })
    : undefined
  // Changes made by other processes (`piazza devices revoke`) reach the broker and the HTTP side as our own do.
  const stopWatchingRegistry = await shared.registry.watchChanges({ onError: (err) => logger.error({ err }, 'reading the registry change log failed') })

  let closing: Promise<void> | undefined
  return {
    config,
    feed,
    registry,
    /** Cluster mode: whether this node judges alerts and notifies. */
    leading: leadership ? () => leadership.isLeader() : () => true,
    /** Cluster mode: this node's Redis connections (also in /api/health). */
    redisStatus: config.redisUrl ? redisStatus : undefined,
    db,
    storage,
    ingest,
    broker,
    web,

    /** Binds the broker's ports and, when asked, the HTTP port; answers the ports bound. */
    async listen(ports: ListenOptions): Promise<{ port: number; wsPort?: number; tlsPort?: number; wssPort?: number; httpPort?: number }> {
      const tlsFiles = config.mqtt.tls
      const tls = tlsFiles && { context: readTlsFiles(tlsFiles), tlsPort: ports.tlsPort ?? tlsFiles.port, wssPort: ports.wssPort ?? tlsFiles.wssPort }
      const bound = await listenBroker(broker, { host: ports.host, port: ports.mqttPort, wsPort: ports.wsPort, tls })
      listener = bound
      mqttPorts = bound
      if (tlsFiles) stopWatchingTls = watchTlsFiles(tlsFiles, (material) => bound.setSecureContext(material), { logger: logger.child({ part: 'broker' }), intervalMs: options.tlsPollMs })
      const answer = { port: bound.port, wsPort: bound.wsPort, tlsPort: bound.tlsPort, wssPort: bound.wssPort }
      if (ports.httpPort === undefined) return answer
      await web.app.listen({ host: ports.host, port: ports.httpPort })
      const address = web.app.server.address()
      const httpPort = typeof address === 'object' && address ? address.port : ports.httpPort
      return { ...answer, httpPort }
    },

    /**
     * Web side first (no new sockets or requests), then the broker stops accepting, then ingest
     * makes every acknowledged reading durable and ships what it can.
     */
    close(): Promise<void> {
      closing ??= (async () => {
        // Leadership first: another node takes over while this one winds down.
        await leadership?.close()
        await web.close()
        stopWatchingTls?.()
        adapter?.close()
        await listener?.close()
        await broker.close()
        stopFeedback()
        await ingest.close()
        stopWatchingRegistry()
        announcing?.stop()
        await redisFeed?.close()
        await shared.close()
      })()
      return closing
    },
  }
}

export type Platform = Awaited<ReturnType<typeof createPlatform>>

export interface RunningServer extends Platform {
  urls: { http: string; mqtt: string; mqttWs: string; mqtts?: string; mqttWss?: string }
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
      urls: {
        http: `http://${host}:${ports.httpPort}`,
        mqtt: `mqtt://${host}:${ports.port}`,
        mqttWs: `ws://${host}:${ports.wsPort}/mqtt`,
        ...(ports.tlsPort !== undefined ? { mqtts: `mqtts://${host}:${ports.tlsPort}` } : {}),
        ...(ports.wssPort !== undefined ? { mqttWss: `wss://${host}:${ports.wssPort}/mqtt` } : {}),
      },
    })
  } catch (err) {
    await platform.close().catch(() => {})
    throw err
  }
}

/** Runs `work` against the data directory's registry, closing it after (the `piazza devices` commands). */
export async function withRegistry<T>(config: Config, work: (registry: Registry) => Promise<T> | T): Promise<T> {
  const shared = await openSharedState(config)
  try {
    return await work(shared.registry)
  } finally {
    await shared.close()
  }
}

/** `piazza ingest`: ingest alone, consuming telemetry from another MQTT broker. */
export async function startIngestNode(config: Config, logger: Logger, source: { url: string; username?: string; password?: string; clientId: string }) {
  const shared = await openSharedState(config)
  const { registry } = shared
  // Keeps a PostgreSQL registry's read model current (SQLite reads the file fresh anyway).
  await registry.watchChanges({ onError: (err) => logger.error({ err }, 'reading the registry change log failed') })
  const ingest = await createIngest({ dataDir: config.dataDir, storage: createStorage(config, logger), logger: logger.child({ part: 'ingest' }), ...config.ingest })
  const consumer = createMqttSource({ ...source, lookupDevice: registry.get, ingest, logger: logger.child({ part: 'mqtt-source' }) })
  return {
    async close() {
      await consumer.close()
      await ingest.close()
      await shared.close()
    },
  }
}
