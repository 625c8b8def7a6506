import { describe, expect, it } from 'vitest'
import { KINDS } from './kinds.ts'
import { decodeLine, encodeReading, seriesPrefix } from './line-protocol.ts'
import { parseTelemetry } from './readings.ts'

const now = Date.parse('2026-11-26T08:00:00Z')
const parse = (type: Parameters<typeof parseTelemetry>[0], payload: unknown) =>
  parseTelemetry(type, typeof payload === 'string' ? payload : JSON.stringify(payload), now)
const reasonOf = (type: Parameters<typeof parseTelemetry>[0], payload: unknown) => {
  const result = parse(type, payload)
  expect(result.readings).toHaveLength(0)
  return result.rejections[0]!
}

describe('parseTelemetry', () => {
  it('accepts one reading with an ISO timestamp or epoch milliseconds', () => {
    const iso = parse('air-quality', { ts: '2026-11-26T07:59:00Z', pm25: 12.5, pm10: 20 })
    expect(iso.rejections).toEqual([])
    expect(iso.readings[0]!.time).toBe(now - 60_000)
    const ms = parse('air-quality', { ts: now, no2: 30 })
    expect(ms.readings[0]!.time).toBe(now)
  })

  it('accepts a backlog array and rejects only its bad readings, naming their position', () => {
    const result = parse('air-quality', [{ ts: now, pm25: 1 }, { ts: now, pm25: -3 }, { ts: now - 1000, pm10: 5 }])
    expect(result.readings.map((r) => r.values.pm25 ?? r.values.pm10)).toEqual([1, 5])
    expect(result.rejections).toEqual([{ code: 'out-of-range', reason: 'pm25: -3 is below the minimum 0', index: 1 }])
  })

  it.each([
    ['air-quality', '{"ts":', 'invalid-json', /^invalid JSON: /],
    ['air-quality', { ts: now, pm2_5: 3 }, 'unknown-field', "unknown field 'pm2_5' (did you mean 'pm25'?)"],
    ['air-quality', { ts: now, pm25: '3' }, 'wrong-type', 'pm25: expected a number, got the string "3"'],
    ['air-quality', { ts: now, pm25: -3 }, 'out-of-range', 'pm25: -3 is below the minimum 0'],
    ['air-quality', { ts: '2026-11-26T07:00:00Z', pm10: -4 }, 'out-of-range', 'pm10: -4 is below the minimum 0'],
    ['air-quality', '{"ts":1795000000000,"pm25":1e999}', 'not-finite', 'pm25: Infinity is not a finite number'],
    ['air-quality', { pm25: 3 }, 'missing-field', "missing field 'ts'"],
    ['air-quality', { ts: now }, 'no-fields', /needs at least one of pm25/],
    ['air-quality', { ts: '2031-01-01T00:00:00Z', pm25: 3 }, 'timestamp-in-future', 'timestamp 2031-01-01T00:00:00.000Z is in the future'],
    ['air-quality', { ts: '2020-01-01T00:00:00Z', pm25: 3 }, 'timestamp-too-old', /older than the retention of 90 days/],
    ['air-quality', { ts: '26/11/2026', pm25: 3 }, 'invalid-timestamp', /not an ISO 8601 date-time/],
    ['air-quality', { ts: '2026-11-26T08:00:00', pm25: 3 }, 'invalid-timestamp', /with a time zone/],
    ['air-quality', [], 'empty-batch', /at least one reading/],
    ['air-quality', 42, 'not-a-reading', 'a reading must be a JSON object, got number 42'],
    ['weather', { ts: now, relativeHumidity: 140 }, 'out-of-range', 'relativeHumidity: 140 is above the maximum 100'],
    ['bus', { ts: now, route: '14', lat: 45.46, lon: 9.19 }, 'out-of-range', /lat: 45.46 is above the maximum/],
    ['bus', { ts: now, lat: 43.77, lon: 11.25 }, 'missing-field', "missing field 'route'"],
    ['parking', { ts: now, availableSpotNumber: 12, totalSpotNumber: 10 }, 'inconsistent', 'availableSpotNumber: 12 is above totalSpotNumber 10'],
    ['parking', { ts: now, availableSpotNumber: 1.5, totalSpotNumber: 10 }, 'wrong-type', 'availableSpotNumber: expected a whole number, got 1.5'],
    ['traffic-counter', { ts: now, laneId: 0, intensity: 3 }, 'out-of-range', 'laneId: 0 is outside 1–16'],
  ] as const)('%s %j → %s', (type, payload, code, reason) => {
    const rejection = reasonOf(type, payload)
    expect(rejection.code).toBe(code)
    if (typeof reason === 'string') expect(rejection.reason).toBe(reason)
    else expect(rejection.reason).toMatch(reason)
  })

  it('refuses payloads over the size limit and batches over the count limit', () => {
    const limits = { maxPayloadBytes: 100, maxBatch: 2, maxFutureMs: 300_000, maxAgeMs: 86_400_000 }
    expect(parseTelemetry('noise', 'x'.repeat(101), now, limits).rejections[0]!.code).toBe('payload-too-large')
    const three = JSON.stringify([1, 2, 3].map(() => ({ ts: now, LAeq: 50 })))
    expect(parseTelemetry('noise', three, now, { ...limits, maxPayloadBytes: 1000 }).rejections[0]!.code).toBe('batch-too-large')
  })
})

describe('line protocol', () => {
  it('encodes a reading with the kind tags and decodes it back', () => {
    const kind = KINDS['traffic-counter']
    const prefix = seriesPrefix({ type: kind.type, city: 'firenze', deviceId: 'traffic-firenze-01' })
    const { readings } = parse('traffic-counter', { ts: now, laneId: 2, intensity: 17, averageVehicleSpeed: 42.5 })
    const line = encodeReading(kind, prefix, readings[0]!)
    expect(line).toBe(`traffic-counter,city=firenze,device=traffic-firenze-01,laneId=2 intensity=17,averageVehicleSpeed=42.5 ${now}`)
    expect(decodeLine(line)).toEqual({
      measurement: 'traffic-counter',
      tags: { city: 'firenze', device: 'traffic-firenze-01', laneId: '2' },
      fields: { intensity: 17, averageVehicleSpeed: 42.5 },
      time: now,
    })
  })

  it('escapes and unescapes tag values with separators', () => {
    const prefix = seriesPrefix({ type: 'bus', city: 'a city', deviceId: 'x,y=z' })
    expect(prefix).toBe('bus,city=a\\ city,device=x\\,y\\=z')
    expect(decodeLine(`${prefix} lat=43.1 1`).tags).toEqual({ city: 'a city', device: 'x,y=z' })
  })

  it('refuses malformed lines with a reason', () => {
    expect(() => decodeLine('bus,city=x lat=abc 1')).toThrow(/invalid value 'abc'/)
    expect(() => decodeLine('bus,city=x lat=1')).toThrow(/missing timestamp/)
  })
})
