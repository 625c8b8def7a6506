import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest'
import { KINDS, type DeviceType } from '../devices/kinds.ts'
import { encodeReading, linesToBatch, seriesPrefix } from '../devices/line-protocol.ts'
import { StorageUnavailableError, type DeadLetter, type LastReading, type Latest, type Storage } from '../ingest/storage/contract.ts'
import { createEmbeddedStorage } from '../ingest/storage/embedded.ts'
import { createInfluxStorage } from '../ingest/storage/influx.ts'
import { freePort } from '../testkit/child-server.ts'
import { startInfluxd, type Influxd } from '../testkit/influxd.ts'

const RETENTION_MS = 30 * 86_400_000
const MINUTE = 60_000
// A day ago on a whole hour: inside retention, and minute windows start exactly on it.
const BASE = Math.floor((Date.now() - 86_400_000) / 3_600_000) * 3_600_000

function line(type: DeviceType, city: string, deviceId: string, time: number, values: Record<string, number>): string {
  return encodeReading(KINDS[type], seriesPrefix({ type, city, deviceId }), { time, values })
}
const aq = (device: string, time: number, values: Record<string, number>, city = 'firenze') => line('air-quality', city, device, time, values)

interface Harness {
  storage: Storage
  cleanup(): Promise<void>
}

/** The behaviour both stores owe their callers. */
function contract(name: string, create: () => Promise<Harness>): void {
  describe(`storage contract: ${name}`, () => {
    let harness: Harness
    let store: Storage

    beforeEach(async () => {
      harness = await create()
      store = harness.storage
      await store.init()
    })
    afterEach(async () => {
      await store.close()
      await harness.cleanup()
    })

    const writeAll = async (lines: string[]) => expect(await store.write(linesToBatch(lines))).toEqual({ rejected: [] })

    it('answers latest with each field’s newest value and the newest time', async () => {
      await writeAll([aq('aq-1', BASE, { pm25: 10, pm10: 20 }), aq('aq-1', BASE + MINUTE, { pm25: 11 }), aq('aq-2', BASE + 2 * MINUTE, { pm25: 99 })])
      expect(await store.latest({ deviceId: 'aq-1', type: 'air-quality' })).toEqual({ time: BASE + MINUTE, values: { pm25: 11, pm10: 20 } })
      expect(await store.latest({ deviceId: 'nobody', type: 'air-quality' })).toBeNull()
    })

    it('answers latest with whole readings while readings are being written', async () => {
      // Every reading carries every field, so each answer must be one whole reading: the values
      // written at the answer's time, never some fields of one reading and some of another.
      const fields = KINDS['air-quality'].fieldNames
      const reading = (i: number) => Object.fromEntries(fields.map((f, k) => [f, i * 10 + k]))
      const device = { deviceId: 'aq-busy', type: 'air-quality' }
      let writing = true
      // Readers that keep asking while the writes go on, besides one latest() beside each write.
      const readers = Array.from({ length: 2 }, async () => {
        const seen: (Latest | null)[] = []
        while (writing) {
          seen.push(await store.latest(device))
          await new Promise((resolve) => setImmediate(resolve))
        }
        return seen
      })
      // Each of its readings in the middle of a batch from many devices, as ingest writes them:
      // the store takes a while over each batch, and the reading's fields are stored one by one.
      const batch = (i: number) => {
        const lines = Array.from({ length: 400 }, (_, k) => aq(`aq-other-${k}`, BASE + i * 1000, reading(i)))
        lines.splice(200, 0, aq('aq-busy', BASE + i * 1000, reading(i)))
        return lines
      }
      const pairs = await Promise.all(
        Array.from({ length: 60 }, async (_, i) => {
          const [, answer] = await Promise.all([writeAll(batch(i)), store.latest(device)])
          return answer
        }),
      )
      writing = false
      const answers = [...pairs, ...(await Promise.all(readers)).flat()]
      const torn = answers.filter((a) => a !== null && !isDeepStrictEqual(a.values, reading((a.time - BASE) / 1000)))
      expect(torn).toEqual([])
      expect(await store.latest(device)).toEqual({ time: BASE + 59_000, values: reading(59) })
    })

    it('overwrites a rewrite of the same series, field and time', async () => {
      await writeAll([aq('aq-1', BASE, { pm25: 10 })])
      await writeAll([aq('aq-1', BASE, { pm25: 12.5 })])
      const query = { deviceId: 'aq-1', type: 'air-quality', field: 'pm25', from: BASE, to: BASE + MINUTE, limit: 100 }
      expect(await store.series(query)).toEqual([{ time: BASE, value: 12.5 }])
      expect(await store.series({ ...query, every: MINUTE, aggregate: 'count' })).toEqual([{ time: BASE, value: 1 }])
    })

    describe('series', () => {
      const points: [number, number][] = [
        [BASE, 1],
        [BASE + 10_000, 2],
        [BASE + 70_000, 3],
        [BASE + 130_000, 4],
        [BASE + 135_000, 6],
        [BASE + 300_000, 8],
      ]
      const query = { deviceId: 'aq-1', type: 'air-quality', field: 'pm25', from: BASE, to: BASE + 3_600_000, limit: 100 }
      beforeEach(async () => {
        await writeAll([...points.map(([t, v]) => aq('aq-1', t, { pm25: v })), aq('aq-2', BASE + 20_000, { pm25: 500 }), aq('aq-1', BASE + 40_000, { pm10: 7 })])
      })

      it('returns raw points oldest first, only the asked device and field', async () => {
        expect(await store.series(query)).toEqual(points.map(([time, value]) => ({ time, value })))
      })

      it('keeps the newest points under a limit, still oldest first', async () => {
        expect(await store.series({ ...query, limit: 2 })).toEqual([
          { time: BASE + 135_000, value: 6 },
          { time: BASE + 300_000, value: 8 },
        ])
        expect(await store.series({ ...query, every: MINUTE, limit: 2 })).toEqual([
          { time: BASE + 2 * MINUTE, value: 5 },
          { time: BASE + 5 * MINUTE, value: 8 },
        ])
      })

      const windows = (values: number[]) => [BASE, BASE + MINUTE, BASE + 2 * MINUTE, BASE + 5 * MINUTE].map((time, i) => ({ time, value: values[i] }))
      it.each([
        ['mean', [1.5, 3, 5, 8]],
        ['min', [1, 3, 4, 8]],
        ['max', [2, 3, 6, 8]],
        ['count', [2, 1, 2, 1]],
        ['last', [2, 3, 6, 8]],
      ] as const)('aggregates per epoch-aligned window with %s, omitting empty windows', async (aggregate, values) => {
        expect(await store.series({ ...query, every: MINUTE, aggregate })).toEqual(windows([...values]))
      })

      it('defaults to mean and aligns windows to the epoch, not to `from`', async () => {
        expect(await store.series({ ...query, from: BASE + 5_000, to: BASE + 2 * MINUTE, every: MINUTE })).toEqual([
          { time: BASE, value: 2 },
          { time: BASE + MINUTE, value: 3 },
        ])
      })

      it('includes `from` and excludes `to`', async () => {
        expect(await store.series({ ...query, from: BASE + 10_000, to: BASE + 130_000 })).toEqual([
          { time: BASE + 10_000, value: 2 },
          { time: BASE + 70_000, value: 3 },
        ])
        expect(await store.series({ ...query, from: BASE + 10_001, to: BASE + 130_001 })).toEqual([
          { time: BASE + 70_000, value: 3 },
          { time: BASE + 130_000, value: 4 },
        ])
        expect(await store.series({ ...query, from: BASE + 1, to: BASE + 1 })).toEqual([])
      })

      it('refuses an unknown type or field instead of querying it', async () => {
        await expect(store.series({ ...query, field: 'pm25" OR 1=1' })).rejects.toThrow(RangeError)
        await expect(store.series({ ...query, type: 'reactor' })).rejects.toThrow(RangeError)
        await expect(store.latest({ deviceId: 'aq-1', type: 'reactor' })).rejects.toThrow(RangeError)
      })
    })

    describe('several fields at once', () => {
      const FIELDS = ['pm25', 'pm10', 'no2', 'o3', 'so2'] as const
      const HOUR = 3_600_000
      // Every 7 minutes for 30 hours, each reading with some of the fields (never the same set for long).
      const readings = Array.from({ length: (30 * 60) / 7 }, (_, i) => {
        const values: Record<string, number> = {}
        FIELDS.forEach((field, k) => {
          if ((i + k) % 3 !== 0) values[field] = Math.round(((i * 7 + k * 13) % 97) * 10) / 10
        })
        return { time: BASE - 26 * HOUR + i * 7 * MINUTE + 11_000, values }
      })
      // Uneven edges, so the answers mix rollups and raw readings where rollups exist.
      const range = { deviceId: 'aq-m', type: 'air-quality', from: BASE - 25 * HOUR + 17 * MINUTE, to: BASE + 3 * HOUR + 5 * MINUTE }
      beforeEach(async () => {
        await writeAll([...readings.map((r) => aq('aq-m', r.time, r.values)), aq('aq-other', BASE, { pm25: 500, no2: 500 }), aq('aq-m', BASE + 1000, { co: 1 })])
      })

      it('answers readings as series() does field by field, joined by time', async () => {
        const answer = await store.readings({ ...range, fields: FIELDS, limit: 10_000 })
        const joined = new Map<number, Record<string, number>>()
        for (const field of FIELDS) {
          for (const p of await store.series({ ...range, field, limit: 10_000 })) joined.set(p.time, { ...joined.get(p.time), [field]: p.value! })
        }
        expect(answer.length).toBeGreaterThan(200)
        expect(answer).toEqual([...joined].sort((a, b) => a[0] - b[0]).map(([time, values]) => ({ time, values })))
        // The newest under a limit, still oldest first.
        expect(await store.readings({ ...range, fields: ['pm25', 'no2'], limit: 3 })).toEqual(
          answer.filter((r) => r.values.pm25 !== undefined || r.values.no2 !== undefined).slice(-3).map((r) => ({ time: r.time, values: Object.fromEntries(Object.entries(r.values).filter(([f]) => f === 'pm25' || f === 'no2')) })),
        )
      })

      it('answers windows as series() does with mean and with count, field by field', async () => {
        const answer = await store.windows({ ...range, fields: FIELDS, every: HOUR, limit: 1000 })
        const expected = new Map<number, Record<string, { mean: number; count: number }>>()
        for (const field of FIELDS) {
          const means = await store.series({ ...range, field, every: HOUR, aggregate: 'mean', limit: 1000 })
          const counts = await store.series({ ...range, field, every: HOUR, aggregate: 'count', limit: 1000 })
          expect(counts.map((c) => c.time)).toEqual(means.map((m) => m.time))
          means.forEach((m, i) => expected.set(m.time, { ...expected.get(m.time), [field]: { mean: m.value!, count: counts[i]!.value! } }))
        }
        expect(answer.length).toBe(29)
        expect(answer.map((w) => w.time)).toEqual([...expected.keys()].sort((a, b) => a - b))
        for (const window of answer) {
          const want = expected.get(window.time)!
          expect(Object.keys(window.fields).sort()).toEqual(Object.keys(want).sort())
          for (const [field, { mean, count }] of Object.entries(want)) {
            expect(window.fields[field]!.count).toBe(count)
            expect(window.fields[field]!.mean).toBeCloseTo(mean, 9)
          }
        }
        expect((await store.windows({ ...range, fields: FIELDS, every: HOUR, limit: 2 })).map((w) => w.time)).toEqual(answer.slice(-2).map((w) => w.time))
      })

      it('refuses an unknown type or field instead of querying it', async () => {
        await expect(store.readings({ ...range, fields: ['pm25', 'pm10" OR 1=1'], limit: 10 })).rejects.toThrow(RangeError)
        await expect(store.windows({ ...range, fields: ['pm25'], type: 'reactor', every: HOUR, limit: 10 })).rejects.toThrow(RangeError)
      })
    })

    it('answers lastReadings: each device’s newest reading of a type within the window, whole', async () => {
      await writeAll([
        aq('aq-1', BASE, { pm25: 10, pm10: 20 }),
        aq('aq-1', BASE + MINUTE, { pm25: 11 }),
        aq('aq-2', BASE + 2 * MINUTE, { pm25: 99, pm10: 98 }),
        aq('aq-old', BASE - 3_600_000, { pm25: 5 }),
        line('noise', 'firenze', 'nz-1', BASE + MINUTE, { LAeq: 55 }),
      ])
      const byDevice = (list: { deviceId: string }[]) => [...list].sort((a, b) => (a.deviceId < b.deviceId ? -1 : 1))
      expect(byDevice(await store.lastReadings('air-quality', BASE - 60_000))).toEqual([
        { deviceId: 'aq-1', time: BASE + MINUTE, values: { pm25: 11 } },
        { deviceId: 'aq-2', time: BASE + 2 * MINUTE, values: { pm25: 99, pm10: 98 } },
      ])
      // `since` is exclusive; a device with nothing newer is left out.
      expect(await store.lastReadings('air-quality', BASE + MINUTE)).toEqual([{ deviceId: 'aq-2', time: BASE + 2 * MINUTE, values: { pm25: 99, pm10: 98 } }])
      expect(await store.lastReadings('air-quality', BASE + 2 * MINUTE)).toEqual([])
      expect(await store.lastReadings('traffic-counter', 0)).toEqual([])
      await expect(store.lastReadings('reactor" OR 1=1', 0)).rejects.toThrow(RangeError)
    })

    it('answers lastReadings with whole readings while readings are being written', async () => {
      // As in the latest() test: every reading carries every field, so every row must be whole.
      const fields = KINDS['air-quality'].fieldNames
      const reading = (i: number) => Object.fromEntries(fields.map((f, k) => [f, i * 10 + k]))
      const batch = (i: number) => Array.from({ length: 400 }, (_, k) => aq(`aq-${k}`, BASE + i * 1000, reading(i)))
      let writing = true
      const readers = Array.from({ length: 2 }, async () => {
        const seen: LastReading[][] = []
        while (writing) {
          seen.push(await store.lastReadings('air-quality', BASE - 1))
          await new Promise((resolve) => setImmediate(resolve))
        }
        return seen
      })
      for (let i = 0; i < 40; i++) {
        await writeAll(batch(i))
        await new Promise((resolve) => setImmediate(resolve)) // the readers' turn, where writing never yields (embedded)
      }
      writing = false
      const rows = (await Promise.all(readers)).flat(2)
      expect(rows.length).toBeGreaterThan(0)
      const partial = rows.filter((r) => !isDeepStrictEqual(r.values, reading((r.time - BASE) / 1000)))
      expect(partial.slice(0, 3)).toEqual([])
      expect((await store.lastReadings('air-quality', BASE - 1)).filter((r) => r.time === BASE + 39_000)).toHaveLength(400)
    })

    it('treats the lanes of a traffic counter as one device', async () => {
      const tc = (lane: number, time: number, intensity: number) => line('traffic-counter', 'prato', 'tc-1', time, { laneId: lane, intensity })
      await writeAll([tc(1, BASE, 10), tc(2, BASE, 30), tc(1, BASE + MINUTE, 12), tc(2, BASE + MINUTE + 1000, 40)])
      const query = { deviceId: 'tc-1', type: 'traffic-counter', field: 'intensity', from: BASE, to: BASE + 3_600_000, limit: 100 }
      expect(await store.latest({ deviceId: 'tc-1', type: 'traffic-counter' })).toEqual({ time: BASE + MINUTE + 1000, values: { intensity: 40 } })
      expect(await store.series({ ...query, every: MINUTE, aggregate: 'mean' })).toEqual([
        { time: BASE, value: 20 },
        { time: BASE + MINUTE, value: 26 },
      ])
      expect(await store.series({ ...query, every: MINUTE, aggregate: 'count' })).toEqual([
        { time: BASE, value: 2 },
        { time: BASE + MINUTE, value: 2 },
      ])
      const raw = await store.series(query)
      expect(raw.map((p) => p.time)).toEqual([BASE, BASE, BASE + MINUTE, BASE + MINUTE + 1000])
      expect(raw.map((p) => p.value).slice(0, 2).sort()).toEqual([10, 30])
    })

    it('aggregates a field per city within the range', async () => {
      await writeAll([
        aq('aq-1', BASE, { pm25: 10 }, 'firenze'),
        aq('aq-2', BASE + 1000, { pm25: 20 }, 'firenze'),
        aq('aq-2', BASE + 2000, { pm25: 36 }, 'firenze'),
        aq('aq-3', BASE, { pm25: 5 }, 'prato'),
        aq('aq-3', BASE + 10 * MINUTE, { pm25: 1000 }, 'prato'), // outside the range
        aq('aq-4', BASE - 1, { pm25: 1000 }, 'pistoia'), // outside the range
        aq('aq-5', BASE, { pm10: 3 }, 'pistoia'), // another field
      ])
      expect(await store.cityAggregates({ type: 'air-quality', field: 'pm25', from: BASE, to: BASE + 10 * MINUTE })).toEqual([
        { city: 'firenze', mean: 22, min: 10, max: 36, count: 3 },
        { city: 'prato', mean: 5, min: 5, max: 5, count: 1 },
      ])
    })

    it('rejects a malformed line with a reason and stores the rest of the batch', async () => {
      const good = [aq('aq-1', BASE, { pm25: 1 }), aq('aq-1', BASE + 1000, { pm25: 2 }), aq('aq-1', BASE + 2000, { pm25: 3 })]
      const bad = `air-quality,city=firenze,device=aq-1 pm25=twelve ${BASE + 500}`
      const result = await store.write(linesToBatch([good[0]!, bad, good[1]!, good[2]!]))
      expect(result.rejected).toHaveLength(1)
      expect(result.rejected[0]!.line).toBe(bad)
      expect(result.rejected[0]!.reason).toContain('twelve')
      const stored = await store.series({ deviceId: 'aq-1', type: 'air-quality', field: 'pm25', from: BASE, to: BASE + MINUTE, limit: 10 })
      expect(stored.map((p) => p.value)).toEqual([1, 2, 3])
    })

    it('takes a batch whose last line has no newline, and empty lines in it', async () => {
      const batch = Buffer.from(`${aq('aq-1', BASE, { pm25: 1 })}\n\n${aq('aq-1', BASE + 1000, { pm25: 2 })}`)
      expect(await store.write(batch)).toEqual({ rejected: [] })
      const stored = await store.series({ deviceId: 'aq-1', type: 'air-quality', field: 'pm25', from: BASE, to: BASE + MINUTE, limit: 10 })
      expect(stored.map((p) => p.value)).toEqual([1, 2])
    })

    it('rejects a line whose field type conflicts with what is stored', async () => {
      await writeAll([aq('aq-1', BASE, { pm25: 1 })])
      const conflicting = `air-quality,city=firenze,device=aq-1 pm25="high" ${BASE + 1000}`
      const result = await store.write(linesToBatch([conflicting, aq('aq-1', BASE + 2000, { pm25: 2 })]))
      expect(result.rejected.map((r) => r.line)).toEqual([conflicting])
      expect((await store.latest({ deviceId: 'aq-1', type: 'air-quality' }))?.values).toEqual({ pm25: 2 })
    })

    it('rejects a reading older than the retention period', async () => {
      const old = aq('aq-1', Date.now() - RETENTION_MS - 3 * 86_400_000, { pm25: 1 })
      const result = await store.write(linesToBatch([old, aq('aq-1', BASE, { pm25: 2 })]))
      expect(result.rejected.map((r) => r.line)).toEqual([old])
      expect(await store.latest({ deviceId: 'aq-1', type: 'air-quality' })).toEqual({ time: BASE, values: { pm25: 2 } })
    })

    describe('dead letters', () => {
      const now = Math.floor(Date.now() / 1000) * 1000 - 60_000
      const letter = (deviceId: string, receivedAt: number, payload: string): DeadLetter => ({
        deviceId,
        receivedAt,
        topic: `piazza/firenze/air-quality/${deviceId}`,
        code: 'invalid-json',
        reason: 'invalid JSON: Unexpected token',
        payload,
      })
      const tricky = 'line one\nline "two" with \\ backslash, commas = and \'quotes\''
      const first = letter('aq-1', now, '{"pm25": 1')
      const second = letter('aq-1', now, tricky) // same device, code and millisecond
      const third = letter('aq-2', now + 5, 'nope')

      beforeEach(async () => {
        await store.writeDeadLetters([first, second])
        await store.writeDeadLetters([third])
      })

      it('returns them newest first, both letters of one millisecond kept', async () => {
        expect(await store.deadLetters({ limit: 10 })).toEqual([third, second, first])
        expect(await store.deadLetters({ limit: 1 })).toEqual([third])
      })

      it('filters by device and time range (from inclusive, to exclusive)', async () => {
        expect(await store.deadLetters({ deviceId: 'aq-1', limit: 10 })).toEqual([second, first])
        expect(await store.deadLetters({ from: now + 5, limit: 10 })).toEqual([third])
        expect(await store.deadLetters({ from: now, to: now + 5, limit: 10 })).toEqual([second, first])
        expect(await store.deadLetters({ deviceId: 'aq-2', to: now + 5, limit: 10 })).toEqual([])
      })
    })

    it('reports healthy once initialised', async () => {
      const health = await store.health()
      expect(health.detail).toMatch(/\w/)
      expect(health.ok).toBe(true)
    })
  })
}

contract('embedded', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'piazza-embedded-'))
  return {
    storage: createEmbeddedStorage({ file: join(dir, 'piazza.db'), retentionMs: RETENTION_MS }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  }
})

describe('embedded storage', () => {
  it('prunes what falls out of a shortened retention when it opens', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'piazza-embedded-'))
    const file = join(dir, 'piazza.db')
    const now = Date.now()
    try {
      const long = createEmbeddedStorage({ file, retentionMs: RETENTION_MS })
      await long.init()
      await long.write(linesToBatch([aq('aq-1', now - 2 * 3_600_000, { pm25: 1 }), aq('aq-1', now - 60_000, { pm25: 2 })]))
      await long.writeDeadLetters([{ deviceId: 'aq-1', receivedAt: now - 2 * 3_600_000, topic: 't', code: 'invalid-json', reason: 'r', payload: 'p' }])
      await long.close()

      const short = createEmbeddedStorage({ file, retentionMs: 3_600_000 })
      await short.init()
      const query = { deviceId: 'aq-1', type: 'air-quality', field: 'pm25', from: 0, to: now + 1, limit: 10 }
      expect(await short.series(query)).toEqual([{ time: now - 60_000, value: 2 }])
      expect(await short.deadLetters({ limit: 10 })).toEqual([])
      await short.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

const influxUrl = inject('influxUrl')
let databases = 0
const uniqueDatabase = () => `piazza_test_${process.pid}_${Date.now().toString(36)}_${++databases}`

async function influxql(url: string, q: string, auth?: string): Promise<any> {
  const res = await fetch(`${url}/query`, {
    method: 'POST',
    body: new URLSearchParams({ q }),
    headers: auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {},
  })
  return res.json()
}

contract('influxdb', async () => {
  const database = uniqueDatabase()
  return {
    storage: createInfluxStorage({ url: influxUrl, database, retentionMs: RETENTION_MS }),
    cleanup: async () => void (await influxql(influxUrl, `DROP DATABASE "${database}"`)),
  }
})

describe('influxdb storage', () => {
  it('init creates the database and a default retention policy, and follows a changed retention', async () => {
    const database = uniqueDatabase()
    const policies = async () => (await influxql(influxUrl, `SHOW RETENTION POLICIES ON "${database}"`)).results[0]
    expect((await policies()).error).toMatch(/database not found/)

    const store = createInfluxStorage({ url: influxUrl, database, retentionMs: 90 * 60_000 })
    await store.init()
    await store.init()
    expect((await policies()).series[0].values).toContainEqual(['piazza_raw', '2h0m0s', '1h0m0s', 1, true])
    await store.close()

    const longer = createInfluxStorage({ url: influxUrl, database, retentionMs: RETENTION_MS, retentionPolicy: 'piazza_raw' })
    await longer.init()
    expect((await policies()).series[0].values).toContainEqual(['piazza_raw', '720h0m0s', '24h0m0s', 1, true])
    await longer.close()
    await influxql(influxUrl, `DROP DATABASE "${database}"`)
  })

  it('writes each line of a batch to its family\'s policy only, lines of several policies interleaved', async () => {
    const database = uniqueDatabase()
    const store = createInfluxStorage({ url: influxUrl, database, retentionMs: RETENTION_MS, familyRetentionMs: { environment: RETENTION_MS } })
    await store.init()
    const parking = (time: number, free: number) => line('parking', 'firenze', 'p-1', time, { availableSpotNumber: free })
    const batch = [aq('aq-1', BASE, { pm25: 1 }), parking(BASE, 10), aq('aq-1', BASE + 1000, { pm25: 2 }), parking(BASE + 1000, 11), aq('aq-1', BASE + 2000, { pm25: 3 })]
    expect(await store.write(linesToBatch(batch))).toEqual({ rejected: [] })
    const count = async (policy: string, measurement: string) =>
      (await influxql(influxUrl, `SELECT count(*) FROM "${database}"."${policy}"."${measurement}"`)).results[0].series?.[0]?.values[0].slice(1)
    expect(await count('piazza_raw_environment', 'air-quality')).toEqual([3])
    expect(await count('piazza_raw', 'parking')).toEqual([2])
    expect(await count('piazza_raw', 'air-quality')).toBeUndefined()
    expect(await count('piazza_raw_environment', 'parking')).toBeUndefined()
    await store.close()
    await influxql(influxUrl, `DROP DATABASE "${database}"`)
  })

  it('health tells an unreachable server apart', async () => {
    const url = `http://127.0.0.1:${await freePort()}`
    const store = createInfluxStorage({ url, database: 'x', retentionMs: RETENTION_MS })
    const health = await store.health()
    expect(health.ok).toBe(false)
    expect(health.detail).toContain(`InfluxDB at ${url} is unreachable`)
    await expect(store.write(linesToBatch([aq('aq-1', BASE, { pm25: 1 })]))).rejects.toBeInstanceOf(StorageUnavailableError)
    await expect(store.init()).rejects.toBeInstanceOf(StorageUnavailableError)
    await store.close()
  })

  it('health says when init has not run', async () => {
    const store = createInfluxStorage({ url: influxUrl, database: uniqueDatabase(), retentionMs: RETENTION_MS })
    expect(await store.health()).toEqual({ ok: false, detail: expect.stringMatching(/has no database .* \(init has not run\)/) })
    await store.close()
  })

  describe('with authentication', () => {
    let influxd: Influxd
    const admin = { username: 'piazza', password: "s3cret'pass" }
    beforeAll(async () => {
      influxd = await startInfluxd({ auth: admin })
    })
    afterAll(async () => {
      await influxd?.stop()
      if (influxd) rmSync(influxd.dataDir, { recursive: true, force: true })
    })

    it('reports refused credentials in health and write, and never as rejected lines', async () => {
      const database = uniqueDatabase()
      const good = createInfluxStorage({ url: influxd.url, database, retentionMs: RETENTION_MS, ...admin })
      await good.init()
      expect(await good.health()).toMatchObject({ ok: true })
      expect(await good.write(linesToBatch([aq('aq-1', BASE, { pm25: 4 })]))).toEqual({ rejected: [] })
      expect(await good.latest({ deviceId: 'aq-1', type: 'air-quality' })).toEqual({ time: BASE, values: { pm25: 4 } })
      await good.close()

      const wrong = createInfluxStorage({ url: influxd.url, database, retentionMs: RETENTION_MS, username: 'piazza', password: 'wrong' })
      expect(await wrong.health()).toEqual({ ok: false, detail: `InfluxDB at ${influxd.url} refused the credentials (401)` })
      const failure = await wrong.write(linesToBatch([aq('aq-1', BASE, { pm25: 5 })])).catch((e: unknown) => e)
      expect(failure).toBeInstanceOf(StorageUnavailableError)
      expect((failure as Error).message).toMatch(/refused the credentials \(401\)/)
      await expect(wrong.writeDeadLetters([{ deviceId: 'aq-1', receivedAt: Date.now(), topic: 't', code: 'invalid-json', reason: 'r', payload: 'p' }])).rejects.toBeInstanceOf(StorageUnavailableError)
      await wrong.close()
    })
  })

  describe('when the server goes away', () => {
    let influxd: Influxd
    beforeAll(async () => {
      influxd = await startInfluxd()
    })
    afterAll(async () => {
      await influxd?.stop()
      if (influxd) rmSync(influxd.dataDir, { recursive: true, force: true })
    })

    it('write throws StorageUnavailableError while it is down and works again after a restart', async () => {
      const store = createInfluxStorage({ url: influxd.url, database: uniqueDatabase(), retentionMs: RETENTION_MS, timeoutMs: 2000 })
      await store.init()
      expect(await store.write(linesToBatch([aq('aq-1', BASE, { pm25: 1 })]))).toEqual({ rejected: [] })

      await influxd.stop()
      await expect(store.write(linesToBatch([aq('aq-1', BASE + 1000, { pm25: 2 })]))).rejects.toBeInstanceOf(StorageUnavailableError)
      expect((await store.health()).ok).toBe(false)

      await influxd.start()
      expect(await store.write(linesToBatch([aq('aq-1', BASE + 1000, { pm25: 2 })]))).toEqual({ rejected: [] })
      // Killed without warning: what was acknowledged survives through the WAL.
      await influxd.kill()
      await influxd.start()
      expect(await store.latest({ deviceId: 'aq-1', type: 'air-quality' })).toEqual({ time: BASE + 1000, values: { pm25: 2 } })
      await store.close()
    })
  })

  it('closes a request that timed out, so a store that never answers holds no sockets', async () => {
    // A fault the real server cannot be made to produce on demand: it accepts and never answers.
    const open = new Set<import('node:net').Socket>()
    let accepted = 0
    const server = createServer((req) => req.resume())
    server.on('connection', (socket) => {
      accepted += 1
      open.add(socket)
      socket.on('close', () => open.delete(socket))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const store = createInfluxStorage({ url, database: 'x', retentionMs: RETENTION_MS, timeoutMs: 200 })
    try {
      for (let i = 0; i < 3; i++) {
        const failure = await store.write(linesToBatch([aq('aq-1', BASE + i, { pm25: 1 })])).catch((e: unknown) => e)
        expect(failure).toBeInstanceOf(StorageUnavailableError)
      }
      expect(accepted).toBeGreaterThanOrEqual(3)
      await expect.poll(() => open.size, { timeout: 10_000 }).toBe(0)
    } finally {
      await store.close()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it('reads Retry-After as seconds', async () => {
    // A fault the real server cannot be made to produce on demand.
    const server = createServer((req, res) => {
      req.resume()
      req.on('end', () => {
        res.writeHead(503, { 'Retry-After': '7', 'Content-Type': 'application/json' })
        res.end('{"error":"overloaded"}')
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const store = createInfluxStorage({ url, database: 'x', retentionMs: RETENTION_MS })
    try {
      const failure = await store.write(linesToBatch([aq('aq-1', BASE, { pm25: 1 })])).catch((e: unknown) => e)
      expect(failure).toBeInstanceOf(StorageUnavailableError)
      expect((failure as StorageUnavailableError).retryAfterMs).toBe(7000)
      expect((failure as Error).message).toMatch(/503: overloaded/)
    } finally {
      await store.close()
      server.close()
    }
  })
})
