import { connect, type MqttClient } from 'mqtt'
import type { Logger } from 'pino'
import { KINDS, type DeviceType } from '../devices/kinds.ts'
import type { Device } from '../devices/registry.ts'
import type { FleetEntry } from './fleet.ts'
import { createValueModel, hashInts, hashString, mulberry32, type Reading, type ValueModel } from './values.ts'

/**
 * Runs a fleet of simulated devices against an MQTT broker: one connection per device, each
 * publishing its own readings at its own interval, buffering while offline and sending the
 * backlog on reconnect, with optional faults to exercise the ingest path.
 */

export interface SimulatorFaults {
  /** Chance, per publish, of also sending one malformed payload. */
  badPayloadRate?: number
  /** How many devices log in with a wrong secret. */
  wrongCredentials?: number
  /** Every this many seconds, one device sends a burst of readings, one message each. */
  burstEverySeconds?: number
  /** Readings per burst; 50 by default. */
  burstSize?: number
  /** How many devices stop publishing (but stay connected) after a few intervals. */
  silentDevices?: number
}

export interface SimulatorStats {
  elapsedMs: number
  devices: number
  /** Devices connected right now. */
  connected: number
  /** Readings produced by the value models. */
  generated: number
  /** Readings handed to MQTT (single, batch or backlog payloads). */
  published: number
  /** Readings whose message the broker acknowledged (PUBACK). */
  acked: number
  /** Readings whose publish failed (client closed before the ack). */
  failed: number
  /** Readings waiting in offline buffers right now. */
  buffered: number
  /** Readings thrown away because an offline buffer was full. */
  dropped: number
  /** Telemetry messages sent. */
  messages: number
  /** Of those, backlog messages (JSON arrays sent on reconnect). */
  backlogs: number
  badPayloads: number
  /** Devices the broker refused to log in, counted once per device. */
  refusedLogins: number
  /** Network-level connection errors (broker down, reset, timeout). */
  connectionErrors: number
  bursts: number
  /** Devices that have gone silent (fault). */
  silent: number
}

export type SimulatorLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>

export interface SimulatorDeps {
  mqttUrl: string
  fleet: FleetEntry[]
  /** 1 = each device at its own interval; 10 = ten times as often. */
  rateMultiplier?: number
  /** Overrides every device's interval, seconds (fractions allowed, for tests). */
  intervalSeconds?: number
  /** Stops by itself after this long. */
  durationMs?: number
  seed: number
  faults?: SimulatorFaults
  logger: SimulatorLogger
  onProgress?: (stats: SimulatorStats) => void
  /** How often onProgress is called; 5 s by default. */
  progressEveryMs?: number
  /** New connections per second while starting, so a big fleet doesn't stampede the broker. */
  connectRate?: number
  /** Readings each device keeps while offline; the oldest go first. */
  bufferSize?: number
}

export interface Simulator {
  /** Resolves once every device has started connecting. */
  start(): Promise<void>
  stats(): SimulatorStats
  /** Which devices carry a fault, for logs and tests. */
  faulty: { wrongCredentials: string[]; silent: string[] }
  /**
   * Publishes one message (QoS 1) over a device's own live connection, once it is connected, and
   * resolves on its PUBACK: a back-fill sent while the device publishes live (a second
   * connection with the same client id would take the first one over). Not counted in stats().
   * Rejects when `signal` aborts or the simulator closes; call it only after start() resolved.
   */
  publishAs(deviceId: string, payload: string, signal?: AbortSignal): Promise<void>
  /** Resolves when the simulator has stopped (durationMs elapsed or close()). */
  stopped: Promise<void>
  close(): Promise<void>
}

/** Ingest limits (devices/readings.ts DEFAULT_LIMITS): ≤ 1,000 readings and 256 KiB per payload. */
const MAX_BATCH = 1000
const MAX_PAYLOAD_BYTES = 200 * 1024
const REFUSED_RETRY_MS = 30_000

interface SimDevice {
  device: Device
  secret: string
  model: ValueModel
  rng: () => number
  intervalMs: number
  buffer: Reading[]
  client?: MqttClient
  timer?: NodeJS.Timeout
  retry?: NodeJS.Timeout
  online: boolean
  refused: boolean
  errorLogged: boolean
  silentAfter?: number
  silenced: boolean
}

export function createSimulator(deps: SimulatorDeps): Simulator {
  const { logger, seed } = deps
  const faults = deps.faults ?? {}
  const rate = deps.rateMultiplier ?? 1
  if (!(rate > 0)) throw new Error(`rateMultiplier must be above 0, got ${rate}`)
  if (deps.intervalSeconds !== undefined && !(deps.intervalSeconds > 0)) throw new Error(`intervalSeconds must be above 0`)
  const bufferSize = deps.bufferSize ?? 1000
  const rng = mulberry32(hashInts(seed, 0x51a))

  const counters = {
    generated: 0,
    published: 0,
    acked: 0,
    failed: 0,
    dropped: 0,
    messages: 0,
    backlogs: 0,
    badPayloads: 0,
    refusedLogins: 0,
    connectionErrors: 0,
    bursts: 0,
    silent: 0,
  }
  let connected = 0
  let startedAt = Date.now()
  let closing = false
  const closingSignal = new AbortController()
  const timers: NodeJS.Timeout[] = []

  const devices: SimDevice[] = deps.fleet.map(({ device, secret }) => ({
    device,
    secret,
    model: createValueModel(device, seed),
    rng: mulberry32(hashInts(seed, hashString(device.id), 0x5e)),
    intervalMs: ((deps.intervalSeconds ?? device.interval) * 1000) / rate,
    buffer: [],
    online: false,
    refused: false,
    errorLogged: false,
    silenced: false,
  }))

  // Faulty devices are a seeded draw without overlap: wrong secrets first, then silent ones.
  const order = devices.map((_, i) => i)
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1))
    ;[order[i], order[j]] = [order[j]!, order[i]!]
  }
  const wrong = order.slice(0, Math.min(devices.length, faults.wrongCredentials ?? 0))
  const silent = order.slice(wrong.length, wrong.length + Math.min(devices.length - wrong.length, faults.silentDevices ?? 0))
  for (const i of wrong) devices[i]!.secret = `wrong-${devices[i]!.secret.slice(0, 8)}`
  for (const i of silent) devices[i]!.silentAfter = (3 + 5 * devices[i]!.rng()) * devices[i]!.intervalMs
  const faulty = { wrongCredentials: wrong.map((i) => devices[i]!.device.id), silent: silent.map((i) => devices[i]!.device.id) }

  let resolveStopped!: () => void
  const stopped = new Promise<void>((resolve) => (resolveStopped = resolve))

  const byId = new Map(devices.map((d) => [d.device.id, d]))

  const telemetryTopic = (d: SimDevice) => `devices/${d.device.id}/telemetry`
  const statusTopic = (d: SimDevice) => `devices/${d.device.id}/status`

  function publish(d: SimDevice, payload: string, readings: number) {
    counters.published += readings
    counters.messages++
    d.client!.publish(telemetryTopic(d), payload, { qos: 1 }, (err) => {
      if (err) counters.failed += readings
      else counters.acked += readings
    })
  }

  function buffer(d: SimDevice, readings: Reading[]) {
    d.buffer.push(...readings)
    const excess = d.buffer.length - bufferSize
    if (excess > 0) {
      d.buffer.splice(0, excess)
      counters.dropped += excess
    }
  }

  /** Sends the offline backlog as JSON arrays within the ingest's batch and size limits. */
  function flush(d: SimDevice) {
    for (const chunk of chunkBacklog(d.buffer)) {
      publish(d, chunk.payload, chunk.readings)
      counters.backlogs++
    }
    d.buffer = []
  }

  function tick(d: SimDevice) {
    if (d.silentAfter !== undefined && Date.now() - startedAt >= d.silentAfter) {
      clearInterval(d.timer)
      if (!d.silenced) {
        d.silenced = true
        counters.silent++
        logger.info({ device: d.device.id }, 'simulated fault: device goes silent')
      }
      return
    }
    const readings = d.model(Date.now())
    counters.generated += readings.length
    // Publish only while connected: offline readings go to our own buffer, never to mqtt.js's
    // offline queue, so nothing is sent twice when the connection comes back.
    if (!d.online || !d.client?.connected) {
      buffer(d, readings)
      return
    }
    publish(d, JSON.stringify(readings.length === 1 ? readings[0] : readings), readings.length)
    if (faults.badPayloadRate && d.rng() < faults.badPayloadRate) {
      d.client.publish(telemetryTopic(d), badPayload(d.device.type, readings[0]!, d.rng), { qos: 1 })
      counters.badPayloads++
    }
  }

  function burst() {
    const candidates = devices.filter((d) => d.online && !d.silenced && d.silentAfter === undefined)
    if (candidates.length === 0) return
    const d = candidates[Math.floor(rng() * candidates.length)]!
    const size = faults.burstSize ?? 50
    const now = Date.now()
    counters.bursts++
    // A misbehaving device: many readings 100 ms apart, each as its own message.
    for (let i = 0; i < size; i++) {
      const readings = d.model(now - (size - 1 - i) * 100)
      counters.generated += readings.length
      publish(d, JSON.stringify(readings.length === 1 ? readings[0] : readings), readings.length)
    }
  }

  function startDevice(d: SimDevice) {
    const id = d.device.id
    const client = connect(deps.mqttUrl, {
      protocolVersion: 4,
      clientId: id,
      username: id,
      password: d.secret,
      clean: true,
      keepalive: 30,
      // Jittered per device, so a broker restart isn't met by every device in the same instant.
      reconnectPeriod: 1000 + Math.floor(d.rng() * 1000),
      connectTimeout: 10_000,
      queueQoSZero: false,
      will: { topic: statusTopic(d), payload: Buffer.from('offline'), qos: 1, retain: false },
    })
    d.client = client
    client.on('connect', () => {
      if (!d.online) connected++
      d.online = true
      if (d.refused) logger.info({ device: id }, 'device logged in after an earlier refusal')
      client.publish(statusTopic(d), 'online', { qos: 1 })
      if (d.buffer.length > 0) flush(d)
    })
    client.on('close', () => {
      if (d.online) connected--
      d.online = false
    })
    client.on('error', (err: Error & { code?: unknown }) => {
      if (typeof err.code === 'number' && err.message.startsWith('Connection refused')) {
        // mqtt.js does not retry after a refused CONNACK; retry slowly, as a misconfigured device would.
        if (!d.refused) {
          d.refused = true
          counters.refusedLogins++
          logger.warn({ device: id, reason: err.message }, 'broker refused device login')
        }
        if (!closing) {
          clearTimeout(d.retry)
          d.retry = setTimeout(() => !closing && client.reconnect(), REFUSED_RETRY_MS * (1 + 0.5 * d.rng()))
        }
        return
      }
      // Broker down or unreachable: mqtt.js keeps reconnecting; say so once per device.
      counters.connectionErrors++
      if (!d.errorLogged) {
        d.errorLogged = true
        logger.debug({ device: id, err: err.message }, 'connection error, will retry')
      }
    })
    // Readings start at a random phase within the interval, so devices don't tick in lockstep.
    d.timer = setTimeout(() => {
      tick(d)
      if (!closing && !d.silenced) d.timer = setInterval(() => tick(d), d.intervalMs)
    }, d.rng() * d.intervalMs)
  }

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

  async function start() {
    startedAt = Date.now()
    if (deps.durationMs !== undefined) timers.push(setTimeout(() => void close(), deps.durationMs))
    if (deps.onProgress) {
      const every = deps.progressEveryMs ?? 5000
      timers.push(setInterval(() => deps.onProgress!(stats()), every))
    }
    if (faults.burstEverySeconds) timers.push(setInterval(burst, faults.burstEverySeconds * 1000))
    logger.info({ devices: devices.length, url: deps.mqttUrl, faulty }, 'simulator starting')
    // Paced against the clock rather than by fixed sleeps, so timer granularity doesn't slow it.
    const gap = 1000 / (deps.connectRate ?? 100)
    for (let i = 0; i < devices.length && !closing; i++) {
      const wait = startedAt + i * gap - Date.now()
      if (wait > 0) await sleep(wait)
      if (!closing) startDevice(devices[i]!)
    }
  }

  async function publishAs(deviceId: string, payload: string, signal?: AbortSignal): Promise<void> {
    const d = byId.get(deviceId)
    if (!d) throw new Error(`simulator: no device '${deviceId}' in this fleet`)
    if (!d.client) throw new Error(`simulator: device '${deviceId}' has not started; publishAs() needs start() to have resolved`)
    const stop = signal ? AbortSignal.any([signal, closingSignal.signal]) : closingSignal.signal
    stop.throwIfAborted()
    // Offline, wait for the connection rather than leave the message in mqtt.js's offline queue:
    // the caller paces by our answer, and a closing simulator must not be left with a queue.
    if (!d.client.connected) await connection(d.client, stop)
    await d.client.publishAsync(telemetryTopic(d), payload, { qos: 1 })
  }

  function stats(): SimulatorStats {
    let buffered = 0
    for (const d of devices) buffered += d.buffer.length
    return { elapsedMs: Date.now() - startedAt, devices: devices.length, connected, buffered, ...counters }
  }

  let closed: Promise<void> | undefined
  function close(): Promise<void> {
    closed ??= (async () => {
      closing = true
      closingSignal.abort(new Error('simulator closed'))
      for (const t of timers) clearInterval(t)
      await Promise.all(
        devices.map(async (d) => {
          clearInterval(d.timer)
          clearTimeout(d.retry)
          const client = d.client
          if (!client) return
          // A clean disconnect suppresses the will, so say "offline" ourselves first.
          if (client.connected) client.publish(statusTopic(d), 'offline', { qos: 1 })
          await new Promise<void>((resolve) => {
            const force = setTimeout(() => client.end(true, () => resolve()), 3000)
            client.end(!client.connected, () => {
              clearTimeout(force)
              resolve()
            })
          })
        }),
      )
      logger.info(stats(), 'simulator stopped')
      resolveStopped()
    })()
    return closed
  }

  return { start, stats, faulty, publishAs, stopped, close }
}

/** Resolves at the client's next connect; rejects with the signal's reason if it aborts first. */
function connection(client: MqttClient, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const connected = () => {
      signal.removeEventListener('abort', aborted)
      resolve()
    }
    const aborted = () => {
      client.removeListener('connect', connected)
      reject(signal.reason)
    }
    client.once('connect', connected)
    signal.addEventListener('abort', aborted, { once: true })
  })
}

/** Splits a backlog into JSON array payloads of at most maxBatch readings and about maxBytes each. */
export function chunkBacklog(readings: Reading[], maxBatch = MAX_BATCH, maxBytes = MAX_PAYLOAD_BYTES): { payload: string; readings: number }[] {
  const chunks: { payload: string; readings: number }[] = []
  let parts: string[] = []
  let bytes = 2
  for (const reading of readings) {
    const json = JSON.stringify(reading)
    const size = Buffer.byteLength(json) + 1
    if (parts.length > 0 && (parts.length >= maxBatch || bytes + size > maxBytes)) {
      chunks.push({ payload: `[${parts.join(',')}]`, readings: parts.length })
      parts = []
      bytes = 2
    }
    parts.push(json)
    bytes += size
  }
  if (parts.length > 0) chunks.push({ payload: `[${parts.join(',')}]`, readings: parts.length })
  return chunks
}

export type BadPayloadVariant = 'invalid-json' | 'unknown-field' | 'out-of-range' | 'future-timestamp'
const VARIANTS: BadPayloadVariant[] = ['invalid-json', 'unknown-field', 'out-of-range', 'future-timestamp']

/** One malformed payload, built from a good reading so everything else about it is plausible. */
export function badPayload(type: DeviceType, reading: Reading, rng: () => number, variant?: BadPayloadVariant): string {
  switch (variant ?? VARIANTS[Math.floor(rng() * VARIANTS.length)]!) {
    case 'invalid-json':
      return JSON.stringify(reading).slice(0, -3)
    case 'unknown-field':
      // The classic typo: pm2_5 for pm25.
      return JSON.stringify({ ...reading, pm2_5: 12.4 })
    case 'out-of-range': {
      if (type === 'air-quality') return JSON.stringify({ ...reading, pm10: -4.2 })
      if (type === 'weather') return JSON.stringify({ ...reading, relativeHumidity: 140 })
      const [name, spec] = Object.entries(KINDS[type].fields)[0]!
      return JSON.stringify({ ...reading, [name]: spec.minimum - 1 })
    }
    case 'future-timestamp':
      return JSON.stringify({ ...reading, ts: new Date(Date.now() + 2 * 86_400_000).toISOString() })
  }
}
