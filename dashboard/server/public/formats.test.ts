import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../../cli/config.ts'
import { csvLine, etagMatches, negotiate, rendered } from './formats.ts'
import { checkLicense, licenseLink, resolveLicense } from './license.ts'
import { airQualityObserved, entityId } from './ngsi-ld.ts'
import { preferredLanguage } from './pages.ts'

describe('format negotiation', () => {
  const all = ['json', 'csv', 'ngsi-ld'] as const
  it('takes ?format= first, then the most preferred offered media type, JSON by default', () => {
    expect(negotiate('csv', 'application/json', all)).toBe('csv')
    expect(negotiate(undefined, undefined, all)).toBe('json')
    expect(negotiate(undefined, 'text/csv', all)).toBe('csv')
    expect(negotiate(undefined, 'application/ld+json', all)).toBe('ngsi-ld')
    expect(negotiate(undefined, 'application/json;q=0.5, text/csv', all)).toBe('csv')
    expect(negotiate(undefined, 'text/csv;q=0.2, application/ld+json;q=0.9', all)).toBe('ngsi-ld')
    expect(negotiate(undefined, 'text/csv;q=0, */*', all)).toBe('json')
    expect(negotiate(undefined, 'text/html,application/xhtml+xml', all)).toBe('json')
    expect(negotiate(undefined, 'application/ld+json', ['json', 'csv'])).toBe('json')
    expect(() => negotiate('ngsi-ld', undefined, ['json', 'csv'])).toThrow(/must be one of json, csv/)
  })
})

describe('CSV', () => {
  it('writes records with the shared writer: quoting and the formula guard', () => {
    expect(csvLine(['a', 1.5, null, undefined, 'x,y', 'say "hi"', 'two\nlines'])).toBe('a,1.5,,,"x,y","say ""hi""","two\nlines"\r\n')
    expect(csvLine(['=HYPERLINK("x")', '+39 055', Number.NaN, -3])).toBe(`"'=HYPERLINK(""x"")",'+39 055,,-3\r\n`)
    expect(csvLine([{ toString: () => 'thing' }, true])).toBe('thing,true\r\n')
  })
})

describe('ETags', () => {
  it('match strongly or weakly, in lists, and *', () => {
    const { etag } = rendered('{"a":1}')
    expect(rendered('{"a":1}').etag).toBe(etag)
    expect(rendered('{"a":2}').etag).not.toBe(etag)
    expect(etagMatches(etag, etag)).toBe(true)
    expect(etagMatches(`W/${etag}`, etag)).toBe(true)
    expect(etagMatches(`"other", ${etag}`, etag)).toBe(true)
    expect(etagMatches('*', etag)).toBe(true)
    expect(etagMatches('"other"', etag)).toBe(false)
    expect(etagMatches(undefined, etag)).toBe(false)
  })
})

describe('licence', () => {
  it('defaults to CC BY 4.0, knows common open-data licences and accepts a URL', () => {
    expect(resolveLicense()).toMatchObject({ id: 'CC-BY-4.0', name: 'CC BY 4.0', url: 'https://creativecommons.org/licenses/by/4.0/' })
    expect(resolveLicense({ license: 'IODL-2.0', attribution: 'Regione Toscana' })).toMatchObject({ id: 'IODL-2.0', attribution: 'Regione Toscana' })
    expect(resolveLicense({ license: 'https://example.org/licence' })).toMatchObject({ id: 'custom', url: 'https://example.org/licence' })
    expect(checkLicense('GPL')).toMatch(/must be one of CC-BY-4.0/)
    expect(() => resolveLicense({ license: 'GPL' })).toThrow(/data licence 'GPL'/)
    expect(licenseLink(resolveLicense())).toBe('<https://creativecommons.org/licenses/by/4.0/>; rel="license"; title="CC BY 4.0"')
  })

  it('is configured with DATA_LICENSE and DATA_ATTRIBUTION, a bad licence stopping start-up', () => {
    expect(loadConfig({})).toMatchObject({ dataLicense: undefined, dataAttribution: undefined })
    expect(loadConfig({ DATA_LICENSE: 'CC0-1.0', DATA_ATTRIBUTION: 'Regione Toscana' })).toMatchObject({ dataLicense: 'CC0-1.0', dataAttribution: 'Regione Toscana' })
    expect(() => loadConfig({ DATA_LICENSE: 'GPL' })).toThrow(ConfigError)
    expect(() => loadConfig({ DATA_LICENSE: 'GPL' })).toThrow(/DATA_LICENSE must be one of/)
  })
})

describe('NGSI-LD AirQualityObserved', () => {
  const t = Date.UTC(2026, 10, 26, 8, 0, 0, 250)
  const entity = airQualityObserved({
    station: { id: 'aq-firenze-1', name: 'Viale Gramsci', lat: 43.77, lon: 11.26 },
    cityName: 'Firenze',
    observedAt: t,
    from: t - 3_600_000,
    to: t,
    values: { pm25: 12.3, co: 0.4 },
    index: { level: 2, band: 'fair', pollutant: 'pm25' },
    provider: 'Piazza',
  })

  it('follows the Smart Data Model in normalized NGSI-LD, with units as UN/CEFACT codes', () => {
    expect(entityId('aq-firenze-1', t)).toBe('urn:ngsi-ld:AirQualityObserved:aq-firenze-1:2026-11-26T08:00:00Z')
    expect(entity).toMatchObject({
      id: 'urn:ngsi-ld:AirQualityObserved:aq-firenze-1:2026-11-26T08:00:00Z',
      type: 'AirQualityObserved',
      dateObserved: { type: 'Property', value: { '@type': 'DateTime', '@value': '2026-11-26T08:00:00Z' } },
      dateObservedFrom: { value: { '@value': '2026-11-26T07:00:00Z' } },
      location: { type: 'GeoProperty', value: { type: 'Point', coordinates: [11.26, 43.77] } },
      pm25: { type: 'Property', value: 12.3, unitCode: 'GQ', observedAt: '2026-11-26T08:00:00Z' },
      co: { type: 'Property', value: 0.4, unitCode: 'GP' },
      airQualityIndex: { type: 'Property', value: 2, indexVersion: { type: 'Property', value: 'EAQI-2024' } },
      airQualityLevel: { type: 'Property', value: 'fair' },
      refDevice: { type: 'Relationship', object: 'urn:ngsi-ld:Device:aq-firenze-1' },
      '@context': ['https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/context.jsonld', 'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld'],
    })
    // Properties never carry null: pollutants without a value are left out.
    expect(entity.no2).toBeUndefined()
  })
})

describe('page language', () => {
  it('is Italian for Italian browsers (and when the browser says nothing), English otherwise', () => {
    expect(preferredLanguage('it-IT,it;q=0.9')).toBe('it')
    expect(preferredLanguage(undefined)).toBe('it')
    expect(preferredLanguage('en-GB')).toBe('en')
    expect(preferredLanguage('de-DE')).toBe('en')
    expect(preferredLanguage('de-DE, it;q=0.5, en;q=0.3')).toBe('it')
  })
})
