import type { Logger } from 'pino'
import { KINDS } from '../devices/kinds.ts'
import type { DeviceRef } from '../devices/registry.ts'
import { encodeReading, seriesPrefix } from '../devices/line-protocol.ts'
import { DEFAULT_LIMITS, parseTelemetry, type Rejection, type ValidationLimits, type ValidReading } from '../devices/readings.ts'
import type { DeadLetter } from './storage/contract.ts'
import type { Wal } from './wal.ts'

/**
 * The ingest hot path, run once per telemetry message: validate, enrich with the device's type
 * and city, encode as line protocol, append to the write-ahead log, acknowledge once durable.
 * No promises or intermediate objects per reading beyond the parsed JSON and one string.
 */


export interface PipelineOptions {
  wal: Wal
  logger: Logger
  limits?: ValidationLimits
  /** Accepted readings, once durable: feeds the live stream and alerts without waiting for storage. */
  onAccepted?: (device: DeviceRef, readings: ValidReading[], receivedAt: number) => void
  /** Rejected readings, once durable in the dead-letter log: tells installers what was wrong. */
  onRejected?: (device: DeviceRef, rejections: Rejection[], receivedAt: number) => void
}

export interface PipelineCounters {
  messages: number
  readingsAccepted: number
  readingsRejected: number
  rejectedByCode: Record<string, number>
  walErrors: number
}

const DEAD_LETTER_PAYLOAD_BYTES = 4096
/** How often the same device and reason is logged again, with the count in between. */
const REJECTION_LOG_INTERVAL_MS = 60_000

export function createPipeline(options: PipelineOptions) {
  const { wal, logger, limits = DEFAULT_LIMITS, onAccepted, onRejected } = options
  const counters: PipelineCounters = { messages: 0, readingsAccepted: 0, readingsRejected: 0, rejectedByCode: {}, walErrors: 0 }
  const prefixes = new Map<string, string>()
  const lastLogged = new Map<string, { at: number; suppressed: number }>()

  function prefixFor(device: DeviceRef): string {
    // Keyed by everything the prefix encodes, so a device moved to another city gets a new one.
    const key = `${device.id}\n${device.type}\n${device.city}`
    let prefix = prefixes.get(key)
    if (prefix === undefined) {
      prefix = seriesPrefix({ type: device.type, city: device.city, deviceId: device.id })
      prefixes.set(key, prefix)
    }
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

  return {
    counters,

    /** Records a message that cannot be read at all (for example from a device the registry does not know). */
    refuse(deviceId: string, topic: string, payload: Buffer, receivedAt: number, code: string, reason: string, done: (err?: Error) => void): void {
      counters.messages += 1
      const letter: DeadLetter = { deviceId, receivedAt, topic, code, reason, payload: payload.toString('utf8', 0, Math.min(payload.length, DEAD_LETTER_PAYLOAD_BYTES)) }
      wal.append(`D${JSON.stringify(letter)}\n`, 1, (err) => {
        if (err) counters.walErrors += 1
        else {
          counters.readingsRejected += 1
          counters.rejectedByCode[code] = (counters.rejectedByCode[code] ?? 0) + 1
        }
        done(err)
      })
    },

    /**
     * Takes one telemetry message. `done` fires once everything in it, readings and rejections
     * alike, is durable; only then may the message be acknowledged.
     */
    accept(device: DeviceRef, topic: string, payload: Buffer, receivedAt: number, done: (err?: Error) => void): void {
      counters.messages += 1
      const { readings, rejections } = parseTelemetry(device.type, payload, receivedAt, limits)
      const kind = KINDS[device.type]
      let text = ''
      if (readings.length) {
        const prefix = prefixFor(device)
        for (const reading of readings) text += `R${encodeReading(kind, prefix, reading)}\n`
      }
      if (rejections.length) {
        const raw = payload.toString('utf8', 0, Math.min(payload.length, DEAD_LETTER_PAYLOAD_BYTES))
        for (const rejection of rejections) {
          const letter: DeadLetter = {
            deviceId: device.id,
            receivedAt,
            topic,
            code: rejection.code,
            reason: rejection.index === undefined ? rejection.reason : `reading ${rejection.index}: ${rejection.reason}`,
            payload: raw,
          }
          text += `D${JSON.stringify(letter)}\n`
        }
      }
      wal.append(text, readings.length + rejections.length, (err) => {
        if (err) {
          counters.walErrors += 1
          return done(err)
        }
        counters.readingsAccepted += readings.length
        // Acknowledge first: what the listeners do must never delay the device's PUBACK.
        done()
        if (rejections.length) {
          counters.readingsRejected += rejections.length
          for (const rejection of rejections) {
            counters.rejectedByCode[rejection.code] = (counters.rejectedByCode[rejection.code] ?? 0) + 1
            logRejection(device, rejection, receivedAt)
          }
          onRejected?.(device, rejections, receivedAt)
        }
        if (readings.length) onAccepted?.(device, readings, receivedAt)
      })
    },
  }
}

export type Pipeline = ReturnType<typeof createPipeline>
