import type { Kind } from './kinds.ts'
import type { ValidReading } from './readings.ts'

/**
 * InfluxDB line protocol: the one serialisation of an accepted reading, from the write-ahead log
 * to either store. Built directly as a string (no Point objects) because it runs per reading on
 * the ingest hot path.
 *
 * measurement = device type; tags = city, device and the kind's own tags (lane, route), sorted by
 * key as InfluxDB prefers; fields = numbers, always written as floats so a field never changes
 * type; time = milliseconds.
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

export function encodeReading(kind: Kind, prefix: string, reading: ValidReading): string {
  let line = prefix
  for (const tag of kind.tagNames) line += `,${tag}=${escapeKey(String(reading.values[tag]))}`
  let sep = ' '
  for (const name of kind.fieldNames) {
    const v = reading.values[name]
    if (v !== undefined) {
      line += `${sep}${name}=${numberText(v as number)}`
      sep = ','
    }
  }
  return `${line} ${numberText(reading.time)}`
}

/** '', '.001', …, '.999': the decimals of a whole number of thousandths, trailing zeros left out. */
const THOUSANDTHS = Array.from({ length: 1000 }, (_, i) => (i === 0 ? '' : `.${String(i).padStart(3, '0').replace(/0+$/, '')}`))
/** Below this many thousandths, a value's thousandths fit a 31-bit integer. */
const MAX_THOUSANDTHS = 2 ** 31

/**
 * A number as `String(value)` writes it, sooner for what a reading holds: values with at most
 * three decimals, and millisecond times. V8 writes a fraction, or an integer past 31 bits, with
 * its general algorithm (200-350 ns a number here for varied values, most of encoding a
 * reading); these are written from small integers instead, which V8 writes fast. The text is the
 * same: a whole number of thousandths that divides back to the value exactly is the decimal that
 * reads back as it, and below 2^31 thousandths no shorter one does; a time is its digits in two
 * parts.
 */
export function numberText(value: number): string {
  const magnitude = value < 0 ? -value : value
  const thousandths = magnitude * 1000
  if (thousandths < MAX_THOUSANDTHS && Number.isInteger(thousandths) && thousandths / 1000 === magnitude) {
    const whole = Math.floor(thousandths / 1000)
    const text = `${whole}${THOUSANDTHS[thousandths - whole * 1000]}`
    return value < 0 ? `-${text}` : text
  }
  if (Number.isSafeInteger(value) && value >= 1e9) {
    const high = Math.floor(value / 1e9)
    const low = value - high * 1e9
    return low >= 1e8 ? `${high}${low}` : `${high}${String(low).padStart(9, '0')}`
  }
  return String(value)
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
