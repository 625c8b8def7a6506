import type { Feature, FeatureCollection, Point } from 'geojson'
import type { Device } from '../api/types.ts'
import type { DeviceState } from '../live/connection.ts'
import type { DeviceHealth, HealthState } from '../live/health.ts'
import { grade, STALE } from './levels.ts'

export interface DeviceProps {
  id: string
  type: string
  city: string
  /** Fill: the value's band, grey when the value is stale (silent) or missing. */
  color: string
  state: HealthState
  /** 1 when the device has an open or acknowledged alert. */
  alert: 0 | 1
}

export type DeviceFeature = Feature<Point, DeviceProps>

/** Where to draw a device: moving devices (buses) report their position, others stand still. */
export function devicePosition(device: Device, state: DeviceState | undefined): [number, number] {
  const lat = state?.values.lat
  const lon = state?.values.lon
  if (typeof lat === 'number' && typeof lon === 'number' && Number.isFinite(lat) && Number.isFinite(lon)) return [lon, lat]
  return [device.lon, device.lat]
}

export function healthOf(device: Device, health: DeviceHealth | undefined): HealthState {
  if (device.status !== 'active') return 'inactive'
  return health?.state ?? 'pending'
}

export function deviceFeature(device: Device, state: DeviceState | undefined, health?: DeviceHealth, alert = false): DeviceFeature {
  const h = healthOf(device, health)
  const g = grade(device.type, state?.values, device.status === 'active')
  return {
    type: 'Feature',
    geometry: { type: 'Point', coordinates: devicePosition(device, state) },
    properties: {
      id: device.id,
      type: device.type,
      city: device.city,
      color: h === 'silent' ? STALE.color : g.color,
      state: h,
      alert: alert ? 1 : 0,
    },
  }
}

const sameFeature = (a: DeviceFeature, b: DeviceFeature) => {
  const pa = a.properties
  const pb = b.properties
  const ca = a.geometry.coordinates
  const cb = b.geometry.coordinates
  return pa.color === pb.color && pa.state === pb.state && pa.alert === pb.alert && ca[0] === cb[0] && ca[1] === cb[1]
}

export interface FeatureSources {
  getState(id: string): DeviceState | undefined
  getHealth(id: string): DeviceHealth | undefined
  hasAlert(id: string): boolean
}

/** What the map's source must change: features to add or replace, ids to drop. */
export interface FeatureDiff {
  add: DeviceFeature[]
  remove: string[]
}

/**
 * One feature per device; a frame rebuilds only the devices that changed and returns only those
 * whose drawing changed (a new band, state, alert or position): most readings change none of
 * that, so most frames send the map nothing. A filter decides which devices are shown; a device
 * entering or leaving it is added or removed.
 */
export function createFeatureCache(sources: FeatureSources) {
  const devices = new Map<string, Device>()
  const features = new Map<string, DeviceFeature>()
  const shown = new Set<string>()
  let filter: (device: Device, health: DeviceHealth | undefined) => boolean = () => true

  const build = (d: Device) => deviceFeature(d, sources.getState(d.id), sources.getHealth(d.id), sources.hasAlert(d.id))

  function rebuildShown(): void {
    shown.clear()
    for (const d of devices.values()) if (filter(d, sources.getHealth(d.id))) shown.add(d.id)
  }

  return {
    setDevices(list: readonly Device[]): void {
      devices.clear()
      features.clear()
      for (const d of list) {
        devices.set(d.id, d)
        features.set(d.id, build(d))
      }
      rebuildShown()
    },
    /** A new filter: the caller then replaces the source's data with collection(). */
    setFilter(next: (device: Device, health: DeviceHealth | undefined) => boolean): void {
      filter = next
      rebuildShown()
    },
    /** Rebuilds the given devices (known ones only) and returns what the map must change. */
    update(ids: Iterable<string>): FeatureDiff {
      const diff: FeatureDiff = { add: [], remove: [] }
      for (const id of ids) {
        const d = devices.get(id)
        if (!d) continue
        const before = features.get(id)
        const f = build(d)
        const drawnChanged = !before || !sameFeature(before, f)
        if (drawnChanged) features.set(id, f)
        const visible = filter(d, sources.getHealth(id))
        if (visible && (!shown.has(id) || drawnChanged)) {
          shown.add(id)
          diff.add.push(f)
        } else if (!visible && shown.delete(id)) diff.remove.push(id)
      }
      return diff
    },
    get: (id: string): DeviceFeature | undefined => features.get(id),
    isShown: (id: string): boolean => shown.has(id),
    shownCount: (): number => shown.size,
    collection(): FeatureCollection<Point, DeviceProps> {
      const out: DeviceFeature[] = []
      for (const id of shown) out.push(features.get(id)!)
      return { type: 'FeatureCollection', features: out }
    },
  }
}

export type FeatureCache = ReturnType<typeof createFeatureCache>
