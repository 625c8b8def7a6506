import { connect, type Socket } from 'node:net'
import mqttPacket from 'mqtt-packet'
import { KINDS } from '../devices/kinds.ts'
import { createValueModel, type ModelDevice } from '../simulator/values.ts'

/**
 * MQTT 3.1.1 load generator, run as its own child process (forked with IPC) so its CPU is
 * separate from the system under test. One TCP connection per device. QoS 1 PUBLISH packets are
 * built by hand into one Buffer per refill and PUBACKs are parsed by hand: MQTT.js would spend
 * more CPU than the broker it is measuring.
 *
 * Protocol with the parent: it sends {cmd:'run', options}; we connect every device and answer
 * {type:'connected'}; it sends {cmd:'go'} (after sampling CPU) and we publish for `seconds`,
 * wait for the outstanding acks and answer {type:'result'}. In idle mode we hold the connections
 * (PINGREQ only) until {cmd:'stop'}. We exit when done or when the parent goes away.
 *
 * Payloads are realistic and cheap: before connecting, each device's value model
 * (simulator/values.ts) is sampled a few times over a day into JSON templates; publishing only
 * puts a LIVE timestamp in front (Date.now(), kept strictly increasing per device so every
 * reading is its own point in storage). One reading per message.
 */

export interface LoadOptions {
  host: string
  port: number
  /** One connection per device; login is username = client id = device id, password = secret. */
  devices: { id: string; secret: string; model?: ModelDevice }[]
  /** 'load' publishes; 'idle' connects and then sends nothing but keepalives. */
  mode: 'load' | 'idle'
  seconds: number
  /** Unacknowledged messages allowed per connection. */
  window: number
  /** Target offered messages/s over all connections; undefined = closed-loop maximum. */
  rate?: number
  /** How long to wait for outstanding PUBACKs once publishing stops. */
  ackTimeoutMs: number
}

export interface LoadResult {
  connected: number
  connectFailed: number
  published: number
  acked: number
  /** Published but not acknowledged when the ack wait ended. */
  unacked: number
  errors: number
  /** First few error messages, for the report. */
  errorSamples: string[]
  /** Acknowledgements per second since 'go', the ack-wait tail included. */
  perSecond: number[]
  publishMs: number
  /** When the last PUBACK arrived, ms after 'go': acks may trail publishing by a lot. */
  lastAckMs: number
  /** CPU this generator used from 'go' to the end of the ack wait: it must not be the bottleneck. */
  cpuSeconds: number
  /** Smallest and largest timestamp published (epoch ms): the run's readings are counted in [firstTs, lastTs]. */
  firstTs: number
  lastTs: number
}

export type LoadMessage = { type: 'connected'; connected: number; connectFailed: number; errorSamples: string[] } | { type: 'result'; result: LoadResult }
export type LoadCommand = { cmd: 'run'; options: LoadOptions } | { cmd: 'go' } | { cmd: 'stop' }

const KEEPALIVE_S = 60
const CONNECT_TIMEOUT_MS = 60_000
/** Connections logging in at once: a broker that hashes secrets would time out a burst of thousands. */
const CONNECT_CONCURRENCY = 50
const PINGREQ = Buffer.from([0xc0, 0x00])
const DISCONNECT = Buffer.from([0xe0, 0x00])
/** Largest PUBLISH we build: header 5 + topic length 2 + topic ≤ 80 + id 2 + payload ≤ 300. */
const MAX_PACKET = 400
/** Payload templates sampled per device from its value model. */
const TEMPLATES = 8
const SEED = 20_240_601

interface Conn {
  id: string
  socket: Socket
  topic: Buffer
  seq: number
  inflight: number
  nextId: number
  /** Message ids awaiting PUBACK, one bit each (8 KB a connection: 10,000 connections stay cheap); empty in idle mode. */
  pending: Uint8Array
  blocked: boolean
  /** Bytes of an incomplete packet from the previous chunk. */
  rest: Buffer | undefined
  sent: number
  /** JSON of readings without their opening brace and ts: `"pm25":12.5,...}`. */
  templates: string[]
  lastTs: number
  onConnack?: (code: number) => void
}

const errorSamples: string[] = []
let errors = 0
function recordError(message: string) {
  errors += 1
  if (errorSamples.length < 5) errorSamples.push(message)
}

const stats = { published: 0, acked: 0 }
let perSecond: number[] = []
let goAt = 0
let lastAckAt = 0
let publishing = false
let options: LoadOptions
const conns: Conn[] = []
let allAcked: (() => void) | undefined
let shuttingDown = false
let firstTs = Infinity
let lastTs = 0

/** An air-quality reading for devices given without a model; ~100 bytes. */
const PLAIN = ['"pm25":12.25,"pm10":19.5,"no2":20.83,"o3":15.6,"so2":3.14,"co":0.42}', '"pm25":31.5,"pm10":44.75,"no2":53.55,"o3":35.8,"so2":2.9,"co":0.51}']

/**
 * Sampled from the device's value model at times spread over the last day, only readings that
 * carry the type's main field (readings are counted by it), the first reading of a cycle (a
 * traffic counter reports one per lane: one per message here). Done once, before connecting.
 */
function templatesFor(device: { id: string; model?: ModelDevice }): string[] {
  if (!device.model) return PLAIN
  const model = createValueModel(device.model, SEED)
  const main = KINDS[device.model.type].mainField
  const now = Date.now()
  const out: string[] = []
  for (let i = 0; i < TEMPLATES * 3 && out.length < TEMPLATES; i++) {
    const reading = model(now - (i * 86_400_000) / (TEMPLATES * 3))[0]
    if (!reading || typeof reading[main] !== 'number') continue
    const { ts: _ts, ...rest } = reading
    const json = JSON.stringify(rest)
    if (json.length > 2) out.push(json.slice(1))
  }
  return out.length ? out : PLAIN
}

/** Sends as many PUBLISH packets as the window (and the target rate) allow, in one write. */
function refill(conn: Conn, allowance = Infinity) {
  if (!publishing || conn.blocked) return
  const n = Math.min(options.window - conn.inflight, allowance)
  if (n <= 0) return
  const out = Buffer.allocUnsafe(n * MAX_PACKET)
  let o = 0
  const now = Date.now()
  for (let i = 0; i < n; i++) {
    const ts = (conn.lastTs = Math.max(conn.lastTs + 1, now))
    if (ts < firstTs) firstTs = ts
    if (ts > lastTs) lastTs = ts
    const json = `{"ts":${ts},${conn.templates[conn.seq % conn.templates.length]!}`
    conn.seq += 1
    const remaining = 2 + conn.topic.length + 2 + json.length
    out[o++] = 0x32 // PUBLISH, QoS 1
    // Remaining length, MQTT variable byte integer (2 bytes at most for our sizes).
    let len = remaining
    do {
      let byte = len % 128
      len = Math.floor(len / 128)
      if (len > 0) byte |= 0x80
      out[o++] = byte
    } while (len > 0)
    out.writeUInt16BE(conn.topic.length, o)
    o += 2
    conn.topic.copy(out, o)
    o += conn.topic.length
    const id = conn.nextId
    conn.nextId = id === 65535 ? 1 : id + 1
    conn.pending[id >> 3]! |= 1 << (id & 7)
    out.writeUInt16BE(id, o)
    o += 2
    o += out.write(json, o, 'latin1')
  }
  conn.inflight += n
  conn.sent += n
  stats.published += n
  if (!conn.socket.write(out.subarray(0, o))) conn.blocked = true
}

function onPacket(conn: Conn, type: number, body: Buffer) {
  if (type === 0x40 && body.length >= 2) {
    const id = body.readUInt16BE(0)
    if (!(conn.pending[id >> 3]! & (1 << (id & 7)))) return recordError(`${conn.id}: PUBACK for unknown message id ${id}`)
    conn.pending[id >> 3]! &= ~(1 << (id & 7))
    conn.inflight -= 1
    stats.acked += 1
    if (goAt) {
      lastAckAt = Date.now()
      const second = Math.floor((lastAckAt - goAt) / 1000)
      perSecond[second] = (perSecond[second] ?? 0) + 1
    }
    if (options.rate === undefined) refill(conn)
    if (!publishing && allAcked && conns.every((c) => c.inflight === 0)) allAcked()
  } else if (type === 0x20 && body.length >= 2) {
    conn.onConnack?.(body[1]!)
  }
  // PINGRESP and anything else: nothing to do.
}

/** Splits a chunk into MQTT packets (type byte, remaining length, body), keeping a partial tail. */
function onData(conn: Conn, chunk: Buffer) {
  let buf = conn.rest ? Buffer.concat([conn.rest, chunk]) : chunk
  let i = 0
  for (;;) {
    if (buf.length - i < 2) break
    let len = 0
    let mul = 1
    let j = i + 1
    let complete = false
    while (j < buf.length && j < i + 5) {
      const byte = buf[j++]!
      len += (byte & 0x7f) * mul
      mul *= 128
      if (!(byte & 0x80)) {
        complete = true
        break
      }
    }
    if (!complete || buf.length - j < len) break
    onPacket(conn, buf[i]! & 0xf0, buf.subarray(j, j + len))
    i = j + len
  }
  conn.rest = i < buf.length ? Buffer.from(buf.subarray(i)) : undefined
}

function open(device: { id: string; secret: string }, templates: string[]): Promise<Conn | string> {
  return new Promise((resolve) => {
    const socket = connect({ host: options.host, port: options.port })
    socket.setNoDelay(true)
    const conn: Conn = {
      id: device.id,
      socket,
      topic: Buffer.from(`devices/${device.id}/telemetry`),
      seq: 0,
      inflight: 0,
      nextId: 1,
      pending: new Uint8Array(options.mode === 'load' ? 65536 / 8 : 0),
      blocked: false,
      rest: undefined,
      sent: 0,
      templates,
      lastTs: 0,
    }
    let settled = false
    const settle = (value: Conn | string) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      conn.onConnack = undefined
      resolve(value)
    }
    const timer = setTimeout(() => {
      socket.destroy()
      settle(`${device.id}: no CONNACK within ${CONNECT_TIMEOUT_MS / 1000} s`)
    }, CONNECT_TIMEOUT_MS)
    conn.onConnack = (code) => {
      if (code === 0) return settle(conn)
      socket.destroy()
      settle(`${device.id}: CONNACK refused with code ${code}`)
    }
    socket.on('data', (chunk) => onData(conn, chunk))
    socket.on('drain', () => {
      conn.blocked = false
      if (options.rate === undefined) refill(conn)
    })
    socket.on('error', (err) => {
      if (!settled) settle(`${device.id}: ${err.message}`)
      else if (!shuttingDown) recordError(`${device.id}: ${err.message}`)
    })
    socket.on('close', () => {
      if (!settled) settle(`${device.id}: connection closed before CONNACK`)
      else if (!shuttingDown) recordError(`${device.id}: connection closed by the broker`)
    })
    socket.write(
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: true,
        keepalive: KEEPALIVE_S,
        clientId: device.id,
        username: device.id,
        password: Buffer.from(device.secret),
      }),
    )
  })
}

async function connectAll(): Promise<number> {
  let next = 0
  let failed = 0
  const worker = async () => {
    while (next < options.devices.length) {
      const device = options.devices[next++]!
      const result = await open(device, options.mode === 'load' ? templatesFor(device) : PLAIN)
      if (typeof result === 'string') {
        failed += 1
        recordError(result)
      } else conns.push(result)
    }
  }
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, options.devices.length) }, worker))
  return failed
}

async function publish(): Promise<LoadResult> {
  goAt = Date.now()
  const cpuAtGo = process.cpuUsage()
  perSecond = []
  publishing = true
  let pacer: NodeJS.Timeout | undefined
  if (options.rate === undefined) {
    for (const conn of conns) refill(conn)
  } else {
    // Open loop at a target rate: every 5 ms each connection catches up with its share, still
    // capped by the window (a real device would not have more than that outstanding either). Each
    // connection has its own phase, spread over one period, as devices do: not all at one instant.
    const perConn = options.rate / Math.max(1, conns.length)
    pacer = setInterval(() => {
      const due = ((Date.now() - goAt) / 1000) * perConn
      for (let i = 0; i < conns.length; i++) refill(conns[i]!, Math.floor(due + i / conns.length) - conns[i]!.sent)
    }, 5)
  }
  await sleep(options.seconds * 1000)
  publishing = false
  clearInterval(pacer)
  const publishMs = Date.now() - goAt
  if (conns.some((c) => c.inflight > 0)) {
    await new Promise<void>((resolve) => {
      allAcked = resolve
      setTimeout(resolve, options.ackTimeoutMs)
    })
  }
  const unacked = conns.reduce((sum, c) => sum + c.inflight, 0)
  const cpu = process.cpuUsage(cpuAtGo)
  const cpuSeconds = (cpu.user + cpu.system) / 1e6
  return { firstTs: Number.isFinite(firstTs) ? firstTs : goAt, lastTs: lastTs || goAt, lastAckMs: Math.max(0, lastAckAt - goAt), cpuSeconds, connected: conns.length, connectFailed: 0, published: stats.published, acked: stats.acked, unacked, errors, errorSamples, perSecond: Array.from(perSecond, (n) => n ?? 0), publishMs }
}

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function closeAll() {
  shuttingDown = true
  for (const conn of conns) conn.socket.end(DISCONNECT)
}

function send(message: LoadMessage): Promise<void> {
  return new Promise((resolve) => process.send!(message, () => resolve()))
}

if (process.send) {
  // The parent gone (crashed, killed) means nobody reads our results: stop.
  process.on('disconnect', () => process.exit(0))
  let connectFailed = 0
  process.on('message', (message: LoadCommand) => {
    void (async () => {
      if (message.cmd === 'run') {
        options = message.options
        connectFailed = await connectAll()
        // Keepalive for idle connections; loaded ones send plenty anyway.
        setInterval(() => {
          for (const conn of conns) if (!conn.blocked) conn.socket.write(PINGREQ)
        }, (KEEPALIVE_S * 1000) / 2).unref()
        await send({ type: 'connected', connected: conns.length, connectFailed, errorSamples: [...errorSamples] })
      } else if (message.cmd === 'go') {
        const result = await publish()
        closeAll()
        await send({ type: 'result', result: { ...result, connectFailed } })
        await sleep(200) // let the DISCONNECTs go out
        process.exit(0)
      } else if (message.cmd === 'stop') {
        closeAll()
        await sleep(200) // let the DISCONNECTs go out
        process.exit(0)
      }
    })().catch((err: Error) => {
      console.error(`bench load generator: ${err.stack ?? err.message}`)
      process.exit(1)
    })
  })
}
