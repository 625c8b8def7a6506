import { once } from 'node:events'
import { connect as connectTcp, type Socket } from 'node:net'
import { connect, type IClientOptions, type MqttClient } from 'mqtt'
import { pino } from 'pino'
import { createRegistry, openRegistryDatabase, type Device } from '../devices/registry.ts'
import { randomBytes } from 'node:crypto'
import { createBroker, type Broker, type BrokerDeps, type BrokerLimits } from '../broker/broker.ts'
import { listenBroker, type BrokerListener } from '../broker/listen.ts'

/** Test harness: a broker on 127.0.0.1 port 0 with an in-memory registry. Used by broker/*.test.ts only. */

export const SERVICE = { username: 'piazza-service', password: 'service-password-for-tests' }

export interface Telemetry {
  device: Device
  payload: string
  receivedAt: number
  done: (err?: Error) => void
}

export async function startBroker(limits: Partial<BrokerLimits> = {}, extra: Partial<BrokerDeps> = {}) {
  const db = openRegistryDatabase(':memory:')
  const registry = createRegistry({ db, secretKey: randomBytes(32) })
  const telemetry: Telemetry[] = []
  /** Replaceable: by default every reading is acknowledged at once. */
  const hooks = {
    onTelemetry: (t: Telemetry) => t.done(),
    /** Runs after the registry has checked a login and before the broker sees the result. */
    afterCheck: async () => {},
  }
  const statuses: { deviceId: string; status: string }[] = []
  const broker: Broker = await createBroker({
    registry: {
      onChange: (listener) => registry.onChange(listener),
      get: (id) => registry.get(id),
      async checkCredentials(id, secret) {
        const check = await registry.checkCredentials(id, secret)
        await hooks.afterCheck()
        return check
      },
    },
    serviceAccounts: [SERVICE],
    limits,
    logger: pino({ level: 'silent' }),
    onTelemetry(device, payload, receivedAt, done) {
      const t = { device, payload: payload.toString('utf8'), receivedAt, done }
      telemetry.push(t)
      hooks.onTelemetry(t)
    },
    onStatus: (device, status) => statuses.push({ deviceId: device.id, status }),
    ...extra,
  })
  const listener: BrokerListener = await listenBroker(broker, { host: '127.0.0.1', port: 0, wsPort: 0 })
  const clients: MqttClient[] = []
  const sockets: Socket[] = []

  async function addDevice(id: string, extra: { metadata?: Record<string, string | number | boolean>; interval?: number } = {}) {
    const { secret } = await registry.add({ id, type: 'air-quality', city: 'firenze', name: id, ...extra })
    return { id, secret }
  }

  /** Connects and resolves on CONNACK 0; rejects with mqtt.js' error (its `code` is the return code). */
  function mqttConnect(options: IClientOptions, url = `mqtt://127.0.0.1:${listener.port}`): Promise<MqttClient> {
    const client = connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000, ...options })
    clients.push(client)
    return new Promise((resolve, reject) => {
      client.once('connect', () => resolve(client))
      client.once('error', reject)
      client.once('close', () => reject(new Error('closed before CONNACK')))
    })
  }

  function deviceConnect(device: { id: string; secret: string }, options: IClientOptions = {}) {
    return mqttConnect({ clientId: device.id, username: device.id, password: device.secret, ...options })
  }

  async function rawSocket(): Promise<Socket> {
    const socket = connectTcp(listener.port, '127.0.0.1')
    sockets.push(socket)
    socket.on('error', () => {})
    await once(socket, 'connect')
    return socket
  }

  async function stop() {
    for (const client of clients) client.end(true)
    for (const socket of sockets) socket.destroy()
    await listener.close()
    await broker.close()
    db.close()
  }

  return { broker, listener, registry, telemetry, statuses, hooks, addDevice, mqttConnect, deviceConnect, rawSocket, stop }
}

export type TestBroker = Awaited<ReturnType<typeof startBroker>>

/** Resolves when the connection closes: call it before whatever should close it. */
export function closed(client: MqttClient | Socket): Promise<void> {
  return new Promise((resolve) => client.once('close', () => resolve()))
}

export function publish(client: MqttClient, topic: string, payload: string | Buffer, options: { qos?: 0 | 1; retain?: boolean } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    client.publish(topic, payload, { qos: options.qos ?? 1, retain: options.retain ?? false }, (err) => (err ? reject(err) : resolve()))
  })
}
