import Database from 'better-sqlite3'
import { describe, expect, it, vi } from 'vitest'
import type { Device } from '../../../../devices/registry.ts'
import { createLocalFeed } from '../../../../feed/feed.ts'
import { createAlertEngine, type AlertEvent } from './engine.ts'
import { asyncAlertStore, createSqliteAlertStore } from './store.ts'

/**
 * Two alert engines as two nodes would run them (`shared`): one store, one feed that carries every
 * reading to both and their `alerts` announcements. Only the leader judges and tells its
 * listeners; the other serves the same alerts and rules. (The same over PostgreSQL and Redis with
 * real processes: test/three-nodes.test.ts.)
 */

const T0 = Date.parse('2026-03-01T08:00:00Z')
const station: Device = {
  id: 'aq-1', type: 'air-quality', name: 'Station aq-1', city: 'firenze', lat: 43.77, lon: 11.25, interval: 10, metadata: {}, status: 'active',
  createdAt: new Date(T0).toISOString(), updatedAt: '', createdBy: 'cli',
}

async function twoNodes() {
  const store = asyncAlertStore(createSqliteAlertStore(new Database(':memory:')))
  const feed = createLocalFeed()
  const registry = { get: (id: string) => (id === station.id ? station : undefined), onChange: () => () => {} }
  let now = T0
  const clock = () => now
  const node = async () => {
    const engine = await createAlertEngine({ store, shared: true, registry, feed, clock, timers: false })
    const events: string[] = []
    engine.onAlert((e: AlertEvent) => events.push(`${e.type} ${e.alert.deviceId}`))
    return { engine, events }
  }
  const a = await node()
  const b = await node()
  return {
    a,
    b,
    read(seconds: number, pm25: number) {
      now = T0 + seconds * 1000
      feed.accepted(station, [{ time: now, values: { pm25 } }], now)
    },
    /** Writes what each engine holds and lets the other take the announcements in. */
    async settle() {
      await a.engine.tick()
      await b.engine.tick()
      await Promise.all([a.engine.settled(), b.engine.settled()])
    },
  }
}

describe('alert engines sharing a store (cluster mode)', () => {
  it('judges on the leader only: one alert, seen by both; an acknowledgement on the follower reaches the leader’s listeners', async () => {
    const t = await twoNodes()
    await t.a.engine.lead(true)
    expect(t.a.engine.stats().leading).toBe(true)
    expect(t.b.engine.stats().leading).toBe(false)
    // A rule made on the follower: the leader takes it in and judges with it.
    const rule = await t.b.engine.createRule({ name: 'High', field: 'pm25', op: '>', threshold: 10 }, 'olga')
    await t.settle()
    expect(t.a.engine.listRules().map((r) => r.id)).toEqual([rule.id])
    t.read(0, 30)
    await t.settle()
    const onA = await t.a.engine.queryAlerts({ limit: 10 })
    expect(onA.items).toMatchObject([{ deviceId: 'aq-1', state: 'open' }])
    expect((await t.b.engine.queryAlerts({ limit: 10 })).items.map((x) => x.id)).toEqual(onA.items.map((x) => x.id))
    expect(t.b.engine.groups().groups).toMatchObject([{ ruleId: rule.id, open: 1 }])
    expect(t.a.events).toEqual(['opened aq-1'])
    expect(t.b.events).toEqual([])

    await t.b.engine.acknowledge(onA.items[0]!.id, 'olga')
    await t.settle()
    expect(t.a.engine.groups().groups).toMatchObject([{ open: 0, acknowledged: 1 }])
    expect(t.a.events).toEqual(['opened aq-1', 'acknowledged aq-1'])
    expect(t.b.events).toEqual([])

    t.read(10, 1)
    await t.settle()
    expect((await t.b.engine.queryAlerts({ limit: 10 })).items).toMatchObject([{ state: 'resolved', acknowledgedBy: 'olga', resolvedReason: 'cleared' }])
    expect(t.b.engine.counts()).toEqual({ open: 0, acknowledged: 0 })
    expect(t.a.events).toEqual(['opened aq-1', 'acknowledged aq-1', 'resolved aq-1'])
  })

  it('hands judging over: the new leader rebuilds the open alert from the store and resolves it, opening no second one', async () => {
    const t = await twoNodes()
    await t.a.engine.lead(true)
    await t.a.engine.createRule({ name: 'High', field: 'pm25', op: '>', threshold: 10 }, 'olga')
    t.read(0, 30)
    await t.settle()
    await t.a.engine.lead(false)
    await t.b.engine.lead(true)
    t.read(10, 40) // still over: the restored alert stays the one
    await t.settle()
    expect((await t.a.engine.queryAlerts({ limit: 10 })).items).toHaveLength(1)
    t.read(20, 1)
    await t.settle()
    await vi.waitFor(async () => expect((await t.a.engine.queryAlerts({ limit: 10 })).items).toMatchObject([{ state: 'resolved', resolvedReason: 'cleared' }]))
    expect(t.a.events).toEqual(['opened aq-1'])
    expect(t.b.events).toEqual(['resolved aq-1'])
    // Silences made on one node mute on the other.
    const silence = await t.a.engine.createSilence({ ruleId: null, deviceId: 'aq-1', city: null, reason: 'works', startsAt: T0, endsAt: T0 + 3_600_000 }, 'olga')
    await t.settle()
    expect(t.b.engine.isSilenced({ ruleId: 1, deviceId: 'aq-1', city: 'firenze' })).toBe(true)
    await t.b.engine.endSilence(silence.id, 'olga')
    await t.settle()
    expect(t.a.engine.isSilenced({ ruleId: 1, deviceId: 'aq-1', city: 'firenze' })).toBe(false)
  })
})
