import { connect } from 'mqtt'
import type { DeviceType } from '../devices/kinds.ts'
import type { FleetEntry } from './fleet.ts'
import { chunkBacklog } from './simulator.ts'
import { createValueModel, type ModelDevice, type Reading } from './values.ts'

/**
 * The demo's history: devices with nothing stored publish the last days as a backlog, JSON arrays
 * over MQTT as a real device does after an outage, so the readings take the real ingest path
 * (quotas, validation, WAL, store, rollups, the public snapshots' feed).
 *
 * What each device sends stays within its quota's backlog burst (broker/quotas.ts: 8 days of
 * readings at its interval):
 * - air-quality stations: 7 days at their own interval, so every hour is complete for the index
 *   (devices/aqi.ts needs 75 % of the readings the interval promises);
 * - weather stations: 30 days every 5 minutes (the operator's 30 d charts);
 * - everything else: 7 days every 5 minutes (charts and rollups need the shape, not every reading;
 *   each reading still describes one reporting interval, e.g. vehicles counted in that minute).
 */

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS
const COARSE_S = 300

export function backfillSpan(type: DeviceType, intervalS: number): { days: number; stepS: number } {
  if (type === 'air-quality') return { days: 7, stepS: intervalS }
  return { days: type === 'weather' ? 30 : 7, stepS: Math.max(intervalS, COARSE_S) }
}

/** A device's back-fill readings, oldest first, ending at `now` (deterministic for a seed). */
export function backfillReadings(device: ModelDevice, seed: number, now: number): Reading[] {
  const { days, stepS } = backfillSpan(device.type, device.interval)
  const model = createValueModel(device, seed)
  const step = stepS * 1000
  const readings: Reading[] = []
  // From the start of the hour `days` ago, so the oldest hour of a 7-day history is complete too.
  for (let t = Math.floor((now - days * DAY_MS) / HOUR_MS) * HOUR_MS; t <= now; t += step) readings.push(...model(t))
  return readings
}

export interface BackfillResult {
  devices: number
  readings: number
  messages: number
  ms: number
}

/**
 * Publishes the back-fill of `fleet` (only the entries given: the caller picks those with nothing
 * stored) and resolves when the broker has acknowledged every message. A few devices at a time.
 */
export async function backfillFleet(options: {
  mqttUrl: string
  fleet: FleetEntry[]
  seed: number
  now?: number
  concurrency?: number
  onDevice?: (done: number, total: number) => void
}): Promise<BackfillResult> {
  const started = Date.now()
  const now = options.now ?? started
  const result: BackfillResult = { devices: 0, readings: 0, messages: 0, ms: 0 }
  let next = 0
  const worker = async () => {
    while (next < options.fleet.length) {
      const entry = options.fleet[next++]!
      const chunks = chunkBacklog(backfillReadings(entry.device, options.seed, now))
      await publishBacklog(options.mqttUrl, entry, chunks.map((c) => c.payload))
      result.devices++
      result.messages += chunks.length
      for (const c of chunks) result.readings += c.readings
      options.onDevice?.(result.devices, options.fleet.length)
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 8) }, worker))
  result.ms = Date.now() - started
  return result
}

/** One device: connect with its own credentials, publish each payload at QoS 1, wait for every PUBACK, leave. */
async function publishBacklog(mqttUrl: string, { device, secret }: FleetEntry, payloads: string[]): Promise<void> {
  const client = connect(mqttUrl, { protocolVersion: 4, clientId: device.id, username: device.id, password: secret, clean: true, reconnectPeriod: 0, connectTimeout: 10_000 })
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve())
      client.once('error', reject)
      client.once('close', () => reject(new Error(`back-fill: ${device.id} could not connect to ${mqttUrl}`)))
    })
    const topic = `devices/${device.id}/telemetry`
    // Sequential: the broker may slow a device down (quotas); one message in flight is what a device does.
    for (const payload of payloads) await client.publishAsync(topic, payload, { qos: 1 })
  } finally {
    await client.endAsync()
  }
}
