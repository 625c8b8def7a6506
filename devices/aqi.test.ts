import { describe, expect, it } from 'vitest'
import {
  assessCity,
  assessPollutant,
  assessStation,
  BANDS,
  bandRange,
  EAQI_POLLUTANTS,
  EAQI_VERSION,
  expectedReadingsPerHour,
  levelFor,
  minReadingsPerHour,
  staleAfterMs,
  THRESHOLDS,
  type Level,
  type Pollutant,
} from './aqi.ts'

/** The largest double below x (x > 0). */
function nextDown(x: number): number {
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, x)
  view.setBigUint64(0, view.getBigUint64(0) - 1n)
  return view.getFloat64(0)
}

/** The EEA 2024 table, written out again by hand (not derived from THRESHOLDS). */
const TABLE: Record<Pollutant, [number, number, number, number, number]> = {
  pm25: [5, 15, 50, 90, 140],
  pm10: [15, 45, 120, 195, 270],
  no2: [10, 25, 60, 100, 150],
  o3: [60, 100, 120, 160, 180],
  so2: [20, 40, 125, 190, 275],
}

function relativeLuminance(hex: string): number {
  const channel = (i: number) => {
    const c = parseInt(hex.slice(1 + 2 * i, 3 + 2 * i), 16) / 255
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4
  }
  return 0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2)
}
const contrast = (a: string, b: string) => {
  const [x, y] = [relativeLuminance(a), relativeLuminance(b)].sort((p, q) => q - p) as [number, number]
  return (x + 0.05) / (y + 0.05)
}

describe('EAQI-2024 bands', () => {
  it('has the EEA 2024 thresholds for the five pollutants', () => {
    expect(EAQI_VERSION).toBe('EAQI-2024')
    expect([...EAQI_POLLUTANTS]).toEqual(['pm25', 'pm10', 'no2', 'o3', 'so2'])
    expect(THRESHOLDS).toEqual(TABLE)
    expect(BANDS.map((b) => b.name)).toEqual(['Good', 'Fair', 'Moderate', 'Poor', 'Very poor', 'Extremely poor'])
  })

  for (const pollutant of EAQI_POLLUTANTS) {
    describe(pollutant, () => {
      const bounds = TABLE[pollutant]
      it('puts 0 in good and every value just below a boundary in the band below it', () => {
        expect(levelFor(pollutant, 0)).toBe(1)
        bounds.forEach((lower, i) => {
          expect(levelFor(pollutant, lower - 0.001), `${pollutant} ${lower - 0.001}`).toBe(i + 1)
          expect(levelFor(pollutant, nextDown(lower)), `${pollutant} just below ${lower}`).toBe(i + 1)
        })
      })
      it('puts every boundary value itself in the worse band (lower bound inclusive)', () => {
        bounds.forEach((lower, i) => expect(levelFor(pollutant, lower), `${pollutant} ${lower}`).toBe(i + 2))
      })
      it('puts values just above a boundary, and far above the top, in the right band', () => {
        bounds.forEach((lower, i) => expect(levelFor(pollutant, lower + 0.001)).toBe(i + 2))
        expect(levelFor(pollutant, bounds[4] * 10)).toBe(6)
      })
      it('describes each band as a range that agrees with levelFor', () => {
        for (let level = 1; level <= 6; level++) {
          const { from, to } = bandRange(pollutant, level as Level)
          expect(levelFor(pollutant, from)).toBe(level)
          if (to !== undefined) {
            expect(levelFor(pollutant, to)).toBe(level + 1)
            expect(levelFor(pollutant, nextDown(to))).toBe(level)
          } else expect(level).toBe(6)
        }
      })
    })
  }

  it('refuses values that are not concentrations', () => {
    expect(levelFor('pm25', -1)).toBeUndefined()
    expect(levelFor('pm25', Number.NaN)).toBeUndefined()
    expect(levelFor('pm25', Number.POSITIVE_INFINITY)).toBeUndefined()
  })

  it('gives each band a text colour with at least 4.5:1 contrast (WCAG AA)', () => {
    for (const b of BANDS) expect(contrast(b.color, b.textColor), b.name).toBeGreaterThanOrEqual(4.5)
  })
})

describe('data completeness', () => {
  it('needs 75 % of the readings the interval promises in an hour, at least one', () => {
    expect(expectedReadingsPerHour(60)).toBe(60)
    expect(minReadingsPerHour(60)).toBe(45)
    expect(minReadingsPerHour(600)).toBe(5) // 6 expected, 4.5 → 5
    expect(minReadingsPerHour(900)).toBe(3) // 4 expected, exactly 3
    expect(minReadingsPerHour(1)).toBe(2700)
    expect(minReadingsPerHour(3600)).toBe(1)
    expect(minReadingsPerHour(7200)).toBe(1)
  })

  it('bands a complete hour and refuses an incomplete one', () => {
    expect(assessPollutant('pm25', { mean: 20, count: 45 }, 60)).toEqual({ pollutant: 'pm25', value: 20, count: 45, required: 45, complete: true, level: 3 })
    expect(assessPollutant('pm25', { mean: 20, count: 44 }, 60)).toEqual({ pollutant: 'pm25', value: 20, count: 44, required: 45, complete: false, level: null })
    expect(assessPollutant('pm25', undefined, 60)).toEqual({ pollutant: 'pm25', value: null, count: 0, required: 45, complete: false, level: null })
  })

  it('calls a station stale after 3 intervals, never sooner than 15 minutes', () => {
    expect(staleAfterMs(60)).toBe(15 * 60_000)
    expect(staleAfterMs(600)).toBe(30 * 60_000)
  })
})

describe('station and city index', () => {
  const now = Date.UTC(2026, 10, 26, 8)
  const fresh = { lastReadingAt: now - 60_000, now }

  it("is the station's worst complete pollutant, with the pollutant that drives it", () => {
    const a = assessStation({ pm25: { mean: 12, count: 60 }, no2: { mean: 70, count: 60 }, o3: { mean: 30, count: 60 } }, 60, fresh)
    expect(a.status).toBe('ok')
    expect(a.version).toBe('EAQI-2024')
    expect(a.index).toEqual({ level: 4, band: 'poor', pollutant: 'no2' })
  })

  it('ignores an incomplete pollutant, however bad its few readings', () => {
    const a = assessStation({ pm25: { mean: 12, count: 60 }, no2: { mean: 500, count: 10 } }, 60, fresh)
    expect(a.index).toEqual({ level: 2, band: 'fair', pollutant: 'pm25' })
    expect(a.pollutants.find((p) => p.pollutant === 'no2')).toMatchObject({ complete: false, level: null, value: 500 })
  })

  it('breaks ties by EAQI order', () => {
    expect(assessStation({ o3: { mean: 65, count: 60 }, pm10: { mean: 20, count: 60 } }, 60, fresh).index).toEqual({ level: 2, band: 'fair', pollutant: 'pm10' })
  })

  it('never shows a stale station as good', () => {
    const a = assessStation({ pm25: { mean: 1, count: 60 } }, 60, { lastReadingAt: now - 16 * 60_000, now })
    expect(a.status).toBe('stale')
    expect(a.index).toBeNull()
    expect(assessStation({}, 60, { lastReadingAt: null, now }).status).toBe('no-data')
    expect(assessStation({ pm25: { mean: 1, count: 3 } }, 60, fresh)).toMatchObject({ status: 'incomplete', index: null })
  })

  it("takes the city's worst station, and says why when no station has an index", () => {
    const ok = (level: Level, pollutant: Pollutant) => ({ status: 'ok' as const, index: { level, band: BANDS[level - 1]!.id, pollutant } })
    const city = assessCity([
      { id: 'a', assessment: ok(2, 'pm25') },
      { id: 'b', assessment: ok(4, 'no2') },
      { id: 'c', assessment: { status: 'stale', index: null } },
    ])
    expect(city).toEqual({ status: 'ok', index: { level: 4, band: 'poor', pollutant: 'no2', station: 'b' }, version: 'EAQI-2024' })
    expect(assessCity([]).status).toBe('no-stations')
    expect(assessCity([{ id: 'c', assessment: { status: 'stale', index: null } }])).toEqual({ status: 'stale', index: null, version: 'EAQI-2024' })
    expect(assessCity([{ id: 'c', assessment: { status: 'stale', index: null } }, { id: 'd', assessment: { status: 'incomplete', index: null } }]).status).toBe('incomplete')
  })
})
