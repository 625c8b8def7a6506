import { describe, expect, it } from 'vitest'
import { createLiveState, fullView, publicView } from './live-state.ts'

describe('live state', () => {
  const t0 = 1_790_000_000_000
  const bus = { id: 'bus-1', type: 'bus' as const, city: 'firenze' }

  it('shows the newest reading only: a late older one is ignored, and nothing of the one before carries over', () => {
    const state = createLiveState()
    state.reading(bus, [{ time: t0, values: { ts: t0, route: '14', lat: 43.77, lon: 11.25, speed: 30 } }], t0 + 100)
    const first = state.takeDirty()[0]!
    expect(fullView(first)).toEqual({ id: 'bus-1', type: 'bus', city: 'firenze', time: t0, values: { route: '14', lat: 43.77, lon: 11.25, speed: 30 } })

    // Two in one message: the newest wins, whatever their order.
    state.reading(bus, [{ time: t0 + 2000, values: { route: '6', lat: 43.78, lon: 11.26 } }, { time: t0 + 1000, values: { route: '14', lat: 1, lon: 1, speed: 1 } }], t0 + 2100)
    state.reading(bus, [{ time: t0 + 500, values: { route: '23', lat: 43.7, lon: 11.2, delay: 60 } }], t0 + 2200)
    const [entry] = state.takeDirty()
    expect(entry).toBe(first)
    expect(fullView(entry!)).toEqual({ id: 'bus-1', type: 'bus', city: 'firenze', time: t0 + 2000, values: { route: '6', lat: 43.78, lon: 11.26 } })
    expect(publicView(entry!).values).toEqual({ route: '6', lat: 43.78, lon: 11.26 })
    expect(entry!.receivedAt).toBe(t0 + 2200)
  })

  it('takes a restored reading only while it has none, and the live one after it', () => {
    const state = createLiveState()
    const station = { id: 'aq-1', type: 'air-quality' as const, city: 'pisa' }
    expect(state.seed(station, { time: t0, values: { pm25: 12, pm10: 20, no2: 'n/a' } })).toBe(true)
    expect(fullView(state.get('aq-1')!).values).toEqual({ pm25: 12, pm10: 20 })
    expect(state.seed(station, { time: t0 + 1, values: { pm25: 99 } })).toBe(false)
    state.reading(station, [{ time: t0 + 60_000, values: { pm10: 25 } }], t0 + 60_100)
    const e = state.get('aq-1')!
    expect(fullView(e).values).toEqual({ pm10: 25 })
  })
})
