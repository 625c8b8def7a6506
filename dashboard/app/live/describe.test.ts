import { describe, expect, it } from 'vitest'
import { dictionaryProblems } from '../../i18n/dictionary-check.ts'
import { setAppLang } from '../locale.ts'
import { formatAge } from './health.ts'
import { LIVE_STRINGS } from './strings.ts'
import { describeLive, formatDataAge } from './describe.ts'

describe('the live connection in plain words', () => {
  const now = 1_000_000_000
  it('never shows a transport error, says the server cannot be reached and how old the data is', () => {
    for (const message of ['xhr poll error', 'websocket error', 'timeout', undefined]) {
      const d = describeLive({ state: 'error', message }, now - 125_000, now)
      expect(d).toMatchObject({ text: 'Cannot reach the server, retrying', age: 'data 2 min old' })
      expect(`${d.text} ${d.age} ${d.detail}`).not.toMatch(/xhr|poll|websocket/)
    }
  })
  it('tells a refusal by the server with its reason', () => {
    expect(describeLive({ state: 'error', message: 'too many connections' }, undefined, now)).toEqual({
      text: 'The server refused live data',
      age: 'no live data yet',
      detail: 'The server refused the live connection: too many connections. No live data yet.',
    })
  })
  it('says live, reconnecting and offline', () => {
    expect(describeLive({ state: 'live' }, now, now).text).toBe('Live')
    expect(describeLive({ state: 'reconnecting' }, now - 12_000, now)).toMatchObject({ text: 'Connection lost, reconnecting', age: 'data 12 s old' })
    expect(describeLive({ state: 'idle' }, undefined, now).text).toBe('Offline')
  })
  it('formats ages', () => {
    expect(formatDataAge(0)).toBe('0 s')
    expect(formatDataAge(59_400)).toBe('59 s')
    expect(formatDataAge(61_000)).toBe('1 min')
    expect(formatDataAge(2 * 3_600_000 + 5 * 60_000)).toBe('2 h 5 min')
  })
})

describe('in Italian', () => {
  it('says the connection state and the data age in Italian', () => {
    const now = 1_000_000_000
    try {
      setAppLang('it')
      expect(describeLive({ state: 'reconnecting' }, now - 125_000, now)).toMatchObject({ text: 'Connessione persa, riconnessione', age: 'dati di 2 min fa' })
      expect(formatAge(3 * 86_400_000)).toBe('3 g')
      // The server's refusal, worded from its code and figures; its English where it gave none.
      const refused = { state: 'error', message: 'at most 3000 live connections from one address', words: { code: 'live-too-many', params: { max: 3000 } } } as const
      expect(describeLive(refused, undefined, now).detail).toBe(
        'Il server ha rifiutato la connessione in tempo reale: al massimo 3000 connessioni in tempo reale da un indirizzo. Ancora nessun dato in tempo reale.',
      )
      expect(describeLive({ state: 'error', message: 'too many connections' }, undefined, now).detail).toMatch(/: too many connections\./)
    } finally {
      setAppLang('en')
    }
    expect(formatAge(3 * 86_400_000)).toBe('3 d')
  })
  it('has every string in both languages', () => {
    expect(dictionaryProblems(LIVE_STRINGS)).toEqual([])
  })
})
