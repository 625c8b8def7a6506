import { KINDS, type DeviceType } from '../../../devices/kinds.ts'
import type { DeviceRef } from '../../../devices/registry.ts'
import { PUBLIC_TYPE, PUBLIC_VIEWS, type ConnectionStatus, type LiveUpdate } from '../../shared/realtime.ts'

/**
 * What the live stream knows of each device: its newest reading and whether it is connected,
 * with the tick in which each changed. Pure state, no sockets: the hub (live.ts) reads it each
 * tick. Memory: one entry per device seen (a few hundred bytes), never a history.
 */

export interface LiveReading {
  /** Device time, epoch ms. */
  time: number
  values: Record<string, unknown>
}

export interface Entry {
  id: string
  type: DeviceType
  city: string
  /** Newest reading; undefined while only a connection status is known. */
  time?: number
  values?: Record<string, unknown>
  receivedAt?: number
  connected?: boolean
  connectionAt?: number
  /** Changed since the last tick. */
  readingChanged: boolean
  statusChanged: boolean
  dirty: boolean
  full?: LiveUpdate
  public?: LiveUpdate
  /** The hub's rooms for this device (live.ts), and the city and type they were made for. */
  rooms?: { city: string; type: DeviceType; full: string[]; public: string[] }
}

export function createLiveState() {
  const entries = new Map<string, Entry>()
  let dirty: Entry[] = []

  function entryFor(device: DeviceRef): Entry {
    let e = entries.get(device.id)
    if (!e) {
      e = { id: device.id, type: device.type, city: device.city, readingChanged: false, statusChanged: false, dirty: false }
      entries.set(device.id, e)
    }
    return e
  }

  function markDirty(e: Entry): void {
    if (!e.dirty) {
      e.dirty = true
      dirty.push(e)
    }
  }

  return {
    entries: entries as ReadonlyMap<string, Entry>,

    /** Keeps only the newest reading per device; an older one arriving late is ignored. */
    reading(device: DeviceRef, readings: readonly LiveReading[], receivedAt: number): void {
      let newest = readings[0]
      if (!newest) return
      for (let i = 1; i < readings.length; i++) if (readings[i]!.time >= newest.time) newest = readings[i]!
      const e = entryFor(device)
      e.receivedAt = receivedAt
      if (e.time !== undefined && newest.time < e.time && e.type === device.type) return
      e.type = device.type
      e.city = device.city
      e.time = newest.time
      e.values = newest.values
      e.full = undefined
      e.public = undefined
      e.readingChanged = true
      markDirty(e)
    },

    /**
     * A device's newest reading as a previous run stored it (restored at start): taken only while
     * this process has no reading of the device, so a reading received meanwhile wins. Its time
     * stands in for when it was received. Returns whether it was taken.
     */
    seed(device: DeviceRef, reading: LiveReading): boolean {
      const known = entries.get(device.id)
      if (known?.time !== undefined || known?.receivedAt !== undefined) return false
      const e = entryFor(device)
      e.type = device.type
      e.city = device.city
      e.time = reading.time
      e.values = reading.values
      e.receivedAt = reading.time
      e.full = undefined
      e.public = undefined
      e.readingChanged = true
      markDirty(e)
      return true
    },

    connection(device: DeviceRef, connected: boolean, at: number): void {
      const e = entryFor(device)
      e.connected = connected
      e.connectionAt = at
      e.statusChanged = true
      markDirty(e)
    },

    has: (id: string) => entries.has(id),
    get: (id: string) => entries.get(id),

    /** The entries changed since the last call; their change flags are cleared by `settled`. */
    takeDirty(): Entry[] {
      const out = dirty
      dirty = []
      for (const e of out) e.dirty = false
      return out
    },
  }
}

export type LiveState = ReturnType<typeof createLiveState>

/** A reading as logged-in users see it: the kind's fields and tags. */
export function fullView(e: Entry): LiveUpdate {
  if (!e.full) {
    const kind = KINDS[e.type]
    const values: Record<string, number | string> = {}
    for (const tag of kind.tagNames) {
      const v = e.values![tag]
      if (typeof v === 'number' || typeof v === 'string') values[tag] = v
    }
    for (const field of kind.fieldNames) {
      const v = e.values![field]
      if (typeof v === 'number') values[field] = v
    }
    e.full = { id: e.id, type: e.type, city: e.city, time: e.time!, values }
  }
  return e.full
}

/** A reading as the public rooms carry it: only its type's public tags and fields (PUBLIC_VIEWS). */
export function publicView(e: Entry): LiveUpdate {
  if (!e.public) {
    const values: Record<string, number | string> = {}
    for (const field of PUBLIC_VIEWS[e.type] ?? []) {
      const v = e.values![field]
      if (typeof v === 'number' || typeof v === 'string') values[field] = v
    }
    e.public = { id: e.id, type: e.type, city: e.city, time: e.time!, values }
  }
  return e.public
}

export function statusView(e: Entry): ConnectionStatus {
  return { id: e.id, type: e.type, city: e.city, connected: e.connected!, at: e.connectionAt! }
}

export const isPublic = (e: Pick<Entry, 'type'>) => e.type === PUBLIC_TYPE
