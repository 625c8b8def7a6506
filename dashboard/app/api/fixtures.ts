import type { DeviceType } from '../../../devices/kinds.ts'
import { normaliseConfig } from './client.ts'
import type { AppConfig, ConfigKind, FieldInfo, RawConfig } from './types.ts'

/**
 * Small configs for the unit tests, in the server's shape (dashboard/shared/config.ts) and
 * normalised as the app does: give each kind what the test needs, the rest gets neutral values.
 * Only tests import this.
 */

type FieldSketch = Pick<FieldInfo, 'unit' | 'label'> & Partial<FieldInfo>
type KindSketch = Pick<ConfigKind, 'family' | 'label'> & Partial<Omit<ConfigKind, 'fields' | 'tags'>> & {
  fields?: Record<string, FieldSketch>
  tags?: Record<string, string>
}

export function rawConfig(kinds: Partial<Record<DeviceType, KindSketch>>, cities: RawConfig['cities'] = []): RawConfig {
  return {
    baseMap: { styleUrl: null, pmtilesUrl: null, attribution: null },
    region: { name: 'Toscana', bbox: { west: 9.68, south: 42.23, east: 12.38, north: 44.48 } },
    cities,
    kinds: Object.entries(kinds).map(([type, k]) => {
      const fields = Object.entries(k.fields ?? {}).map(([name, f]) => ({ name, minimum: 0, maximum: 1, integer: false, public: false, ...f }))
      return {
        model: '',
        defaultInterval: 60,
        mainField: fields[0]?.name ?? '',
        ...k,
        type: type as DeviceType,
        fields,
        tags: Object.entries(k.tags ?? {}).map(([name, label]) => ({ name, label })),
      }
    }),
    live: { coalesceMs: 250, publicType: 'air-quality' },
  }
}

export const testConfig = (kinds: Partial<Record<DeviceType, KindSketch>>, cities: RawConfig['cities'] = []): AppConfig => normaliseConfig(rawConfig(kinds, cities))
