import { describe, expect, it } from 'vitest'
import type { Notification } from '../../../shared/notify.ts'
import type { AlertView } from '../alerts/engine.ts'
import type { Alert } from '../alerts/store.ts'
import { alertView } from '../alerts/views.ts'
import { createGrouping, type Scheduler } from './grouping.ts'

/** A clock and timers the test moves by hand. */
function manualTime(start = 1_000_000) {
  let now = start
  let seq = 0
  const timers = new Map<number, { at: number; fn: () => void }>()
  const scheduler: Scheduler = {
    set(fn, ms) {
      seq += 1
      timers.set(seq, { at: now + ms, fn })
      return seq
    },
    clear: (h) => void timers.delete(h as number),
  }
  return {
    clock: () => now,
    scheduler,
    pending: () => timers.size,
    advance(ms: number) {
      const end = now + ms
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0]
        if (!due) break
        timers.delete(due[0])
        now = due[1].at
        due[1].fn()
      }
      now = end
    },
  }
}

let nextId = 1
function alert(over: Partial<Alert> = {}): Alert {
  const id = nextId++
  return {
    id,
    ruleId: 7,
    ruleName: 'PM2.5 high',
    kind: 'threshold',
    severity: 'warning',
    deviceId: `aq-${id}`,
    deviceName: `Station ${id}`,
    type: 'air-quality',
    city: 'firenze',
    field: 'pm25',
    op: '>',
    threshold: 5,
    unit: 'µg/m³',
    value: 12,
    lastValue: 12,
    message: `PM2.5 12 µg/m³ > 5 µg/m³ at Station ${id}`,
    state: 'open',
    openedAt: 0,
    acknowledgedAt: null,
    acknowledgedBy: null,
    resolvedAt: null,
    resolvedReason: null,
    assignee: null,
    ...over,
  }
}

/** Events as the engine emits them (engine.onAlert): a fresh view, `silenced` as a silence says at that moment. */
function setup(options: { isSilenced?: (a: AlertView) => boolean } = {}) {
  const time = manualTime()
  const sent: Notification[] = []
  const grouping = createGrouping({ groupWindowMs: 30_000, repeatIntervalMs: 300_000, clock: time.clock, scheduler: time.scheduler, send: (n) => sent.push(n), ...options })
  const open = (over: Partial<Alert> = {}) => {
    const a = alert({ openedAt: time.clock(), ...over })
    const view = alertView(a)
    const silenced = options.isSilenced?.(view) ?? false
    grouping.alertEvent({ type: 'opened', alert: alertView(a, silenced), silenced })
    return a
  }
  const resolve = (a: Alert) => grouping.alertEvent({ type: 'resolved', alert: alertView({ ...a, state: 'resolved', resolvedAt: time.clock(), resolvedReason: 'cleared' }), silenced: false })
  const acknowledge = (a: Alert) => grouping.alertEvent({ type: 'acknowledged', alert: alertView({ ...a, state: 'acknowledged', acknowledgedAt: time.clock(), acknowledgedBy: 'olga' }), silenced: false })
  return { time, sent, grouping, open, resolve, acknowledge }
}

describe('notification grouping', () => {
  it('sends one message for a storm of 50 alerts of one rule and city within the window, then one resolved', () => {
    const { time, sent, open, resolve } = setup()
    const alerts: Alert[] = []
    for (let i = 0; i < 50; i++) {
      alerts.push(open())
      time.advance(500) // 25 s in all: inside the 30 s window
    }
    expect(sent).toHaveLength(0)
    time.advance(5_000)
    expect(sent).toHaveLength(1)
    const [firing] = sent
    expect(firing!.status).toBe('firing')
    expect(firing!.count).toBe(50)
    expect(firing!.newAlerts).toBe(50)
    expect(firing!.devices.map((d) => d.id)).toEqual(alerts.map((a) => a.deviceId))
    expect(firing!.group).toMatchObject({ key: '7:firenze', ruleId: 7, city: 'firenze', ruleName: 'PM2.5 high' })
    expect(firing!.summary).toBe('[warning] PM2.5 high in firenze: 50 devices in alert')
    expect(firing!.summaryIt).toBe('[warning] PM2.5 high a firenze: 50 dispositivi in allarme')

    for (const a of alerts.slice(0, 49)) resolve(a)
    time.advance(60_000)
    expect(sent).toHaveLength(1) // one still active: no resolved message
    resolve(alerts[49]!)
    time.advance(29_999)
    expect(sent).toHaveLength(1)
    time.advance(1)
    expect(sent).toHaveLength(2)
    expect(sent[1]).toMatchObject({ status: 'resolved', count: 0, newAlerts: 50 })
    expect(sent[1]!.devices).toHaveLength(50)
    time.advance(3_600_000)
    expect(sent).toHaveLength(2)
  })

  it('lists devices with their alert and opening time; an acknowledgement sends nothing', () => {
    const { time, sent, open, acknowledge } = setup()
    const first = open({ value: 40 })
    time.advance(1_000)
    const second = open()
    acknowledge(first)
    time.advance(30_000)
    expect(sent).toHaveLength(1)
    expect(sent[0]!.devices).toEqual([
      { id: first.deviceId, name: first.deviceName, alertId: first.id, value: 40, openedAt: new Date(first.openedAt).toISOString(), message: first.message },
      { id: second.deviceId, name: second.deviceName, alertId: second.id, value: 12, openedAt: new Date(second.openedAt).toISOString(), message: second.message },
    ])
    time.advance(3_600_000)
    expect(sent).toHaveLength(1)
  })

  it('keeps groups apart by rule and by city', () => {
    const { time, sent, open } = setup()
    open({ ruleId: 1, city: 'firenze' })
    open({ ruleId: 1, city: 'prato' })
    open({ ruleId: 2, city: 'firenze' })
    open({ ruleId: 1, city: 'firenze' })
    time.advance(30_000)
    expect(sent.map((n) => [n.group.key, n.count]).sort()).toEqual([
      ['1:firenze', 2],
      ['1:prato', 1],
      ['2:firenze', 1],
    ])
  })

  it('holds alerts opened after a message until the minimum interval has passed, then sends them together', () => {
    const { time, sent, open } = setup()
    open()
    time.advance(30_000)
    expect(sent).toHaveLength(1)
    // 100 more over the next 4 minutes: nothing until 5 minutes after the first message.
    for (let i = 0; i < 100; i++) {
      open()
      time.advance(2_400)
    }
    expect(sent).toHaveLength(1)
    time.advance(300_000 - 240_000 - 1)
    expect(sent).toHaveLength(1)
    time.advance(1)
    expect(sent).toHaveLength(2)
    expect(sent[1]).toMatchObject({ status: 'firing', count: 101, newAlerts: 100 })
    expect(sent[1]!.summary).toBe('[warning] PM2.5 high in firenze: 101 devices in alert (100 new)')
    expect(sent[1]!.devices).toHaveLength(100)
    expect(sent[1]!.more).toBe(1)
  })

  it('sends nothing for alerts that open and resolve before their message goes', () => {
    const { time, sent, open, resolve } = setup()
    const a = open()
    time.advance(10_000)
    resolve(a)
    time.advance(3_600_000)
    expect(sent).toHaveLength(0)
    expect(time.pending()).toBe(0)
  })

  it('drops the resolved message when an alert of the group opens again within the window (flapping)', () => {
    const { time, sent, open, resolve } = setup()
    const a = open()
    time.advance(30_000)
    resolve(a)
    time.advance(10_000)
    open({ deviceId: a.deviceId })
    time.advance(30_000)
    expect(sent.map((n) => n.status)).toEqual(['firing']) // no resolved; the new one waits for the interval
    time.advance(300_000)
    expect(sent.map((n) => n.status)).toEqual(['firing', 'firing'])
  })

  it('leaves silenced alerts out, and sends nothing for a group whose alerts are all silenced', () => {
    const silencedDevices = new Set<string>()
    const { time, sent, open, resolve } = setup({ isSilenced: (a) => silencedDevices.has(a.deviceId) || a.city === 'siena' })
    const s = open({ city: 'siena' })
    time.advance(30_000)
    resolve(s)
    time.advance(60_000)
    expect(sent).toHaveLength(0)

    const a = open()
    const b = open()
    silencedDevices.add(b.deviceId) // silenced after it opened, before the message
    time.advance(30_000)
    expect(sent).toHaveLength(1)
    expect(sent[0]!.devices.map((d) => d.id)).toEqual([a.deviceId])
    resolve(a)
    time.advance(30_000)
    expect(sent.map((n) => [n.status, n.newAlerts])).toEqual([
      ['firing', 1],
      ['resolved', 1],
    ])
  })

  it('still sends the resolved message when the alerts left after the notified ones were silenced before their message', () => {
    const silenced = new Set<string>()
    const { time, sent, open, resolve } = setup({ isSilenced: (a) => silenced.has(a.deviceId) })
    const a = open()
    time.advance(30_000)
    const b = open()
    resolve(a)
    silenced.add(b.deviceId)
    time.advance(300_000)
    expect(sent.map((n) => n.status)).toEqual(['firing'])
    time.advance(30_000)
    expect(sent.map((n) => [n.status, n.devices.map((d) => d.id)])).toEqual([
      ['firing', [a.deviceId]],
      ['resolved', [a.deviceId]],
    ])
  })

  it('flush() sends pending messages at once; close() cancels what is pending', () => {
    const { time, sent, open, grouping } = setup()
    open()
    grouping.flush()
    expect(sent).toHaveLength(1)
    open({ city: 'pisa' })
    grouping.close()
    time.advance(3_600_000)
    expect(sent).toHaveLength(1)
  })
})
