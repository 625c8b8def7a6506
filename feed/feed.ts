import type { Rejection, ValidReading } from '../devices/readings.ts'
import type { LoginRefusal } from '../devices/device-schemas.ts'
import type { DeviceRef, RegistryChange } from '../devices/registry.ts'

/**
 * The platform's event bus: what happens on the MQTT side (readings accepted and rejected by
 * ingest, devices logging in and out of the broker), for every part that reacts to it (live
 * stream, device states, alerts, public snapshots, commissioning, error feedback to devices).
 *
 * Two implementations: in process (below) and over Redis between nodes (redis-feed.ts), which
 * delivers a node's own events to its listeners at once, exactly as this one does, and other nodes'
 * events as they arrive.
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
  /** A device was added, changed, re-keyed, revoked or decommissioned (the registry's announcement). */
  registry?(change: RegistryChange): void
  /** The broker refused a registered device's login (at most one a second per device). */
  loginRefused?(refusal: LoginRefusal): void
  /** Alert rules, alerts or silences changed in the shared store (cluster mode: the other nodes reload them). */
  alerts?(change: AlertChange): void
}

/**
 * What changed in the shared alert store, by which node (`from`: a node ignores its own): the
 * alerts and rules to read again by id, and whether the silences are to be read again.
 */
export interface AlertChange {
  from: string
  alerts: number[]
  rules: number[]
  silences: boolean
}

export interface Feed {
  accepted(device: DeviceRef, readings: readonly ValidReading[], receivedAt: number): void
  rejected(device: DeviceRef, rejections: readonly Rejection[], receivedAt: number): void
  connection(deviceId: string, connected: boolean): void
  registry(change: RegistryChange): void
  loginRefused(refusal: LoginRefusal): void
  alerts(change: AlertChange): void
  /**
   * Returns the unsubscribe function. `name` says who listens (live, alerts…): diagnostics such as
   * the listener timing below report under it.
   */
  subscribe(listeners: FeedListeners, name?: string): () => void
  /**
   * Seconds spent inside each named subscriber's listeners since start (wall time around each call,
   * on the publishing thread, so close to CPU time), when the feed was created with `timing`; else undefined.
   */
  listenerSeconds?(): Record<string, number>
  /**
   * Runs work a subscriber does later for what its listeners heard (a recomputation on a timer)
   * and counts its time under the subscriber's name, as if in a listener; only when the feed was
   * created with `timing` (else undefined: callers run the work themselves, unwrapped).
   */
  timed?<T>(name: string, work: () => T): T
}

export interface LocalFeedOptions {
  /** A listener threw: log it; the feed carries on. */
  onError?(err: unknown, event: keyof FeedListeners): void
  /**
   * Time the listeners with performance.now(), by subscriber name (diagnostics, the benchmark;
   * `accepted` sampled, see TIMING_SAMPLE). Off by default: then no wrapper is installed and
   * publishing costs nothing extra.
   */
  timing?: boolean
}

/**
 * The hot event, `accepted` (once per message), is timed one call in TIMING_SAMPLE and that call's
 * duration counted TIMING_SAMPLE times: two clock reads around every listener of every message
 * weighed on the very CPU figures they were there to split. The rare events are timed every call.
 */
export const TIMING_SAMPLE = 8

/** Adds milliseconds to a subscriber's total. */
const addTime = (totals: Map<string, number>, name: string, ms: number) => totals.set(name, (totals.get(name) ?? 0) + ms)

/** Wraps a subscriber's listeners so each call adds its duration to `totals[name]`. */
function timeListeners(listeners: FeedListeners, name: string, totals: Map<string, number>): FeedListeners {
  if (!totals.has(name)) totals.set(name, 0)
  const add = (ms: number) => addTime(totals, name, ms)
  const wrapped: Record<string, (...args: unknown[]) => void> = {}
  for (const [event, listener] of Object.entries(listeners) as [string, ((...args: unknown[]) => void) | undefined][]) {
    if (typeof listener !== 'function' || event === 'accepted') continue
    wrapped[event] = (...args) => {
      const started = performance.now()
      try {
        listener.apply(listeners, args)
      } finally {
        add(performance.now() - started)
      }
    }
  }
  // The hot event: sampled, and with its three arguments rather than an array per call.
  const accepted = listeners.accepted
  if (accepted) {
    let calls = 0
    const hot: NonNullable<FeedListeners['accepted']> = (device, readings, receivedAt) => {
      if (calls++ % TIMING_SAMPLE !== 0) return accepted.call(listeners, device, readings, receivedAt)
      const started = performance.now()
      try {
        accepted.call(listeners, device, readings, receivedAt)
      } finally {
        add((performance.now() - started) * TIMING_SAMPLE)
      }
    }
    wrapped.accepted = hot as (...args: unknown[]) => void
  }
  return wrapped as FeedListeners
}

/** The feed within one process: publishing calls every listener synchronously. */
export function createLocalFeed(options: LocalFeedOptions = {}): Feed {
  const listeners = new Set<FeedListeners>()
  /** Milliseconds by subscriber name, only when timing. */
  const totals = options.timing ? new Map<string, number>() : undefined
  const failed = (err: unknown, event: keyof FeedListeners) => {
    try {
      options.onError?.(err, event)
    } catch {
      // Nothing more can be done; the publisher must not see it.
    }
  }
  /** Calls every subscriber's listener for one event; one that throws is reported, the others still run. */
  function publish<E extends keyof FeedListeners>(event: E, args: Parameters<NonNullable<FeedListeners[E]>>): void {
    for (const l of listeners) {
      const listener = l[event] as ((...a: typeof args) => void) | undefined
      if (!listener) continue
      try {
        listener.apply(l, args)
      } catch (err) {
        failed(err, event)
      }
    }
  }
  return {
    // Spelled out: the hot path (every accepted message), with no arguments array per call.
    accepted(device, readings, receivedAt) {
      for (const l of listeners) {
        try {
          l.accepted?.(device, readings, receivedAt)
        } catch (err) {
          failed(err, 'accepted')
        }
      }
    },
    rejected: (...args) => publish('rejected', args),
    connection: (...args) => publish('connection', args),
    registry: (...args) => publish('registry', args),
    loginRefused: (...args) => publish('loginRefused', args),
    alerts: (...args) => publish('alerts', args),
    subscribe(listener, name = 'unnamed') {
      const installed = totals ? timeListeners(listener, name, totals) : listener
      listeners.add(installed)
      return () => {
        listeners.delete(installed)
      }
    },
    ...(totals && {
      listenerSeconds: () => Object.fromEntries([...totals].map(([name, ms]) => [name, ms / 1000])),
      timed<T>(name: string, work: () => T): T {
        const started = performance.now()
        try {
          return work()
        } finally {
          addTime(totals, name, performance.now() - started)
        }
      },
    }),
  }
}

