import type { DeviceType } from '../../../devices/kinds.ts'
import type { Device, Registry } from '../../../devices/registry.ts'
import type { LiveHub } from '../realtime/live.ts'

/**
 * What the mobility feeds (GTFS-Realtime, GBFS, parking) publish, taken from the live hub's
 * newest reading per device and the registry's active devices: one snapshot, rebuilt on demand
 * at most every `minIntervalMs` (1 s), so a thousand requests a second cost one build a second.
 * Each feed's rendering (protobuf bytes, JSON text) is made once per snapshot and kept on it.
 */

export const MOBILITY_TYPES = ['bus', 'bike-dock', 'parking'] as const
export type MobilityType = (typeof MOBILITY_TYPES)[number]

/** A silent device is one not heard from for this many of its reporting intervals. */
export const SILENT_AFTER_INTERVALS = 3

export interface MobilityItem {
  device: Device
  /** The newest reading (tags and fields), absent while the device has sent none. */
  reading?: { time: number; values: Record<string, number | string>; receivedAt: number }
  /** Heard from within interval × 3. */
  fresh: boolean
}

export interface MobilitySnapshot {
  /** When it was built, epoch ms. */
  at: number
  version: number
  /** Active devices of each mobility type, ordered by id. */
  items: Record<MobilityType, MobilityItem[]>
  renderings: Map<string, unknown>
}

export interface MobilitySnapshotDeps {
  registry: Pick<Registry, 'list'>
  live: Pick<LiveHub, 'readingsOf'>
  /** 0: build for every request (only to measure what snapshots save). Default 1000 ms. */
  minIntervalMs?: number
  clock?: () => number
}

export function createMobilitySnapshots(deps: MobilitySnapshotDeps) {
  const minIntervalMs = deps.minIntervalMs ?? 1000
  const clock = deps.clock ?? Date.now
  let current: MobilitySnapshot | undefined
  let version = 0

  function itemsOf(type: DeviceType, at: number): MobilityItem[] {
    const readings = new Map(deps.live.readingsOf(type).map((r) => [r.id, r]))
    return deps.registry.list({ type, status: 'active' }).items.map((device) => {
      const r = readings.get(device.id)
      if (!r) return { device, fresh: false }
      const reading = { time: r.time, values: r.values, receivedAt: r.receivedAt }
      return { device, reading, fresh: at - r.receivedAt <= device.interval * 1000 * SILENT_AFTER_INTERVALS }
    })
  }

  function build(at: number): MobilitySnapshot {
    version += 1
    const items = {} as Record<MobilityType, MobilityItem[]>
    for (const type of MOBILITY_TYPES) items[type] = itemsOf(type, at)
    return { at, version, items, renderings: new Map() }
  }

  return {
    /** The snapshot in force, rebuilt first when older than minIntervalMs. */
    current(): MobilitySnapshot {
      const now = clock()
      if (!current || minIntervalMs <= 0 || now - current.at >= minIntervalMs) current = build(now)
      return current
    },
  }
}

export type MobilitySnapshots = ReturnType<typeof createMobilitySnapshots>

/** A snapshot's rendering under `key`, made the first time it is asked for. */
export function renderOnce<T>(snap: MobilitySnapshot, key: string, produce: () => T): T {
  let r = snap.renderings.get(key) as T | undefined
  if (r === undefined) {
    r = produce()
    snap.renderings.set(key, r)
  }
  return r
}
