import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'

/**
 * The fault report's honest fleet, in a worker thread of its own: each device publishes a QoS 1
 * reading every 500 ms and the PUBACK latencies are taken on this thread. The attackers run on
 * the report's main thread; had they shared an event loop with the fleet, their own work would
 * have been measured as piazza's latency.
 */

export interface FleetDevice {
  id: string
  secret: string
}

interface FleetData {
  port: number
  devices: FleetDevice[]
}

type ToWorker = { type: 'start' } | { type: 'stop-window' } | { type: 'stop' }
type FromWorker =
  | { type: 'ready' }
  | { type: 'error'; message: string }
  | { type: 'window'; latencies: number[]; lagP99Ms: number }
  | { type: 'stopped'; failures: number }

export interface HonestFleet {
  /** PUBACK latencies (ms) while `during` runs, and the fleet thread's event-loop delay p99. */
  measure(during: Promise<unknown> | number): Promise<{ latencies: number[]; lagP99Ms: number }>
  /** Stops publishing, ends the clients and the thread; the publishes that failed. */
  stop(): Promise<number>
}

export async function startHonestFleet(data: FleetData): Promise<HonestFleet> {
  // A worker does not inherit the main thread's module hooks: it registers tsx, then loads this file.
  const source = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}) })`
  const worker = new Worker(source, { eval: true, workerData: data })
  worker.on('error', (err) => console.error(`honest fleet thread: ${err.message}`))
  const next = (type: FromWorker['type']) =>
    new Promise<FromWorker>((resolve, reject) => {
      const onMessage = (m: FromWorker) => {
        if (m.type === 'error') return done(() => reject(new Error(`honest fleet: ${m.message}`)))
        if (m.type === type) done(() => resolve(m))
      }
      const onExit = (code: number) => done(() => reject(new Error(`honest fleet thread exited (${code})`)))
      const done = (settle: () => void) => {
        worker.off('message', onMessage)
        worker.off('exit', onExit)
        settle()
      }
      worker.on('message', onMessage)
      worker.on('exit', onExit)
    })
  const send = (m: ToWorker) => worker.postMessage(m)
  await next('ready')
  return {
    async measure(during) {
      const answer = next('window')
      send({ type: 'start' })
      if (typeof during === 'number') await sleep(during)
      else await during
      send({ type: 'stop-window' })
      const m = (await answer) as Extract<FromWorker, { type: 'window' }>
      return { latencies: m.latencies, lagP99Ms: m.lagP99Ms }
    },
    async stop() {
      const answer = next('stopped')
      send({ type: 'stop' })
      const m = (await answer) as Extract<FromWorker, { type: 'stopped' }>
      await worker.terminate()
      return m.failures
    },
  }
}

const reading = () => JSON.stringify({ ts: Date.now(), pm25: 10 + Math.round(Math.random() * 20), pm10: 30 })

/** A device's MQTT connection (3.1.1, no reconnection); resolves on CONNACK, rejects on a refusal. */
export function deviceClient(port: number, id: string, secret: string, extra: IClientOptions = {}): Promise<MqttClient> {
  const client = mqtt.connect({ host: '127.0.0.1', port, clientId: id, username: id, password: secret, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 30_000, ...extra })
  return new Promise((resolve, reject) => {
    client.once('connect', () => {
      client.off('error', reject)
      client.on('error', () => {})
      resolve(client)
    })
    client.once('error', reject)
  })
}

async function runFleet(port: number, devices: FleetDevice[]) {
  const post = (m: FromWorker) => parentPort!.postMessage(m)
  let clients: { id: string; client: MqttClient }[]
  try {
    clients = await Promise.all(devices.map(async (d) => ({ id: d.id, client: await deviceClient(port, d.id, d.secret) })))
  } catch (err) {
    post({ type: 'error', message: (err as Error).message })
    return
  }
  let window: number[] | undefined
  let stopped = false
  let failures = 0
  const lag = monitorEventLoopDelay({ resolution: 10 })
  const loops = clients.map(async ({ id, client }, i) => {
    await sleep((i * 500) / clients.length)
    while (!stopped) {
      const started = performance.now()
      await new Promise<void>((resolve) =>
        client.publish(`devices/${id}/telemetry`, reading(), { qos: 1 }, (err) => {
          if (err) failures += 1
          else window?.push(performance.now() - started)
          resolve()
        }),
      )
      await sleep(500)
    }
  })
  parentPort!.on('message', async (m: ToWorker) => {
    if (m.type === 'start') {
      window = []
      lag.reset()
      lag.enable()
    } else if (m.type === 'stop-window') {
      lag.disable()
      post({ type: 'window', latencies: window ?? [], lagP99Ms: lag.percentile(99) / 1e6 })
      window = undefined
    } else {
      stopped = true
      await Promise.all(loops)
      await Promise.all(clients.map(({ client }) => client.endAsync()))
      post({ type: 'stopped', failures })
    }
  })
  post({ type: 'ready' })
}

if (!isMainThread && parentPort) {
  const { port, devices } = workerData as FleetData
  void runFleet(port, devices)
}
