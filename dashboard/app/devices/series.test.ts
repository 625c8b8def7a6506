import { describe, expect, it } from 'vitest'
import { normalisePoints } from '../api/client.ts'
import type { LiveUpdate } from '../live/connection.ts'
import { mergeSeries, pointsFromUpdates } from './series.ts'

describe('chart series', () => {
  it('merges history and live points in time order, newest arrival winning per timestamp', () => {
    const live = [{ time: 300, value: 3 }]
    const history = [
      { time: 100, value: 1 },
      { time: 200, value: 2 },
      { time: 300, value: 99 },
    ]
    expect(mergeSeries(live, history, 0)).toEqual([
      { time: 100, value: 1 },
      { time: 200, value: 2 },
      { time: 300, value: 99 },
    ])
  })

  it('drops points older than the window and caps the length', () => {
    const series = [1, 2, 3, 4, 5].map((t) => ({ time: t, value: t }))
    expect(mergeSeries(series, [{ time: 6, value: 6 }], 3).map((p) => p.time)).toEqual([3, 4, 5, 6])
    expect(mergeSeries(series, [{ time: 6, value: 6 }], 0, 2).map((p) => p.time)).toEqual([5, 6])
  })

  it('returns the same array when nothing changes (no re-render)', () => {
    const series = [{ time: 5, value: 1 }]
    expect(mergeSeries(series, [], 0)).toBe(series)
  })

  it('picks one field of one device from a frame of updates', () => {
    const updates: LiveUpdate[] = [
      { id: 'a', type: 'air-quality', city: 'c', time: 1, values: { pm25: 4, pm10: 8 } },
      { id: 'b', type: 'air-quality', city: 'c', time: 1, values: { pm25: 9 } },
      { id: 'a', type: 'air-quality', city: 'c', time: 2, values: { pm10: 7 } },
      { id: 'a', type: 'air-quality', city: 'c', time: 3, values: { pm25: 5 } },
    ]
    expect(pointsFromUpdates(updates, 'a', 'pm25')).toEqual([
      { time: 1, value: 4 },
      { time: 3, value: 5 },
    ])
  })

  it('readings come as an array or { points }, with ISO or epoch times; gaps are skipped', () => {
    const expected = [
      { time: Date.parse('2026-01-01T10:00:00Z'), value: 1 },
      { time: Date.parse('2026-01-01T10:01:00Z'), value: 2 },
    ]
    expect(normalisePoints([{ time: '2026-01-01T10:01:00Z', value: 2 }, { time: '2026-01-01T10:00:00Z', value: 1 }])).toEqual(expected)
    expect(normalisePoints({ points: [{ time: expected[0]!.time, value: 1 }, { time: '2026-01-01T10:00:30Z', value: null }, { time: expected[1]!.time, value: 2 }] })).toEqual(expected)
    expect(normalisePoints(null)).toEqual([])
  })
})

describe('chart ranges, rows and CSV', () => {
  it('aggregates long ranges server-side to a few hundred points', async () => {
    const { chooseEvery, TARGET_POINTS } = await import('./series.ts')
    expect(chooseEvery(3_600_000)).toEqual({ every: undefined, ms: null })
    expect(chooseEvery(24 * 3_600_000)).toEqual({ every: '300s', ms: 300_000 })
    expect(chooseEvery(7 * 24 * 3_600_000)).toEqual({ every: '1800s', ms: 1_800_000 })
    expect(chooseEvery(30 * 24 * 3_600_000)).toEqual({ every: '7200s', ms: 7_200_000 })
    for (const days of [1, 2, 7, 30, 90, 365]) {
      const { ms } = chooseEvery(days * 86_400_000)
      expect((days * 86_400_000) / ms!).toBeLessThanOrEqual(TARGET_POINTS)
    }
  })

  it('merges series into rows by time and writes them as CSV with units', async () => {
    const { mergeRows, toCsv } = await import('./series.ts')
    const rows = mergeRows([
      { key: 's0', points: [{ time: 0, value: 1 }, { time: 60_000, value: 2 }] },
      { key: 's1', points: [{ time: 60_000, value: 20 }, { time: 120_000, value: 30 }] },
    ])
    expect(rows).toEqual([{ time: 0, s0: 1 }, { time: 60_000, s0: 2, s1: 20 }, { time: 120_000, s1: 30 }])
    const csv = toCsv([{ key: 's0', header: 'Viale Gramsci PM10 (µg/m³)' }, { key: 's1', header: 'Station "B", NO₂' }], rows)
    expect(csv).toBe('time,Viale Gramsci PM10 (µg/m³),"Station ""B"", NO₂"\r\n1970-01-01T00:00:00.000Z,1,\r\n1970-01-01T00:01:00.000Z,2,20\r\n1970-01-01T00:02:00.000Z,,30\r\n')
  })

  it('keeps negative readings as numbers and defuses a header a spreadsheet would run', async () => {
    const { toCsv } = await import('./series.ts')
    const csv = toCsv([{ key: 's0', header: '=cmd|" /C calc"!A0 temperature (°C)' }], [{ time: 0, s0: -3.5 }])
    expect(csv).toBe(`time,"'=cmd|"" /C calc""!A0 temperature (°C)"\r\n1970-01-01T00:00:00.000Z,-3.5\r\n`)
  })
})
