import { describe, expect, it } from 'vitest'

import { createLocalFeed, type Feed, type LocalFeedOptions } from './feed.ts'

feedContract('in process', (options) => createLocalFeed(options))

/** What every Feed implementation must do; feed.test.ts runs it against each of them. */
function feedContract(name: string, make: (options: LocalFeedOptions) => Feed | Promise<Feed>, settle: () => Promise<void> = async () => {}) {
  const device = { id: 'aq-firenze-001', type: 'air-quality' as const, city: 'firenze' }

  describe(`feed contract: ${name}`, () => {
    it('delivers every event to every subscriber, in order', async () => {
      const feed = await make({})
      const a: string[] = []
      const b: string[] = []
      feed.subscribe({ accepted: (d, r) => a.push(`accepted ${d.id} ${r.length}`), connection: (id, c) => a.push(`connection ${id} ${c}`) })
      feed.subscribe({ rejected: (d, r) => b.push(`rejected ${d.id} ${r[0]!.code}`) })
      feed.connection(device.id, true)
      feed.accepted(device, [{ time: 1, values: { pm25: 1 } }, { time: 2, values: { pm25: 2 } }], 3)
      feed.rejected(device, [{ code: 'invalid-json', reason: 'x' }], 4)
      await settle()
      expect(a).toEqual(['connection aq-firenze-001 true', 'accepted aq-firenze-001 2'])
      expect(b).toEqual(['rejected aq-firenze-001 invalid-json'])
    })

    it('stops delivering after unsubscribe', async () => {
      const feed = await make({})
      const seen: number[] = []
      const stop = feed.subscribe({ accepted: (_d, _r, at) => seen.push(at) })
      feed.accepted(device, [{ time: 1, values: {} }], 1)
      stop()
      feed.accepted(device, [{ time: 2, values: {} }], 2)
      await settle()
      expect(seen).toEqual([1])
    })

    it('keeps a throwing listener away from the publisher and the other listeners, and reports it', async () => {
      const errors: string[] = []
      const feed = await make({ onError: (err, event) => errors.push(`${event}: ${(err as Error).message}`) })
      const seen: string[] = []
      feed.subscribe({
        accepted: () => {
          throw new Error('broken listener')
        },
      })
      feed.subscribe({ accepted: (d) => seen.push(d.id) })
      expect(() => feed.accepted(device, [{ time: 1, values: {} }], 1)).not.toThrow()
      await settle()
      expect(seen).toEqual([device.id])
      expect(errors).toEqual(['accepted: broken listener'])
    })
  })
}

describe('local feed timing (diagnostics)', () => {
  const device = { id: 'aq-firenze-001', type: 'air-quality' as const, city: 'firenze' }
  const busy = (ms: number) => {
    const until = performance.now() + ms
    while (performance.now() < until) {
      // spin
    }
  }

  it('is off by default: no totals, listeners called as given', () => {
    const feed = createLocalFeed()
    const seen: string[] = []
    feed.subscribe({ accepted: (d) => seen.push(d.id) }, 'live')
    feed.accepted(device, [{ time: 1, values: {} }], 1)
    expect(seen).toEqual([device.id])
    expect(feed.listenerSeconds).toBeUndefined()
  })

  it('adds up the time of each named subscriber, every event, thrown or not', () => {
    const errors: string[] = []
    const feed = createLocalFeed({ timing: true, onError: (_err, event) => errors.push(event) })
    const seen: string[] = []
    feed.subscribe({ accepted: () => busy(5), connection: () => busy(5) }, 'slow')
    feed.subscribe({ accepted: (d) => seen.push(d.id) }, 'fast')
    feed.subscribe({
      rejected: () => {
        busy(3)
        throw new Error('broken')
      },
    })
    feed.accepted(device, [{ time: 1, values: {} }], 1)
    feed.connection(device.id, true)
    feed.rejected(device, [{ code: 'invalid-json', reason: 'x' }], 2)
    const totals = feed.listenerSeconds!()
    expect(Object.keys(totals).sort()).toEqual(['fast', 'slow', 'unnamed'])
    expect(totals.slow).toBeGreaterThanOrEqual(0.01)
    expect(totals.fast).toBeLessThan(0.005)
    expect(totals.unnamed).toBeGreaterThanOrEqual(0.003)
    expect(seen).toEqual([device.id])
    expect(errors).toEqual(['rejected'])
  })

  it('unsubscribes the timed listener', () => {
    const feed = createLocalFeed({ timing: true })
    const seen: number[] = []
    const stop = feed.subscribe({ accepted: (_d, _r, at) => seen.push(at) }, 'live')
    feed.accepted(device, [{ time: 1, values: {} }], 1)
    stop()
    feed.accepted(device, [{ time: 2, values: {} }], 2)
    expect(seen).toEqual([1])
  })
})
