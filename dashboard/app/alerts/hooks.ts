import { useSyncExternalStore } from 'react'
import { ops } from '../api/ops.ts'
import { live } from '../live/connection.ts'
import { createAlertStore, type AlertsSnapshot } from './store.ts'

/** The app's one alerts store, fed by the live connection's `alerts` and `alert_rules` events. */
export const alertStore = createAlertStore({ api: ops })
live.onEvent('alerts', (payload) => alertStore.apply(payload))
live.onEvent('alert_rules', (payload) => alertStore.applyRules(payload))

export function useAlerts(): AlertsSnapshot {
  return useSyncExternalStore(alertStore.subscribe, alertStore.getSnapshot, alertStore.getSnapshot)
}
