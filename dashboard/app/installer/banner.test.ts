import { describe, expect, it } from 'vitest'
import { bannerFor } from './banner.ts'

const device = { id: 'aq-1', type: 'air-quality', name: 'A', cityName: 'Firenze', city: 'firenze', lat: 0, lon: 0, interval: 60, status: 'active', createdBy: 'cli' } as const
const reading = (receivedAt: number) => ({ time: receivedAt, receivedAt, values: { pm25: 3 } })

describe('the commissioning banner', () => {
  it('says readings arrive while they do', () => {
    expect(bannerFor({ stage: 'receiving', device, lastReading: reading(1_000_000) }, 1_000_000 + 4 * 60_000)).toEqual({ text: 'Readings arrive. Checking that they are plausible…', silent: false })
  })
  it('says the device stopped after 5 silent intervals, with how long', () => {
    expect(bannerFor({ stage: 'receiving', device, lastReading: reading(1_000_000) }, 1_000_000 + 6 * 60_000)).toEqual({
      text: 'No reading for 6 min (expected every 60 s): the device stopped sending. Check its power and network.',
      silent: true,
    })
  })
  it('keeps the other stages as they are', () => {
    expect(bannerFor({ stage: 'plausible', device, lastReading: reading(0) }, 10_000_000).silent).toBe(false)
    expect(bannerFor({ stage: 'waiting', device }, 10_000_000).text).toBe('Waiting for the device to connect…')
  })
})
