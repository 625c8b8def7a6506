import { Compile } from 'typebox/compile'
import { KINDS, TimestampSchema, type DeviceType, type Kind } from './kinds.ts'

/**
 * Parses and validates a telemetry payload: one reading or an array of readings (a backlog).
 * Runs once per MQTT message on the ingest hot path, so the happy path is a JSON.parse, one
 * compiled schema check and a timestamp parse per reading; precise reasons are worked out only
 * for readings that fail.
 */

export const REJECT_CODES = [
  'payload-too-large',
  'invalid-json',
  'not-a-reading',
  'empty-batch',
  'batch-too-large',
  'unknown-field',
  'missing-field',
  'wrong-type',
  'out-of-range',
  'not-finite',
  'invalid-timestamp',
  'timestamp-in-future',
  'timestamp-too-old',
  'inconsistent',
  'no-fields',
  // not about a reading: the device was refused for sending past its quota (broker/quotas.ts)
  'over-quota',
] as const
export type RejectCode = (typeof REJECT_CODES)[number]

export interface Rejection {
  code: RejectCode
  reason: string
  /** Position in a batch payload; undefined when the whole payload is rejected. */
  index?: number
}

export interface ValidReading {
  /** Device time, epoch milliseconds. */
  time: number
  values: Record<string, unknown>
}

export interface ValidationLimits {
  maxPayloadBytes: number
  maxBatch: number
  /** How far ahead of the receive time a device clock may be. */
  maxFutureMs: number
  /** Readings older than this (the retention period) are refused. */
  maxAgeMs: number
}

export const DEFAULT_LIMITS: ValidationLimits = {
  maxPayloadBytes: 256 * 1024,
  maxBatch: 1000,
  maxFutureMs: 5 * 60_000,
  maxAgeMs: 90 * 86_400_000,
}

export interface ParsedPayload {
  readings: readonly ValidReading[]
  rejections: readonly Rejection[]
}

// Shared by every payload that has none (most of them): no empty array per message.
const NO_READINGS: readonly ValidReading[] = Object.freeze([])
const NO_REJECTIONS: readonly Rejection[] = Object.freeze([])

const ISO_TIMESTAMP = new RegExp((TimestampSchema.anyOf[0] as unknown as { pattern: string }).pattern)

const checkers = new Map<DeviceType, ReturnType<typeof Compile>>()
function checkerFor(kind: Kind) {
  let checker = checkers.get(kind.type)
  if (!checker) {
    checker = Compile(kind.readingSchema)
    checkers.set(kind.type, checker)
  }
  return checker
}

export function parseTelemetry(
  type: DeviceType,
  payload: Uint8Array | string,
  receivedAt: number,
  limits: ValidationLimits = DEFAULT_LIMITS,
): ParsedPayload {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength
  if (size > limits.maxPayloadBytes) {
    return whole('payload-too-large', `payload of ${size} bytes is over the limit of ${limits.maxPayloadBytes}`)
  }
  let data: unknown
  try {
    const text =
      typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8')
    data = JSON.parse(text)
  } catch (err) {
    return whole('invalid-json', `invalid JSON: ${(err as Error).message}`)
  }
  const kind = KINDS[type]
  if (Array.isArray(data)) {
    if (data.length === 0) return whole('empty-batch', 'an array payload must hold at least one reading')
    if (data.length > limits.maxBatch) {
      return whole('batch-too-large', `${data.length} readings in one payload is over the limit of ${limits.maxBatch}`)
    }
    const readings: ValidReading[] = []
    const rejections: Rejection[] = []
    for (let i = 0; i < data.length; i++) {
      const result = validateReading(kind, data[i], receivedAt, limits)
      if ('code' in result) rejections.push({ ...result, index: i })
      else readings.push(result)
    }
    return { readings, rejections: rejections.length ? rejections : NO_REJECTIONS }
  }
  const result = validateReading(kind, data, receivedAt, limits)
  return 'code' in result ? { readings: NO_READINGS, rejections: [result] } : { readings: [result], rejections: NO_REJECTIONS }
}

function whole(code: RejectCode, reason: string): ParsedPayload {
  return { readings: NO_READINGS, rejections: [{ code, reason }] }
}

export function validateReading(
  kind: Kind,
  value: unknown,
  receivedAt: number,
  limits: ValidationLimits = DEFAULT_LIMITS,
): ValidReading | Rejection {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { code: 'not-a-reading', reason: `a reading must be a JSON object, got ${describe(value)}` }
  }
  const reading = value as Record<string, unknown>
  if (!checkerFor(kind).Check(reading)) return explain(kind, reading)

  const ts = reading.ts
  const time = typeof ts === 'number' ? ts : Date.parse(ts as string)
  if (!Number.isFinite(time)) return { code: 'invalid-timestamp', reason: `timestamp ${JSON.stringify(ts)} is not a valid date` }
  if (time > receivedAt + limits.maxFutureMs) {
    return { code: 'timestamp-in-future', reason: `timestamp ${new Date(time).toISOString()} is in the future` }
  }
  if (time < receivedAt - limits.maxAgeMs) {
    return {
      code: 'timestamp-too-old',
      reason: `timestamp ${new Date(time).toISOString()} is older than the retention of ${Math.round(limits.maxAgeMs / 86_400_000)} days`,
    }
  }
  if (kind.required.length === 0 && !kind.fieldNames.some((f) => reading[f] !== undefined)) {
    return { code: 'no-fields', reason: `a ${kind.type} reading needs at least one of ${kind.fieldNames.join(', ')}` }
  }
  const inconsistency = kind.check?.(reading)
  if (inconsistency) return { code: 'inconsistent', reason: inconsistency }
  return { time, values: reading }
}

/** Turns a failed schema check into one precise, human reason, checked in a fixed order. */
function explain(kind: Kind, reading: Record<string, unknown>): Rejection {
  const known = new Set(['ts', ...kind.tagNames, ...kind.fieldNames])
  for (const key of Object.keys(reading)) {
    if (!known.has(key)) {
      const hint = nearest(key, [...known])
      return { code: 'unknown-field', reason: `unknown field '${key}'${hint ? ` (did you mean '${hint}'?)` : ''}` }
    }
  }
  for (const key of ['ts', ...kind.tagNames, ...kind.required]) {
    if (reading[key] === undefined) return { code: 'missing-field', reason: `missing field '${key}'` }
  }
  const ts = reading.ts
  if (typeof ts === 'number') {
    if (!Number.isInteger(ts) || ts < 0) return { code: 'invalid-timestamp', reason: `ts: ${ts} is not a whole number of epoch milliseconds` }
  } else if (typeof ts === 'string') {
    if (!ISO_TIMESTAMP.test(ts)) return { code: 'invalid-timestamp', reason: `ts: "${truncate(ts, 40)}" is not an ISO 8601 date-time with a time zone` }
  } else {
    return { code: 'invalid-timestamp', reason: `ts: expected an ISO 8601 string or epoch milliseconds, got ${describe(ts)}` }
  }
  for (const [name, tag] of Object.entries(kind.tags)) {
    const v = reading[name]
    const schema = tag.schema as { type?: string; minimum?: number; maximum?: number; pattern?: string }
    if (schema.type === 'string') {
      if (typeof v !== 'string') return { code: 'wrong-type', reason: `${name}: expected a string, got ${describe(v)}` }
      if (!new RegExp(schema.pattern!).test(v)) return { code: 'out-of-range', reason: `${name}: "${truncate(v, 40)}" does not match ${schema.pattern}` }
      continue
    }
    if (typeof v !== 'number' || !Number.isInteger(v)) return { code: 'wrong-type', reason: `${name}: expected a whole number, got ${describe(v)}` }
    if (v < schema.minimum! || v > schema.maximum!) {
      return { code: 'out-of-range', reason: `${name}: ${v} is outside ${schema.minimum}–${schema.maximum}` }
    }
  }
  for (const [name, spec] of Object.entries(kind.fields)) {
    const v = reading[name]
    if (v === undefined) continue
    if (typeof v !== 'number') return { code: 'wrong-type', reason: `${name}: expected a number, got ${describe(v)}` }
    if (!Number.isFinite(v)) return { code: 'not-finite', reason: `${name}: ${v} is not a finite number` }
    if (spec.integer && !Number.isInteger(v)) return { code: 'wrong-type', reason: `${name}: expected a whole number, got ${v}` }
    if (v < spec.minimum) return { code: 'out-of-range', reason: `${name}: ${v} is below the minimum ${spec.minimum}` }
    if (v > spec.maximum) return { code: 'out-of-range', reason: `${name}: ${v} is above the maximum ${spec.maximum}` }
  }
  return { code: 'wrong-type', reason: 'reading does not match its schema' }
}

function describe(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'string') return `the string "${truncate(v, 40)}"`
  if (typeof v === 'object') return 'an object'
  return `${typeof v} ${String(v)}`
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s
}

/** The known name closest to a misspelt one (edit distance ≤ 2), for "did you mean". */
function nearest(name: string, candidates: string[]): string | undefined {
  let best: string | undefined
  let bestDistance = 3
  const lower = name.toLowerCase().replace(/[_-]/g, '')
  for (const c of candidates) {
    const d = distance(lower, c.toLowerCase())
    if (d < bestDistance) {
      best = c
      bestDistance = d
    }
  }
  return best
}

function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    prev = cur
  }
  return prev[b.length]!
}
