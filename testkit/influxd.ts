import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startChildServer, freePort, tempDir } from './child-server.ts'

/**
 * A private InfluxDB 1.x for tests: its own config, ports and data dir, nothing else enabled.
 * Assumes /usr/bin/influxd (test/support/prepare.sh installs it).
 */

export interface Influxd {
  url: string
  port: number
  dataDir: string
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>
  /** SIGKILL, then waits for the exit. */
  kill(): Promise<void>
  /** Starts again on the same port and data dir. */
  start(): Promise<void>
}

export interface InfluxdOptions {
  /** Enables authentication with this admin user. */
  auth?: { username: string; password: string }
  /** How often expired shard groups are deleted, e.g. '1s' (InfluxDB's default is 30m). */
  retentionCheckInterval?: string
}

export async function startInfluxd(opts: InfluxdOptions = {}): Promise<Influxd> {
  const dataDir = tempDir('influxd')
  const port = await freePort()
  const rpcPort = await freePort()
  const url = `http://127.0.0.1:${port}`
  const configFile = join(dataDir, 'influxdb.conf')
  writeFileSync(configFile, config(dataDir, port, rpcPort, opts.auth !== undefined, opts.retentionCheckInterval ?? '30m'))

  const server = await startChildServer({
    name: 'influxd',
    command: '/usr/bin/influxd',
    args: ['-config', configFile],
    dir: dataDir,
    ready: { what: `answering /ping at ${url}`, probe: () => ping(url) },
  })
  if (opts.auth) {
    // 1.x lets the first admin user be created without credentials once auth is enabled.
    const { username, password } = opts.auth
    const q = `CREATE USER "${username.replace(/"/g, '\\"')}" WITH PASSWORD '${password.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}' WITH ALL PRIVILEGES`
    const res = await fetch(`${url}/query`, { method: 'POST', body: new URLSearchParams({ q }) })
    if (!res.ok) throw new Error(`influxd: creating the admin user failed: ${res.status} ${await res.text()}`)
  }

  return { url, port, dataDir, start: server.start, stop: server.stop, kill: server.kill }
}

async function ping(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) })
    return res.status === 204
  } catch {
    return false // not listening yet
  }
}

function config(dir: string, port: number, rpcPort: number, auth: boolean, retentionCheckInterval: string): string {
  return `reporting-disabled = true
reporting-enabled = false
bind-address = "127.0.0.1:${rpcPort}"

[meta]
  dir = "${join(dir, 'meta')}"
  logging-enabled = false

[data]
  dir = "${join(dir, 'data')}"
  wal-dir = "${join(dir, 'wal')}"
  query-log-enabled = false

[monitor]
  store-enabled = false

[retention]
  enabled = true
  check-interval = "${retentionCheckInterval}"

[http]
  enabled = true
  bind-address = "127.0.0.1:${port}"
  auth-enabled = ${auth}
  log-enabled = false
  pprof-enabled = false

[logging]
  level = "error"
  suppress-logo = true

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false

[ifql]
  enabled = false

[[graphite]]
  enabled = false

[[collectd]]
  enabled = false

[[opentsdb]]
  enabled = false

[[udp]]
  enabled = false
`
}
