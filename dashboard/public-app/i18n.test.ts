import { describe, expect, it } from 'vitest'
import { BAND_IDS } from '../../devices/aqi.ts'
import { advice, bandName, formatNumber, pollutantSymbol } from './i18n.ts'
import { LANGS } from '../i18n/lang.ts'
import { widgetParams } from './Widget.tsx'

describe('public strings', () => {
  it('has every band name and advice in both languages, and Italian decimals', () => {
    for (const lang of LANGS) {
      for (const band of BAND_IDS) {
        expect(bandName(lang, band)).toBeTruthy()
        const a = advice(lang, band)
        expect(a.headline && a.general && a.sensitive).toBeTruthy()
      }
    }
    expect(bandName('it', 'very-poor')).toBe('Molto scadente')
    expect(formatNumber('it', 12.34)).toBe('12,3')
    expect(formatNumber('en', 12.34)).toBe('12.3')
    expect(pollutantSymbol('it', 'pm25', 'PM2.5')).toBe('PM2,5')
  })
})

describe('widget parameters', () => {
  it('reads the city from the path, the theme and language from the query', () => {
    expect(widgetParams('/widget/firenze', '?theme=dark', ['en-US'])).toMatchObject({ city: { id: 'firenze' }, theme: 'dark', lang: 'en' })
    expect(widgetParams('/widget/Pisa', '', ['it-IT'])).toMatchObject({ city: { id: 'pisa' }, theme: 'light', lang: 'it' })
    expect(widgetParams('/widget/pisa', '?lang=it&theme=neon', ['en'])).toMatchObject({ theme: 'light', lang: 'it' })
    expect(widgetParams('/widget/atlantis', '', ['en']).city).toBeUndefined()
  })
})
