import mqtt from 'mqtt'
import type { Logger } from 'pino'
import type { Device } from '../devices/registry.ts'
import type { Ingest } from './ingest.ts'

/**
 * Ingest as its own process: consumes `devices/+/telemetry` from any MQTT 3.1.1 broker (aedes,
 * Mosquitto, EMQX) with a persistent session, feeding the same pipeline as the in-process path.
 * A QoS 1 message is acknowledged to the broker only once ingest has it durably; until then the
 * broker keeps it in our session and redelivers it after a crash.
 *
 * MQTT.js hands over one message at a time and sends PUBACK when its callback fires, so this
 * path is bounded by one write-ahead-log commit per message; the in-process path batches them.
 */

const TOPIC = 'devices/+/telemetry'
const DEVICE_CACHE_MS = 10_000

export interface MqttSourceOptions {
  url: string
  username?: string
  password?: string
  clientId: string
  lookupDevice: (id: string) => Device | undefined
  ingest: Pick<Ingest, 'accept' | 'refuse'>
  logger: Logger
}

export function createMqttSource(options: MqttSourceOptions) {
  const { logger, ingest } = options
  const devices = new Map<string, { device: Device | undefined; at: number }>()
  const lookup = (id: string, now: number) => {
    const cached = devices.get(id)
    if (cached && now - cached.at < DEVICE_CACHE_MS) return cached.device
    const device = options.lookupDevice(id)
    devices.set(id, { device, at: now })
    return device
  }

  const client = mqtt.connect(options.url, {
    protocolVersion: 4,
    clientId: options.clientId,
    username: options.username,
    password: options.password,
    clean: false,
    reconnectPeriod: 2000,
    connectTimeout: 10_000,
  })

  client.handleMessage = (packet, callback) => {
    const topic = packet.topic
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload)
    const now = Date.now()
    const id = topic.split('/')[1] ?? ''
    const device = lookup(id, now)
    const done = (err?: Error) => callback(err)
    if (!device) return ingest.refuse(id, topic, payload, now, 'unknown-device', `no registered device '${id}'`, done)
    if (device.status !== 'active') return ingest.refuse(id, topic, payload, now, 'device-not-active', `device '${id}' is ${device.status}`, done)
    ingest.accept(device, payload, now, done)
  }

  let connectedOnce = false
  const ready = new Promise<void>((resolve) => {
    client.on('connect', (connack) => {
      connectedOnce = true
      logger.info({ url: options.url, sessionPresent: connack.sessionPresent }, 'connected to the MQTT broker')
      // Subscribing again on a present session is harmless and covers a broker that lost it.
      client.subscribe(TOPIC, { qos: 1 }, (err, granted) => {
        if (err || granted?.[0]?.qos === 128) logger.error({ err, granted }, `the broker refused the subscription to ${TOPIC}`)
        else resolve()
      })
    })
  })
  client.on('error', (err) => logger.error({ err: err.message, url: options.url }, connectedOnce ? 'MQTT connection error' : 'cannot connect to the MQTT broker'))
  client.on('offline', () => logger.warn({ url: options.url }, 'MQTT broker unreachable; reconnecting'))

  return {
    ready,
    isConnected: () => client.connected,
    close: () => new Promise<void>((resolve) => client.end(false, {}, () => resolve())),
  }
}
