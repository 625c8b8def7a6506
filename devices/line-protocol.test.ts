import { describe, expect, it } from 'vitest'
import { KINDS } from './kinds.ts'
import { createByteSink } from './byte-sink.ts'
import { batchLines, encodeReading, linesToBatch, seriesPrefix, writeNumber, writeReading } from './line-protocol.ts'

const numberText = (value: number): string => {
  const buf = Buffer.alloc(40)
  return buf.toString('latin1', 0, writeNumber(buf, 0, value))
}

/** Every value whose text differs from String(value), for the report of a failing test. */
function mismatches(values: Iterable<number>): [number, string, string][] {
  const wrong: [number, string, string][] = []
  for (const value of values) {
    const text = numberText(value)
    if (text !== String(value)) wrong.push([value, text, String(value)])
  }
  return wrong.slice(0, 10)
}

function* range(from: number, to: number, step: number, scale: number) {
  for (let i = from; i < to; i += step) yield i / scale
}

describe('writeNumber', () => {
  it('writes every value with up to three decimals as String() does, near zero, on both sides', () => {
    expect(mismatches(range(-200_000, 200_000, 1, 1000))).toEqual([])
    expect(mismatches(range(-200_000, 200_000, 1, 100))).toEqual([])
    expect(mismatches(range(-20_000, 20_000, 1, 10))).toEqual([])
  })

  it('writes values up to the 31-bit bound of thousandths and past it as String() does', () => {
    const bound = 2 ** 31
    expect(mismatches(range(bound - 5000, bound + 5000, 1, 1000))).toEqual([])
    expect(mismatches(range(1_000_000_000, 1_000_000_000 + 3_000_000, 997, 1000))).toEqual([])
    expect(mismatches([2_147_483.647, 2_147_483.648, 2_147_483.6475, 1e6, 1e9, 1e21, 1e-7, 5e-324, Number.MAX_VALUE, -Number.MAX_VALUE])).toEqual([])
  })

  it('writes millisecond times and other large integers as String() does, zeros in the middle included', () => {
    const now = 1_796_500_000_000
    expect(mismatches(range(now, now + 200_000, 1, 1))).toEqual([])
    expect(mismatches([1_796_000_000_000, 1_796_000_000_001, 1_796_000_099_999, 1_796_100_000_000, 2 ** 31, 2 ** 31 + 1, 999_999_999, 1_000_000_000, Number.MAX_SAFE_INTEGER])).toEqual([])
    // Just below and at each multiple of 1e9 up to 2^53, where the split into two parts could go wrong.
    const edges: number[] = []
    for (let k = 2; k <= 9_007_199; k += 997) edges.push(k * 1e9 - 1, k * 1e9, k * 1e9 + 1)
    expect(mismatches(edges)).toEqual([])
  })

  it('writes other fractions, negative zero and random doubles as String() does', () => {
    let seed = 7
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648
    const values = [0, -0, 0.1 + 0.2, 1.005, 1 / 3, -2 / 3, 123.4567, 0.0005, 0.0015]
    for (let i = 0; i < 100_000; i++) values.push((random() - 0.5) * 10 ** Math.floor(random() * 12 - 4))
    expect(mismatches(values)).toEqual([])
  })
})

describe('writeReading', () => {
  const aq = KINDS['air-quality']
  const counter = KINDS['traffic-counter']

  it('writes readings one after another into a sink that grows from a few bytes, each field as String() writes it', () => {
    const prefix = seriesPrefix({ type: aq.type, city: 'firenze', deviceId: 'aq-firenze-01' })
    const sink = createByteSink(8)
    let expected = ''
    for (let i = 0; i < 200; i++) {
      const values: Record<string, number> = { pm25: i / 8, no2: -i * 1.001, co: 1e-7 * i }
      const time = 1_796_500_000_000 + i
      writeReading(sink, aq, Buffer.from(prefix), { time, values })
      sink.bytes[sink.length++] = 10
      const fields = aq.fieldNames.filter((name) => name in values).map((name) => `${name}=${String(values[name])}`)
      expected += `${prefix} ${fields.join(',')} ${time}\n`
    }
    expect(sink.bytes.length).toBeGreaterThan(8)
    expect(sink.bytes.toString('utf8', 0, sink.length)).toBe(expected)
    expect(expected).toContain('air-quality,city=firenze,device=aq-firenze-01 pm25=0.375,no2=-3.0029999999999997,co=3e-7 1796500000003\n')
  })

  it('writes tag values escaped and as UTF-8, and leaves out fields the reading lacks', () => {
    const prefix = seriesPrefix({ type: counter.type, city: 'forlì', deviceId: 'tc 1' })
    const line = encodeReading(counter, prefix, { time: 5, values: { laneId: 'nord, è=1', intensity: 3 } })
    expect(line).toBe('traffic-counter,city=forlì,device=tc\\ 1,laneId=nord\\,\\ è\\=1 intensity=3 5')
  })
})

describe('line batches', () => {
  it('turns lines into a batch and back, multi-byte text included', () => {
    const lines = ['air-quality,city=firenze,device=a pm25=1 1000', 'traffic,city=forlì,device=b,laneId=2 count=3 2000']
    const batch = linesToBatch(lines)
    expect(batch.toString()).toBe(`${lines[0]}\n${lines[1]}\n`)
    expect(batchLines(batch)).toEqual(lines)
    expect(batchLines(Buffer.from('a 1 1\n\nb 2 2'))).toEqual(['a 1 1', 'b 2 2'])
  })
})
