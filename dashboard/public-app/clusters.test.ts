import { describe, expect, it } from 'vitest'
import { clusterPoints } from './clusters.ts'

describe('clusterPoints', () => {
  it('keeps points further apart than the radius on their own, in order', () => {
    const out = clusterPoints(
      [
        { id: 'a', x: 0, y: 0 },
        { id: 'b', x: 40, y: 0 },
        { id: 'c', x: 0, y: 40 },
      ],
      30,
    )
    expect(out.map((c) => c.ids)).toEqual([['a'], ['b'], ['c']])
    expect(out[1]).toEqual({ ids: ['b'], x: 40, y: 0 })
  })

  it('groups points within the radius of a group’s first point, at their mean position', () => {
    const out = clusterPoints(
      [
        { id: '1', x: 100, y: 100 },
        { id: '2', x: 110, y: 100 },
        { id: '3', x: 300, y: 300 },
        { id: '4', x: 100, y: 129.9 },
      ],
      30,
    )
    expect(out.map((c) => c.ids)).toEqual([['1', '2', '4'], ['3']])
    expect(out[0]!.x).toBeCloseTo(103.33, 2)
    expect(out[0]!.y).toBeCloseTo(109.97, 2)
  })

  it('treats the radius as exclusive and an empty list as no groups', () => {
    expect(clusterPoints([{ id: 'a', x: 0, y: 0 }, { id: 'b', x: 30, y: 0 }], 30)).toHaveLength(2)
    expect(clusterPoints([], 30)).toEqual([])
  })
})
