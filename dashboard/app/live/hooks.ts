import { useCallback, useEffect, useSyncExternalStore } from 'react'
import type { DeviceHealth } from './health.ts'
import { live, type DeviceConnection, type DeviceState, type FlushBatch, type LiveStatus } from './connection.ts'

/** One device's latest state; the component re-renders only when that device changes. */
export function useDeviceState(id: string | null | undefined): DeviceState | undefined {
  const get = useCallback(() => (id ? live.getDevice(id) : undefined), [id])
  return useSyncExternalStore(live.subscribe, get, get)
}

/** One device's broker connection from the stream's `status` events; undefined until one arrives. */
export function useDeviceConnection(id: string | null | undefined): DeviceConnection | undefined {
  const get = useCallback(() => (id ? live.getConnection(id) : undefined), [id])
  return useSyncExternalStore(live.subscribe, get, get)
}

/** One device's health (live, late, silent…) as the server judges it; undefined until known. */
export function useDeviceHealth(id: string | null | undefined): DeviceHealth | undefined {
  const get = useCallback(() => (id ? live.getHealth(id) : undefined), [id])
  return useSyncExternalStore(live.subscribe, get, get)
}

export function useLiveStatus(): LiveStatus {
  return useSyncExternalStore(live.subscribe, live.getStatus, live.getStatus)
}

/** Runs `listener` once per applied frame (for imperative consumers: map source, chart buffer). */
export function useLiveFlush(listener: (batch: FlushBatch) => void): void {
  useEffect(() => live.onFlush(listener), [listener])
}

/** A number that changes whenever any device's health does (not on readings). */
export function useHealthVersion(): number {
  return useSyncExternalStore(live.subscribe, live.getHealthVersion, live.getHealthVersion)
}
