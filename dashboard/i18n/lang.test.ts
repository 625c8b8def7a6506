import { describe, expect, it } from 'vitest'
import { detectLanguage, isLang } from './lang.ts'

describe('language', () => {
  it('is the remembered choice, else the first of Italian or English the browser prefers, else English', () => {
    expect(detectLanguage('en', ['it-IT'])).toBe('en')
    expect(detectLanguage(null, ['it-IT', 'en'])).toBe('it')
    expect(detectLanguage(null, ['de-DE', 'en-US', 'it'])).toBe('en')
    expect(detectLanguage(null, ['fr-FR'])).toBe('en')
    expect(detectLanguage(null, [], 'it')).toBe('it')
    expect(detectLanguage('xx', ['it'])).toBe('it')
  })

  it('knows only Italian and English', () => {
    expect(isLang('it')).toBe(true)
    expect(isLang('en')).toBe(true)
    expect(isLang('de')).toBe(false)
    expect(isLang(undefined)).toBe(false)
  })
})
