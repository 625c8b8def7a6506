import { createByteSink, reserve, type ByteSink } from './byte-sink.ts'
import type { Kind } from './kinds.ts'
import type { ValidReading } from './readings.ts'

/**
 * InfluxDB line protocol: the one serialisation of an accepted reading, from the write-ahead log
 * to either store. Written directly as bytes (no Point objects, no strings) because it runs per
 * reading on the ingest hot path.
 */

export interface SeriesIdentity {
  type: string
  city: string
  deviceId: string
}

/** The constant start of every line a device writes: measurement and the city and device tags. */
export function seriesPrefix(id: SeriesIdentity): string {
  return `${escapeKey(id.type)},city=${escapeKey(id.city)},device=${escapeKey(id.deviceId)}`
}

/** The most bytes writeNumber writes: String() of a double is at most 24 characters ('-1.2345678901234567e-100'). */
const NUMBER_BYTES = 25
const SPACE = 0x20
const COMMA = 0x2c
const MINUS = 0x2d
const DOT = 0x2e
const ZERO = 0x30

interface KindKeys {
  /** `,tag=` per tag name, in kind.tagNames' order. */
  tags: Uint8Array[]
  /** `name=` per field name, in kind.fieldNames' order. */
  fields: Uint8Array[]
  /** Most bytes of everything after the tags: every field, the time, their separators. */
  tailBytes: number
}
const keysByKind = new WeakMap<Kind, KindKeys>()

function keysOf(kind: Kind): KindKeys {
  let keys = keysByKind.get(kind)
  if (keys === undefined) {
    const fields = kind.fieldNames.map((name) => Buffer.from(`${escapeKey(name)}=`))
    let tailBytes = 1 + NUMBER_BYTES
    for (const key of fields) tailBytes += 1 + key.length + NUMBER_BYTES
    keys = { tags: kind.tagNames.map((name) => Buffer.from(`,${escapeKey(name)}=`)), fields, tailBytes }
    keysByKind.set(kind, keys)
  }
  return keys
}

/**
 * Writes a reading's line (without its newline) into the sink. Bytes are written in place, with
 * no string per reading: this runs per reading on the ingest hot path, where the strings a line
 * used to be built from were a tenth of everything a reading allocated.
 *
 * measurement = device type; tags = city, device and the kind's own tags (lane, route), sorted by
 * key as InfluxDB prefers; fields = numbers, always written as floats so a field never changes
 * type; time = milliseconds. `prefix` is the device's seriesPrefix() as UTF-8 bytes.
 */
export function writeReading(sink: ByteSink, kind: Kind, prefix: Uint8Array, reading: ValidReading): void {
  const keys = keysOf(kind)
  let buf = reserve(sink, prefix.length + keys.tailBytes)
  buf.set(prefix, sink.length)
  sink.length += prefix.length
  for (let i = 0; i < keys.tags.length; i++) {
    const key = keys.tags[i]!
    const text = escapeKey(String(reading.values[kind.tagNames[i]!]))
    buf = reserve(sink, key.length + text.length * 3 + keys.tailBytes)
    buf.set(key, sink.length)
    sink.length += key.length
    sink.length += buf.write(text, sink.length)
  }
  let at = sink.length
  let sep = SPACE
  for (let i = 0; i < keys.fields.length; i++) {
    const v = reading.values[kind.fieldNames[i]!]
    if (v === undefined) continue
    const key = keys.fields[i]!
    buf[at++] = sep
    // A loop: TypedArray.set costs more than it moves for a few bytes.
    for (let k = 0; k < key.length; k++) buf[at++] = key[k]!
    at = writeNumber(buf, at, v as number)
    sep = COMMA
  }
  buf[at++] = SPACE
  sink.length = writeNumber(buf, at, reading.time)
}

/** A reading's line as a string, for tests and tools (the hot path writes bytes: writeReading). */
export function encodeReading(kind: Kind, prefix: string, reading: ValidReading): string {
  const sink = createByteSink(256)
  writeReading(sink, kind, Buffer.from(prefix), reading)
  return sink.bytes.toString('utf8', 0, sink.length)
}

/** Below this many thousandths, a value's thousandths fit a 31-bit integer. */
const MAX_THOUSANDTHS = 2 ** 31

/**
 * Writes a number as `String(value)` writes it, at `at`, and returns where it ends (at most
 * NUMBER_BYTES later). Sooner for what a reading holds: values with at most three decimals, and
 * millisecond times. V8 writes a fraction, or an integer past 31 bits, with its general algorithm
 * (200-350 ns a number here for varied values); these are written as digits of small integers
 * instead. The text is the same: a whole number of thousandths that divides back to the value
 * exactly is the decimal that reads back as it, and below 2^31 thousandths no shorter one does; a
 * time is its digits in two parts.
 */
export function writeNumber(buf: Uint8Array, at: number, value: number): number {
  const magnitude = value < 0 ? -value : value
  const thousandths = magnitude * 1000
  if (thousandths < MAX_THOUSANDTHS && Number.isInteger(thousandths) && thousandths / 1000 === magnitude) {
    const whole = Math.floor(thousandths / 1000)
    const fraction = thousandths - whole * 1000
    if (value < 0) buf[at++] = MINUS
    at = writeDigits(buf, at, whole)
    if (fraction === 0) return at
    buf[at++] = DOT
    at = writeDigitsIn(buf, at, fraction, 3)
    while (buf[at - 1] === ZERO) at-- // trailing zeros, as String() leaves them out
    return at
  }
  if (Number.isSafeInteger(value) && value >= 1e9) {
    // Exact: below 2^53, value / 1e9 is never within half a unit of its last place of the next
    // integer, so it never rounds up to it.
    const high = Math.floor(value / 1e9)
    at = writeDigits(buf, at, high)
    return writeDigitsIn(buf, at, value - high * 1e9, 9)
  }
  const text = String(value)
  for (let i = 0; i < text.length; i++) buf[at++] = text.charCodeAt(i)
  return at
}

/** Writes the decimal digits of a whole number below 2^31. */
function writeDigits(buf: Uint8Array, at: number, n: number): number {
  let width = 1
  for (let power = 10; power <= n; power *= 10) width++
  return writeDigitsIn(buf, at, n, width)
}

/** Writes the last `width` decimal digits of a whole number, zeros first where it is shorter. */
function writeDigitsIn(buf: Uint8Array, at: number, n: number, width: number): number {
  for (let i = at + width - 1; i >= at; i--) {
    const next = Math.floor(n / 10)
    buf[i] = ZERO + (n - next * 10)
    n = next
  }
  return at + width
}

/**
 * A batch of lines as storage takes it (Storage.write): UTF-8 bytes, each line followed by '\n'.
 * Bytes because that is how the write-ahead log holds them: the shipper hands storage the log's
 * own bytes, with no string per reading kept for the length of a write.
 */
export function linesToBatch(lines: readonly string[]): Buffer {
  let text = ''
  for (const line of lines) text += `${line}\n`
  return Buffer.from(text)
}

/** A batch's lines as strings, empty lines left out: for the paths that need strings (the embedded store, a refused line). */
export function batchLines(batch: Buffer): string[] {
  return batch.toString('utf8').split('\n').filter((line) => line !== '')
}

const NEEDS_ESCAPE = /[,= \\\n]/
function escapeKey(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(/\\/g, '\\\\').replace(/([,= ])/g, '\\$1').replace(/\n/g, '\\n') : s
}

export interface DecodedLine {
  measurement: string
  tags: Record<string, string>
  fields: Record<string, number | string | boolean>
  /** Epoch milliseconds. */
  time: number
}

/**
 * Parses one line as written by encodeReading (escaped keys, float, integer, boolean or quoted
 * string fields, millisecond time). Throws with the reason on anything else.
 */
export function decodeLine(line: string): DecodedLine {
  let i = 0
  const readKey = (stops: string): string => {
    let out = ''
    while (i < line.length && !stops.includes(line[i]!)) {
      if (line[i] === '\\' && i + 1 < line.length) {
        const next = line[i + 1]!
        out += next === 'n' ? '\n' : next
        i += 2
      } else out += line[i++]
    }
    return out
  }
  const measurement = readKey(', ')
  if (!measurement) throw new Error('line protocol: missing measurement')
  const tags: Record<string, string> = {}
  while (line[i] === ',') {
    i++
    const key = readKey('=')
    if (line[i++] !== '=') throw new Error(`line protocol: tag ${key} has no value`)
    tags[key] = readKey(', ')
  }
  if (line[i++] !== ' ') throw new Error('line protocol: missing fields')
  const fields: Record<string, number | string | boolean> = {}
  for (;;) {
    const key = readKey('=')
    if (line[i++] !== '=') throw new Error(`line protocol: field ${key} has no value`)
    if (line[i] === '"') {
      let s = ''
      i++
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < line.length) i++
        s += line[i++]
      }
      if (line[i++] !== '"') throw new Error(`line protocol: unterminated string in field ${key}`)
      fields[key] = s
    } else {
      const raw = readKey(', ')
      if (raw === 't' || raw === 'true' || raw === 'T') fields[key] = true
      else if (raw === 'f' || raw === 'false' || raw === 'F') fields[key] = false
      else {
        const n = Number(raw.endsWith('i') ? raw.slice(0, -1) : raw)
        if (raw === '' || !Number.isFinite(n)) throw new Error(`line protocol: field ${key} has an invalid value '${raw}'`)
        fields[key] = n
      }
    }
    if (line[i] === ',') {
      i++
      continue
    }
    break
  }
  if (line[i++] !== ' ') throw new Error('line protocol: missing timestamp')
  const time = Number(line.slice(i))
  if (!Number.isSafeInteger(time)) throw new Error(`line protocol: invalid timestamp '${line.slice(i)}'`)
  return { measurement, tags, fields, time }
}
