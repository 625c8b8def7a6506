import type { DeviceType } from '../devices/kinds.ts'
import type { Rejection, ValidReading } from '../devices/readings.ts'

/**
 * What happens on the MQTT side, as it happens, for everything on the HTTP side that reacts to it
 * (live stream, public snapshots, alerts, commissioning views). Created before the platform so
 * ingest and the broker can feed it; each consumer subscribes to what it needs. Listeners run on
 * the ingest path: they must be cheap and must not throw.
 */

export interface FeedDevice {
  id: string
  type: DeviceType
  city: string
}

export interface FeedListeners {
  /** Readings accepted and durable (not yet necessarily in storage). */
  accepted?(device: FeedDevice, readings: readonly ValidReading[], receivedAt: number): void
  /** Readings refused, with their reasons, once recorded as dead letters. */
  rejected?(device: FeedDevice, rejections: readonly Rejection[], receivedAt: number): void
  /** A device logged in (true) or its connection ended (false). */
  connection?(deviceId: string, connected: boolean): void
}

export function createFeed() {
  const listeners = new Set<FeedListeners>()
  return {
    accepted(device: FeedDevice, readings: readonly ValidReading[], receivedAt: number): void {
      for (const l of listeners) l.accepted?.(device, readings, receivedAt)
    },
    rejected(device: FeedDevice, rejections: readonly Rejection[], receivedAt: number): void {
      for (const l of listeners) l.rejected?.(device, rejections, receivedAt)
    },
    connection(deviceId: string, connected: boolean): void {
      for (const l of listeners) l.connection?.(deviceId, connected)
    },
    subscribe(listener: FeedListeners): () => void {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
  }
}

export type Feed = ReturnType<typeof createFeed>
