import { describe, expect, it } from 'vitest'
import type { Device, RegistryChange } from '../../../devices/registry.ts'
import { createDeviceStates, stateAfterReading, stateAt, type DeviceStateChange } from './device-states.ts'
import { keepsStateUntil } from './device-health.ts'
import { fakeIo } from '../../../testkit/fake-rooms.ts'

const T0 = Date.parse('2026-03-01T08:00:00Z')

function device(id: string, over: Partial<Device> = {}): Device {
  return {
    id,
    type: 'air-quality',
    name: id,
    city: 'firenze',
    lat: 43.77,
    lon: 11.25,
    interval: 10,
    metadata: {},
    status: 'active',
    createdAt: new Date(T0 - 86_400_000).toISOString(),
    updatedAt: new Date(T0 - 86_400_000).toISOString(),
    createdBy: 'cli',
    ...over,
  }
}

/** A registry stand-in the test changes by hand, and a clock it moves. */
function setup(devices: Device[]) {
  let now = T0
  const listeners = new Set<(c: RegistryChange) => void>()
  const byId = new Map(devices.map((d) => [d.id, d]))
  const registry = {
    list: () => ({ items: [...byId.values()], total: byId.size }),
    get: (id: string) => byId.get(id),
    onChange(l: (c: RegistryChange) => void) {
      listeners.add(l)
      return () => listeners.delete(l)
    },
  }
  const tracker = createDeviceStates({ registry, clock: () => now, timers: false })
  const changes: DeviceStateChange[] = []
  tracker.onChange((c) => changes.push(c))
  return {
    tracker,
    changes,
    /** Moves the clock to T0 + seconds and ages every device. */
    at(seconds: number) {
      now = T0 + seconds * 1000
      tracker.check(now)
      return now
    },
    /** A reading arrives at T0 + seconds. */
    reading(id: string, seconds: number) {
      now = T0 + seconds * 1000
      tracker.seen(id, now)
    },
    change(d: Device, kind: RegistryChange['kind'] = 'status') {
      byId.set(d.id, d)
      for (const l of listeners) l({ kind, device: d })
    },
    state: (id: string) => tracker.get(id)?.state,
  }
}

describe('device state rules (pure)', () => {
  const base = { interval: 10, reference: T0 }
  it('goes late after 2 missed intervals and silent after 5', () => {
    const live = { ...base, state: 'live' as const, lastSeen: T0 }
    expect(stateAt(live, T0 + 20_000)).toBe('live')
    expect(stateAt(live, T0 + 20_001)).toBe('late')
    expect(stateAt({ ...live, state: 'late' }, T0 + 50_000)).toBe('late')
    expect(stateAt({ ...live, state: 'late' }, T0 + 50_001)).toBe('silent')
    // A check that comes late skips straight to silent.
    expect(stateAt(live, T0 + 60_000)).toBe('silent')
  })

  it('keeps a late device late until a reading shows it back on schedule', () => {
    const late = { ...base, state: 'late' as const, lastSeen: T0 }
    // Time alone never brings it back.
    expect(stateAt(late, T0 + 1000)).toBe('late')
    // A reading 1.5 intervals after the previous one does; 1.6 intervals does not.
    expect(stateAfterReading(late, T0 + 15_000)).toBe('live')
    expect(stateAfterReading(late, T0 + 16_000)).toBe('late')
    // A silent device's first reading makes it late, not live.
    expect(stateAfterReading({ ...late, state: 'silent' }, T0 + 120_000)).toBe('late')
  })

  it('says the last moment a device keeps its state with no reading: stateAt turns it 1 ms later', () => {
    const cases = [
      { ...base, state: 'live' as const, lastSeen: T0 },
      { ...base, state: 'late' as const, lastSeen: T0 },
      { ...base, state: 'pending' as const, lastSeen: null },
      { ...base, state: 'pending' as const, lastSeen: null, reference: T0 + 7_000, interval: 60 },
    ]
    for (const d of cases) {
      const until = keepsStateUntil(d)
      expect(stateAt(d, until)).toBe(d.state)
      expect(stateAt(d, until + 1)).not.toBe(d.state)
    }
    expect(keepsStateUntil({ ...base, state: 'silent', lastSeen: T0 })).toBe(Number.POSITIVE_INFINITY)
    expect(keepsStateUntil({ ...base, state: 'inactive', lastSeen: null })).toBe(Number.POSITIVE_INFINITY)
  })

  it('never judges inactive devices, and counts never-seen ones from the reference', () => {
    expect(stateAt({ ...base, state: 'inactive', lastSeen: null }, T0 + 10 ** 9)).toBe('inactive')
    expect(stateAfterReading({ ...base, state: 'inactive', lastSeen: null }, T0)).toBe('inactive')
    const pending = { ...base, state: 'pending' as const, lastSeen: null }
    expect(stateAt(pending, T0 + 49_000)).toBe('pending')
    expect(stateAt(pending, T0 + 50_001)).toBe('silent')
    expect(stateAfterReading(pending, T0 + 1000)).toBe('live')
  })
})

describe('device state tracker', () => {
  it('turns a device late then silent when it stops, and back live once it reports on schedule again', () => {
    const s = setup([device('aq-1')])
    expect(s.state('aq-1')).toBe('pending')
    s.reading('aq-1', 0)
    expect(s.state('aq-1')).toBe('live')
    s.reading('aq-1', 10)
    s.at(25)
    expect(s.state('aq-1')).toBe('live')
    s.at(30.5)
    expect(s.state('aq-1')).toBe('late')
    expect(s.tracker.get('aq-1')?.since).toBe(T0 + 30_500)
    s.at(60.5)
    expect(s.state('aq-1')).toBe('silent')

    // Back: the first reading after silence only makes it late…
    s.reading('aq-1', 100)
    expect(s.state('aq-1')).toBe('late')
    s.at(105)
    expect(s.state('aq-1')).toBe('late')
    // …the next one on schedule makes it live.
    s.reading('aq-1', 110)
    expect(s.state('aq-1')).toBe('live')
    expect(s.changes.map((c) => `${c.previous}→${c.state}`)).toEqual(['pending→live', 'live→late', 'late→silent', 'silent→late', 'late→live'])
  })

  it('does not flap for a device reporting every 1.8 intervals (hysteresis)', () => {
    const s = setup([device('aq-1')])
    // On schedule first, then one gap of 2.5 intervals makes it late.
    s.reading('aq-1', 0)
    s.at(25)
    expect(s.state('aq-1')).toBe('late')
    // From then on, a reading every 18 s (1.8 intervals): never more than 2 intervals apart,
    // never within 1.5: it stays late, checked every second, with no change at all.
    const before = s.changes.length
    for (let t = 26; t <= 26 + 18 * 20; t += 18) {
      s.reading('aq-1', t)
      for (let c = 1; c < 18; c++) s.at(t + c)
    }
    expect(s.state('aq-1')).toBe('late')
    expect(s.changes.length).toBe(before)
  })

  it('makes decommissioned and revoked devices inactive, never silent', () => {
    const s = setup([device('aq-1'), device('aq-2', { status: 'decommissioned' })])
    expect(s.state('aq-2')).toBe('inactive')
    s.reading('aq-1', 0)
    s.change(device('aq-1', { status: 'decommissioned' }))
    expect(s.state('aq-1')).toBe('inactive')
    s.at(3600)
    expect(s.state('aq-1')).toBe('inactive')
    expect(s.state('aq-2')).toBe('inactive')
    expect(s.tracker.counts()).toMatchObject({ inactive: 2, silent: 0 })
    // Readings of an inactive device (a backlog still in flight) change nothing.
    s.reading('aq-1', 3601)
    expect(s.state('aq-1')).toBe('inactive')
  })

  it('counts a device never seen from its registration, or from the start, whichever is later', () => {
    const s = setup([device('aq-1')])
    s.at(49)
    expect(s.state('aq-1')).toBe('pending')
    s.at(51)
    expect(s.state('aq-1')).toBe('silent')
    // Registered later: its own clock starts then.
    s.change(device('aq-new', { createdAt: new Date(T0 + 100_000).toISOString() }), 'added')
    s.at(120)
    expect(s.state('aq-new')).toBe('pending')
    s.at(151)
    expect(s.state('aq-new')).toBe('silent')
  })

  it('ages only the devices whose moment has come, not the whole fleet on every check', () => {
    const fleet = Array.from({ length: 1000 }, (_, i) => device(`aq-${i}`, { interval: i < 10 ? 10 : 60 }))
    const s = setup(fleet)
    // Every device reports at 0 s; the ten with a 10 s interval stop, the others report every minute.
    for (const d of fleet) s.reading(d.id, 0)
    expect(s.tracker.check(T0 + 1000)).toEqual({ examined: 0, changed: 0 })
    expect(s.tracker.check(T0 + 20_001)).toEqual({ examined: 10, changed: 10 })
    // Five minutes of readings, checked every half second: 595 checks. Aging every device on each
    // would look at 595,000; here the stopped ten are looked at once more (silent after 50 s) and
    // each device on schedule when its entry falls due, 2 minutes after the reading it was set
    // from: at 120.5 s (set at 0, put back at 240 from that minute's reading) and at 240.5 s.
    let examined = 0
    let changed = 0
    for (let minute = 1; minute <= 5; minute++) {
      for (const d of fleet.slice(10)) s.reading(d.id, minute * 60)
      for (let ms = 500; ms < 60_000; ms += 500) {
        const r = s.tracker.check(T0 + minute * 60_000 + ms)
        examined += r.examined
        changed += r.changed
      }
    }
    expect({ examined, changed }).toEqual({ examined: 10 + 2 * 990, changed: 10 })
    expect(s.tracker.counts()).toMatchObject({ live: 990, silent: 10 })
    // The moments the readings moved are honoured: a device stopping now goes late 2 minutes on.
    s.at(5 * 60 + 120)
    expect(s.state('aq-10')).toBe('live')
    s.at(5 * 60 + 120.5)
    expect(s.tracker.counts()).toMatchObject({ late: 990, silent: 10 })
  })

  it('follows a changed interval', () => {
    const s = setup([device('aq-1')])
    s.reading('aq-1', 0)
    s.change(device('aq-1', { interval: 60 }), 'updated')
    s.at(100)
    expect(s.state('aq-1')).toBe('live')
    s.at(121)
    expect(s.state('aq-1')).toBe('late')
  })

  it('filters and counts', () => {
    const s = setup([device('aq-1'), device('aq-2', { city: 'pisa' }), device('aq-3', { status: 'revoked' })])
    s.reading('aq-1', 0)
    expect(s.tracker.counts()).toEqual({ live: 1, late: 0, silent: 0, pending: 1, inactive: 1 })
    expect(s.tracker.list((d) => d.city === 'pisa').map((d) => d.id)).toEqual(['aq-2'])
  })
})

describe('device state pushes', () => {
  it('sends staff every change and each installer online theirs, by room, at most maxPerMessage at a time', async () => {
    const devices = [device('aq-fi-1'), device('aq-fi-2'), device('aq-pi-1', { city: 'pisa' })]
    const registry = { list: () => ({ items: devices, total: devices.length }), get: (id: string) => devices.find((d) => d.id === id), onChange: () => () => {} }
    const tracker = createDeviceStates({ registry, clock: () => T0, timers: false, maxPerMessage: 2 })
    const users = [
      { username: 'olga', role: 'admin' },
      { username: 'ivan', role: 'installer' },
      { username: 'pia', role: 'installer' },
    ]
    const { io, sockets, received, fetches } = fakeIo(users)
    const cities: Record<string, string> = { ivan: 'firenze', pia: 'pisa' }
    tracker.attach(io, (username) => (d) => d.city === cities[username])
    const [olga, ivan, pia] = sockets
    // Three devices pending since start: two now, one next time.
    await tracker.push()
    expect(received(olga!, 'device_states')).toEqual([{ items: [expect.objectContaining({ id: 'aq-fi-1', state: 'pending' }), expect.objectContaining({ id: 'aq-fi-2' })], more: 1 }])
    expect(received(ivan!, 'device_states').map((m) => m.items.map((i: { id: string }) => i.id))).toEqual([['aq-fi-1', 'aq-fi-2']])
    expect(received(pia!, 'device_states')).toEqual([])
    await tracker.push()
    expect(received(olga!, 'device_states')[1]).toEqual({ items: [expect.objectContaining({ id: 'aq-pi-1' })], more: 0 })
    expect(received(pia!, 'device_states')).toEqual([{ items: [expect.objectContaining({ id: 'aq-pi-1' })], more: 0 }])
    expect(received(ivan!, 'device_states')).toHaveLength(1)
    // Nothing changed: nothing sent, nothing fetched.
    await tracker.push()
    expect(fetches.count).toBe(2)
    tracker.seen('aq-fi-1', T0 + 1000)
    await tracker.close()
    await tracker.push()
    expect(received(olga!, 'device_states')).toHaveLength(2)
  })
})

describe('restoring from storage at start', () => {
  it('judges a device from its newest stored reading, counting late and silent from it', () => {
    const s = setup([device('a'), device('b'), device('c'), device('d'), device('gone', { status: 'revoked' })])
    s.at(0)
    expect(s.tracker.restore('a', T0 - 5_000)).toBe(true)
    expect(s.tracker.restore('b', T0 - 30_000)).toBe(true)
    expect(s.tracker.restore('c', T0 - 120_000)).toBe(true)
    expect(s.tracker.restore('gone', T0 - 1_000)).toBe(false)
    expect(s.tracker.get('a')).toMatchObject({ state: 'live', since: T0 - 5_000, lastSeen: T0 - 5_000 })
    expect(s.tracker.get('b')).toMatchObject({ state: 'late', since: T0 - 30_000 + 20_000, lastSeen: T0 - 30_000 })
    expect(s.tracker.get('c')).toMatchObject({ state: 'silent', since: T0 - 120_000 + 50_000, lastSeen: T0 - 120_000 })
    expect(s.tracker.get('d')).toMatchObject({ state: 'pending', lastSeen: null })
    expect(s.state('gone')).toBe('inactive')
    // Listeners hear the state and when it began.
    expect(s.changes.find((c) => c.id === 'c')).toMatchObject({ previous: 'pending', state: 'silent', since: T0 - 70_000 })
    // Then ages on as usual.
    s.at(16)
    expect(s.state('a')).toBe('late')
  })

  it('never overwrites a reading received since the start', () => {
    const s = setup([device('a')])
    s.reading('a', 1)
    expect(s.tracker.restore('a', T0 - 120_000)).toBe(false)
    expect(s.tracker.get('a')).toMatchObject({ state: 'live', lastSeen: T0 + 1000 })
  })

  it('keeps quiet for a device already silent since the start, and takes a device clock ahead of ours as now', () => {
    const s = setup([device('a'), device('b')])
    s.at(60)
    expect(s.state('a')).toBe('silent')
    const heard = s.changes.length
    expect(s.tracker.restore('a', T0 - 600_000)).toBe(true)
    expect(s.changes.length).toBe(heard)
    expect(s.tracker.get('a')).toMatchObject({ state: 'silent', lastSeen: T0 - 600_000, since: T0 - 600_000 + 50_000 })
    s.tracker.restore('b', T0 + 3_600_000)
    expect(s.tracker.get('b')).toMatchObject({ lastSeen: T0 + 60_000 })
  })
})
