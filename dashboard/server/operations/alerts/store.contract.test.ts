import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest'
import { postgresVersions, sqliteVersions } from '../../../../devices/migrations.ts'
import { sharedPostgres, sharedSqlite } from '../../../../testkit/shared-databases.ts'
import type { RuleDefinition } from './rules.ts'
import { createPostgresAlertStore, POSTGRES_ALERT_MIGRATIONS } from './store-postgres.ts'
import { ALERT_MIGRATIONS, asyncAlertStore, createSqliteAlertStore, type Alert, type AlertStore } from './store.ts'

/**
 * What every alert store owes the engine, on SQLite and on PostgreSQL. "Nodes" are separate
 * stores over separate connections to one database.
 */

interface Backend {
  /** A store over the shared database, as another node (or process) would open it. */
  open(): Promise<AlertStore>
  versions(): Promise<number[]>
  newest: number
  cleanup(): Promise<void>
}

function sqliteBackend(): Backend {
  const shared = sharedSqlite('piazza-alert-store-')
  const db = () => shared.open()
  return {
    open: async () => asyncAlertStore(createSqliteAlertStore(db())),
    versions: async () => sqliteVersions(db(), 'alerts'),
    newest: ALERT_MIGRATIONS.length,
    async cleanup() {
      shared.close()
    },
  }
}

async function postgresBackend(): Promise<Backend> {
  const shared = await sharedPostgres(inject('postgresUrl'))
  const pool = () => shared.pool()
  const admin = pool()
  return {
    open: () => createPostgresAlertStore(pool()),
    versions: () => postgresVersions(admin, 'alerts'),
    newest: POSTGRES_ALERT_MIGRATIONS.length,
    cleanup: () => shared.close(),
  }
}

const RULE: RuleDefinition = {
  name: 'PM2.5 high',
  kind: 'threshold',
  field: 'pm25',
  op: '>',
  threshold: 25.5,
  deviceId: null,
  type: 'air-quality',
  city: 'firenze',
  window: 600,
  aggregate: 'mean',
  minDuration: 60,
  hysteresis: 2.5,
  severity: 'warning',
  enabled: true,
}

const T0 = 1_780_000_000_000 // epoch ms past 2^32, as real ones are

function alert(id: number, ruleId: number, over: Partial<Alert> = {}): Alert {
  return {
    id,
    ruleId,
    ruleName: 'PM2.5 high',
    kind: 'threshold',
    severity: 'warning',
    deviceId: `aq-${id}`,
    deviceName: `Station ${id}`,
    type: 'air-quality',
    city: 'firenze',
    field: 'pm25',
    op: '>',
    threshold: 25.5,
    unit: 'µg/m³',
    value: 31.25,
    lastValue: 31.25,
    message: `PM2.5 31.25 > 25.5 at Station ${id}`,
    messageWords: { code: 'threshold', params: { field: 'pm25', label: 'PM2.5', value: 31.25, op: '>', threshold: 25.5, unit: 'µg/m³', device: `Station ${id}` } },
    state: 'open',
    openedAt: T0 + id,
    acknowledgedAt: null,
    acknowledgedBy: null,
    resolvedAt: null,
    resolvedReason: null,
    assignee: null,
    ...over,
  }
}

function contract(name: string, backend: () => Backend | Promise<Backend>): void {
  describe(`alert store contract: ${name}`, () => {
    let b: Backend
    beforeEach(async () => {
      b = await backend()
    })
    afterEach(async () => {
      await b.cleanup()
    })

    it('creates, updates, lists and deletes rules, ids given by the database', async () => {
      const store = await b.open()
      const first = await store.createRule(RULE, 'olga', '2026-01-01T00:00:00.000Z')
      const second = await store.createRule({ ...RULE, name: 'Silent', kind: 'silent', field: null, op: null, threshold: null, window: null, aggregate: null, enabled: false }, 'ugo', '2026-01-02T00:00:00.000Z')
      expect(first).toEqual({ ...RULE, id: first.id, createdBy: 'olga', createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z' })
      expect(second).toMatchObject({ kind: 'silent', enabled: false, field: null })
      expect(second.id).toBeGreaterThan(first.id)
      const updated = await store.updateRule(first.id, { ...RULE, threshold: 50, enabled: false }, '2026-01-03T00:00:00.000Z')
      expect(updated).toMatchObject({ id: first.id, threshold: 50, enabled: false, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-03T00:00:00.000Z' })
      // Another node sees the same rules.
      const other = await b.open()
      expect((await other.listRules()).map((r) => [r.id, r.name])).toEqual([
        [first.id, 'PM2.5 high'],
        [second.id, 'Silent'],
      ])
      await other.deleteRule(first.id)
      expect(await store.getRule(first.id)).toBeUndefined()
      expect(await store.getRule(second.id)).toMatchObject({ name: 'Silent' })
    })

    it('writes a batch of new and changed alerts, read back the same by any node', async () => {
      const store = await b.open()
      expect(await store.maxAlertId()).toBe(0)
      const a1 = alert(1, 7)
      const a2 = alert(2, 7)
      await store.write([a1, a2], [])
      const acked = { ...a1, state: 'acknowledged' as const, acknowledgedAt: T0 + 100, acknowledgedBy: 'olga', lastValue: 40.5, assignee: 'ugo' }
      const resolved = { ...a2, state: 'resolved' as const, resolvedAt: T0 + 200, resolvedReason: 'cleared' as const }
      await store.write([alert(3, 8)], [acked, resolved])
      const other = await b.open()
      expect(await other.getAlert(1)).toEqual(acked)
      expect(await other.getAlert(2)).toEqual(resolved)
      expect(await other.getAlert(99)).toBeUndefined()
      expect((await other.activeAlerts()).map((a) => a.id)).toEqual([1, 3])
      expect(await other.maxAlertId()).toBe(3)
    })

    it('keeps a resolution and the first acknowledgement whichever node writes later', async () => {
      const leader = await b.open()
      const follower = await b.open()
      await leader.write([alert(1, 7), alert(2, 7)], [])
      // Node 2 acknowledges alert 1 while the leader, not knowing it yet, resolves it.
      await follower.write([], [{ ...alert(1, 7), state: 'acknowledged', acknowledgedAt: T0 + 50, acknowledgedBy: 'olga' }])
      await leader.write([], [{ ...alert(1, 7), state: 'resolved', resolvedAt: T0 + 60, resolvedReason: 'cleared' }])
      expect(await follower.getAlert(1)).toMatchObject({ state: 'resolved', acknowledgedAt: T0 + 50, acknowledgedBy: 'olga', resolvedReason: 'cleared' })
      // The other order: the leader resolves alert 2 first; node 2's late acknowledgement changes nothing.
      await leader.write([], [{ ...alert(2, 7), state: 'resolved', resolvedAt: T0 + 70, resolvedReason: 'cleared' }])
      await follower.write([], [{ ...alert(2, 7), state: 'acknowledged', acknowledgedAt: T0 + 80, acknowledgedBy: 'ugo' }])
      expect(await leader.getAlert(2)).toMatchObject({ state: 'resolved', acknowledgedAt: null, resolvedAt: T0 + 70 })
      // A second acknowledgement does not replace the first.
      await leader.write([alert(3, 8)], [])
      await follower.write([], [{ ...alert(3, 8), state: 'acknowledged', acknowledgedAt: T0 + 90, acknowledgedBy: 'olga' }])
      await leader.write([], [{ ...alert(3, 8), state: 'acknowledged', acknowledgedAt: T0 + 95, acknowledgedBy: 'ugo' }])
      expect(await follower.getAlert(3)).toMatchObject({ state: 'acknowledged', acknowledgedAt: T0 + 90, acknowledgedBy: 'olga' })
    })

    it('holds at most one alert per rule and device not resolved: a batch breaking it writes nothing', async () => {
      const store = await b.open()
      await store.write([alert(1, 7, { deviceId: 'aq-x' })], [])
      const other = await b.open()
      await expect(other.write([alert(2, 7, { deviceId: 'aq-y' }), alert(3, 7, { deviceId: 'aq-x' })], [])).rejects.toThrow()
      expect(await store.getAlert(2)).toBeUndefined()
      // Once resolved, the pair may open again, in the same batch as the resolution too.
      await store.write([alert(4, 7, { deviceId: 'aq-x' })], [{ ...alert(1, 7, { deviceId: 'aq-x' }), state: 'resolved', resolvedAt: T0, resolvedReason: 'cleared' }])
      expect((await store.activeAlerts()).map((a) => a.id)).toEqual([4])
    })

    it('queries alerts by state, device, city and rule, newest first, with total and paging', async () => {
      const store = await b.open()
      await store.write(
        [
          alert(1, 7),
          alert(2, 7, { city: 'prato' }),
          alert(3, 8),
          alert(4, 7, { state: 'resolved', resolvedAt: T0 + 500, resolvedReason: 'cleared' }),
          alert(5, 7, { state: 'resolved', resolvedAt: T0 + 400, resolvedReason: 'cleared' }),
        ],
        [],
      )
      const ids = (r: { items: Alert[] }) => r.items.map((a) => a.id)
      expect(ids(await store.queryAlerts({ limit: 10 }))).toEqual([5, 4, 3, 2, 1])
      expect(await store.queryAlerts({ limit: 2, offset: 1 })).toMatchObject({ total: 5, items: [{ id: 4 }, { id: 3 }] })
      expect(ids(await store.queryAlerts({ state: 'resolved', limit: 10 }))).toEqual([4, 5]) // by resolution, newest first
      expect(ids(await store.queryAlerts({ state: 'open', city: 'firenze', limit: 10 }))).toEqual([3, 1])
      expect(ids(await store.queryAlerts({ ruleId: 8, limit: 10 }))).toEqual([3])
      expect(await store.queryAlerts({ deviceId: 'aq-2', limit: 10 })).toMatchObject({ total: 1, items: [{ id: 2, city: 'prato' }] })
    })

    it('keeps comments and assignments in order, and prunes old resolved alerts with their notes', async () => {
      const store = await b.open()
      await store.write([alert(1, 7, { state: 'resolved', resolvedAt: T0 + 10, resolvedReason: 'cleared' }), alert(2, 7)], [])
      await store.addNote({ alertId: 1, at: T0 + 5, kind: 'comment', actor: 'olga', text: 'looking', assignee: null })
      await store.addNote({ alertId: 1, at: T0 + 6, kind: 'assigned', actor: 'olga', text: null, assignee: 'ugo' })
      await store.addNote({ alertId: 2, at: T0 + 7, kind: 'comment', actor: 'ugo', text: 'still', assignee: null })
      expect(await (await b.open()).notes(1)).toEqual([
        { alertId: 1, at: T0 + 5, kind: 'comment', actor: 'olga', text: 'looking', assignee: null },
        { alertId: 1, at: T0 + 6, kind: 'assigned', actor: 'olga', text: null, assignee: 'ugo' },
      ])
      expect(await store.prune(T0 + 10)).toBe(0) // resolved at the bound: kept
      expect(await store.prune(T0 + 11)).toBe(1)
      expect(await store.getAlert(1)).toBeUndefined()
      expect(await store.notes(1)).toEqual([])
      expect(await store.notes(2)).toHaveLength(1)
    })

    it('stores silences: current ones, ended early, listed live first then the newest over, pruned', async () => {
      const store = await b.open()
      const now = T0 + 1_000_000
      const live = await store.insertSilence({ ruleId: 7, deviceId: null, city: 'firenze', reason: 'works', startsAt: now - 10, endsAt: now + 3_600_000 }, 'olga', now - 10)
      const ahead = await store.insertSilence({ ruleId: null, deviceId: 'aq-1', city: null, reason: 'planned', startsAt: now + 60_000, endsAt: now + 120_000 }, 'olga', now)
      const over = await store.insertSilence({ ruleId: null, deviceId: null, city: 'pisa', reason: 'old', startsAt: now - 20_000, endsAt: now - 10_000 }, 'ugo', now - 20_000)
      expect(live).toEqual({ id: live.id, ruleId: 7, deviceId: null, city: 'firenze', reason: 'works', startsAt: now - 10, endsAt: now + 3_600_000, createdBy: 'olga', createdAt: now - 10, endedBy: null })
      const other = await b.open()
      expect((await other.currentSilences(now)).map((s) => s.id)).toEqual([live.id, ahead.id])
      expect((await other.listSilences(now, 50)).map((s) => s.id)).toEqual([ahead.id, live.id, over.id])
      await other.endSilence(live.id, now + 5, 'ugo')
      expect(await store.getSilence(live.id)).toMatchObject({ endsAt: now + 5, endedBy: 'ugo' })
      expect((await store.currentSilences(now + 5)).map((s) => s.id)).toEqual([ahead.id])
      expect((await store.listSilences(now + 5, 1)).map((s) => s.id)).toEqual([ahead.id, live.id])
      expect(await store.pruneSilences(now)).toBe(1)
      expect(await store.getSilence(over.id)).toBeUndefined()
    })

    it('is at the newest schema version, applied once however many nodes open it', async () => {
      await Promise.all([b.open(), b.open()])
      expect(await b.versions()).toEqual(Array.from({ length: b.newest }, (_, i) => i + 1))
    })
  })
}

contract('SQLite', sqliteBackend)
contract('PostgreSQL', postgresBackend)
