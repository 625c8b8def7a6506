import { describe, expect, it } from 'vitest'
import { checkWords } from '../dashboard/app/installer/check-words.ts'
import { assess, type Track } from '../dashboard/server/devices/commissioning-checks.ts'
import type { Device } from '../devices/device-schemas.ts'
import type { Check } from '../dashboard/shared/commissioning.ts'

/**
 * The commissioning page words each check from what the server found (code and figures) in the
 * page's language. Every state the server can reach is covered: English words the same as the
 * server's message, Italian words of their own with the figures in Italian.
 */

const NOW = 1_790_000_000_000
const device = (over: Partial<Device> = {}): Device => ({
  id: 'aq-firenze-1',
  type: 'air-quality',
  city: 'firenze',
  name: 'Viale Gramsci 12',
  lat: 43.7745,
  lon: 11.2668,
  interval: 60,
  metadata: {},
  status: 'active',
  createdAt: '2026-12-01T00:00:00.000Z',
  updatedAt: '2026-12-01T00:00:00.000Z',
  createdBy: 'ivan',
  ...over,
})
const track = (over: Partial<Track> = {}): Track => ({ everConnected: false, accepted: 0, rejected: 0, rejections: [], times: [], ...over })
const reading = (t: number) => ({ time: t, receivedAt: t, values: { pm25: 12.5, pm10: 20 } })

const states: [string, Device, Track | undefined, boolean][] = [
  ['waiting', device(), undefined, false],
  ['revoked', device({ status: 'revoked' }), undefined, false],
  ['connected, one reading', device(), track({ connected: true, everConnected: true, first: reading(NOW - 1000), last: reading(NOW - 1000), accepted: 1, times: [NOW - 1000], lastEvent: 'accepted' }), true],
  ['refused login', device(), track({ everConnected: true, connectedAt: NOW - 90_000, disconnectedAt: NOW - 60_000, loginRefusal: { deviceId: 'aq-firenze-1', reason: 'bad-secret', message: 'wrong password: …', at: NOW - 1000 } }), false],
  ['was connected, refused payload', device(), track({ everConnected: true, disconnectedAt: NOW - 1000, rejections: [{ at: NOW - 2000, code: 'out-of-range', reason: "pm25 -3 is below 0" }], rejected: 1, lastEvent: 'rejected' }), false],
  ['good interval', device({ lat: 43.9, lon: 11.5 }), track({ connected: true, everConnected: true, first: reading(NOW - 180_000), last: reading(NOW), accepted: 4, times: [NOW - 180_000, NOW - 120_000, NOW - 60_000, NOW], lastEvent: 'accepted' }), true],
  ['interval off, far from the city', device({ lat: 44.5, lon: 12.5, interval: 30 }), track({ connected: true, everConnected: true, first: reading(NOW - 600_000), last: reading(NOW), accepted: 3, times: [NOW - 600_000, NOW - 300_000, NOW], lastEvent: 'accepted' }), true],
  ['a bus away from its city', device({ id: 'bus-firenze-1', type: 'bus', interval: 10 }), track({ connected: true, everConnected: true, first: reading(NOW - 10_000), last: { time: NOW, receivedAt: NOW, values: { lat: 45.46, lon: 9.19, route: '14' } }, accepted: 1, times: [NOW], lastEvent: 'accepted' }), true],
  ['unknown city', device({ city: 'milano' }), undefined, false],
]

const all = states.flatMap(([name, d, t, connected]) => Object.entries(assess(d, t, connected, NOW).checks).map(([key, c]) => [`${name}: ${key}`, c] as [string, Check]))

describe('commissioning checks in the page’s language', () => {
  it('reaches every code the page words (the states above cover them all)', () => {
    expect(new Set(all.map(([, c]) => c.code))).toEqual(
      new Set(['waiting-connection', 'not-active', 'connected', 'login-refused', 'was-connected', 'accepted', 'waiting-reading', 'payload-refused', 'in-range', 'waiting-values', 'near-city', 'far-from-city', 'bus-away', 'unknown-city', 'waiting-two-readings', 'waiting-second-reading', 'interval-ok', 'interval-off']),
    )
  })

  it.each(all)('%s: English as the server says it, Italian its own', (_, check) => {
    expect(checkWords(check, 'en')).toBe(check.message)
    const italian = checkWords(check, 'it')
    expect(italian).not.toBe(check.message)
    expect(italian).not.toMatch(/\b(waiting|readings?|connected|refused|from the centre|expected)\b/)
  })

  it('gives figures with a decimal comma in Italian, and minutes from two minutes on', () => {
    const far = all.find(([, c]) => c.code === 'far-from-city')![1]
    expect(checkWords(far, 'it')).toMatch(/^\d+,\d km dal centro di Firenze, più di \d+ km/)
    const off = all.find(([, c]) => c.code === 'interval-off')![1]
    expect(checkWords(off, 'it')).toBe('le letture arrivano ogni 5 min, previsto ogni 30 s: correggi l’intervallo di trasmissione del dispositivo o quello previsto')
    const refused = all.find(([, c]) => c.code === 'login-refused')![1]
    expect(checkWords(refused, 'it')).toBe('accesso rifiutato: password sbagliata')
  })

  it('shows the server’s English message for a code the page does not know (a newer server)', () => {
    expect(checkWords({ state: 'warn', code: 'something-new', params: {}, message: 'a newer check' }, 'it')).toBe('a newer check')
  })
})
