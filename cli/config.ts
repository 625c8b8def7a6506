import { accessSync, constants } from 'node:fs'
import { isIP } from 'node:net'
import { resolve } from 'node:path'
import { AllowListError, parseAllowList, type AllowEntry } from '../dashboard/server/operations/notify/url-policy.ts'
import { checkLicense } from '../dashboard/server/public/license.ts'
import { FAMILIES, type Family } from '../devices/kinds.ts'

/**
 * All configuration, read once from the environment by the process entry point and passed down
 * as typed pieces. Every variable has a default (listed in README.md); a bad value stops
 * start-up with a message naming the variable and what it expects.
 */

export class ConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

type Env = Record<string, string | undefined>

/** Streets and places from OpenStreetMap, free and without a key (OpenFreeMap); its sources carry their attribution. */
export const DEFAULT_MAP_STYLE_URL = 'https://tiles.openfreemap.org/styles/liberty'

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

export function loadConfig(env: Env) {
  const get = (name: string) => {
    const value = env[name]?.trim()
    return value === '' ? undefined : value
  }
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = get(name)
    if (raw === undefined) return fallback
    const value = Number(raw)
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got '${raw}'`)
    }
    return value
  }
  const boolean = (name: string, fallback: boolean): boolean => {
    const raw = get(name)?.toLowerCase()
    if (raw === undefined) return fallback
    if (['1', 'true', 'yes', 'on'].includes(raw)) return true
    if (['0', 'false', 'no', 'off'].includes(raw)) return false
    throw new ConfigError(`${name} must be true or false, got '${raw}'`)
  }
  const url = (name: string, protocols: string[], example = `${protocols[0]}//127.0.0.1:8086`): string | undefined => {
    const raw = get(name)
    if (raw === undefined) return undefined
    let parsed: URL
    try {
      parsed = new URL(raw)
    } catch {
      throw new ConfigError(`${name} must be a URL such as ${example}, got '${raw}'`)
    }
    if (!protocols.includes(parsed.protocol)) throw new ConfigError(`${name} must use ${protocols.join(' or ')}, got '${raw}'`)
    return raw.replace(/\/+$/, '')
  }
  const identifier = (name: string, fallback: string): string => {
    const value = get(name) ?? fallback
    if (!/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/.test(value)) throw new ConfigError(`${name} must be a plain name (letters, digits, _ and -), got '${value}'`)
    return value
  }
  const license = (value: string | undefined): string | undefined => {
    const problem = value === undefined ? undefined : checkLicense(value)
    if (problem) throw new ConfigError(`DATA_LICENSE ${problem}, got '${value}'`)
    return value
  }
  const allowList = (name: string): AllowEntry[] => {
    try {
      return parseAllowList(get(name))
    } catch (err) {
      if (err instanceof AllowListError) throw new ConfigError(`${name}: ${err.message}`)
      throw err
    }
  }
  const readableFile = (name: string, what = 'PEM file'): string | undefined => {
    const raw = get(name)
    if (raw === undefined) return undefined
    const path = resolve(raw)
    try {
      accessSync(path, constants.R_OK)
    } catch {
      throw new ConfigError(`${name} must name a readable ${what}, got '${raw}'`)
    }
    return path
  }
  /**
   * The base map (README "Base maps"): a style URL with streets and places (default OpenFreeMap's,
   * which browsers that cannot reach it replace by the next choice), a PMTiles archive served by
   * this server, and the bundled outline last. MAP_STYLE_URL=none: no remote style.
   */
  const baseMap = () => {
    const styleRaw = get('MAP_STYLE_URL')
    const pmtilesFile = readableFile('MAP_PMTILES_FILE', 'PMTiles archive (.pmtiles)')
    if (pmtilesFile && !pmtilesFile.endsWith('.pmtiles')) throw new ConfigError(`MAP_PMTILES_FILE must name a .pmtiles archive, got '${get('MAP_PMTILES_FILE')}'`)
    // A PMTiles archive on the server is the deliberate choice: the public default style is then not tried.
    const styleUrl = styleRaw?.toLowerCase() === 'none' ? undefined : styleRaw === undefined ? (pmtilesFile ? undefined : DEFAULT_MAP_STYLE_URL) : url('MAP_STYLE_URL', ['http:', 'https:'], 'https://tiles.openfreemap.org/styles/liberty')
    return { styleUrl, pmtilesFile, attribution: get('MAP_ATTRIBUTION') }
  }
  const tls = () => {
    const certFile = readableFile('TLS_CERT_FILE')
    const keyFile = readableFile('TLS_KEY_FILE')
    const caFile = readableFile('TLS_CA_FILE')
    if ((certFile === undefined) !== (keyFile === undefined)) throw new ConfigError('TLS_CERT_FILE and TLS_KEY_FILE go together: set both (TLS on) or neither (TLS off)')
    if (certFile === undefined || keyFile === undefined) {
      if (caFile !== undefined) throw new ConfigError('TLS_CA_FILE needs TLS_CERT_FILE and TLS_KEY_FILE')
      return undefined
    }
    const certificateLogin = boolean('MQTT_CERT_LOGIN', false)
    if (certificateLogin && caFile === undefined) throw new ConfigError('MQTT_CERT_LOGIN needs TLS_CA_FILE (the CA that signs device certificates)')
    return { certFile, keyFile, caFile, port: integer('MQTT_TLS_PORT', 8883, 0, 65535), wssPort: integer('MQTT_WSS_PORT', 8084, 0, 65535), certificateLogin }
  }
  const email = (name: string): string | undefined => {
    const value = get(name)
    if (value !== undefined && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value)) throw new ConfigError(`${name} must be an e-mail address, got '${value}'`)
    return value
  }
  const databaseUrl = (): string | undefined => {
    const raw = get('DATABASE_URL')
    if (raw === undefined) return undefined
    let parsed: URL | undefined
    try {
      parsed = new URL(raw)
    } catch {
      // reported below
    }
    if (!parsed || !['postgres:', 'postgresql:'].includes(parsed.protocol) || !parsed.hostname) {
      throw new ConfigError('DATABASE_URL must be a PostgreSQL URL such as postgres://user:password@127.0.0.1:5432/piazza')
    }
    return raw
  }
  const proxies = (name: string): string[] | undefined => {
    const raw = get(name)
    if (raw === undefined) return undefined
    const list = raw.split(',').map((entry) => entry.trim())
    for (const entry of list) {
      const [address, bits, extra] = entry.split('/')
      const version = isIP(address ?? '')
      const prefixOk = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (version === 6 ? 128 : 32))
      if (!version || !prefixOk || extra !== undefined) throw new ConfigError(`${name} must list proxy addresses or networks such as 10.0.0.5,10.0.1.0/24, got '${raw}'`)
    }
    return list
  }
  const sender = (name: string): string | undefined => {
    const value = get(name)
    // "piazza@example.org" or "Piazza <piazza@example.org>"
    if (value !== undefined && !/^([^<>]*<[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+>|[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+)$/.test(value)) {
      throw new ConfigError(`${name} must be an e-mail address such as piazza@example.org or "Piazza <piazza@example.org>", got '${value}'`)
    }
    return value
  }
  const secret = (name: string): string | undefined => {
    const value = get(name)
    if (value !== undefined && value.length < 16) throw new ConfigError(`${name} must be at least 16 characters long`)
    return value
  }
  const logLevel = get('LOG_LEVEL') ?? 'info'
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got '${logLevel}'`)

  const retentionDays = integer('RETENTION_DAYS', 90, 1, 36500)
  // Raw retention per family (RETENTION_DAYS_ENVIRONMENT, …), when it differs from RETENTION_DAYS.
  const familyRetentionMs: Partial<Record<Family, number>> = {}
  for (const family of FAMILIES) {
    const name = `RETENTION_DAYS_${family.toUpperCase()}`
    if (get(name) !== undefined) familyRetentionMs[family] = integer(name, retentionDays, 1, 36500) * 86_400_000
  }
  const retention = {
    retentionMs: retentionDays * 86_400_000,
    familyRetentionMs,
    hourlyRetentionMs: integer('HOURLY_RETENTION_YEARS', 10, 1, 1000) * 365 * 86_400_000,
  }
  const influxUrl = url('INFLUX_URL', ['http:', 'https:'])
  const serviceUser = get('MQTT_SERVICE_USERNAME') ?? 'piazza-service'
  const servicePassword = get('MQTT_SERVICE_PASSWORD')

  return {
    logLevel: logLevel as (typeof LOG_LEVELS)[number],
    dataDir: resolve(get('DATA_DIR') ?? './data'),
    /** PostgreSQL for the state nodes share (the device registry); unset: the SQLite file in DATA_DIR. */
    databaseUrl: databaseUrl(),
    /** Interface every listener binds to; loopback unless opened up on purpose. */
    bindHost: get('BIND_HOST') ?? '127.0.0.1',
    /** Host name printed in connection instructions. */
    publicHost: get('PUBLIC_HOST') ?? get('BIND_HOST') ?? '127.0.0.1',
    httpPort: integer('HTTP_PORT', 8080, 0, 65535),
    /** Load balancers whose X-Forwarded-For names the client (rate limits and login throttling key on it); unset: none. */
    trustProxy: proxies('TRUST_PROXY'),
    /** Requests per client address per minute to any HTTP route. */
    httpRateLimitPerMinute: integer('HTTP_RATE_LIMIT', 3000, 1, 10_000_000),
    /** Socket.IO connections open at once from one address. */
    socketsPerAddress: integer('SOCKETS_PER_ADDRESS', 100, 1, 1_000_000),
    mqtt: {
      port: integer('MQTT_PORT', 1883, 0, 65535),
      wsPort: integer('MQTT_WS_PORT', 8083, 0, 65535),
      maxConnectionsPerAddress: integer('MQTT_MAX_CONNECTIONS_PER_ADDRESS', 1000, 1, 1_000_000),
      /** Open MQTT connections in all (TCP and WebSocket, logged in or not). */
      maxConnections: integer('MQTT_MAX_CONNECTIONS', 50_000, 1, 10_000_000),
      /** Open MQTT connections that have not logged in yet. */
      maxPendingConnections: integer('MQTT_MAX_PENDING', 1000, 1, 10_000_000),
      /** Telemetry messages read from all connections and not yet in the write-ahead log; past it connections wait their turn to read (broker/intake.ts). */
      maxMessagesInFlight: integer('MQTT_MAX_IN_FLIGHT', 2000, 1, 10_000_000),
      /** MQTT over TLS and over secure WebSocket, when a certificate and key are configured; the files are re-read when they change. */
      tls: tls(),
      /** Per-device quotas (broker/quotas.ts): 1 on, 0 off (load tests that outrun devices' intervals on purpose). */
      quotas: integer('MQTT_QUOTAS', 1, 0, 1) === 1,
      /** How long a device may be slowed by its quota on every message before it is refused. */
      quotaSustainedS: integer('MQTT_QUOTA_SUSTAINED_S', 60, 1, 86_400),
      serviceAccounts: servicePassword ? [{ username: serviceUser, password: servicePassword }] : [],
    },
    storage: influxUrl
      ? {
          kind: 'influxdb' as const,
          url: influxUrl,
          database: identifier('INFLUX_DB', 'piazza'),
          retentionPolicy: identifier('INFLUX_RETENTION_POLICY', 'piazza_raw'),
          username: get('INFLUX_USER'),
          password: get('INFLUX_PASSWORD'),
          ...retention,
          timeoutMs: integer('INFLUX_TIMEOUT_MS', 10_000, 100, 600_000),
        }
      : { kind: 'embedded' as const, ...retention },
    retentionMs: retentionDays * 86_400_000,
    ingest: {
      walBudgetBytes: integer('WAL_BUDGET_MB', 2048, 1, 10_000_000) * 1024 * 1024,
      walFsync: boolean('WAL_FSYNC', true),
      batchSize: integer('INGEST_BATCH_SIZE', 5000, 1, 100_000),
      flushIntervalMs: integer('INGEST_FLUSH_MS', 1000, 10, 60_000),
    },
    /** How long a stop may take (flushing, shipping what it can) before the process exits anyway, keeping the log. */
    shutdownTimeoutMs: integer('SHUTDOWN_TIMEOUT_S', 30, 1, 3600) * 1000,
    /** For `piazza ingest` as its own process, consuming from any MQTT 3.1.1 broker. */
    upstream: {
      url: url('MQTT_URL', ['mqtt:', 'mqtts:', 'tcp:', 'ws:', 'wss:']),
      username: get('MQTT_USERNAME') ?? serviceUser,
      password: get('MQTT_PASSWORD') ?? servicePassword,
      clientId: get('MQTT_CLIENT_ID') ?? 'piazza-ingest',
    },
    /**
     * Cluster mode: the Redis every node shares for messages between nodes (the feed, MQTT messages
     * to devices, Socket.IO room emits). Unset: a single node, nothing leaves the process.
     */
    redisUrl: url('REDIS_URL', ['redis:', 'rediss:'], 'redis://127.0.0.1:6379'),
    adminPassword: get('ADMIN_PASSWORD'),
    /** Diagnostics: time ingest and every feed listener, exposed on /metrics (the benchmark turns it on). Off: no cost. */
    timing: boolean('PIAZZA_TIMING', false),
    /** The base map: style URL, PMTiles archive, extra attribution (README "Base maps"). */
    map: baseMap(),
    /** Open data: the licence every public answer names (an SPDX id such as CC-BY-4.0, the default, or a URL) and the credit line. */
    dataLicense: license(get('DATA_LICENSE')),
    dataAttribution: get('DATA_ATTRIBUTION'),
    /** Alert notifications through contact points (dashboard/server/operations/notify/). */
    notify: {
      /** SMTP server for e-mail contact points; unset: no e-mail. */
      smtpUrl: url('SMTP_URL', ['smtp:', 'smtps:'], 'smtp://user:password@mail.example.org:587'),
      smtpFrom: sender('SMTP_FROM') ?? 'Piazza <piazza@localhost>',
      /** Signs webhooks that have no secret of their own. */
      webhookSecret: secret('NOTIFY_WEBHOOK_SECRET'),
      /** Internal webhook targets let through the URL policy (host[:port], addresses, CIDR ranges); by default only public addresses. */
      webhookAllow: allowList('NOTIFY_WEBHOOK_ALLOW'),
      /** Alerts of one rule and city opened within this window are one message. */
      groupWindowMs: integer('NOTIFY_GROUP_WINDOW_S', 30, 0, 3600) * 1000,
      /** At most one message per group this often. */
      repeatIntervalMs: integer('NOTIFY_REPEAT_INTERVAL_S', 300, 0, 86_400) * 1000,
      retry: { maxAttempts: integer('NOTIFY_MAX_ATTEMPTS', 6, 1, 20) },
      deliveryLog: integer('NOTIFY_DELIVERY_LOG', 100, 1, 10_000),
    },
    /** Open data: who answers for the feeds (GBFS requires a contact address; the catalogue names it). */
    dataContactEmail: email('DATA_CONTACT_EMAIL'),
  }
}

export type Config = ReturnType<typeof loadConfig>
