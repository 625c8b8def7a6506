import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { io as connectSocket, type Socket } from 'socket.io-client'
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest'
import { loadOrCreateSecretKey, SECRET_KEY_FILE } from '../devices/secret-key.ts'
import { freePort } from '../testkit/child-server.ts'
import { readHaproxyExample, renderHaproxyConfig, startHaproxy, type Haproxy, type Ports } from '../testkit/haproxy.ts'
import { createDatabase } from '../testkit/postgres.ts'
import { startRedis, type RedisServer } from '../testkit/redis.ts'
import { ADMIN_PASSWORD } from '../testkit/stack.ts'
import { startPiazza, type PiazzaProcess } from './support/piazza-process.ts'
import { startPublishers, type Credentials } from './support/publisher.ts'

/**
 * Three real `piazza start` processes in cluster mode (REDIS_URL, DATABASE_URL), each with its own
 * DATA_DIR, behind a real HAProxy running deploy/haproxy.cfg, storing into a real InfluxDB; devices
 * are real MQTT clients over TCP and browsers real Socket.IO clients, both through the proxy.
 *
 * Deadlines are for a busy 2-core machine running ten processes; every wait is on a condition.
 */

const WAIT = { timeout: 60_000, interval: 250 }

interface Node {
  name: string
  ports: Ports
  dataDir: string
  env: Record<string, string>
  process: PiazzaProcess
}

describe('three nodes behind HAProxy on Redis and PostgreSQL', () => {
  let redis: RedisServer
  let haproxy: Haproxy
  let influxUrl: string
  const database = `three_nodes_${process.pid}`
  const front: Ports = { host: '127.0.0.1', mqttPort: 0, wsPort: 0, httpPort: 0 }
  const nodes: Node[] = []
  const dirs: string[] = []
  const clients: MqttClient[] = []
  const sockets: Socket[] = []
  const stoppers: (() => Promise<void>)[] = []
  let token = ''
  let deviceCount = 0

  const base = () => `http://${front.host}:${front.httpPort}`
  const nodeUrl = (node: Node) => `http://${node.ports.host}:${node.ports.httpPort}`
  const logsOf = () => nodes.map((n) => `--- ${n.name}:\n${n.process.logs().slice(-3000)}`).join('\n')

  function tempDir(name: string): string {
    const dir = mkdtempSync(join(tmpdir(), `piazza-3n-${name}-`))
    dirs.push(dir)
    return dir
  }

  /** Ports picked free, none twice in this file. */
  const taken = new Set<number>()
  async function port(): Promise<number> {
    for (;;) {
      const candidate = await freePort()
      if (!taken.has(candidate)) {
        taken.add(candidate)
        return candidate
      }
    }
  }

  function nodeEnv(dataDir: string, ports: Ports, databaseUrl: string): Record<string, string> {
    return {
      DATA_DIR: dataDir,
      REDIS_URL: redis.url,
      DATABASE_URL: databaseUrl,
      INFLUX_URL: influxUrl,
      INFLUX_DB: database,
      ADMIN_PASSWORD,
      BIND_HOST: ports.host,
      PUBLIC_HOST: front.host,
      TRUST_PROXY: front.host,
      MQTT_PORT: String(ports.mqttPort),
      MQTT_WS_PORT: String(ports.wsPort),
      HTTP_PORT: String(ports.httpPort),
      // Behind the proxy every connection comes from its address (deploy/piazza.env raises these too).
      MQTT_MAX_CONNECTIONS_PER_ADDRESS: '1000000',
      SOCKETS_PER_ADDRESS: '1000000',
      HTTP_RATE_LIMIT: '10000000',
      // The test's devices publish faster than their type's interval on purpose.
      MQTT_QUOTAS: '0',
    }
  }

  /**
   * Starts a node on free ports. A port found free can be taken by someone else's connection
   * before the node binds it (other tests run beside this one): then new ports, up to 3 times.
   */
  async function startNode(name: string, dataDir: string, databaseUrl: string): Promise<Node> {
    for (let attempt = 1; ; attempt++) {
      const ports: Ports = { host: '127.0.0.1', mqttPort: await port(), wsPort: await port(), httpPort: await port() }
      const env = nodeEnv(dataDir, ports, databaseUrl)
      try {
        return { name, ports, dataDir, env, process: await startPiazza(env) }
      } catch (err) {
        if (attempt >= 3 || !/EADDRINUSE/.test(String(err))) throw err
      }
    }
  }

  beforeAll(async () => {
    influxUrl = inject('influxUrl')
    redis = await startRedis()
    const databaseUrl = await createDatabase(inject('postgresUrl'))
    // Every node checks device secrets under the same server key: created once, copied to each.
    const keyDir = tempDir('key')
    loadOrCreateSecretKey(keyDir)
    for (const key of ['mqttPort', 'wsPort', 'httpPort'] as const) front[key] = await port()
    const starting: Promise<Node>[] = []
    for (const name of ['node1', 'node2', 'node3']) {
      const dataDir = tempDir(name)
      copyFileSync(join(keyDir, SECRET_KEY_FILE), join(dataDir, SECRET_KEY_FILE))
      starting.push(startNode(name, dataDir, databaseUrl))
    }
    // All at once, as a deployment starts them: migrations and the initial admin are taken under locks.
    nodes.push(...(await Promise.all(starting)))
    haproxy = await startHaproxy(renderHaproxyConfig(readHaproxyExample(), front, nodes.map((n) => n.ports)))
    await vi
      .waitFor(async () => expect((await fetch(`${base()}/api/health`)).status).toBe(200), WAIT)
      .catch((err: unknown) => {
        throw new Error(`no answer through haproxy:\n${haproxy.output()}\n${logsOf()}`, { cause: err })
      })
    // An admin session, opened on node 1 (sessions are in PostgreSQL: it holds on every node).
    const login = await fetch(`${nodeUrl(nodes[0]!)}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
    })
    expect(login.status).toBe(200)
    token = ((await login.json()) as { token: string }).token
  }, 300_000) // ten processes to start on a busy machine

  afterAll(async () => {
    for (const stop of stoppers) await stop().catch(() => {})
    for (const socket of sockets) socket.disconnect()
    for (const client of clients) client.end(true)
    await haproxy?.stop()
    await Promise.all(
      nodes.map(async (node) => {
        if (node.process.child.exitCode === null && node.process.child.signalCode === null) node.process.child.kill('SIGTERM')
        await node.process.exited
      }),
    )
    await redis?.close()
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  }, 120_000)

  /** Registers an air-quality station through the API of `node` (an admin's session). */
  async function register(node: Node, name: string): Promise<Credentials> {
    const res = await fetch(`${nodeUrl(node)}/api/devices`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ type: 'air-quality', city: 'Firenze', name: `${name} ${++deviceCount}` }),
    })
    expect(res.status).toBe(201)
    const { id, secret } = (await res.json()) as { id: string; secret: string }
    return { id, secret }
  }

  function mqttConnect(url: string, device: Credentials): Promise<MqttClient> {
    const client = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 20_000, clientId: device.id, username: device.id, password: device.secret })
    clients.push(client)
    return new Promise((resolve, reject) => {
      client.once('connect', () => resolve(client))
      client.once('error', reject)
      client.once('close', () => reject(new Error(`${device.id}: closed before CONNACK (${url})`)))
    })
  }

  const mqttUrlOf = (node: Node) => `mqtt://${node.ports.host}:${node.ports.mqttPort}`
  const publish = (client: MqttClient, id: string, ts: number, pm25: number) => client.publishAsync(`devices/${id}/telemetry`, JSON.stringify({ ts, pm25 }), { qos: 1 })

  /** A browser pinned by HAProxy's cookie to `node`, subscribed to the public live stream; collects its updates. */
  async function browserOn(node: Node): Promise<{ socket: Socket; updates: string[] }> {
    const socket = connectSocket(base(), {
      transports: ['polling', 'websocket'],
      extraHeaders: { cookie: `piazza_node=${node.name}` },
      reconnection: false,
      timeout: 20_000,
    })
    sockets.push(socket)
    const updates: string[] = []
    socket.on('update', (message: unknown) => updates.push(JSON.stringify(message)))
    await vi.waitFor(() => expect(socket.connected).toBe(true), WAIT)
    const answer = (await socket.timeout(20_000).emitWithAck('subscribe', { public: true })) as { ok: boolean }
    expect(answer.ok).toBe(true)
    return { socket, updates }
  }

  interface Health {
    ready: boolean
    ingest: { backlogBytes: number }
    redis?: { ok: boolean; feed: boolean; mqtt: boolean; realtime: boolean; detail?: string }
  }
  async function health(node: Node): Promise<{ status: number; body: Health }> {
    const res = await fetch(`${nodeUrl(node)}/api/health`)
    return { status: res.status, body: (await res.json()) as Health }
  }

  /** A counter from the node's /metrics (its own: ingest counters never cross nodes). */
  async function metric(node: Node, name: string): Promise<number> {
    const text = await (await fetch(`${nodeUrl(node)}/metrics`)).text()
    const line = text.split('\n').find((l) => l.startsWith(`${name} `))
    return line ? Number(line.split(' ')[1]) : 0
  }

  async function storedTimes(deviceId: string): Promise<number[]> {
    const q = `SELECT "pm25" FROM "air-quality" WHERE "device" = '${deviceId}'`
    const res = await fetch(`${influxUrl}/query?db=${database}&epoch=ms&q=${encodeURIComponent(q)}`)
    const body = (await res.json()) as { results: { series?: { values: [number, number][] }[] }[] }
    return body.results[0]?.series?.[0]?.values.map((v) => v[0]) ?? []
  }

  /** How many acknowledged (device, ts) are not in InfluxDB. */
  async function missingFromStorage(acked: Map<string, Set<number>>): Promise<number> {
    let missing = 0
    for (const [device, times] of acked) {
      const stored = new Set(await storedTimes(device))
      for (const ts of times) if (!stored.has(ts)) missing += 1
    }
    return missing
  }

  /** Every acknowledged reading is in InfluxDB, each once (a series holds one point per time). */
  async function expectAllAcknowledgedStored(acked: Map<string, Set<number>>) {
    await expect.poll(() => missingFromStorage(acked), { timeout: 120_000, interval: 1000, message: 'acknowledged readings not in InfluxDB' }).toBe(0)
    for (const device of acked.keys()) {
      const stored = await storedTimes(device)
      expect(new Set(stored).size).toBe(stored.length)
    }
  }

  it('lets a device registered through node 1 log in through HAProxy and on every node', async () => {
    const [one, two, three] = nodes as [Node, Node, Node]
    // Straight to the other two at once, no retry: the registry is one, in PostgreSQL, and a node
    // that has not read the registration from the change log yet looks the id up there.
    for (const node of [two, three]) {
      const device = await register(one, 'Registered on node 1')
      const direct = await mqttConnect(mqttUrlOf(node), device)
      direct.end(true)
    }
    // Through the proxy, to whichever node leastconn picks.
    const device = await register(one, 'Registered on node 1')
    const client = await vi.waitFor(() => mqttConnect(`mqtt://${front.host}:${front.mqttPort}`, device), WAIT)
    await publish(client, device.id, Date.now(), 7)
    client.end(true)
    // The session opened on node 1 holds on node 3.
    const me = await fetch(`${nodeUrl(three)}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } })
    expect(me.status).toBe(200)
  })

  it('shows a browser on each node the readings of a device connected to another node', async () => {
    for (let i = 0; i < nodes.length; i++) {
      const browserNode = nodes[i]!
      const deviceNode = nodes[(i + 1) % nodes.length]!
      const { updates } = await browserOn(browserNode)
      const device = await register(nodes[0]!, `Seen from ${browserNode.name}`)
      const client = await mqttConnect(mqttUrlOf(deviceNode), device)
      let ts = Date.now() - 60_000
      await vi.waitFor(async () => {
        await publish(client, device.id, ++ts, 12.5)
        expect(updates.some((u) => u.includes(device.id))).toBe(true)
      }, WAIT)
      client.end(true)
    }
  })

  it('keeps acknowledging and storing while Redis is stopped for 30 s, reports it in health, and resumes the live stream', async () => {
    const [one, two] = nodes as [Node, Node, Node]
    const fleet = await Promise.all(Array.from({ length: 6 }, () => register(one, 'Outage station')))
    // The live device, straight on node 2; the browser on node 1 hears it only through Redis.
    const live = await register(one, 'Outage live station')
    const { updates } = await browserOn(one)
    const liveClient = await vi.waitFor(() => mqttConnect(mqttUrlOf(two), live), WAIT)
    let liveTs = Date.now() - 300_000
    await vi.waitFor(async () => {
      await publish(liveClient, live.id, ++liveTs, 30)
      expect(updates.some((u) => u.includes(live.id))).toBe(true)
    }, WAIT)

    const publishers = startPublishers({ url: `mqtt://${front.host}:${front.mqttPort}`, devices: fleet, intervalMs: 100, inflightPerDevice: 5 })
    stoppers.push(() => publishers.stop(2000))
    await expect.poll(() => publishers.ackedCount(), WAIT).toBeGreaterThan(100)

    await redis.stop()
    const stoppedAt = Date.now()
    for (const node of nodes) {
      await vi.waitFor(async () => {
        const { status, body } = await health(node)
        expect(body.redis).toMatchObject({ ok: false, feed: false, mqtt: false, realtime: false })
        expect(body.redis?.detail).toMatch(/Redis is unreachable/)
        // Ready all the same: ingest needs no Redis, so HAProxy keeps every node in the pool.
        expect(status).toBe(200)
        expect(body.ready).toBe(true)
      }, WAIT)
    }
    // The live view degrades: node 2's device is acknowledged and stored, but node 1's browser
    // hears nothing of it (node 1 learns of other nodes' readings only through Redis).
    updates.length = 0
    const outageTs = [++liveTs, ++liveTs, ++liveTs]
    for (const ts of outageTs) await publish(liveClient, live.id, ts, 40)
    await vi.waitFor(async () => expect(await storedTimes(live.id)).toEqual(expect.arrayContaining(outageTs)), WAIT)
    expect(updates.filter((u) => u.includes(live.id))).toEqual([])
    // Acknowledged and stored while Redis is away: these readings are in InfluxDB before it returns.
    const ackedAtStop = publishers.ackedCount()
    await expect.poll(() => publishers.ackedCount(), WAIT).toBeGreaterThan(ackedAtStop + 100)
    const duringOutage = new Map([...publishers.acked].map(([id, times]) => [id, new Set(times)]))
    await expect.poll(() => missingFromStorage(duringOutage), { timeout: 120_000, interval: 1000 }).toBe(0)
    // The outage lasts the 30 s: ioredis's reconnect delay grows (50 ms more per attempt,
    // up to 2 s), so a longer outage only means more attempts at the same pace.
    const left = 30_000 - (Date.now() - stoppedAt)
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, left))
    expect(publishers.ackedCount()).toBeGreaterThan(ackedAtStop)

    await redis.start()
    for (const node of nodes) {
      await vi.waitFor(async () => expect((await health(node)).body.redis).toMatchObject({ ok: true, feed: true, mqtt: true, realtime: true }), WAIT)
    }
    // The browser on node 1 hears node 2's device again, with no restart or reconnect.
    updates.length = 0
    await vi.waitFor(async () => {
      await publish(liveClient, live.id, ++liveTs, 31)
      expect(updates.some((u) => u.includes(live.id))).toBe(true)
    }, WAIT)
    liveClient.end(true)

    await publishers.stop()
    await expectAllAcknowledgedStored(publishers.acked)
  }, 300_000)

  it('loses nothing acknowledged when a node is killed with kill -9 under QoS 1 load; its write-ahead log ships when it restarts', async () => {
    const [one, , victim] = nodes as [Node, Node, Node]
    // The victim ships at most once a minute, so its write-ahead log certainly holds acknowledged
    // readings that are not in InfluxDB yet when it dies (restarted gracefully with that setting).
    victim.process.child.kill('SIGTERM')
    expect(await victim.process.exited).toBe(0)
    const slowShipping = { ...victim.env, INGEST_FLUSH_MS: '60000', INGEST_BATCH_SIZE: '100000' }
    victim.process = await startPiazza(slowShipping)
    // Wait until HAProxy routes to it again: a request pinned to it is answered without a new cookie.
    await vi.waitFor(async () => {
      const res = await fetch(`${base()}/api/health`, { headers: { cookie: `piazza_node=${victim.name}` } })
      expect(res.status).toBe(200)
      expect(res.headers.get('set-cookie')).toBeNull()
    }, WAIT)

    // …and until its MQTT port is back in HAProxy's rotation (its own health check, apart from
    // the HTTP one): with leastconn, a probe through the proxy then lands on the idle victim, as
    // its own ingest counter shows (connection counts come from the feed, cluster-wide).
    const probe = await register(one, 'Probe')
    let probeTs = Date.now()
    await vi.waitFor(
      async () => {
        const before = await metric(victim, 'piazza_readings_accepted_total')
        const client = await mqttConnect(`mqtt://${front.host}:${front.mqttPort}`, probe)
        try {
          await publish(client, probe.id, ++probeTs, 10)
          expect(await metric(victim, 'piazza_readings_accepted_total')).toBeGreaterThan(before)
        } finally {
          await client.endAsync()
        }
      },
      { timeout: 120_000, interval: 1000 },
    )
    const fleet = await Promise.all(Array.from({ length: 20 }, () => register(one, 'Kill station')))
    const publishers = startPublishers({ url: `mqtt://${front.host}:${front.mqttPort}`, devices: fleet, intervalMs: 100, inflightPerDevice: 10 })
    stoppers.push(() => publishers.stop(2000))
    // leastconn gave the victim some of the devices, and it acknowledged their readings.
    await expect.poll(() => metric(victim, 'piazza_readings_accepted_total'), WAIT).toBeGreaterThan(200)
    await expect.poll(() => publishers.ackedCount(), WAIT).toBeGreaterThan(1000)
    expect((await health(victim)).body.ingest.backlogBytes).toBeGreaterThan(0)

    victim.process.child.kill('SIGKILL')
    expect(await victim.process.exited).toBe('SIGKILL')
    const atKill = new Map([...publishers.acked].map(([id, times]) => [id, times.size]))

    // Every device, the victim's included, reconnects through HAProxy and is acknowledged again.
    await vi.waitFor(
      () => {
        const behind = fleet.filter((d) => publishers.acked.get(d.id)!.size < atKill.get(d.id)! + 20)
        expect(behind.map((d) => d.id)).toEqual([])
      },
      { timeout: 120_000, interval: 500 },
    )
    await publishers.stop()

    // The survivors ship everything they acknowledged; the victim's log is still on its disk, and
    // no other node ships it: those readings wait for it.
    for (const node of nodes.filter((n) => n !== victim)) await vi.waitFor(async () => expect((await health(node)).body.ingest.backlogBytes).toBe(0), WAIT)
    expect(readdirSync(join(victim.dataDir, 'wal')).some((f) => f.endsWith('.wal'))).toBe(true)
    expect(await missingFromStorage(publishers.acked)).toBeGreaterThan(0)

    // Restarted with the same DATA_DIR, the node replays its log into InfluxDB.
    victim.process = await startPiazza(victim.env)
    await expectAllAcknowledgedStored(publishers.acked)
    await vi.waitFor(async () => expect((await health(victim)).body.ingest.backlogBytes).toBe(0), WAIT)
  }, 400_000)
})
