import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { createGcTrace, gcDelta } from './gc-trace.ts'

const line = (gc: string, allocated: number, promoted: number) =>
  `[1234:0x5f00a0]      395 ms: pause=3.3 mutator=30.1 gc=${gc} reduce_memory=0 scavenge=2.73 total_size_before=3960536 allocated=${allocated} promoted=${promoted} new_space_survived=490584 promotion_ratio=0.0%`

describe('gc trace', () => {
  it('counts the collections in a child’s stdout and passes every other line on, lines split across chunks included', () => {
    const trace = createGcTrace()
    const text = [line('s', 1000, 10), '{"level":40,"msg":"a warning"}', line('s', 2000, 20), line('mc', 500, 5), 'Piazza is running.', ''].join('\n')
    let rest = ''
    for (let i = 0; i < text.length; i += 7) rest += trace.take(text.slice(i, i + 7))
    expect(rest).toBe('{"level":40,"msg":"a warning"}\nPiazza is running.\n')
    expect(trace.tally()).toEqual({ allocated: 3500, promoted: 35, scavenges: 2, markCompacts: 1 })
  })

  it('reads what V8 prints with --trace-gc-nvp', () => {
    const stdout = execFileSync(process.execPath, ['--trace-gc-nvp', '--expose-gc', '-e', 'let a = []; for (let i = 0; i < 2e6; i++) { a.push({ i }); if (a.length > 1e5) a = [] } gc(); console.log("done")'], { encoding: 'utf8' })
    const trace = createGcTrace()
    expect(trace.take(stdout)).toBe('done\n')
    const tally = trace.tally()
    // 2e6 objects of 16 bytes or more were allocated; some survived a scavenge and were promoted.
    expect(tally.allocated).toBeGreaterThan(2e6 * 16)
    expect(tally.promoted).toBeGreaterThan(0)
    expect(tally.scavenges).toBeGreaterThan(0)
    expect(tally.markCompacts).toBeGreaterThan(0)
  })

  it('gives the difference between two tallies', () => {
    expect(gcDelta({ allocated: 10, promoted: 2, scavenges: 1, markCompacts: 0 }, { allocated: 25, promoted: 3, scavenges: 4, markCompacts: 1 })).toEqual({ allocated: 15, promoted: 1, scavenges: 3, markCompacts: 1 })
    expect(gcDelta(undefined, { allocated: 25, promoted: 3, scavenges: 4, markCompacts: 1 })).toBeUndefined()
  })
})
