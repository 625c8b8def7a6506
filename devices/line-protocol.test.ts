import { describe, expect, it } from 'vitest'
import { batchLines, linesToBatch, numberText } from './line-protocol.ts'

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

describe('numberText', () => {
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
  })

  it('writes other fractions, negative zero and random doubles as String() does', () => {
    let seed = 7
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648
    const values = [0, -0, 0.1 + 0.2, 1.005, 1 / 3, -2 / 3, 123.4567, 0.0005, 0.0015]
    for (let i = 0; i < 100_000; i++) values.push((random() - 0.5) * 10 ** Math.floor(random() * 12 - 4))
    expect(mismatches(values)).toEqual([])
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
