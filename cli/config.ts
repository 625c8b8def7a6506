import { isIP } from 'node:net'
import { resolve } from 'node:path'
import { checkLicense } from '../dashboard/server/public/license.ts'

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
  const url = (name: string, protocols: string[]): string | undefined => {
    const raw = get(name)
    if (raw === undefined) return undefined
    let parsed: URL
    try {
      parsed = new URL(raw)
    } catch {
      throw new ConfigError(`${name} must be a URL such as ${protocols[0]}//127.0.0.1:8086, got '${raw}'`)
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
  const logLevel = get('LOG_LEVEL') ?? 'info'
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got '${logLevel}'`)

  const retentionDays = integer('RETENTION_DAYS', 90, 1, 36500)
  const influxUrl = url('INFLUX_URL', ['http:', 'https:'])
  const serviceUser = get('MQTT_SERVICE_USERNAME') ?? 'piazza-service'
  const servicePassword = get('MQTT_SERVICE_PASSWORD')

  return {
    logLevel: logLevel as (typeof LOG_LEVELS)[number],
    dataDir: resolve(get('DATA_DIR') ?? './data'),
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
      maxConnectionsPerAddress: integer('MQTT_MAX_CONNECTIONS_PER_ADDRESS', 5000, 1, 1_000_000),
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
          retentionMs: retentionDays * 86_400_000,
          timeoutMs: integer('INFLUX_TIMEOUT_MS', 10_000, 100, 600_000),
        }
      : { kind: 'embedded' as const, retentionMs: retentionDays * 86_400_000 },
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
    adminPassword: get('ADMIN_PASSWORD'),
    /** Diagnostics: time ingest and every feed listener, exposed on /metrics (the benchmark turns it on). Off: no cost. */
    timing: boolean('PIAZZA_TIMING', false),
    mapStyleUrl: url('MAP_STYLE_URL', ['http:', 'https:']),
    /** Open data: the licence every public answer names (an SPDX id such as CC-BY-4.0, the default, or a URL) and the credit line. */
    dataLicense: license(get('DATA_LICENSE')),
    dataAttribution: get('DATA_ATTRIBUTION'),
  }
}

export type Config = ReturnType<typeof loadConfig>
