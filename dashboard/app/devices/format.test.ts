import { describe, expect, it } from 'vitest'
import { testConfig } from '../api/fixtures.ts'
import type { AppConfig, Device } from '../api/types.ts'
import { setAppLang } from '../locale.ts'
import { defaultChartField, expectedLastHour, formatDateTime, formatValue, matchesSearch, typeLabel } from './format.ts'

const config: AppConfig = testConfig(
  {
    bus: { family: 'infomobility', label: 'Bus tracker', fields: { lat: { unit: '°', label: 'Latitude', minimum: 0, maximum: 90 }, delay: { unit: 's', label: 'Delay', minimum: 0, maximum: 1 } }, tags: { route: 'Route' } },
    'air-quality': { family: 'environment', label: 'Air-quality station', fields: { pm25: { unit: 'µg/m³', label: 'PM2.5', minimum: 0, maximum: 1 } } },
  },
  [{ id: 'firenze', name: 'Firenze', province: 'FI', lat: 43.77, lon: 11.26, population: 1 }],
)

describe('format', () => {
  it('formats values with units and sensible precision', () => {
    expect(formatValue(23.456, 'µg/m³')).toBe('23.5 µg/m³')
    expect(formatValue(0.1234, '0–1')).toBe('0.123 0–1')
    expect(formatValue(1013.2, 'hPa')).toBe('1,013 hPa')
    expect(formatValue(undefined, 'hPa')).toBe('—')
    expect(formatValue('LAM-A')).toBe('LAM-A')
  })

  it('charts the first measured field, skipping coordinates', () => {
    expect(defaultChartField(config, 'bus')).toBe('delay')
    expect(defaultChartField(config, 'air-quality')).toBe('pm25')
    expect(defaultChartField(config, 'nope')).toBeUndefined()
  })

  it('searches name, id, type label and city name', () => {
    const d = { id: 'aq-firenze-1a2b3c', name: 'Viale Rosselli', type: 'air-quality', city: 'firenze' } as Device
    expect(matchesSearch(config, d, '')).toBe(true)
    expect(matchesSearch(config, d, 'rosselli')).toBe(true)
    expect(matchesSearch(config, d, 'air firenze')).toBe(true)
    expect(matchesSearch(config, d, '1a2b')).toBe(true)
    expect(matchesSearch(config, d, 'pisa')).toBe(false)
  })
})

describe('readings expected in the last hour', () => {
  const now = Date.parse('2026-12-04T10:00:00Z')
  it('counts a full hour for a device older than an hour', () => {
    expect(expectedLastHour({ interval: 60, createdAt: '2026-12-01T00:00:00Z' }, now)).toEqual({ expected: 60 })
  })
  it('counts only since registration for a young device', () => {
    expect(expectedLastHour({ interval: 60, createdAt: '2026-12-04T09:55:00Z' }, now)).toEqual({ expected: 5, since: Date.parse('2026-12-04T09:55:00Z') })
    expect(expectedLastHour({ interval: 600, createdAt: '2026-12-04T09:55:00Z' }, now).expected).toBe(0)
  })
})

describe('format in the app language', () => {
  it('writes Italian numbers and dates when the app is in Italian', () => {
    try {
      setAppLang('it')
      expect(formatValue(23.456, 'µg/m³')).toBe('23,5 µg/m³')
      expect(formatValue(1013.2, 'hPa')).toBe('1013 hPa')
      expect(formatDateTime(Date.UTC(2026, 11, 4, 9, 5, 7))).toMatch(/4 dic 2026/)
      expect(typeLabel(config, 'bus')).toBe('Localizzatore autobus')
      expect(matchesSearch(config, { id: 'b1', name: 'Linea 6', type: 'bus', city: 'firenze' } as Device, 'tracker')).toBe(true)
    } finally {
      setAppLang('en')
    }
    expect(formatValue(23.456, 'µg/m³')).toBe('23.5 µg/m³')
    expect(formatDateTime(Date.UTC(2026, 11, 4, 9, 5, 7))).toMatch(/4 Dec 2026/)
  })
})
