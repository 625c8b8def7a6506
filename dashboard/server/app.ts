import fastifyCookie from '@fastify/cookie'
import fastifyRateLimit from '@fastify/rate-limit'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type Database from 'better-sqlite3'
import Fastify from 'fastify'
import type { Logger } from 'pino'
import type { Registry } from '../../devices/registry.ts'
import type { IngestHealth } from '../../ingest/ingest.ts'
import type { Storage } from '../../ingest/storage/contract.ts'
import type { AccountStore } from './identity/account-store.ts'
import { createAccounts, type Accounts } from './identity/accounts.ts'
import { createAuditLog, type AuditLog, type AuditStore } from './identity/audit.ts'
import { createAuth, SESSION_COOKIE } from './identity/auth.ts'
import { createCommissioning, type Commissioning } from './devices/commissioning.ts'
import { installErrorHandling, tooManyRequests } from './http/errors.ts'
import type { Feed } from '../../feed/feed.ts'
import { createLiveHub, type LiveHub, type LiveHubOptions } from './realtime/live.ts'
import { createRealtime, type RealtimeOptions } from './realtime/server.ts'
import { createLoginLimiter, type LoginLimiterOptions } from './identity/login-limiter.ts'
import { createMetrics, type IngestStatsSource, type TimingSource } from './http/metrics.ts'
import { DEVICE_TYPES } from '../../devices/kinds.ts'
import { restoreFromStorage, type RestoreOptions, type RestoreResult } from './restore.ts'
import { createOperations, type Operations, type OperationsOptions } from './operations/operations.ts'
import { createNotifications, type Notifications, type NotificationsDeps } from './operations/notify/notify.ts'
import { asyncNotifyStore, createNotifyStore, type NotifyStoreAsync } from './operations/notify/store.ts'
import { asyncAlertStore, createSqliteAlertStore, type AlertStore } from './operations/alerts/store.ts'
import { registerNotifyRoutes } from './operations/notify/routes.ts'
import { registerPublic, type PublicDataOptions } from './public/register.ts'
import { registerGtfsAdminRoutes } from './public/gtfs-admin-routes.ts'
import { createGtfsStore } from './public/gtfs-static.ts'
import { installDeviceScope, roomRefusal } from './identity/permissions.ts'
import { registerAuditRoutes } from './identity/audit-routes.ts'
import { registerAuthRoutes } from './identity/auth-routes.ts'
import { registerCityRoutes } from './readings/city-routes.ts'
import { registerConfigRoutes, type MapOptions } from './http/config-routes.ts'
import { registerTilesRoutes } from './http/tiles-routes.ts'
import { registerDeadLetterRoutes } from './readings/dead-letter-routes.ts'
import { registerDeviceImportRoutes } from './devices/import-routes.ts'
import { registerDeviceLifecycleRoutes, type MqttPublicInfo } from './devices/lifecycle-routes.ts'
import { registerDeviceRoutes } from './devices/routes.ts'
import { registerHealthRoutes, type RedisStatus } from './http/health-routes.ts'
import { registerMetricsRoutes } from './http/metrics-routes.ts'
import { registerReadingRoutes } from './readings/routes.ts'
import { registerUserRoutes } from './identity/user-routes.ts'
import { installSecurityHeaders } from './http/security.ts'
import { registerStatic } from './http/static.ts'
import { registerCompression } from './http/compression.ts'
import type { Api } from './http/types.ts'
import type { RealtimeServer } from './realtime/types.ts'
import { typeboxValidatorCompiler } from './http/validation.ts'

/**
 * The HTTP side of the platform: the JSON API, OpenAPI docs, Prometheus metrics, the dashboard's
 * static files and the Socket.IO live stream, on one Fastify instance. Builds, never listens:
 * the caller does `app.listen()` (Socket.IO is attached to app.server and so shares the port).
 */

/** What the API reads from ingest (createIngest's return satisfies it). */
export interface IngestStatus extends IngestStatsSource {
  health(): Promise<IngestHealth>
}

/** What the API reads from the broker: whether it listens (readiness). Connections themselves come through the feed. */
export interface BrokerStatus {
  listening?(): boolean
  /** The broker's refusals by reason (failed logins among them) and its intake (broker/intake.ts), for /metrics. */
  stats?(): { refused: Partial<Record<string, number>>; intake: { inFlight: number; waiting: number; waits: number } }
}

export interface AppDeps {
  /** Where uploaded static GTFS zips are kept (DATA_DIR/gtfs); none: in memory only. */
  gtfsDir?: string
  registry: Registry
  /** The registry database; the accounts tables (users, user_sessions) are created in it unless accountStore is given. */
  db: Database.Database
  /** Users and sessions elsewhere (PostgreSQL, shared by nodes); its owner closes it. */
  accountStore?: AccountStore
  /** The audit log elsewhere (PostgreSQL, shared by nodes); default the registry database. */
  auditStore?: AuditStore
  /**
   * Cluster mode: alerts (rules, alerts, silences) and notify (contact points, delivery log) in
   * stores shared by the nodes (PostgreSQL); the alert engine follows until `leads` says this node
   * leads. Default: both in the registry database, this node judging and notifying.
   */
  shared?: { alertStore: AlertStore; notifyStore: NotifyStoreAsync }
  storage: Storage
  ingestStatus: IngestStatus
  broker?: BrokerStatus
  /** What happens on the MQTT side (accepted and rejected readings, connections), for every part that reacts to it. */
  feed: Feed
  /** Diagnostics timing (PIAZZA_TIMING), exposed on /metrics; absent when off. */
  timing?: TimingSource
  /** The live stream's timing and limits (tests). */
  live?: LiveHubOptions
  /** The realtime server's options (tests; the Redis adapter in cluster mode). */
  realtime?: RealtimeOptions
  /** Cluster mode: this node's Redis connections, reported by /api/health. */
  redis?: { status(): RedisStatus }
  logger: Logger
  /** The dashboard's build (e.g. dashboard/dist); without it (or without its index.html) only the API is served. */
  staticDir?: string
  /** The base map: style URL, PMTiles archive (served at /tiles/base.pmtiles), extra attribution. */
  map?: MapOptions
  /** Password of the `admin` account created on first start (no users yet); generated when absent. At least 8 characters. */
  adminPassword?: string
  /** Secure flag on the session cookie: set when served over HTTPS. */
  cookieSecure?: boolean
  /** Default 12 h, sliding. */
  sessionTtlMs?: number
  /** Fastify's trustProxy, for the client address behind a reverse proxy (login rate limiting keys on it). */
  trustProxy?: boolean | string | string[]
  /** Default 5 failures per username and address per 15 minutes, and backoff per address and per username (identity/login-limiter.ts). */
  loginLimit?: LoginLimiterOptions
  /** Default 1 MiB. */
  bodyLimitBytes?: number
  /** Requests per client address and window to any route (the public API has its own, lower limits too). Default 3000 a minute. */
  rateLimit?: { max?: number; windowMs?: number }
  /** How long /api/cities is cached, default 5000 ms. */
  citiesCacheMs?: number
  /** The public pages and open-data API: licence and attribution (default CC BY 4.0), rate limits, snapshot timing. */
  publicData?: PublicDataOptions
  /** Where field devices reach the broker, for connection sheets (GET /api/mqtt); a function when the ports are bound after the app is built. */
  mqttPublic?: MqttPublicInfo | (() => MqttPublicInfo | undefined)
  /** Device states (live, late, silent) and alerts: thresholds, timings, clock (tests). */
  operations?: OperationsOptions
  /** Alert notifications through contact points: SMTP, webhook secret, grouping and retry timings (NOTIFY_*, SMTP_*); silences and clock for tests. */
  notify?: Omit<NotificationsDeps, 'store' | 'logger'>
  /** The server key (DATA_DIR/secret-key): secrets the app stores (contact points') are sealed under keys derived from it. */
  secretKey: Buffer
  /** Restoring each device's newest stored reading at start (restore.ts): its window and concurrency; false: start with no memory. */
  restore?: RestoreOptions | false
}

export interface BuiltApp {
  app: Api
  io: RealtimeServer
  live: LiveHub
  accounts: Accounts
  audit: AuditLog
  commissioning: Commissioning
  /** Device-state tracker and alert engine. */
  operations: Operations
  /** Alert notifications through contact points. */
  notifications: Notifications
  /** Settles when the start-up restore from storage (restore.ts) has finished, been cancelled or was off (then all zero). */
  restored: Promise<RestoreResult>
  /** Settles when windowed alert rules' rolling windows have been refilled from storage (after the restore); undefined when skipped. */
  refilled: Promise<Awaited<ReturnType<Operations['alerts']['refillWindows']>> | undefined>
  /** Every route registered (method, URL pattern), for tests that must cover them all. */
  routes: readonly { method: string; url: string }[]
  /** Set only when this start created the `admin` account with a generated password: print it once. */
  generatedAdminPassword?: string
  /** Closes the live stream's sockets and the HTTP server (not the deps: their owner closes those). */
  close(): Promise<void>
}

const DEFAULT_BODY_LIMIT = 1024 * 1024

export async function buildApp(deps: AppDeps): Promise<BuiltApp> {
  const startedAt = Date.now()
  const { registry, db, storage, ingestStatus, broker, feed, logger } = deps
  const live = createLiveHub(deps.live)
  const unfollow = live.follow(feed)
  const bodyLimitBytes = deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT

  const accounts = deps.accountStore ? createAccounts({ store: deps.accountStore, sessionTtlMs: deps.sessionTtlMs }) : createAccounts({ db, sessionTtlMs: deps.sessionTtlMs })
  const initial = await accounts.ensureInitialAdmin(deps.adminPassword)
  if (initial.created) logger.info({ user: 'admin', generated: initial.generatedPassword !== undefined }, 'created the initial admin account')
  const auth = createAuth({ accounts, cookieSecure: deps.cookieSecure })
  const limiter = createLoginLimiter(deps.loginLimit)
  const metrics = createMetrics({
    ingest: ingestStatus,
    connectedDevices: () => live.connectedCount(),
    socketClients: () => live.socketCount(),
    brokerRefusals: broker?.stats && (() => broker.stats!().refused),
    brokerIntake: broker?.stats && (() => broker.stats!().intake),
    httpLogins: () => limiter.counters,
    // Read at scrape time, once the engine exists.
    alertLeader: () => (operations.alerts.stats().leading ? 1 : 0),
    timing: deps.timing,
  })

  const app = Fastify({
    loggerInstance: logger.child({ part: 'http' }),
    bodyLimit: bodyLimitBytes,
    trustProxy: deps.trustProxy ?? false,
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as Api
  app.setValidatorCompiler(typeboxValidatorCompiler)
  const routes: { method: string; url: string }[] = []
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url })
  })
  // Before any route: a route takes the error handler in force when its plugin queue loads, and
  // an awaited register (static files, public side) loads it, so routes would keep Fastify's default.
  let fallback: Awaited<ReturnType<typeof registerStatic>>
  installErrorHandling(app, { fallback: (request, reply) => fallback?.(request, reply) ?? false, bodyLimitBytes })

  // JSON only: a text/plain POST is what a cross-site form could send.
  app.removeContentTypeParser('text/plain')

  await registerCompression(app)
  await app.register(fastifyCookie)
  // Every route, every caller: one address cannot take the HTTP side for itself. An app-level
  // hook, so it runs before any route's own (authentication included).
  const windowMs = deps.rateLimit?.windowMs ?? 60_000
  await app.register(fastifyRateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) =>
      tooManyRequests(`too many requests from this address: at most ${context.max} per ${Math.round(windowMs / 1000)} s; try again in ${Math.ceil(context.ttl / 1000)} s`, context.ttl / 1000),
  })
  app.addHook('onRequest', app.rateLimit({ max: deps.rateLimit?.max ?? 3000, timeWindow: windowMs }))
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Piazza API',
        version: '1',
        description:
          'Smart-city telemetry for Tuscany. Log in with POST /api/auth/login; send the returned token as `Authorization: Bearer <token>` (browsers use the session cookie). Every error has the shape `{ "error": { "status", "code", "message" } }`.',
      },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer' },
          cookieAuth: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE },
        },
      },
      tags: [
        { name: 'auth', description: 'Login, logout, current user' },
        { name: 'devices', description: 'The device registry' },
        { name: 'readings', description: 'Stored readings and refused payloads' },
        { name: 'cities', description: 'Per-city summaries' },
        { name: 'config', description: 'What the dashboard needs to draw' },
        { name: 'users', description: 'Users, roles and the audit log (admin)' },
        { name: 'alerts', description: 'Alert rules and alerts' },
        { name: 'operations', description: 'Health and metrics' },
      ],
    },
  })
  await app.register(fastifySwaggerUi, { routePrefix: '/api/docs', staticCSP: true })

  app.addHook('onResponse', async (request, reply) => {
    metrics.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000)
  })

  registerHealthRoutes(app, { ingestStatus, broker, live, startedAt, redis: deps.redis })
  registerMetricsRoutes(app, { metrics })
  registerConfigRoutes(app, { map: deps.map, coalesceMs: live.coalesceMs })
  if (deps.map?.pmtilesFile) registerTilesRoutes(app, { pmtilesFile: deps.map.pmtilesFile })
  registerAuthRoutes(app, { accounts, auth, limiter, endLiveSession: (token) => realtime.endSession(token) })
  const audit = deps.auditStore ? createAuditLog({ store: deps.auditStore }) : createAuditLog({ db })
  const commissioning = createCommissioning({
    registry,
    feed,
    connections: live,
    latest: (id) => live.latest(id),
    deadLetters: (query) => storage.deadLetters(query),
    lookupUser: (username) => accounts.get(username),
  })
  installDeviceScope(app, { registry })
  registerDeviceRoutes(app, { registry, auth, live, audit })
  registerDeviceLifecycleRoutes(app, { registry, auth, audit, live, mqttPublic: deps.mqttPublic, commissioning })
  registerDeviceImportRoutes(app, { registry, auth, audit, bodyLimitBytes })
  registerUserRoutes(app, { accounts, auth, audit, endLiveSessions: (username) => realtime.endUser(username) })
  registerAuditRoutes(app, { audit, auth })
  const gtfs = createGtfsStore({ dir: deps.gtfsDir, logger: logger.child({ part: 'gtfs' }) })
  app.addHook('onClose', async () => {
    await gtfs.close()
  })
  registerGtfsAdminRoutes(app, { gtfs, auth })
  registerReadingRoutes(app, { registry, storage, auth, live })
  registerCityRoutes(app, { registry, storage, auth, connections: live, logger, cacheMs: deps.citiesCacheMs })
  registerDeadLetterRoutes(app, { storage, auth })
  // Silences live with the alerts; the notifier asks them when an alert changes (never before operations exist).
  const notifyStore = deps.shared?.notifyStore ?? asyncNotifyStore(createNotifyStore(db, { keep: deps.notify?.deliveryLog ?? 100, secretKey: deps.secretKey }))
  const notifications = createNotifications({ store: notifyStore, logger: logger.child({ part: 'notify' }), clock: deps.operations?.clock, ...deps.notify, isSilenced: (alert) => operations.alerts.isSilenced(alert) })
  const alertStore = deps.shared?.alertStore ?? asyncAlertStore(createSqliteAlertStore(db))
  const operations = await createOperations({ alertStore, sharedAlerts: deps.shared !== undefined, registry, feed, accounts, logger, ...deps.operations })
  operations.alerts.onAlert(notifications.alertEvent)
  operations.register(app, auth, audit)
  registerNotifyRoutes(app, { notifications, auth, audit })
  // In the background: start-up and ingest do not wait for it; readings received meanwhile win.
  const restoring =
    deps.restore === false
      ? { done: Promise.resolve({ devices: 0, states: 0, live: 0, failedTypes: [] }), cancel: () => {} }
      : restoreFromStorage(
          { storage, lookup: (id) => registry.get(id), live, states: operations.states, logger: logger.child({ part: 'restore' }), clock: deps.operations?.clock },
          deps.restore,
        )

  fallback = await registerStatic(app, deps.staticDir)
  installSecurityHeaders(app, { mapStyleUrl: deps.map?.styleUrl })
  // After the error handler and security headers, so the public routes' own scope inherits both.
  await registerPublic(app, { registry, storage, feed, live, gtfs, accounts, logger, staticDir: deps.staticDir, options: deps.publicData })

  const realtime = createRealtime(
    app.server,
    {
      async authenticate(handshake) {
        const result = await auth.handshake(handshake)
        if (result === null || result === 'anonymous') return result
        return { user: { username: result.session.user.username, role: result.session.user.role }, credential: result.token }
      },
      stillValid: async (token) => (await accounts.authenticate(token, { touch: false })) !== null,
    },
    deps.realtime,
  )
  const io = realtime.io
  live.attach(realtime, {
    authorize(username, subscription) {
      const current = accounts.get(username)
      if (!current || current.disabled) return { status: 401, code: 'unauthorized', message: 'the session has ended; log in again' }
      const refusal = roomRefusal(current, subscription, (id) => registry.get(id))
      return refusal ? { status: 403, code: 'forbidden', message: refusal } : undefined
    },
    lookup: (id) => registry.get(id),
  })
  commissioning.attach(realtime)
  // Each node pushes what it derived from the feed to its own browsers only (operations/push.ts).
  operations.attach(io.local)
  // After the restore (which waits for storage to answer): windowed alert rules' rolling windows.
  let closingDown = false
  const refilled =
    deps.restore === false
      ? Promise.resolve(undefined)
      : restoring.done
          .then((restored) =>
            closingDown || restored.failedTypes.length === DEVICE_TYPES.length
              ? undefined
              : operations.alerts.refillWindows(storage, () => registry.list().items, { cancelled: () => closingDown }),
          )
          .catch((err: unknown) => {
            logger.warn({ err }, 'alerts: refilling the rolling windows from storage failed; they fill from new readings')
            return undefined
          })
  app.addHook('preClose', async () => {
    closingDown = true
    restoring.cancel()
    commissioning.close()
    operations.close()
    await notifications.close()
    unfollow()
    live.detach()
    await realtime.close()
  })

  await app.ready()

  let closing: Promise<void> | undefined
  // Fastify ends the keep-alive connections idle when closing starts; one busy then (a bundle
  // still being sent) turns idle afterwards and would hold server.close() for the keep-alive
  // timeout (72 s), past the shutdown deadline. Sweep them until the server has closed.
  function closeApp(): Promise<void> {
    const sweep = setInterval(() => app.server.closeIdleConnections(), 100)
    return app.close().finally(() => clearInterval(sweep))
  }

  return {
    app,
    io,
    live,
    accounts,
    audit,
    commissioning,
    operations,
    notifications,
    restored: restoring.done,
    refilled,
    routes,
    generatedAdminPassword: initial.generatedPassword,
    close: () => (closing ??= closeApp()),
  }
}
