import { execFile, spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { io as connectSocket, type Socket } from 'socket.io-client'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { loadConfig } from '../cli/config.ts'
import { freePort } from '../testkit/child-server.ts'
import { startHaproxyInFront, type Haproxy, type Ports } from '../testkit/haproxy.ts'
import { startPiazza, type PiazzaProcess } from './support/piazza-process.ts'

/**
 * The deployment examples in deploy/, exercised: the systemd unit checked by systemd-analyze and
 * run the way systemd would run it (its environment, its stop signal), and the HAProxy
 * configuration run by a real haproxy in front of two real `piazza start` nodes.
 */

const DEPLOY = fileURLToPath(new URL('../deploy/', import.meta.url))
const CLI = fileURLToPath(new URL('../cli/piazza.mjs', import.meta.url))
const run = promisify(execFile)
const dirs: string[] = []

function tempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `piazza-${name}-`))
  dirs.push(dir)
  return dir
}

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

/** A systemd unit as section → key → values (a key may repeat, as Environment= does). */
function parseUnit(text: string): Record<string, Record<string, string[]>> {
  const unit: Record<string, Record<string, string[]>> = {}
  let section: Record<string, string[]> | undefined
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (!line || line.startsWith('#') || line.startsWith(';')) continue
    const header = /^\[(.+)\]$/.exec(line)
    if (header) {
      section = unit[header[1]!] = {}
      continue
    }
    const eq = line.indexOf('=')
    if (!section || eq < 0) throw new Error(`not a unit line: ${line}`)
    ;(section[line.slice(0, eq)] ??= []).push(line.slice(eq + 1))
  }
  return unit
}

/** KEY=value lines, as systemd reads an EnvironmentFile (no quotes used here). */
function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {}
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (!line || line.startsWith('#')) continue
    const eq = line.indexOf('=')
    if (eq < 0) throw new Error(`not an environment line: ${line}`)
    env[line.slice(0, eq)] = line.slice(eq + 1)
  }
  return env
}

/** systemd time spans as used in the unit: "45s", "2min", "1min 30s" or plain seconds. */
function seconds(span: string): number {
  const units: Record<string, number> = { '': 1, s: 1, sec: 1, m: 60, min: 60, h: 3600 }
  let total = 0
  for (const part of span.trim().split(/\s+/)) {
    const match = /^(\d+)([a-z]*)$/.exec(part)
    if (!match || units[match[2]!] === undefined) throw new Error(`not a time span: ${span}`)
    total += Number(match[1]) * units[match[2]!]!
  }
  return total
}

const unitText = readFileSync(join(DEPLOY, 'piazza.service'), 'utf8')
const unit = parseUnit(unitText)
const service = unit.Service!
const one = (key: string) => service[key]?.at(-1)
/** The node's environment under systemd: the unit's Environment= lines, then the EnvironmentFile (which wins). */
const unitEnv = Object.fromEntries(service.Environment!.map((assignment) => assignment.split(/=(.*)/s).slice(0, 2) as [string, string]))
const envFile = parseEnvFile(readFileSync(join(DEPLOY, 'piazza.env'), 'utf8'))

describe('systemd unit deploy/piazza.service', () => {
  it('passes systemd-analyze verify without a warning', async () => {
    // verify checks that ExecStart's program exists: point it at this checkout's piazza.
    const dir = tempDir('unit')
    const rendered = unitText.replace(/^ExecStart=\S+/m, `ExecStart=${CLI}`)
    expect(rendered).not.toBe(unitText)
    writeFileSync(join(dir, 'piazza.service'), rendered)
    const result = spawnSync('systemd-analyze', ['verify', join(dir, 'piazza.service')], { encoding: 'utf8' })
    expect(result.error).toBeUndefined()
    expect(result.stderr).toBe('')
    expect(result.status).toBe(0)

    // And it does complain about a broken unit, so the silence above means something.
    writeFileSync(join(dir, 'piazza.service'), rendered.replace(/^TimeoutStopSec=.*$/m, 'TimeoutStopSec=soon'))
    expect(spawnSync('systemd-analyze', ['verify', join(dir, 'piazza.service')], { encoding: 'utf8' }).stderr).toMatch(/TimeoutStopSec|time value/)
  })

  it('runs as instances piazza@1, piazza@2… on one machine with the drop-in: verified, each with its own DATA_DIR and ports', async () => {
    const dir = tempDir('instances')
    writeFileSync(join(dir, 'piazza@.service'), unitText.replace(/^ExecStart=\S+/m, `ExecStart=${CLI}`))
    cpSync(join(DEPLOY, 'piazza@.service.d'), join(dir, 'piazza@.service.d'), { recursive: true })
    const verify = () => spawnSync('systemd-analyze', ['verify', 'piazza@1.service'], { encoding: 'utf8', cwd: dir, env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` } })
    const result = verify()
    expect(result.stderr).toBe('')
    expect(result.status).toBe(0)
    // The drop-in is read (a broken line in it is reported), so the silence above covers it.
    const dropIn = join(dir, 'piazza@.service.d', 'node.conf')
    writeFileSync(dropIn, `${readFileSync(dropIn, 'utf8')}TimeoutStopSec=soon\n`)
    expect(verify().stderr).toMatch(/node\.conf.*time value/)

    const service = parseUnit(readFileSync(join(DEPLOY, 'piazza@.service.d', 'node.conf'), 'utf8')).Service!
    expect(service.Environment).toEqual(['DATA_DIR=/var/lib/piazza/%i'])
    expect(service.StateDirectory).toEqual(['piazza/%i'])
    expect(service.EnvironmentFile).toEqual(['/etc/piazza/node-%i.env'])
    // The node file moves every listener off the public ports HAProxy takes on the same machine.
    const node = parseEnvFile(readFileSync(join(DEPLOY, 'piazza-node.env'), 'utf8'))
    const config = loadConfig({ ...envFile, ...node, DATA_DIR: '/var/lib/piazza/1' })
    expect([config.httpPort, config.mqtt.port, config.mqtt.wsPort]).toEqual([8101, 1901, 8201])
    expect(config.bindHost).toBe('127.0.0.1')
    expect(config.dataDir).toBe('/var/lib/piazza/1')
  })

  it('runs as a dedicated system user that piazza-sysusers.conf creates, owning only DATA_DIR', async () => {
    const root = tempDir('sysusers')
    mkdirSync(join(root, 'etc'))
    await run('systemd-sysusers', [`--root=${root}`, join(DEPLOY, 'piazza-sysusers.conf')])
    const user = readFileSync(join(root, 'etc', 'passwd'), 'utf8')
      .split('\n')
      .find((line) => line.startsWith(`${one('User')}:`))
    expect(user).toBeDefined()
    const [, , uid, , , home, shell] = user!.split(':')
    expect(Number(uid)).toBeGreaterThan(0)
    expect(Number(uid)).toBeLessThan(1000) // a system user
    expect(shell).toBe('/usr/sbin/nologin')
    expect(one('Group')).toBe(one('User'))
    // DATA_DIR is the state directory systemd creates for that user.
    expect(unitEnv.DATA_DIR).toBe(`/var/lib/${one('StateDirectory')}`)
    expect(home).toBe(unitEnv.DATA_DIR)
    expect(one('ProtectSystem')).toBe('strict')
  })

  it('restarts on failure, raises the open-file limit and stops gracefully within its settings', () => {
    expect(one('Restart')).toBe('on-failure')
    expect(Number(one('LimitNOFILE'))).toBeGreaterThanOrEqual(65536)
    expect(one('EnvironmentFile')).toBe('-/etc/piazza/piazza.env')
    expect(one('ExecStart')).toMatch(/\/piazza start$/)
    expect(one('KillSignal')).toBe('SIGTERM')
    // The configuration the node reads under systemd, through the project's own config loader.
    const config = loadConfig({ ...unitEnv, ...envFile })
    expect(config.dataDir).toBe('/var/lib/piazza')
    // piazza's own stop deadline comes before systemd's SIGKILL, with room to log and exit.
    expect(seconds(one('TimeoutStopSec')!)).toBeGreaterThanOrEqual(config.shutdownTimeoutMs / 1000 + 5)
    expect(seconds(one('TimeoutStopSec')!)).toBeGreaterThanOrEqual(loadConfig({}).shutdownTimeoutMs / 1000 + 5)
  })

  it('under its environment and stop signal, the node starts and a stop exits 0 (no restart)', async () => {
    const node = await startPiazza({
      ...unitEnv,
      ...envFile,
      DATA_DIR: tempDir('unit-data'),
      BIND_HOST: '127.0.0.1',
      PUBLIC_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      MQTT_PORT: '0',
      MQTT_WS_PORT: '0',
    })
    expect((await fetch(`${node.httpUrl}/api/health`)).status).toBe(200)
    node.child.kill(one('KillSignal') as NodeJS.Signals)
    expect(await node.exited).toBe(0)
    expect(node.logs()).toContain('stopped cleanly')
  })
})

describe('HAProxy deploy/haproxy.cfg in front of two nodes', () => {
  let haproxy: Haproxy
  const front: Ports = { host: '127.0.0.1', mqttPort: 0, wsPort: 0, httpPort: 0 }
  const nodes: (Ports & { process?: PiazzaProcess })[] = []
  const devices: { id: string; secret: string }[] = []
  const clients: MqttClient[] = []
  const sockets: Socket[] = []
  const base = () => `http://${front.host}:${front.httpPort}`

  beforeAll(async () => {
    // Devices registered once and the data directory copied, so both nodes know them (each node
    // keeps its own DATA_DIR, as in production; the registry is per node in this mode).
    const first = tempDir('node1')
    for (let i = 0; i < 6; i++) {
      const { stdout } = await run(process.execPath, [CLI, 'devices', 'add', '--type', 'air-quality', '--city', 'Firenze', '--name', `Proxy station ${i}`], {
        env: { ...process.env, DATA_DIR: first, LOG_LEVEL: 'silent' },
      })
      devices.push(JSON.parse(stdout) as { id: string; secret: string })
    }
    const second = tempDir('node2')
    cpSync(first, second, { recursive: true })

    for (const dataDir of [first, second]) {
      const ports: Ports = { host: '127.0.0.1', mqttPort: await freePort(), wsPort: await freePort(), httpPort: await freePort() }
      const proc = await startPiazza({
        ...envFile,
        DATA_DIR: dataDir,
        BIND_HOST: ports.host,
        PUBLIC_HOST: ports.host,
        // HAProxy's address here, in place of the example's.
        TRUST_PROXY: front.host,
        MQTT_PORT: String(ports.mqttPort),
        MQTT_WS_PORT: String(ports.wsPort),
        HTTP_PORT: String(ports.httpPort),
      })
      nodes.push({ ...ports, process: proc })
    }
    const started = await startHaproxyInFront(front.host, nodes)
    haproxy = started.haproxy
    Object.assign(front, started.front)
    // HAProxy answers once its health checks see the nodes.
    await vi
      .waitFor(async () => expect((await fetch(`${base()}/api/health`)).status).toBe(200), { timeout: 30_000, interval: 200 })
      .catch((err: unknown) => {
        throw new Error(`no answer through haproxy:\n${haproxy.output()}`, { cause: err })
      })
  }, 300_000) // eight processes to start on a busy machine

  afterAll(async () => {
    for (const socket of sockets) socket.disconnect()
    for (const client of clients) client.end(true)
    await haproxy?.stop()
    for (const node of nodes) {
      node.process?.child.kill('SIGTERM')
      await node.process?.exited
    }
  })

  function mqttConnect(url: string, device: { id: string; secret: string }, options: IClientOptions = {}): Promise<MqttClient> {
    const client = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 20_000, clientId: device.id, username: device.id, password: device.secret, ...options })
    clients.push(client)
    return new Promise((resolve, reject) => {
      client.once('connect', () => resolve(client))
      client.once('error', reject)
      client.once('close', () => reject(new Error(`${device.id}: closed before CONNACK (${url})`)))
    })
  }

  /** Publishes at QoS 1; resolves when the broker acknowledged (PUBACK, after the node's WAL commit). */
  function publish(client: MqttClient, deviceId: string, ts: number, pm25: number): Promise<void> {
    return new Promise((resolve, reject) =>
      client.publish(`devices/${deviceId}/telemetry`, JSON.stringify({ ts, pm25 }), { qos: 1 }, (err) => (err ? reject(err) : resolve())),
    )
  }

  async function health(node: Ports) {
    return (await (await fetch(`http://${node.host}:${node.httpPort}/api/health`)).json()) as {
      broker: { connectedDevices: number }
      ingest: { lastStoredAt: number | null }
    }
  }

  it('HTTP goes through, and new browsers are spread over both nodes, each pinned by a cookie', async () => {
    const seen = new Set<string>()
    await vi.waitFor(
      async () => {
        const res = await fetch(`${base()}/api/health`)
        expect(res.status).toBe(200)
        const cookie = /piazza_node=(node\d)/.exec(res.headers.get('set-cookie') ?? '')
        expect(cookie).not.toBeNull()
        seen.add(cookie![1]!)
        expect([...seen].sort()).toEqual(['node1', 'node2'])
      },
      { timeout: 30_000, interval: 50 },
    )
    // A pinned browser stays on its node: no new cookie, the same node answers.
    const pinned = await fetch(`${base()}/api/health`, { headers: { cookie: 'piazza_node=node2' } })
    expect(pinned.status).toBe(200)
    expect(pinned.headers.get('set-cookie')).toBeNull()
  })

  it('the nodes count HTTP requests per client named by HAProxy (TRUST_PROXY), not per proxy', async () => {
    const limit = Number(envFile.HTTP_RATE_LIMIT)
    // Pinned to one node, as browsers are. Everything is loopback here, so the clients name
    // themselves in X-Forwarded-For; HAProxy (option forwardfor) appends the address it saw.
    const ask = async (client: string) => {
      const res = await fetch(`${base()}/api/health`, { headers: { cookie: 'piazza_node=node1', 'x-forwarded-for': client } })
      expect(res.status).toBe(200)
      return Number(res.headers.get('x-ratelimit-remaining'))
    }
    const first = await ask('203.0.113.9')
    expect(await ask('203.0.113.9')).toBeLessThan(first)
    // A client never seen before has its whole allowance, whatever the other one used.
    expect(await ask('203.0.113.10')).toBe(limit - 1)
  })

  it('a Socket.IO connection polls, upgrades to a WebSocket through the proxy and receives live readings', async () => {
    // withCredentials: the Node client keeps cookies (the stickiness cookie) across its requests.
    const socket = connectSocket(base(), { transports: ['polling', 'websocket'], withCredentials: true, reconnection: false, timeout: 20_000 })
    sockets.push(socket)
    const updates: unknown[] = []
    socket.on('update', (message) => updates.push(message))
    const errors: Error[] = []
    socket.on('connect_error', (err) => errors.push(err))
    await vi.waitFor(
      () => {
        expect(errors).toEqual([])
        expect(socket.connected).toBe(true)
        expect(socket.io.engine.transport.name).toBe('websocket')
      },
      { timeout: 30_000, interval: 100 },
    )
    const answer = (await socket.timeout(20_000).emitWithAck('subscribe', { public: true })) as { ok: boolean }
    expect(answer.ok).toBe(true)

    // A station connected straight to each node; the socket's node pushes its readings.
    const direct = devices[5]!
    const publishers = await Promise.all(nodes.map((node) => mqttConnect(`mqtt://${node.host}:${node.mqttPort}`, direct)))
    let ts = Date.now() - 60_000
    await vi.waitFor(
      async () => {
        ts += 1
        await Promise.all(publishers.map((client) => publish(client, direct.id, ts, 12.5)))
        expect(updates.length).toBeGreaterThan(0)
      },
      { timeout: 30_000, interval: 300 },
    )
    expect(JSON.stringify(updates)).toContain(direct.id)
    expect(socket.io.engine.transport.name).toBe('websocket')
    for (const client of publishers) client.end(true)
  })

  it('MQTT over TCP: devices spread over both nodes (leastconn) and every reading is acknowledged', async () => {
    const url = `mqtt://${front.host}:${front.mqttPort}`
    const connected: MqttClient[] = []
    // One after another, so leastconn sees each connection before the next.
    for (const device of devices.slice(0, 4)) connected.push(await mqttConnect(url, device))
    const start = Date.now() - 120_000
    const acks = await Promise.all(
      connected.flatMap((client, d) => Array.from({ length: 25 }, (_, i) => publish(client, devices[d]!.id, start + i, i).then(() => 1))),
    )
    expect(acks.length).toBe(100)
    await vi.waitFor(
      async () => {
        const counts = await Promise.all(nodes.map(async (node) => (await health(node)).broker.connectedDevices))
        expect(counts[0]! + counts[1]!).toBe(4)
        expect(counts[0]).toBeGreaterThan(0)
        expect(counts[1]).toBeGreaterThan(0)
      },
      { timeout: 20_000, interval: 200 },
    )
    // Both nodes stored what they acknowledged.
    await vi.waitFor(
      async () => {
        for (const node of nodes) expect((await health(node)).ingest.lastStoredAt).not.toBeNull()
      },
      { timeout: 20_000, interval: 200 },
    )
    for (const client of connected) client.end(true)
  })

  it('MQTT over WebSocket goes through and readings are acknowledged', async () => {
    const device = devices[4]!
    const client = await mqttConnect(`ws://${front.host}:${front.wsPort}/mqtt`, device)
    const start = Date.now() - 180_000
    await Promise.all(Array.from({ length: 10 }, (_, i) => publish(client, device.id, start + i, i)))
    client.end(true)
  })
})
