import { describe, expect, it } from 'vitest'
import { LANGS } from '../i18n/lang.ts'
import { delayText, mobilityStrings } from './mobility-i18n.ts'

describe('"Getting around now" words', () => {
  it('say a delay in minutes, on time within a minute, in both languages', () => {
    expect(delayText('it', 125)).toBe('in ritardo di 2 min')
    expect(delayText('en', 125)).toBe('2 min late')
    expect(delayText('it', -90)).toBe('in anticipo di 2 min')
    expect(delayText('en', -90)).toBe('2 min early')
    expect(delayText('en', 59)).toBe('on time')
    expect(delayText('it', -30)).toBe('in orario')
    expect(delayText('it', undefined)).toBe('ritardo non disponibile')
  })

  it('has every string in both languages', () => {
    const keys = LANGS.map((l) => Object.keys(mobilityStrings(l)).sort())
    expect(keys[0]).toEqual(keys[1])
    for (const l of LANGS) for (const v of Object.values(mobilityStrings(l))) expect(typeof v === 'function' ? v('x', 'y') : v).toBeTruthy()
  })
})
