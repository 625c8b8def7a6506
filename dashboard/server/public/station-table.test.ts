import { describe, expect, it } from 'vitest'
import { assessStation, EAQI_POLLUTANTS, type HourlyValue, type Pollutant } from '../../../devices/aqi.ts'
import type { Device } from '../../../devices/registry.ts'
import { mulberry32 } from '../../../simulator/values.ts'
import { PUBLIC_FIELDS } from './schemas.ts'
import { copyRow, decodeState, encodeState, ROW, rowHolds } from './station-table.ts'

const device = { id: 'aq-1', type: 'air-quality', city: 'firenze', name: 'Station 1', lat: 43.77, lon: 11.25, interval: 60 } as Device

describe('a station state as a table row', () => {
  it('decodes to the state it was made from, for every status, index and missing value', () => {
    const rnd = mulberry32(11)
    const now = Date.UTC(2025, 4, 6, 9, 0, 0)
    const statuses = new Set<string>()
    for (let k = 0; k < 500; k++) {
      const interval = rnd() < 0.5 ? 60 : 300
      const hours: Partial<Record<Pollutant, HourlyValue>> = {}
      for (const p of EAQI_POLLUTANTS) {
        // Missing, incomplete, complete at every band.
        if (rnd() < 0.8) hours[p] = { mean: Math.round(rnd() * 4000) / 10, count: Math.floor(rnd() * 70) }
      }
      const r = rnd()
      const lastReadingAt = r < 0.1 ? null : r < 0.3 ? now - 3 * 3_600_000 : now - Math.floor(rnd() * 600_000)
      const assessment = assessStation(hours, interval, { lastReadingAt, now })
      statuses.add(assessment.status)
      const latestValues = PUBLIC_FIELDS.map(() => (rnd() < 0.3 ? Number.NaN : Math.round(rnd() * 1000) / 10))
      const table = new Float64Array(3 * ROW).fill(-1)
      const key = { changes: k, from: 100, to: 166, computedAt: now, freshUntil: Number.POSITIVE_INFINITY }
      encodeState(table, 1, assessment, lastReadingAt, latestValues, key)
      const values: Record<string, number> = {}
      PUBLIC_FIELDS.forEach((f, i) => {
        if (!Number.isNaN(latestValues[i]!)) values[f] = latestValues[i]!
      })
      const d = { ...device, interval }
      expect(decodeState(table, 1, d)).toEqual({ device: d, assessment, lastReadingAt, latest: { time: lastReadingAt, values } })
      // Its neighbours are untouched, and a copy decodes the same.
      expect([...table.subarray(0, ROW), ...table.subarray(2 * ROW)].every((x) => x === -1)).toBe(true)
      const other = new Float64Array(ROW)
      copyRow(table, 1, other, 0)
      expect(decodeState(other, 0, d)).toEqual(decodeState(table, 1, d))
      expect(rowHolds(other, 0, k, 100, 166, now + 1)).toBe(true)
      expect(rowHolds(other, 0, k + 1, 100, 166, now)).toBe(false)
      expect(rowHolds(other, 0, k, 101, 167, now)).toBe(false)
      expect(rowHolds(other, 0, k, 100, 166, now - 1)).toBe(false)
    }
    expect([...statuses].sort()).toEqual(['incomplete', 'no-data', 'ok', 'stale'])
  })

  it('holds a fresh state only until the station would go stale', () => {
    const table = new Float64Array(ROW)
    const assessment = assessStation({}, 60, { lastReadingAt: 1_000, now: 2_000 })
    encodeState(table, 0, assessment, 1_000, PUBLIC_FIELDS.map(() => Number.NaN), { changes: 1, from: 0, to: 1, computedAt: 2_000, freshUntil: 5_000 })
    expect(rowHolds(table, 0, 1, 0, 1, 5_000)).toBe(true)
    expect(rowHolds(table, 0, 1, 0, 1, 5_001)).toBe(false)
  })
})
