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
 * - weather stations: 30 days (the operator's 30 d charts);
 * - everything else: 7 days.
 * Kinds other than air quality go every 5 minutes over the last 24 hours and every 10 minutes
 * before (charts and rollups need the shape, not every reading; the 24 h charts are the finest;
 * each reading still describes one reporting interval, e.g. vehicles counted in that minute).
 *
 * A history is sent in two parts: 'recent' (the last 24 hours, from the start of that hour) and
 * 'older' (the days before), so the demo can store every device's last day first.
 */

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS
const RECENT_STEP_S = 300
const OLDER_STEP_S = 600

export type BackfillPart = 'all' | 'recent' | 'older'

export function backfillSpan(type: DeviceType, intervalS: number): { days: number; stepS: number; olderStepS: number } {
  if (type === 'air-quality') return { days: 7, stepS: intervalS, olderStepS: intervalS }
  return { days: type === 'weather' ? 30 : 7, stepS: Math.max(intervalS, RECENT_STEP_S), olderStepS: Math.max(intervalS, OLDER_STEP_S) }
}

/** Where 'recent' starts: the start of the hour 24 hours before `now`. */
export const recentFrom = (now: number): number => Math.floor((now - DAY_MS) / HOUR_MS) * HOUR_MS

/** A device's back-fill readings (all of them or one part), oldest first, ending at `now` (deterministic for a seed). */
export function backfillReadings(device: ModelDevice, seed: number, now: number, part: BackfillPart = 'all'): Reading[] {
  const { days, stepS, olderStepS } = backfillSpan(device.type, device.interval)
  const model = createValueModel(device, seed)
  const split = recentFrom(now)
  const readings: Reading[] = []
  // From the start of the hour `days` ago, so the oldest hour of a 7-day history is complete too.
  // The model is walked over the whole span whichever part is asked (it carries state from one
  // reading to the next), so both parts together are exactly the 'all' history.
  for (let t = Math.floor((now - days * DAY_MS) / HOUR_MS) * HOUR_MS; t <= now; t += (t < split ? olderStepS : stepS) * 1000) {
    const some = model(t)
    if (part === 'all' || (part === 'recent') === t >= split) readings.push(...some)
  }
  return readings
}

export interface BackfillResult {
  devices: number
  readings: number
  messages: number
  ms: number
}

/**
 * Sends one device's backlog payloads, each at QoS 1 after the previous one's PUBACK (what a
 * device does: the broker may slow it down, quotas), and resolves once all are acknowledged;
 * rejects when `signal` aborts.
 */
export type BacklogPublisher = (entry: FleetEntry, payloads: string[], signal?: AbortSignal) => Promise<void>

/**
 * Publishes the back-fill of `fleet` (only the entries given: the caller picks those with nothing
 * stored) and resolves when the broker has acknowledged every message. A few devices at a time.
 * Stopped by `signal`: no device is started after it, the ones under way stop between messages,
 * and it rejects with the signal's reason once none is under way (onDevice has named the
 * devices that were done).
 */
export async function backfillFleet(options: {
  /** How each device's backlog goes out: `ownConnections(mqttUrl)`, or a running fleet's connections. */
  publish: BacklogPublisher
  fleet: FleetEntry[]
  seed: number
  now?: number
  /** Which part of each device's history (default: all of it). */
  part?: BackfillPart
  concurrency?: number
  signal?: AbortSignal
  onDevice?: (done: number, total: number, entry: FleetEntry) => void
}): Promise<BackfillResult> {
  const started = Date.now()
  const now = options.now ?? started
  const result: BackfillResult = { devices: 0, readings: 0, messages: 0, ms: 0 }
  let next = 0
  let failed: { reason: unknown } | undefined
  const worker = async () => {
    while (!failed && next < options.fleet.length) {
      options.signal?.throwIfAborted()
      const entry = options.fleet[next++]!
      const chunks = chunkBacklog(backfillReadings(entry.device, options.seed, now, options.part))
      await options.publish(entry, chunks.map((c) => c.payload), options.signal)
      result.devices++
      result.messages += chunks.length
      for (const c of chunks) result.readings += c.readings
      options.onDevice?.(result.devices, options.fleet.length, entry)
    }
  }
  // A failure stops the other workers at their next device, and every worker settles before
  // this does: none is left publishing behind a rejection.
  const run = () => worker().catch((reason: unknown) => void (failed ??= { reason }))
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 8) }, run))
  if (failed) throw failed.reason
  result.ms = Date.now() - started
  return result
}

/** Each device connects with its own credentials (its own client id), publishes its backlog, and leaves. */
export const ownConnections =
  (mqttUrl: string): BacklogPublisher =>
  async ({ device, secret }, payloads, signal) => {
    const client = connect(mqttUrl, { protocolVersion: 4, clientId: device.id, username: device.id, password: secret, clean: true, reconnectPeriod: 0, connectTimeout: 10_000 })
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve())
        client.once('error', reject)
        client.once('close', () => reject(new Error(`back-fill: ${device.id} could not connect to ${mqttUrl}`)))
      })
      const topic = `devices/${device.id}/telemetry`
      for (const payload of payloads) {
        signal?.throwIfAborted()
        await client.publishAsync(topic, payload, { qos: 1 })
      }
    } finally {
      await client.endAsync()
    }
  }
