import { describe, expect, it } from 'vitest'
import { testConfig } from './api/fixtures.ts'
import type { AppConfig, Device } from './api/types.ts'
import { matchesFilters, parseView, serializeView, EMPTY_FILTERS } from './view.ts'

const config: AppConfig = testConfig(
  {
    'air-quality': { family: 'environment', label: 'Air-quality station' },
    parking: { family: 'infomobility', label: 'Parking area' },
  },
  [
    { id: 'firenze', name: 'Firenze', province: 'FI', lat: 43.77, lon: 11.26, population: 1 },
    { id: 'pisa', name: 'Pisa', province: 'PI', lat: 43.72, lon: 10.4, population: 1 },
  ],
)
const device = (id: string, over: Partial<Device> = {}): Device => ({
  id,
  type: 'air-quality',
  name: 'Viale Gramsci',
  city: 'firenze',
  lat: 43.77,
  lon: 11.26,
  interval: 60,
  metadata: {},
  status: 'active',
  createdAt: '',
  updatedAt: '',
  createdBy: 'cli',
  ...over,
})

describe('the view in the URL', () => {
  it('round-trips filters, selection, tab and map position, leaving defaults out', () => {
    const search = serializeView({ city: 'firenze', family: '', type: 'air-quality', state: 'silent', q: 'gramsci', device: 'aq-1', tab: 'alerts', map: { lon: 11.25581, lat: 43.76961, zoom: 12.5 } })
    expect(search).toBe('?city=firenze&type=air-quality&state=silent&q=gramsci&device=aq-1&tab=alerts&map=11.2558%2C43.7696%2C12.50')
    expect(parseView(search)).toEqual({ city: 'firenze', family: '', type: 'air-quality', state: 'silent', q: 'gramsci', device: 'aq-1', tab: 'alerts', map: { lon: 11.2558, lat: 43.7696, zoom: 12.5 } })
    expect(serializeView({ ...EMPTY_FILTERS, device: null, tab: 'cities', map: null })).toBe('')
  })

  it('keeps parameters it does not own and ignores nonsense', () => {
    expect(serializeView({ city: 'pisa' }, '?baseline=per-message&city=firenze')).toBe('?baseline=per-message&city=pisa')
    expect(parseView('?state=asleep&tab=nope&map=1,2')).toMatchObject({ state: '', tab: 'cities', map: null })
    expect(parseView('?map=200,43,12').map).toBeNull()
  })

  it('filters by city, family, type, health state and search words (id or name)', () => {
    const aq = device('aq-firenze-1')
    const park = device('park-pisa-1', { type: 'parking', city: 'pisa', name: 'Stazione' })
    const f = (over: Partial<typeof EMPTY_FILTERS>) => [aq, park].filter((d) => matchesFilters(config, d, d.id === aq.id ? { id: d.id, state: 'silent', since: 1, lastSeen: 1, interval: 60 } : undefined, { ...EMPTY_FILTERS, ...over })).map((d) => d.id)
    expect(f({})).toEqual(['aq-firenze-1', 'park-pisa-1'])
    expect(f({ city: 'pisa' })).toEqual(['park-pisa-1'])
    expect(f({ family: 'environment' })).toEqual(['aq-firenze-1'])
    expect(f({ type: 'parking' })).toEqual(['park-pisa-1'])
    expect(f({ state: 'silent' })).toEqual(['aq-firenze-1'])
    // Unknown health counts as "no data yet" for an active device.
    expect(f({ state: 'pending' })).toEqual(['park-pisa-1'])
    expect(f({ q: 'GRAMSCI' })).toEqual(['aq-firenze-1'])
    expect(f({ q: 'park-pisa' })).toEqual(['park-pisa-1'])
    expect(f({ q: 'stazione pisa' })).toEqual(['park-pisa-1'])
    expect(f({ q: 'stazione firenze' })).toEqual([])
  })
})
