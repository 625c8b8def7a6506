import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { io as connectSocket, type Socket } from 'socket.io-client'
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest'
import { loadOrCreateSecretKey, SECRET_KEY_FILE } from '../devices/secret-key.ts'
import { freePort } from '../testkit/child-server.ts'
import { startHaproxyInFront, type Haproxy, type Ports } from '../testkit/haproxy.ts'
import { createDatabase } from '../testkit/postgres.ts'
import { startWebhookReceiver, type WebhookReceiver } from '../testkit/receivers.ts'
import { startRedis, type RedisServer } from '../testkit/redis.ts'
import { ADMIN_PASSWORD } from '../testkit/stack.ts'
import { adminToken, startPiazza, type PiazzaProcess } from './support/piazza-process.ts'
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
      // An alert storm's notification waits this long for the rest of the storm (default 30 s).
      NOTIFY_GROUP_WINDOW_S: '10',
      // The storm tests' webhook receivers listen on loopback, which the URL policy refuses unless allowed.
      NOTIFY_WEBHOOK_ALLOW: '127.0.0.1',
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
    const starting: Promise<Node>[] = []
    for (const name of ['node1', 'node2', 'node3']) {
      const dataDir = tempDir(name)
      copyFileSync(join(keyDir, SECRET_KEY_FILE), join(dataDir, SECRET_KEY_FILE))
      starting.push(startNode(name, dataDir, databaseUrl))
    }
    // All at once, as a deployment starts them: migrations and the initial admin are taken under locks.
    nodes.push(...(await Promise.all(starting)))
    const started = await startHaproxyInFront(front.host, nodes.map((n) => n.ports))
    haproxy = started.haproxy
    Object.assign(front, started.front)
    await vi
      .waitFor(async () => expect((await fetch(`${base()}/api/health`)).status).toBe(200), WAIT)
      .catch((err: unknown) => {
        throw new Error(`no answer through haproxy:\n${haproxy.output()}\n${logsOf()}`, { cause: err })
      })
    // An admin session, opened on node 1 (sessions are in PostgreSQL: it holds on every node).
    token = await adminToken(nodeUrl(nodes[0]!), ADMIN_PASSWORD)
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

  /** A request to `node`'s API with the admin's session. */
  async function api<T>(node: Node, method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
    const res = await fetch(`${nodeUrl(node)}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await res.text()
    return { status: res.status, json: (text ? JSON.parse(text) : null) as T }
  }

  /** The nodes among `among` whose alert engine judges and notifies (piazza_alert_leader 1). */
  async function alertLeaders(among: Node[] = nodes): Promise<string[]> {
    const flags = await Promise.all(among.map((n) => metric(n, 'piazza_alert_leader')))
    return among.filter((_, i) => flags[i] === 1).map((n) => n.name)
  }

  interface AlertItem {
    id: number
    deviceId: string
    state: string
    acknowledgedBy: string | null
  }
  interface Notified {
    status: string
    count: number
    group: { ruleId: number }
  }

  /**
   * A webhook contact point (made through `via`) and a PM2.5 rule over 400 in Firenze (made through
   * `ruleVia`), taken in by every node of `on` (the leader among them judges with it).
   */
  async function stormSetup(via: Node, ruleVia: Node, on: Node[]) {
    const receiver: WebhookReceiver = await startWebhookReceiver()
    stoppers.push(() => receiver.close())
    const cp = await api<{ id: number }>(via, 'POST', '/api/contact-points', { kind: 'webhook', name: `Control room ${deviceCount}`, url: receiver.url('/storm'), secret: 'storm-secret-0123456789' })
    expect(cp.status).toBe(201)
    const rule = await api<{ id: number }>(ruleVia, 'POST', '/api/alert-rules', { name: `PM2.5 storm ${deviceCount}`, field: 'pm25', op: '>', threshold: 400, type: 'air-quality', city: 'Firenze' })
    expect(rule.status).toBe(201)
    for (const node of on) {
      await vi.waitFor(async () => expect((await api<{ items: { id: number }[] }>(node, 'GET', '/api/alert-rules')).json.items.map((r) => r.id)).toContain(rule.json.id), WAIT)
    }
    const alertsOn = async (node: Node) => (await api<{ items: AlertItem[] }>(node, 'GET', `/api/alerts?rule=${rule.json.id}&limit=100`)).json.items
    const notified = () => receiver.received.map((r) => JSON.parse(r.body) as Notified).filter((n) => n.group.ruleId === rule.json.id)
    return { receiver, contactPoint: cp.json.id, rule: rule.json.id, alertsOn, notified }
  }

  it('fires an alert rule exactly once cluster-wide: one alert per device on every node, one webhook for the storm; an acknowledgement through node 2 shows on node 3', async () => {
    const [one, two, three] = nodes as [Node, Node, Node]
    await vi.waitFor(async () => expect(await alertLeaders()).toHaveLength(1), WAIT)
    const storm = await stormSetup(two, one, nodes)
    // Contact points are shared: node 3 lists the one made through node 2.
    expect((await api<{ items: { id: number }[] }>(three, 'GET', '/api/contact-points')).json.items.map((c) => c.id)).toContain(storm.contactPoint)

    // Six stations: one straight on each node, three through HAProxy; every node hears every reading.
    const devices = await Promise.all(Array.from({ length: 6 }, () => register(one, 'Storm station')))
    const stations = await Promise.all(
      devices.map((d, i) => vi.waitFor(() => mqttConnect(i < 3 ? mqttUrlOf(nodes[i]!) : `mqtt://${front.host}:${front.mqttPort}`, d), WAIT)),
    )
    let ts = Date.now()
    await Promise.all(devices.map((d, i) => publish(stations[i]!, d.id, ts, 450)))
    const ids = devices.map((d) => d.id).sort()
    for (const node of nodes) {
      await vi.waitFor(async () => expect((await storm.alertsOn(node)).map((a) => a.deviceId).sort()).toEqual(ids), WAIT)
      await vi.waitFor(async () => {
        const groups = (await api<{ items: { ruleId: number; total: number; open: number }[] }>(node, 'GET', '/api/alert-groups')).json.items
        expect(groups.filter((g) => g.ruleId === storm.rule)).toMatchObject([{ total: 6, open: 6 }])
      }, WAIT)
    }
    // Crossing again while open opens nothing more.
    ts += 1000
    await Promise.all(devices.map((d, i) => publish(stations[i]!, d.id, ts, 460)))

    // One message for the storm, whichever node each station used.
    await vi.waitFor(() => expect(storm.notified().filter((n) => n.status === 'firing')).toHaveLength(1), { timeout: 120_000, interval: 250 })
    expect(storm.notified()[0]).toMatchObject({ status: 'firing', count: 6 })

    // Acknowledged through node 2, seen acknowledged through node 3.
    const target = (await storm.alertsOn(two))[0]!
    const ack = await api<AlertItem>(two, 'POST', `/api/alerts/${target.id}/ack`)
    expect(ack.status).toBe(200)
    await vi.waitFor(async () => expect((await storm.alertsOn(three)).find((a) => a.id === target.id)).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'admin' }), WAIT)
    await vi.waitFor(async () => {
      const groups = (await api<{ items: { ruleId: number; acknowledged: number }[] }>(three, 'GET', '/api/alert-groups')).json.items
      expect(groups.filter((g) => g.ruleId === storm.rule)).toMatchObject([{ acknowledged: 1 }])
    }, WAIT)

    // The storm passes: every alert resolves, and the "resolved" message comes a group window
    // after the last one, later than a second "firing" message from another node could have come.
    ts += 1000
    await Promise.all(devices.map((d, i) => publish(stations[i]!, d.id, ts, 10)))
    for (const node of nodes) await vi.waitFor(async () => expect((await storm.alertsOn(node)).map((a) => a.state)).toEqual(Array(6).fill('resolved')), WAIT)
    await vi.waitFor(() => expect(storm.notified().map((n) => n.status)).toEqual(['firing', 'resolved']), { timeout: 120_000, interval: 250 })
    // Still one alert per device, on every node; the delivery log (shared) holds the two deliveries.
    for (const node of nodes) {
      expect((await storm.alertsOn(node)).map((a) => a.deviceId).sort()).toEqual(ids)
      expect((await api<{ items: unknown[] }>(node, 'GET', `/api/contact-points/${storm.contactPoint}/deliveries`)).json.items).toHaveLength(2)
    }
    for (const station of stations) station.end(true)
    expect((await api(three, 'DELETE', `/api/alert-rules/${storm.rule}`)).status).toBe(204)
    expect((await api(one, 'DELETE', `/api/contact-points/${storm.contactPoint}`)).status).toBe(204)
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

  it('hands alert judging over when the leader is killed: another node leads, and a new crossing notifies once', async () => {
    const [leaderName] = await vi.waitFor(async () => {
      const found = await alertLeaders()
      expect(found).toHaveLength(1)
      return found
    }, WAIT)
    const leader = nodes.find((n) => n.name === leaderName)!
    const survivors = nodes.filter((n) => n !== leader)
    const storm = await stormSetup(survivors[0]!, survivors[1]!, nodes)

    leader.process.child.kill('SIGKILL')
    expect(await leader.process.exited).toBe('SIGKILL')
    // PostgreSQL ends the dead node's session, which frees the lock; a survivor takes it.
    await vi.waitFor(async () => expect(await alertLeaders(survivors)).toHaveLength(1), WAIT)

    const devices = await Promise.all(Array.from({ length: 3 }, () => register(survivors[0]!, 'Failover station')))
    const stations = await Promise.all(
      devices.map((d, i) => vi.waitFor(() => mqttConnect(i < 2 ? mqttUrlOf(survivors[i]!) : `mqtt://${front.host}:${front.mqttPort}`, d), WAIT)),
    )
    let ts = Date.now()
    await Promise.all(devices.map((d, i) => publish(stations[i]!, d.id, ts, 450)))
    const ids = devices.map((d) => d.id).sort()
    for (const node of survivors) await vi.waitFor(async () => expect((await storm.alertsOn(node)).map((a) => a.deviceId).sort()).toEqual(ids), WAIT)
    await vi.waitFor(() => expect(storm.notified().filter((n) => n.status === 'firing')).toHaveLength(1), { timeout: 120_000, interval: 250 })
    expect(storm.notified()[0]).toMatchObject({ status: 'firing', count: 3 })
    ts += 1000
    await Promise.all(devices.map((d, i) => publish(stations[i]!, d.id, ts, 10)))
    await vi.waitFor(() => expect(storm.notified().map((n) => n.status)).toEqual(['firing', 'resolved']), { timeout: 120_000, interval: 250 })
    for (const node of survivors) expect((await storm.alertsOn(node)).map((a) => a.deviceId).sort()).toEqual(ids)
    for (const station of stations) station.end(true)
  }, 300_000)
})
