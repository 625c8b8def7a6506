import { InfluxDB, Point } from '@influxdata/influxdb-client'
import { Aedes } from 'aedes'
import mqtt from 'mqtt'
import { createServer } from 'node:net'

/**
 * The naive baseline the benchmark compares Piazza with, run as its own child process (forked
 * with IPC): a bare aedes broker (default authenticate: everyone gets in) and, in the same
 * process, an MQTT.js subscriber that turns each message into one Point for the client
 * library's WriteApi with its DEFAULT settings (batches of 1,000 points, flush every 60 s,
 * gzip, in-memory retries). This is the pipeline of the performance anchors, at QoS 1: aedes
 * acknowledges the publisher as soon as it has routed the message, and MQTT.js acknowledges
 * aedes on receipt, so "acknowledged" promises nothing about storage.
 *
 * Options arrive as one JSON argument: {influxUrl, database}. We answer {type:'ready', port}
 * once the subscriber is subscribed. SIGTERM (or the parent going away) closes the WriteApi,
 * which flushes what it still holds, and exits.
 */

export type BaselineMessage = { type: 'ready'; port: number }
/** It knows nothing of device types: every reading goes to one measurement (bench.ts counts there). */
const MEASUREMENT = 'telemetry'

const { influxUrl, database } = JSON.parse(process.argv[2] ?? '{}') as { influxUrl: string; database: string }

const writeApi = new InfluxDB({ url: influxUrl }).getWriteApi('', '', 'ms')
// The InfluxDB 1.x write endpoint, as a v1 user of the client would point it.
writeApi.path = `/write?${new URLSearchParams({ db: database, precision: 'ms' })}`

const broker = await Aedes.createBroker()
const server = createServer(broker.handle)
const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)))

const subscriber = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'baseline-ingest', clean: true, reconnectPeriod: 1000 })
subscriber.on('message', (topic, message) => {
  try {
    const reading = JSON.parse(message.toString()) as Record<string, number | string>
    const point = new Point(MEASUREMENT).tag('device', topic.split('/')[1] ?? 'unknown').timestamp(Number(reading.ts))
    for (const [field, value] of Object.entries(reading)) {
      if (field === 'ts') continue
      if (typeof value === 'number') point.floatField(field, value)
      else point.tag(field, String(value)) // a bus's route
    }
    writeApi.writePoint(point)
  } catch (err) {
    console.error(`baseline: bad message on ${topic}: ${(err as Error).message}`)
  }
})
await subscriber.subscribeAsync('devices/+/telemetry', { qos: 1 })

let stopping = false
async function stop() {
  if (stopping) return
  stopping = true
  // Bounded: the WriteApi may be retrying against a failing server.
  setTimeout(() => process.exit(1), 30_000).unref()
  await subscriber.endAsync()
  await writeApi.close().catch((err: Error) => console.error(`baseline: final flush failed: ${err.message}`))
  server.close()
  broker.close()
  process.exit(0)
}
process.on('SIGTERM', () => void stop())
process.on('SIGINT', () => void stop())
process.on('disconnect', () => void stop())
process.send?.({ type: 'ready', port } satisfies BaselineMessage)
