import type { AppConfig, Device } from '../api/types.ts'
import type { HealthState } from '../live/health.ts'
import { cachedPerLocale } from '../locale.ts'
import { cityName, typeLabel } from './format.ts'

/** How the device list is ordered; ties go by name, then id, so the order is stable. */
export type DeviceSort = 'name' | 'city' | 'type' | 'state'
/** In this order in the menu; the words are in strings.ts. */
export const DEVICE_SORTS: readonly { id: DeviceSort }[] = [{ id: 'name' }, { id: 'city' }, { id: 'type' }, { id: 'state' }]

export const isDeviceSort = (value: string): value is DeviceSort => DEVICE_SORTS.some((s) => s.id === value)

/** Silent and late devices first: what needs a look. */
const STATE_RANK: Record<HealthState, number> = { silent: 0, late: 1, pending: 2, live: 3, inactive: 4 }

// Numbers inside names sort as numbers ("Bus line 9" before "Bus line 10").
const collators = cachedPerLocale((locale) => new Intl.Collator(locale, { numeric: true, sensitivity: 'base' }))

export function sortDevices(config: AppConfig, devices: readonly Device[], sort: DeviceSort, health: (d: Device) => HealthState): Device[] {
  const collator = collators()
  const byName = (a: Device, b: Device) => collator.compare(a.name, b.name) || collator.compare(a.id, b.id)
  const key: (a: Device, b: Device) => number =
    sort === 'city'
      ? (a, b) => collator.compare(cityName(config, a.city), cityName(config, b.city))
      : sort === 'type'
        ? (a, b) => collator.compare(typeLabel(config, a.type), typeLabel(config, b.type))
        : sort === 'state'
          ? (a, b) => STATE_RANK[health(a)] - STATE_RANK[health(b)]
          : () => 0
  return [...devices].sort((a, b) => key(a, b) || byName(a, b))
}
