import type { Rejection } from '../devices/readings.ts'

/**
 * Tells a device why its readings were refused, on devices/{id}/errors, at most once per
 * interval per device (a device sending garbage in a loop gets one message a second, not one per
 * payload). Memory is bounded: the table of last reports is cleared past `maxDevices`.
 */

export interface ErrorFeedbackDeps {
  publish(deviceId: string, subtopic: string, payload: string): void
  intervalMs?: number
  maxDevices?: number
  clock?: () => number
}

export function createErrorFeedback(deps: ErrorFeedbackDeps) {
  const intervalMs = deps.intervalMs ?? 1000
  const maxDevices = deps.maxDevices ?? 100_000
  const clock = deps.clock ?? Date.now
  const lastReport = new Map<string, number>()
  return {
    /** Returns whether a message went out. */
    report(deviceId: string, rejections: readonly Rejection[]): boolean {
      const now = clock()
      if (now - (lastReport.get(deviceId) ?? Number.NEGATIVE_INFINITY) < intervalMs) return false
      if (lastReport.size >= maxDevices) lastReport.clear()
      lastReport.set(deviceId, now)
      deps.publish(deviceId, 'errors', JSON.stringify({ rejections, at: new Date(now).toISOString() }))
      return true
    },
  }
}

export type ErrorFeedback = ReturnType<typeof createErrorFeedback>
