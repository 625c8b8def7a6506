import { afterEach, describe, expect, it } from 'vitest'
import { setAppLang } from '../locale.ts'
import { bannerFor } from './banner.ts'

const device = { id: 'aq-1', type: 'air-quality', name: 'A', cityName: 'Firenze', city: 'firenze', lat: 0, lon: 0, interval: 60, status: 'active', createdBy: 'cli' } as const
const reading = (receivedAt: number) => ({ time: receivedAt, receivedAt, values: { pm25: 3 } })

describe('the commissioning banner', () => {
  it('says readings arrive while they do', () => {
    expect(bannerFor({ stage: 'receiving', device, lastReading: reading(1_000_000) }, 1_000_000 + 4 * 60_000)).toEqual({ text: 'Readings arrive. Checking that they are plausible…', silent: false, refused: false })
  })
  it('says the device stopped after 5 silent intervals, with how long', () => {
    expect(bannerFor({ stage: 'receiving', device, lastReading: reading(1_000_000) }, 1_000_000 + 6 * 60_000)).toEqual({
      text: 'No reading for 6 min (expected every 60 s): the device stopped sending. Check its power and network.',
      silent: true,
      refused: false,
    })
  })
  it('keeps the other stages as they are', () => {
    expect(bannerFor({ stage: 'plausible', device, lastReading: reading(0) }, 10_000_000).silent).toBe(false)
    expect(bannerFor({ stage: 'waiting', device }, 10_000_000).text).toBe('Waiting for the device to connect…')
  })

  describe('after a refused login', () => {
    afterEach(() => setAppLang('en'))
    const refusal = (reason: string, at: number) => ({ deviceId: 'aq-1', reason, message: `broker words for ${reason}`, at })

    it('says why in plain words, in English and Italian, instead of waiting', () => {
      const state = { stage: 'waiting', device, connected: false, loginRefusal: refusal('bad-secret', 5000) } as const
      expect(bannerFor(state, 6000)).toEqual({
        text: 'The password is wrong: the broker refused the device’s login. Copy the secret from the connection sheet (or rotate it) and set it on the device.',
        silent: false,
        refused: true,
      })
      setAppLang('it')
      expect(bannerFor(state, 6000).text).toBe('La password è sbagliata: il broker ha rifiutato l’accesso del dispositivo. Copia il secret dalla scheda di connessione (o rigeneralo) e impostalo sul dispositivo.')
      expect(bannerFor({ ...state, loginRefusal: refusal('client-id-mismatch', 5000) }, 6000).text).toBe('Il client id è sbagliato: deve essere l’id del dispositivo, aq-1 (uguale al nome utente).')
      expect(bannerFor({ ...state, loginRefusal: refusal('something-new', 5000) }, 6000).text).toBe('Il broker ha rifiutato l’accesso del dispositivo: broker words for something-new')
    })

    it('only while it stands: not once connected, not for a refusal before the last session, not over revoked', () => {
      const r = refusal('bad-secret', 5000)
      expect(bannerFor({ stage: 'connected', device, connected: true, connectedAt: 7000, loginRefusal: r }, 8000).refused).toBe(false)
      expect(bannerFor({ stage: 'connected', device, connected: false, connectedAt: 4000, disconnectedAt: 6000, loginRefusal: r }, 8000).refused).toBe(false)
      expect(bannerFor({ stage: 'connected', device, connected: false, connectedAt: 4000, disconnectedAt: 4500, loginRefusal: r }, 8000).refused).toBe(true)
      expect(bannerFor({ stage: 'revoked', device, connected: false, loginRefusal: refusal('revoked', 5000) }, 8000)).toMatchObject({ text: 'Revoked: the broker refuses this device.', refused: false })
    })
  })
})
