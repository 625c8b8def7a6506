import { describe, expect, it, vi } from 'vitest'
import type { Alert } from '../api/ops.ts'
import { compareAlerts, createAlertStore, type AlertsApi } from './store.ts'

let nextId = 1
const alert = (over: Partial<Alert> = {}): Alert => ({
  id: nextId++,
  ruleId: 1,
  ruleName: 'PM10 high',
  kind: 'threshold',
  severity: 'warning',
  deviceId: 'aq-1',
  deviceName: 'Viale Gramsci',
  type: 'air-quality',
  city: 'firenze',
  field: 'pm10',
  op: '>',
  threshold: 50,
  unit: 'µg/m³',
  value: 60,
  lastValue: 60,
  message: 'm',
  state: 'open',
  openedAt: new Date(1_800_000_000_000 + nextId * 1000).toISOString(),
  acknowledgedAt: null,
  acknowledgedBy: null,
  resolvedAt: null,
  resolvedReason: null,
  assignee: null,
  silenced: false,
  ...over,
})

function setup(seed: Alert[] = []) {
  const timers: (() => void)[] = []
  const api: AlertsApi = {
    alerts: vi.fn(async ({ state }: { state: 'open' | 'acknowledged' }) => {
      const items = seed.filter((a) => a.state === state)
      return { items, counts: { open: seed.filter((a) => a.state === 'open').length, acknowledged: seed.filter((a) => a.state === 'acknowledged').length } }
    }),
    rules: vi.fn(async () => ({ items: [], derivedFields: [] })),
    ack: vi.fn(async (id: number) => ({ ...seed.find((a) => a.id === id)!, state: 'acknowledged' as const, acknowledgedBy: 'olga', acknowledgedAt: new Date().toISOString() })),
    ackMany: vi.fn(async (body: { ids: number[] } | { group: { ruleId: number; city: string } }) => {
      const chosen = 'ids' in body ? seed.filter((a) => body.ids.includes(a.id)) : seed.filter((a) => a.ruleId === body.group.ruleId && a.city === body.group.city)
      const open = chosen.filter((a) => a.state === 'open')
      return {
        acknowledged: open.map((a) => ({ ...a, state: 'acknowledged' as const, acknowledgedBy: 'olga', acknowledgedAt: new Date().toISOString() })),
        already: chosen.filter((a) => a.state === 'acknowledged').map((a) => a.id),
        resolved: [],
        missing: [],
      }
    }),
  }
  const store = createAlertStore({ api, reloadMinMs: 2000, setTimer: (fn) => timers.push(fn) })
  return { store, api, timers }
}

describe('alerts store', () => {
  it('orders the active alerts: open first, then critical first, then newest', () => {
    const a = alert({ severity: 'warning' })
    const b = alert({ severity: 'critical' })
    const c = alert({ severity: 'critical', state: 'acknowledged' })
    const d = alert({ severity: 'warning' })
    expect([a, b, c, d].sort(compareAlerts).map((x) => x.id)).toEqual([b.id, d.id, a.id, c.id])
  })

  it('loads, applies pushes (resolved ones leave), and keeps one snapshot object per change', async () => {
    const first = alert()
    const { store } = setup([first])
    await store.reload()
    const snap = store.getSnapshot()
    expect(snap.active.map((a) => a.id)).toEqual([first.id])
    expect(store.getSnapshot()).toBe(snap)
    const listener = vi.fn()
    store.subscribe(listener)
    const second = alert({ deviceId: 'aq-2' })
    store.apply({ changes: [second], more: 0, counts: { open: 2, acknowledged: 0 }, opened: 1, acknowledged: 0, resolved: 0 })
    expect(listener).toHaveBeenCalledTimes(1)
    expect(store.getSnapshot().active).toHaveLength(2)
    expect(store.getSnapshot().last).toMatchObject({ opened: 1, newest: { id: second.id } })
    expect(store.forDevice('aq-2').map((a) => a.id)).toEqual([second.id])
    store.apply({ changes: [{ ...first, state: 'resolved' }], more: 0, counts: { open: 1, acknowledged: 0 }, opened: 0, acknowledged: 0, resolved: 1 })
    expect(store.getSnapshot().active.map((a) => a.id)).toEqual([second.id])
    expect(store.getSnapshot().counts).toEqual({ open: 1, acknowledged: 0 })
  })

  it('re-reads the list once when a push left changes out, however many such pushes come', async () => {
    const { store, api, timers } = setup([])
    await store.reload()
    expect(api.alerts).toHaveBeenCalledTimes(2)
    for (let i = 0; i < 5; i++) store.apply({ changes: [alert()], more: 40, counts: { open: 45, acknowledged: 0 }, opened: 41, acknowledged: 0, resolved: 0 })
    expect(timers).toHaveLength(1)
    timers[0]!()
    await vi.waitFor(() => expect(api.alerts).toHaveBeenCalledTimes(4), { timeout: 20_000 })
  })

  it('acknowledges through the API and updates the counts', async () => {
    const open = alert()
    const { store, api } = setup([open])
    await store.reload()
    await store.ack(open.id)
    expect(api.ack).toHaveBeenCalledWith(open.id)
    expect(store.getSnapshot().active[0]).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'olga' })
    expect(store.getSnapshot().counts).toEqual({ open: 0, acknowledged: 1 })
  })

  it('acknowledges a whole group in one call and moves only the open ones in the counts', async () => {
    const a = alert({ ruleId: 3, city: 'firenze' })
    const b = alert({ ruleId: 3, city: 'firenze', state: 'acknowledged', acknowledgedBy: 'ada' })
    const c = alert({ ruleId: 3, city: 'pisa' })
    const { store, api } = setup([a, b, c])
    await store.reload()
    const result = await store.ackMany({ group: { ruleId: 3, city: 'firenze' } })
    expect(api.ackMany).toHaveBeenCalledTimes(1)
    expect(result.already).toEqual([b.id])
    expect(store.getSnapshot().counts).toEqual({ open: 1, acknowledged: 2 })
    expect(store.getSnapshot().active.filter((x) => x.state === 'open').map((x) => x.id)).toEqual([c.id])
  })
})
