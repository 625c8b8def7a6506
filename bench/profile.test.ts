import { describe, expect, it } from 'vitest'
import { formatProfile, summariseProfile, type CpuProfile } from './profile.ts'

const frame = (functionName: string, url = '', lineNumber = -1) => ({ functionName, url, lineNumber, columnNumber: 0 })

describe('summariseProfile', () => {
  // 10 samples: 2 idle, 2 GC, 3 in parse (two nodes, same function on two stacks), 2 in write, 1 in root.
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)') },
      { id: 2, callFrame: frame('(idle)') },
      { id: 3, callFrame: frame('(garbage collector)') },
      { id: 4, callFrame: frame('parse', 'file:///work/main/ingest/pipeline.ts', 41) },
      { id: 5, callFrame: frame('parse', 'file:///work/main/ingest/pipeline.ts', 41) },
      { id: 6, callFrame: frame('write', 'file:///work/main/node_modules/aedes/lib/client.js', 9) },
    ],
    samples: [2, 4, 5, 4, 3, 6, 3, 6, 2, 1],
  }

  it('counts self samples per function, merging stacks, with shares of the busy samples', () => {
    const s = summariseProfile(profile)
    expect(s.samples).toBe(10)
    expect(s.busySamples).toBe(8)
    expect(s.idleShare).toBeCloseTo(0.2)
    expect(s.gcShare).toBeCloseTo(0.25)
    expect(s.top[0]).toEqual({ name: 'parse', location: 'ingest/pipeline.ts:42', samples: 3, share: 3 / 8 })
    expect(s.top.map((t) => t.name)).toEqual(['parse', '(garbage collector)', 'write', '(root)'])
    expect(s.top[2]!.location).toBe('aedes/lib/client.js:10')
  })

  it('keeps the top N and prints them', () => {
    const s = summariseProfile(profile, 2)
    expect(s.top).toHaveLength(2)
    const text = formatProfile(s)
    expect(text).toContain('Garbage collection: 25.0 %')
    expect(text).toContain('37.5 %  parse (ingest/pipeline.ts:42)')
  })

  it('survives an empty profile', () => {
    expect(summariseProfile({ nodes: [], samples: [] })).toMatchObject({ samples: 0, busySamples: 0, gcShare: 0, top: [] })
  })
})
