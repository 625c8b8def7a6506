import type { Logger } from 'pino'
import { KINDS } from '../devices/kinds.ts'
import type { DeviceRef } from '../devices/registry.ts'
import { createByteSink, writeByte, writeText } from '../devices/byte-sink.ts'
import { seriesPrefix, writeReading } from '../devices/line-protocol.ts'
import { DEFAULT_LIMITS, parseTelemetry, type Rejection, type ValidationLimits, type ValidReading } from '../devices/readings.ts'
import { RECORD_END, RECORD_READING } from './records.ts'
import type { DeadLetter } from './storage/contract.ts'
import type { Wal } from './wal.ts'

/**
 * The ingest hot path, run once per telemetry message: validate, enrich with the device's type
 * and city, encode as line protocol, append to the write-ahead log, acknowledge once durable.
 * No promises or intermediate objects per reading beyond the parsed JSON: lines are written as
 * bytes into one buffer the pipeline reuses, which the write-ahead log copies.
 */


export interface PipelineOptions {
  wal: Wal
  logger: Logger
  limits?: ValidationLimits
  /** Accepted readings, once durable: feeds the live stream and alerts without waiting for storage. */
  onAccepted?: (device: DeviceRef, readings: readonly ValidReading[], receivedAt: number) => void
  /** Rejected readings, once durable in the dead-letter log: tells installers what was wrong. */
  onRejected?: (device: DeviceRef, rejections: readonly Rejection[], receivedAt: number) => void
  /**
   * Dead letters stored per device per clock hour (default 60). Past it they are counted, and one
   * summary dead letter 'over-dead-letter-quota' is stored for that hour instead. A device's
   * metadata key `quota.deadLettersPerHour` (a number) overrides it for that device.
   */
  deadLettersPerHour?: number
}

export interface PipelineCounters {
  messages: number
  readingsAccepted: number
  readingsRejected: number
  rejectedByCode: Record<string, number>
  walErrors: number
  /** Dead letters not stored because the device was over its hourly dead-letter quota. */
  deadLettersOverQuota: number
}

const DEAD_LETTER_PAYLOAD_BYTES = 4096
/** A payload's dead letter lists every reason, up to this many characters, then '… and N more'. */
const DEAD_LETTER_REASON_CHARS = 1000
const HOUR_MS = 3_600_000
export const DEFAULT_DEAD_LETTERS_PER_HOUR = 60
/** Devices whose hourly dead-letter count is kept; past it the table is cleared (memory bound). */
const MAX_QUOTA_DEVICES = 100_000

const describe = (r: Rejection) => (r.index === undefined ? r.reason : `reading ${r.index}: ${r.reason}`)

/**
 * One payload's rejections as one reason: 'reading 0: …; reading 3: …', cut at
 * DEAD_LETTER_REASON_CHARS with '… and N more' for the reasons left out.
 */
export function combinedReason(rejections: readonly Rejection[]): string {
  let reason = ''
  for (let i = 0; i < rejections.length; i++) {
    const part = describe(rejections[i]!)
    const next = reason ? `${reason}; ${part}` : part
    if (next.length > DEAD_LETTER_REASON_CHARS && reason) return `${reason}; … and ${rejections.length - i} more`
    reason = next.length > DEAD_LETTER_REASON_CHARS ? `${next.slice(0, DEAD_LETTER_REASON_CHARS)}…` : next
  }
  return reason
}

function deviceDeadLetterQuota(device: unknown, fallback: number): number {
  const value = (device as { metadata?: Record<string, unknown> }).metadata?.['quota.deadLettersPerHour']
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : fallback
}
/** How often the same device and reason is logged again, with the count in between. */
const REJECTION_LOG_INTERVAL_MS = 60_000

export function createPipeline(options: PipelineOptions) {
  const { wal, logger, limits = DEFAULT_LIMITS, onAccepted, onRejected } = options
  const deadLettersPerHour = options.deadLettersPerHour ?? DEFAULT_DEAD_LETTERS_PER_HOUR
  const counters: PipelineCounters = { messages: 0, readingsAccepted: 0, readingsRejected: 0, rejectedByCode: {}, walErrors: 0, deadLettersOverQuota: 0 }
  // Per device: the clock hour counted and the dead letters stored in it.
  const deadLetterHours = new Map<string, { hour: number; stored: number }>()
  const prefixes = new WeakMap<DeviceRef, { id: string; type: string; city: string; prefix: Buffer }>()
  /** The message being appended, reused for every message (the log copies it). */
  const records = createByteSink()
  const lastLogged = new Map<string, { at: number; suppressed: number }>()

  function prefixFor(device: DeviceRef): Buffer {
    // Per device object (a connection keeps the one it logged in with), checked against what the
    // prefix encodes, so a device moved to another city gets a new one. No key string per reading.
    const cached = prefixes.get(device)
    if (cached !== undefined && cached.type === device.type && cached.city === device.city && cached.id === device.id) return cached.prefix
    const prefix = Buffer.from(seriesPrefix({ type: device.type, city: device.city, deviceId: device.id }))
    prefixes.set(device, { id: device.id, type: device.type, city: device.city, prefix })
    return prefix
  }

  function logRejection(device: DeviceRef, rejection: Rejection, now: number) {
    const key = `${device.id}\n${rejection.code}`
    const seen = lastLogged.get(key)
    if (seen && now - seen.at < REJECTION_LOG_INTERVAL_MS) {
      seen.suppressed += 1
      return
    }
    if (lastLogged.size > 10_000) lastLogged.clear()
    lastLogged.set(key, { at: now, suppressed: 0 })
    logger.warn(
      { device: device.id, code: rejection.code, reason: rejection.reason, index: rejection.index, alsoSinceLastLog: seen?.suppressed },
      'reading rejected',
    )
  }

  /**
   * The dead-letter record to write for this payload: the letter itself while the device is within
   * its hourly quota, one summary the first time past it, nothing after that until the next hour.
   */
  function deadLetterRecord(device: { id: string }, letter: DeadLetter, quota: number): string {
    const hour = Math.floor(letter.receivedAt / HOUR_MS)
    let seen = deadLetterHours.get(device.id)
    if (!seen || seen.hour !== hour) {
      if (deadLetterHours.size >= MAX_QUOTA_DEVICES) deadLetterHours.clear()
      seen = { hour, stored: 0 }
      deadLetterHours.set(device.id, seen)
    }
    seen.stored += 1
    if (seen.stored <= quota) return `D${JSON.stringify(letter)}\n`
    counters.deadLettersOverQuota += 1
    if (seen.stored > quota + 1) return ''
    logger.warn({ device: device.id, quota }, 'device over its dead-letter quota: storing a summary until the hour ends')
    const summary: DeadLetter = {
      ...letter,
      code: 'over-dead-letter-quota',
      reason: `over the quota of ${quota} dead letters per hour: later refused payloads this hour are counted, not stored; this one: ${letter.reason}`.slice(0, DEAD_LETTER_REASON_CHARS),
    }
    return `D${JSON.stringify(summary)}\n`
  }

  return {
    counters,

    /** Records a message that cannot be read at all (for example from a device the registry does not know). */
    refuse(deviceId: string, topic: string, payload: Buffer, receivedAt: number, code: string, reason: string, done: (err?: Error) => void): void {
      counters.messages += 1
      const letter: DeadLetter = { deviceId, receivedAt, topic, code, reason, payload: payload.toString('utf8', 0, Math.min(payload.length, DEAD_LETTER_PAYLOAD_BYTES)) }
      const record = deadLetterRecord({ id: deviceId }, letter, deadLettersPerHour)
      const finish = (err?: Error | null) => {
        if (err) counters.walErrors += 1
        else {
          counters.readingsRejected += 1
          counters.rejectedByCode[code] = (counters.rejectedByCode[code] ?? 0) + 1
        }
        done(err ?? undefined)
      }
      if (!record) return finish()
      records.length = 0
      writeText(records, record)
      wal.append(records.bytes, records.length, 1, finish)
    },

    /**
     * Takes one telemetry message. `done` fires once everything in it, readings and rejections
     * alike, is durable; only then may the message be acknowledged. It is told how many readings
     * the payload held, valid or not. It came on the device's telemetry topic.
     */
    accept(device: DeviceRef, payload: Buffer, receivedAt: number, done: (err?: Error, readings?: number) => void): void {
      counters.messages += 1
      const { readings, rejections } = parseTelemetry(device.type, payload, receivedAt, limits)
      const kind = KINDS[device.type]
      records.length = 0
      if (readings.length) {
        const prefix = prefixFor(device)
        for (const reading of readings) {
          writeByte(records, RECORD_READING)
          writeReading(records, kind, prefix, reading)
          writeByte(records, RECORD_END)
        }
      }
      let count = readings.length
      if (rejections.length) {
        // One dead letter per refused payload, however many readings in it were rejected: every
        // reason in one text, the first rejection's code, the raw payload once.
        const letter: DeadLetter = {
          deviceId: device.id,
          receivedAt,
          topic: `devices/${device.id}/telemetry`,
          code: rejections[0]!.code,
          reason: combinedReason(rejections),
          payload: payload.toString('utf8', 0, Math.min(payload.length, DEAD_LETTER_PAYLOAD_BYTES)),
        }
        const record = deadLetterRecord(device, letter, deviceDeadLetterQuota(device, deadLettersPerHour))
        if (record) {
          writeText(records, record)
          count += 1
        }
      }
      const written = (err?: Error | null) => {
        if (err) {
          counters.walErrors += 1
          return done(err)
        }
        counters.readingsAccepted += readings.length
        // Acknowledge first: what the listeners do must never delay the device's PUBACK. The count
        // of readings in the payload (accepted or not) feeds the broker's per-device quota.
        done(undefined, readings.length + rejections.length)
        if (rejections.length) {
          counters.readingsRejected += rejections.length
          for (const rejection of rejections) {
            counters.rejectedByCode[rejection.code] = (counters.rejectedByCode[rejection.code] ?? 0) + 1
            logRejection(device, rejection, receivedAt)
          }
          onRejected?.(device, rejections, receivedAt)
        }
        if (readings.length) onAccepted?.(device, readings, receivedAt)
      }
      if (count) wal.append(records.bytes, records.length, count, written)
      else written()
    },
  }
}

export type Pipeline = ReturnType<typeof createPipeline>
