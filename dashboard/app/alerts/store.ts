import type { Alert, AlertCounts, AlertRule, AlertsPush, BulkAck, DerivedField } from '../api/ops.ts'

/**
 * The active alerts (open and acknowledged) and the rules, kept outside React like the live
 * connection: seeded from the API, then changed by the server's `alerts` pushes (one per tick,
 * capped; when the server says it left changes out, the list is re-read, at most every
 * `reloadMinMs`). Components read it with useSyncExternalStore; the snapshot object changes only
 * when something did.
 */

export interface AlertsSnapshot {
  /** Open and acknowledged alerts, most urgent first. */
  active: readonly Alert[]
  counts: AlertCounts
  rules: readonly AlertRule[]
  derivedFields: readonly DerivedField[]
  /** What the last push opened and resolved, for announcements. */
  last: { seq: number; opened: number; resolved: number; newest: Alert | undefined } | null
  loaded: boolean
  error: string
}

export interface AlertsApi {
  alerts(params: { state: 'open' | 'acknowledged'; limit: number }): Promise<{ items: Alert[]; counts: AlertCounts }>
  rules(): Promise<{ items: AlertRule[]; derivedFields: DerivedField[] }>
  ack(id: number): Promise<Alert>
  ackMany(body: { ids: number[] } | { group: { ruleId: number; city: string } }): Promise<BulkAck>
}

const SEVERITY_ORDER: Record<string, number> = { critical: 0, warning: 1, info: 2 }

/** Most urgent first: open before acknowledged, then critical before warning, then newest. */
export function compareAlerts(a: Alert, b: Alert): number {
  if (a.state !== b.state) return a.state === 'open' ? -1 : 1
  const s = (SEVERITY_ORDER[a.severity] ?? 3) - (SEVERITY_ORDER[b.severity] ?? 3)
  if (s !== 0) return s
  return Date.parse(b.openedAt) - Date.parse(a.openedAt) || b.id - a.id
}

const LIMIT = 1000

export function createAlertStore(deps: { api: AlertsApi; reloadMinMs?: number; setTimer?: (fn: () => void, ms: number) => unknown }) {
  const { api } = deps
  const reloadMinMs = deps.reloadMinMs ?? 2000
  const setTimer = deps.setTimer ?? ((fn, ms) => setTimeout(fn, ms))
  const active = new Map<number, Alert>()
  const byDevice = new Map<string, Alert[]>()
  let counts: AlertCounts = { open: 0, acknowledged: 0 }
  let rules: AlertRule[] = []
  let derivedFields: DerivedField[] = []
  let last: AlertsSnapshot['last'] = null
  let loaded = false
  let error = ''
  let snapshot: AlertsSnapshot | undefined
  let lastReload = 0
  let reloadTimer = false
  let seq = 0
  const listeners = new Set<() => void>()

  const changed = () => {
    snapshot = undefined
    byDevice.clear()
    for (const listener of [...listeners]) listener()
  }

  function set(alert: Alert): void {
    if (alert.state === 'resolved') active.delete(alert.id)
    else active.set(alert.id, alert)
  }

  async function reload(): Promise<void> {
    lastReload = Date.now()
    try {
      const [open, acked] = await Promise.all([api.alerts({ state: 'open', limit: LIMIT }), api.alerts({ state: 'acknowledged', limit: LIMIT })])
      active.clear()
      for (const a of [...open.items, ...acked.items]) set(a)
      counts = acked.counts
      loaded = true
      error = ''
    } catch (e) {
      error = e instanceof Error ? e.message : String(e)
    }
    changed()
  }

  function scheduleReload(): void {
    if (reloadTimer) return
    reloadTimer = true
    setTimer(
      () => {
        reloadTimer = false
        void reload()
      },
      Math.max(0, lastReload + reloadMinMs - Date.now()),
    )
  }

  async function reloadRules(): Promise<void> {
    try {
      const r = await api.rules()
      rules = r.items
      derivedFields = r.derivedFields
      changed()
    } catch {
      // The alerts list says what is wrong; rules stay as they were.
    }
  }

  return {
    reload,
    reloadRules,

    /** One `alerts` push from the server. */
    apply(raw: unknown): void {
      const push = raw as Partial<AlertsPush> | null
      if (!push || !Array.isArray(push.changes)) return
      for (const a of push.changes) set(a)
      if (push.counts) counts = push.counts
      const opened = push.changes.filter((a) => a.state === 'open' && !a.acknowledgedAt)
      if ((push.opened ?? 0) > 0 || (push.resolved ?? 0) > 0) {
        last = { seq: ++seq, opened: push.opened ?? opened.length, resolved: push.resolved ?? 0, newest: opened[0] }
      }
      if ((push.more ?? 0) > 0) scheduleReload()
      changed()
    },

    /** An `alert_rules` push: the whole list. */
    applyRules(raw: unknown): void {
      const items = (raw as { rules?: unknown } | null)?.rules
      if (!Array.isArray(items)) return
      rules = items as AlertRule[]
      changed()
    },

    async ack(id: number): Promise<void> {
      const alert = await api.ack(id)
      const before = active.get(id)
      set(alert)
      if (before?.state === 'open' && alert.state === 'acknowledged') counts = { open: Math.max(0, counts.open - 1), acknowledged: counts.acknowledged + 1 }
      changed()
    },

    /** Acknowledges a selection or a whole group; answers how many were acknowledged now. */
    async ackMany(body: { ids: number[] } | { group: { ruleId: number; city: string } }): Promise<BulkAck> {
      const result = await api.ackMany(body)
      let moved = 0
      for (const alert of result.acknowledged) {
        if (active.get(alert.id)?.state === 'open') moved += 1
        set(alert)
      }
      counts = { open: Math.max(0, counts.open - moved), acknowledged: counts.acknowledged + moved }
      changed()
      return result
    },

    /** One alert changed here (assigned): the server pushes too, this is just sooner. */
    update(alert: Alert): void {
      if (alert.state === 'resolved' && !active.has(alert.id)) return
      set(alert)
      changed()
    },

    /** Rules changed here (create, edit, delete): the server pushes too, this is just sooner. */
    setRules(next: AlertRule[]): void {
      rules = next
      changed()
    },

    subscribe(listener: () => void): () => void {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },

    getSnapshot(): AlertsSnapshot {
      snapshot ??= { active: [...active.values()].sort(compareAlerts), counts, rules, derivedFields, last, loaded, error }
      return snapshot
    },

    /** The active alerts of one device (most urgent first). */
    forDevice(id: string): readonly Alert[] {
      if (byDevice.size === 0 && active.size > 0) {
        for (const a of this.getSnapshot().active) {
          const list = byDevice.get(a.deviceId)
          if (list) list.push(a)
          else byDevice.set(a.deviceId, [a])
        }
      }
      return byDevice.get(id) ?? []
    },
  }
}

export type AlertStore = ReturnType<typeof createAlertStore>
