import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import type { DeviceType } from '../../../../devices/kinds.ts'
import type { Device, RegistryChange } from '../../../../devices/registry.ts'
import { createDeviceStates } from '../device-states.ts'
import type { UserVisibility } from '../push.ts'
import { fakeIo } from '../../../../testkit/fake-rooms.ts'
import { createAlertEngine } from './engine.ts'
import { RuleError } from './rules.ts'
import { asyncAlertStore, createSqliteAlertStore } from './store.ts'

const T0 = Date.parse('2026-03-01T08:00:00Z')

function device(id: string, type: DeviceType, city = 'firenze', over: Partial<Device> = {}): Device {
  return { id, type, name: `Station ${id}`, city, lat: 43.77, lon: 11.25, interval: 10, metadata: {}, status: 'active', createdAt: new Date(T0 - 1e6).toISOString(), updatedAt: '', createdBy: 'cli', ...over }
}

async function setup(
  devices: Device[],
  options: { db?: Database.Database; maxKeys?: number; users?: { username: string; role: string }[]; visibility?: UserVisibility } = {},
) {
  let now = T0
  const db = options.db ?? new Database(':memory:')
  const byId = new Map(devices.map((d) => [d.id, d]))
  const listeners = new Set<(c: RegistryChange) => void>()
  const registry = {
    get: (id: string) => byId.get(id),
    list: () => ({ items: [...byId.values()], total: byId.size }),
    onChange(l: (c: RegistryChange) => void) {
      listeners.add(l)
      return () => listeners.delete(l)
    },
  }
  const clock = () => now
  const states = createDeviceStates({ registry, clock, timers: false })
  const engine = await createAlertEngine({ store: asyncAlertStore(createSqliteAlertStore(db)), registry, states, clock, timers: false, maxKeys: options.maxKeys, maxChangesPerMessage: 5 })
  const { io, sockets, fetches, received, hold } = fakeIo(options.users)
  engine.attach(io, options.visibility)
  return {
    db,
    engine,
    states,
    sockets,
    fetches,
    received,
    hold,
    set: (seconds: number) => (now = T0 + seconds * 1000),
    /** One reading of `id` at T0 + seconds (device time = arrival time). */
    read(id: string, seconds: number, values: Record<string, number>) {
      now = T0 + seconds * 1000
      const d = byId.get(id)!
      states.seen(id, now)
      engine.accepted(d, [{ time: now, values }])
    },
    decommission(id: string) {
      const d = { ...byId.get(id)!, status: 'decommissioned' as const }
      byId.set(id, d)
      for (const l of listeners) l({ kind: 'status', device: d })
    },
    alerts: async (state?: 'open' | 'acknowledged' | 'resolved') => (await engine.queryAlerts({ state, limit: 100 })).items,
  }
}

describe('alert engine', () => {
  it('opens an alert on an over-threshold reading, acknowledges it, resolves it past the hysteresis', async () => {
    const t = await setup([device('aq-1', 'air-quality')])
    const rule = await t.engine.createRule({ name: 'PM10 high', field: 'pm10', op: '>', threshold: 50, hysteresis: 5 }, 'olga')
    expect(rule).toMatchObject({ kind: 'threshold', window: null, aggregate: null, minDuration: 0, severity: 'warning', enabled: true, unit: 'µg/m³' })
    t.read('aq-1', 0, { pm10: 40 })
    expect((await t.alerts())).toEqual([])
    t.read('aq-1', 10, { pm10: 62.34 })
    const [open] = (await t.alerts('open'))
    expect(open).toMatchObject({ ruleId: rule.id, ruleName: 'PM10 high', deviceId: 'aq-1', deviceName: 'Station aq-1', value: 62.3, state: 'open', city: 'firenze' })
    expect(open!.message).toBe('PM10 62.3 µg/m³ > 50 µg/m³ at Station aq-1')
    expect(open!.openedAt).toBe(new Date(T0 + 10_000).toISOString())

    t.set(20)
    const acked = await t.engine.acknowledge(open!.id, 'olga')
    expect(acked).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'olga', acknowledgedAt: new Date(T0 + 20_000).toISOString() })
    // The first acknowledgement stands.
    t.set(25)
    expect((await t.engine.acknowledge(open!.id, 'admin')).acknowledgedBy).toBe('olga')

    t.read('aq-1', 30, { pm10: 48 }) // under 50, not under 45: still active
    expect((await t.alerts('acknowledged'))).toHaveLength(1)
    expect((await t.alerts('acknowledged'))[0]!.lastValue).toBe(48)
    t.read('aq-1', 40, { pm10: 44 })
    const [resolved] = (await t.alerts('resolved'))
    expect(resolved).toMatchObject({ id: open!.id, state: 'resolved', resolvedReason: 'cleared', acknowledgedBy: 'olga' })
    await expect(t.engine.acknowledge(open!.id, 'olga')).rejects.toThrow(/resolved/)
    // A new breach opens a new alert.
    t.read('aq-1', 50, { pm10: 80 })
    expect((await t.alerts('open'))).toHaveLength(1)
    expect((await t.alerts('open'))[0]!.id).not.toBe(open!.id)
  })

  it('judges windowed aggregates with a minimum duration (hourly mean PM10 over 50 for 10 min)', async () => {
    const t = await setup([device('aq-1', 'air-quality')])
    await t.engine.createRule({ name: 'PM10 hourly', field: 'pm10', op: '>', threshold: 50, window: '1h', minDuration: '10m' }, 'olga')
    // An hour at 40, then 80 from minute 60: the hourly mean passes 50 at minute 75 (16 readings
    // of 80 in the hour), and has stayed over it for 10 minutes at minute 85.
    for (let m = 0; m < 60; m++) t.read('aq-1', m * 60, { pm10: 40 })
    for (let m = 60; m < 85; m++) {
      t.read('aq-1', m * 60, { pm10: 80 })
      expect((await t.alerts('open')), `minute ${m}`).toHaveLength(0)
    }
    t.read('aq-1', 85 * 60, { pm10: 80 })
    expect((await t.alerts('open'))).toHaveLength(1)
    expect((await t.alerts('open'))[0]!.message).toMatch(/^1 h mean PM10 5\d(\.\d)? µg\/m³ > 50 µg\/m³/)
  })

  it('scopes rules by type and city, and watches derived fields (parking full, bus delay in minutes)', async () => {
    const t = await setup([device('park-fi', 'parking'), device('park-pi', 'parking', 'pisa'), device('bus-1', 'bus')])
    await t.engine.createRule({ name: 'Parking full', field: 'availableSpotNumber', op: '<=', threshold: 0, type: 'parking', city: 'Firenze' }, 'olga')
    await t.engine.createRule({ name: 'Bus late', field: 'delayMinutes', op: '>', threshold: 5, scope: { type: 'bus' } }, 'olga')
    t.read('park-pi', 0, { availableSpotNumber: 0, totalSpotNumber: 100 })
    t.read('park-fi', 0, { availableSpotNumber: 0, totalSpotNumber: 100 })
    t.read('bus-1', 0, { lat: 43.7, lon: 11.2, delay: 240 })
    expect((await t.alerts('open')).map((a) => a.deviceId)).toEqual(['park-fi'])
    t.read('bus-1', 10, { lat: 43.7, lon: 11.2, delay: 420 })
    expect((await t.alerts('open')).map((a) => a.deviceId).sort()).toEqual(['bus-1', 'park-fi'])
    expect((await t.alerts('open')).find((a) => a.deviceId === 'bus-1')).toMatchObject({ value: 7, unit: 'min' })
  })

  it('raises "device silent" after the minimum duration and resolves it when the device reports', async () => {
    const t = await setup([device('aq-1', 'air-quality'), device('aq-2', 'air-quality', 'pisa')])
    await t.engine.createRule({ name: 'Silent in Firenze', kind: 'silent', city: 'firenze', minDuration: 30 }, 'olga')
    t.read('aq-1', 0, { pm25: 1 })
    t.read('aq-2', 0, { pm25: 1 })
    t.set(51)
    t.states.check()
    expect(t.states.get('aq-1')?.state).toBe('silent')
    t.engine.tick()
    expect((await t.alerts())).toHaveLength(0) // silent for 1 s of the 30 required
    t.set(80)
    t.engine.tick()
    expect((await t.alerts())).toHaveLength(0)
    t.set(82)
    t.engine.tick()
    const [alert] = (await t.alerts('open'))
    expect(alert).toMatchObject({ deviceId: 'aq-1', kind: 'silent', value: null })
    expect(alert!.message).toBe('Station aq-1 is silent: nothing received for more than 50 s (expected every 10 s)')
    t.read('aq-1', 90, { pm25: 2 })
    expect((await t.alerts('resolved'))[0]).toMatchObject({ id: alert!.id, resolvedReason: 'reporting' })
  })

  it('does not count decommissioned devices as silent, and resolves their alerts', async () => {
    const t = await setup([device('aq-1', 'air-quality')])
    await t.engine.createRule({ name: 'High', field: 'pm25', op: '>', threshold: 10 }, 'olga')
    await t.engine.createRule({ name: 'Silent', kind: 'silent' }, 'olga')
    t.read('aq-1', 0, { pm25: 30 })
    expect((await t.alerts('open'))).toHaveLength(1)
    t.decommission('aq-1')
    expect((await t.alerts('resolved'))[0]!.resolvedReason).toBe('device-inactive')
    t.set(3600)
    t.states.check()
    t.engine.tick()
    expect((await t.alerts('open'))).toHaveLength(0)
  })

  it('coalesces a rule firing on every device into one capped push per tick, with counts', async () => {
    const devices = Array.from({ length: 40 }, (_, i) => device(`noise-${String(i).padStart(2, '0')}`, 'noise'))
    const t = await setup(devices)
    t.engine.tick()
    t.sockets[0]!.sent.length = 0
    await t.engine.createRule({ name: 'Loud', field: 'LAeq', op: '>', threshold: 70 }, 'olga')
    for (const d of devices) t.read(d.id, 0, { LAeq: 80 })
    t.engine.tick()
    const alerts = t.sockets[0]!.sent.filter(([e]) => e === 'alerts')
    expect(alerts).toHaveLength(1)
    const payload = alerts[0]![1]
    expect(payload.changes).toHaveLength(5)
    expect(payload).toMatchObject({ more: 35, counts: { open: 40, acknowledged: 0 }, opened: 40, resolved: 0 })
    expect(t.sockets[0]!.sent.some(([e]) => e === 'alert_rules')).toBe(true)
    // Nothing changed: nothing sent.
    t.sockets[0]!.sent.length = 0
    t.engine.tick()
    expect(t.sockets[0]!.sent).toEqual([])
  })

  it('pushes by room: staff everything, each installer the alerts of their devices and counts of those', async () => {
    const devices = [device('aq-fi', 'air-quality', 'firenze'), device('aq-po', 'air-quality', 'prato'), device('aq-pi', 'air-quality', 'pisa')]
    const users = [
      { username: 'olga', role: 'operator' },
      { username: 'ivan', role: 'installer' },
      { username: 'ivan', role: 'installer' },
      { username: 'pia', role: 'installer' },
      { username: 'nina', role: 'installer' },
    ]
    const cities: Record<string, string[]> = { ivan: ['firenze'], pia: ['pisa', 'prato'], nina: ['livorno'] }
    const visibility: UserVisibility = (username) => (d) => cities[username]?.includes(d.city) ?? false
    const t = await setup(devices, { users, visibility })
    const [olga, ivan1, ivan2, pia, nina] = t.sockets
    await t.engine.createRule({ name: 'High', field: 'pm25', op: '>', threshold: 10 }, 'olga')
    for (const d of devices) t.read(d.id, 0, { pm25: 30 })
    const pushed = t.engine.tick()
    // Staff get theirs at once, installers once the installers online are known.
    expect(t.received(olga!, 'alerts')).toHaveLength(1)
    expect(t.received(ivan1!, 'alerts')).toHaveLength(0)
    await pushed
    expect(t.fetches.count).toBe(1)
    expect(t.received(olga!, 'alerts')[0]).toMatchObject({ more: 0, counts: { open: 3, acknowledged: 0 }, opened: 3, acknowledged: 0, resolved: 0 })
    expect(t.received(olga!, 'alerts')[0].changes.map((a: { deviceId: string }) => a.deviceId)).toEqual(['aq-pi', 'aq-po', 'aq-fi'])
    for (const socket of [ivan1!, ivan2!]) {
      const [message, ...rest] = t.received(socket, 'alerts')
      expect(rest).toEqual([])
      expect(message.changes.map((a: { deviceId: string }) => a.deviceId)).toEqual(['aq-fi'])
      expect(message).toMatchObject({ more: 0, counts: { open: 1, acknowledged: 0 }, opened: 3 })
    }
    expect(t.received(pia!, 'alerts')[0].changes.map((a: { deviceId: string }) => a.deviceId)).toEqual(['aq-pi', 'aq-po'])
    // Nothing of theirs: nothing sent.
    expect(t.received(nina!, 'alerts')).toEqual([])
    // Rules go to every logged-in socket.
    for (const socket of t.sockets) expect(t.received(socket, 'alert_rules')).toHaveLength(1)
  })

  it('never overlaps the installers\' pushes: ticks meanwhile are merged into the next, in order', async () => {
    const devices = [device('aq-1', 'air-quality'), device('aq-2', 'air-quality')]
    const t = await setup(devices, { users: [{ username: 'olga', role: 'operator' }, { username: 'ivan', role: 'installer' }], visibility: () => () => true })
    const [olga, ivan] = t.sockets
    await t.engine.createRule({ name: 'High', field: 'pm25', op: '>', threshold: 10 }, 'olga')
    const release = t.hold()
    t.read('aq-1', 0, { pm25: 30 })
    const first = t.engine.tick()
    await new Promise((resolve) => setImmediate(resolve))
    expect(t.fetches.count).toBe(1)
    // While the installers online are being fetched: two more ticks.
    t.read('aq-2', 1, { pm25: 30 })
    const second = t.engine.tick()
    t.read('aq-1', 2, { pm25: 1 })
    const third = t.engine.tick()
    expect(t.received(olga!, 'alerts')).toHaveLength(3)
    expect(t.fetches.count).toBe(1)
    release()
    await Promise.all([first, second, third])
    // One fetch for the first tick, one for the two that came while it ran.
    expect(t.fetches.count).toBe(2)
    const [a, b, ...rest] = t.received(ivan!, 'alerts')
    expect(rest).toEqual([])
    expect(a.changes.map((x: { deviceId: string }) => x.deviceId)).toEqual(['aq-1'])
    expect(b.changes.map((x: { deviceId: string; state: string }) => `${x.deviceId} ${x.state}`)).toEqual(['aq-2 open', 'aq-1 resolved'])
    expect(b).toMatchObject({ opened: 1, resolved: 1, counts: { open: 1, acknowledged: 0 } })
  })

  it('sends nothing more once closed, and close waits for a push under way', async () => {
    const t = await setup([device('aq-1', 'air-quality')], { users: [{ username: 'ivan', role: 'installer' }], visibility: () => () => true })
    await t.engine.createRule({ name: 'High', field: 'pm25', op: '>', threshold: 10 }, 'olga')
    t.read('aq-1', 0, { pm25: 30 })
    void t.engine.tick()
    await t.engine.close()
    expect(t.received(t.sockets[0]!, 'alerts')).toEqual([])
    t.read('aq-1', 10, { pm25: 1 })
    await t.engine.tick()
    expect(t.received(t.sockets[0]!, 'alerts')).toEqual([])
  })

  it('keeps its in-memory state bounded', async () => {
    const devices = Array.from({ length: 30 }, (_, i) => device(`aq-${i}`, 'air-quality'))
    const t = await setup(devices, { maxKeys: 10 })
    await t.engine.createRule({ name: 'Hourly', field: 'pm25', op: '>', threshold: 1000, window: 3600 }, 'olga')
    for (const d of devices) t.read(d.id, 0, { pm25: 1 })
    expect(t.engine.stats()).toMatchObject({ keys: 10, droppedKeys: 20 })
    // Rules without a window keep no state for devices whose condition does not hold.
    const u = await setup(devices)
    await u.engine.createRule({ name: 'High', field: 'pm25', op: '>', threshold: 1000 }, 'olga')
    for (const d of devices) u.read(d.id, 0, { pm25: 1 })
    expect(u.engine.stats().keys).toBe(0)
  })

  it('persists rules and alerts: a restart finds them and resolves what a deleted rule left', async () => {
    const db = new Database(':memory:')
    const devices = [device('aq-1', 'air-quality')]
    const t = await setup(devices, { db })
    const rule = await t.engine.createRule({ name: 'High', field: 'pm25', op: '>', threshold: 10 }, 'olga')
    t.read('aq-1', 0, { pm25: 30 })
    await t.engine.close()

    const again = await setup(devices, { db })
    expect(again.engine.listRules().map((r) => r.name)).toEqual(['High'])
    expect((await again.alerts('open'))).toHaveLength(1)
    // The restored alert still resolves, and no second one opens meanwhile.
    again.read('aq-1', 10, { pm25: 40 })
    expect((await again.alerts())).toHaveLength(1)
    again.read('aq-1', 20, { pm25: 5 })
    expect((await again.alerts('resolved'))).toHaveLength(1)
    again.read('aq-1', 30, { pm25: 50 })
    await again.engine.deleteRule(rule.id)
    expect((await again.alerts('resolved')).map((a) => a.resolvedReason).sort()).toEqual(['cleared', 'rule-deleted'])
    expect(again.engine.listRules()).toEqual([])
  })

  it('refuses rules that do not hold together', async () => {
    const t = await setup([device('aq-1', 'air-quality')])
    const bad = (input: Record<string, unknown>) => expect(t.engine.createRule({ name: 'x', ...input } as never, 'olga')).rejects
    await bad({ op: '>', threshold: 1 }).toThrow(RuleError)
    await bad({ field: 'pm25', threshold: 1 }).toThrow(/'op'/)
    await bad({ field: 'nope', op: '>', threshold: 1 }).toThrow(/no device type has a field 'nope'/)
    await bad({ field: 'pm25', op: '>', threshold: 1, type: 'bus' }).toThrow(/bus devices have no field 'pm25'/)
    await bad({ field: 'pm25', op: '>', threshold: 1, city: 'milano' }).toThrow(/unknown city 'milano'/)
    await bad({ field: 'pm25', op: '>', threshold: 1, deviceId: 'aq-404' }).toThrow(/no device with id 'aq-404'/)
    await bad({ field: 'pm25', op: '>', threshold: 1, aggregate: 'max' }).toThrow(/'aggregate' needs 'window'/)
    await bad({ kind: 'silent', window: 60 }).toThrow(/silent rule has no window/)
  })

  it('updates rules: renaming keeps alerts, changing the threshold resolves them, disabling too', async () => {
    const t = await setup([device('aq-1', 'air-quality')])
    const rule = await t.engine.createRule({ name: 'High', field: 'pm25', op: '>', threshold: 10 }, 'olga')
    t.read('aq-1', 0, { pm25: 30 })
    await t.engine.updateRule(rule.id, { name: 'Very high', severity: 'critical' })
    expect((await t.alerts('open'))).toHaveLength(1)
    expect(t.engine.getRule(rule.id)).toMatchObject({ name: 'Very high', severity: 'critical' })
    await t.engine.updateRule(rule.id, { threshold: 20 })
    expect((await t.alerts('resolved'))[0]!.resolvedReason).toBe('rule-changed')
    t.read('aq-1', 10, { pm25: 30 })
    expect((await t.alerts('open'))).toHaveLength(1)
    await t.engine.updateRule(rule.id, { enabled: false })
    expect((await t.alerts('open'))).toHaveLength(0)
    t.read('aq-1', 20, { pm25: 30 })
    expect((await t.alerts('open'))).toHaveLength(0)
    await t.engine.updateRule(rule.id, { enabled: true, window: '10m', aggregate: 'max' })
    expect(t.engine.getRule(rule.id)).toMatchObject({ window: 600, aggregate: 'max' })
    await t.engine.updateRule(rule.id, { window: null })
    expect(t.engine.getRule(rule.id)).toMatchObject({ window: null, aggregate: null })
  })
})
