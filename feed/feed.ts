import type { Rejection, ValidReading } from '../devices/readings.ts'
import type { DeviceRef } from '../devices/registry.ts'

/**
 * The platform's event bus: what happens on the MQTT side (readings accepted and rejected by
 * ingest, devices logging in and out of the broker), for every part that reacts to it (live
 * stream, device states, alerts, public snapshots, commissioning, error feedback to devices).
 *
 * An interface with one implementation here (in process); a Redis one carries it between nodes.
 * Publishing runs on the ingest path after the PUBACK: listeners must be cheap. A listener that
 * throws is reported to `onError` and never reaches the publisher or the other listeners.
 */

export interface FeedListeners {
  /** Readings accepted and durable (not yet necessarily in storage). */
  accepted?(device: DeviceRef, readings: readonly ValidReading[], receivedAt: number): void
  /** Readings refused, with their reasons, once recorded as dead letters. */
  rejected?(device: DeviceRef, rejections: readonly Rejection[], receivedAt: number): void
  /** A device logged in (true) or its connection ended (false). */
  connection?(deviceId: string, connected: boolean): void
}

export interface Feed {
  accepted(device: DeviceRef, readings: readonly ValidReading[], receivedAt: number): void
  rejected(device: DeviceRef, rejections: readonly Rejection[], receivedAt: number): void
  connection(deviceId: string, connected: boolean): void
  /** Returns the unsubscribe function. */
  subscribe(listeners: FeedListeners): () => void
}

export interface LocalFeedOptions {
  /** A listener threw: log it; the feed carries on. */
  onError?(err: unknown, event: keyof FeedListeners): void
}

/** The feed within one process: publishing calls every listener synchronously. */
export function createLocalFeed(options: LocalFeedOptions = {}): Feed {
  const listeners = new Set<FeedListeners>()
  const failed = (err: unknown, event: keyof FeedListeners) => {
    try {
      options.onError?.(err, event)
    } catch {
      // Nothing more can be done; the publisher must not see it.
    }
  }
  return {
    accepted(device, readings, receivedAt) {
      for (const l of listeners) {
        try {
          l.accepted?.(device, readings, receivedAt)
        } catch (err) {
          failed(err, 'accepted')
        }
      }
    },
    rejected(device, rejections, receivedAt) {
      for (const l of listeners) {
        try {
          l.rejected?.(device, rejections, receivedAt)
        } catch (err) {
          failed(err, 'rejected')
        }
      }
    },
    connection(deviceId, connected) {
      for (const l of listeners) {
        try {
          l.connection?.(deviceId, connected)
        } catch (err) {
          failed(err, 'connection')
        }
      }
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },
  }
}

