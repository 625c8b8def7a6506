import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Device } from '../../../../devices/registry.ts'
import { expectError, startRolesApp, type Json, type RolesApp } from '../../../../testkit/roles-app.ts'
import type { AlertEvent } from './engine.ts'

/**
 * Alerts as incidents over the API: groups by rule and city with counts, bulk acknowledgement,
 * comments and assignment in a per-alert timeline, silences (with an injected clock for their
 * expiry), and the audit entries of all of it.
 */

let t: RolesApp
let now = Date.parse('2026-12-04T08:00:00Z')
const clock = () => now
const firenze: Device[] = []
const pisa: Device[] = []
const events: AlertEvent[] = []

beforeAll(async () => {
  t = await startRolesApp({ deps: { operations: { clock, alerts: { tickMs: 20 }, states: { pushMs: 20, checkMs: 50 } } } })
  for (let i = 0; i < 6; i++) firenze.push((await t.registry.add({ id: `aq-fi-inc-${i}`, type: 'air-quality', city: 'firenze', name: `Firenze ${i}` }, 'admin')).device)
  for (let i = 0; i < 2; i++) pisa.push((await t.registry.add({ id: `aq-pi-inc-${i}`, type: 'air-quality', city: 'pisa', name: `Pisa ${i}` }, 'admin')).device)
  t.operations.alerts.onAlert((e) => events.push(e))
})

afterAll(async () => {
  await t?.cleanup()
})

const reading = (d: Device, values: Record<string, number>) => t.feed.accepted(d, [{ time: now, values }], now)

const inject = (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, token?: string, payload?: unknown) =>
  t.app.inject({ method, url, headers: token ? t.as(token) : {}, ...(payload === undefined ? {} : { payload: payload as object }) })

async function ok(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: unknown, token = t.tokens.operator, status = 200): Promise<Json> {
  const response = await inject(method, url, token, payload)
  expect(response.statusCode, response.body).toBe(status)
  return response.json() as Json
}

async function createRule(body: Json): Promise<Json> {
  return ok('POST', '/api/alert-rules', body, t.tokens.operator, 201)
}

const groupsOf = async (ruleId: number, token = t.tokens.operator) => ((await ok('GET', '/api/alert-groups', undefined, token)).items as Json[]).filter((g) => g.ruleId === ruleId)
const audit = async (action: string) => (await t.audit.list({ action, limit: 1000 })).items

describe('alert groups and bulk acknowledgement', () => {
  let rule: Json

  it('groups a storm by rule and city with counts; installers see only their devices’ groups', async () => {
    rule = await createRule({ name: 'PM2.5 storm', field: 'pm25', op: '>', threshold: 5, type: 'air-quality', severity: 'critical' })
    for (const d of [...firenze, ...pisa]) reading(d, { pm25: 40 })
    const groups = await groupsOf(rule.id)
    expect(groups.map((g) => [g.key, g.city, g.total, g.open, g.acknowledged, g.silenced])).toEqual([
      [`${rule.id}:firenze`, 'firenze', 6, 6, 0, 0],
      [`${rule.id}:pisa`, 'pisa', 2, 2, 0, 0],
    ])
    expect(groups[0]).toMatchObject({ ruleName: 'PM2.5 storm', severity: 'critical' })
    expect(groups[0]!.alertIds).toHaveLength(6)
    const listed = await ok('GET', `/api/alerts?rule=${rule.id}&city=firenze&state=open`)
    expect([...groups[0]!.alertIds].sort()).toEqual((listed.items as Json[]).map((a) => a.id).sort())

    // Ivan works in Firenze: one group, Firenze's.
    expect((await groupsOf(rule.id, t.tokens.installer)).map((g) => [g.city, g.total])).toEqual([['firenze', 6]])
    expect((await inject('GET', '/api/alert-groups')).statusCode).toBe(401)
  })

  it('acknowledges a whole group at once, each one audited; a second time changes nothing', async () => {
    const before = (await audit('alert.acknowledge')).length
    const result = await ok('POST', '/api/alerts/ack', { group: { ruleId: rule.id, city: 'Firenze' } })
    expect(result.acknowledged).toHaveLength(6)
    expect(result.acknowledged.every((a: Json) => a.state === 'acknowledged' && a.acknowledgedBy === 'olga' && a.city === 'firenze')).toBe(true)
    expect(result).toMatchObject({ already: [], resolved: [], missing: [] })

    const groups = await groupsOf(rule.id)
    expect(groups.map((g) => [g.city, g.open, g.acknowledged])).toEqual([
      // The group with open alerts comes first.
      ['pisa', 2, 0],
      ['firenze', 0, 6],
    ])
    const entries = await audit('alert.acknowledge')
    expect(entries.length - before).toBe(6)
    expect(entries[0]).toMatchObject({ actor: 'olga', targetType: 'alert', changes: { state: { from: 'open', to: 'acknowledged' } }, details: { rule: rule.id, bulk: 6, city: 'firenze' } })
    expect(new Set(entries.slice(0, 6).map((e) => Number(e.target)))).toEqual(new Set(result.acknowledged.map((a: Json) => a.id)))

    const again = await ok('POST', '/api/alerts/ack', { group: { ruleId: rule.id, city: 'firenze' } })
    expect(again.acknowledged).toEqual([])
    expect(again.already).toHaveLength(6)
    expect((await audit('alert.acknowledge')).length - before).toBe(6)
  })

  it('acknowledges a selection, reporting the resolved and unknown ids; refuses installers and bad bodies', async () => {
    const pisaIds = (await groupsOf(rule.id)).find((g) => g.city === 'pisa')!.alertIds as number[]
    // One of Pisa's resolves before the selection is acknowledged.
    reading(pisa[1]!, { pm25: 1 })
    const resolvedId = (await ok('GET', `/api/alerts?rule=${rule.id}&device=${pisa[1]!.id}&state=resolved`)).items[0].id
    const result = await ok('POST', '/api/alerts/ack', { ids: [...pisaIds, 999_999] }, t.tokens.admin)
    expect(result.acknowledged.map((a: Json) => a.deviceId)).toEqual([pisa[0]!.id])
    expect(result.acknowledged[0].acknowledgedBy).toBe('admin')
    expect(result.resolved).toEqual([resolvedId])
    expect(result.missing).toEqual([999_999])

    expectError(await inject('POST', '/api/alerts/ack', t.tokens.installer, { ids: [1] }), 403, 'forbidden')
    expectError(await inject('POST', '/api/alerts/ack', t.tokens.operator, {}), 400, 'validation')
    expectError(await inject('POST', '/api/alerts/ack', t.tokens.operator, { ids: [] }), 400, 'validation')
    expectError(await inject('POST', '/api/alerts/ack', t.tokens.operator, { group: { ruleId: rule.id, city: 'atlantis' } }), 400, 'validation', /unknown city 'atlantis'/)
  })
})

describe('comments, assignment and the timeline', () => {
  let rule: Json
  let alertId: number

  it('keeps opened, acknowledged, comments, assignments and resolved in order, each change audited', async () => {
    rule = await createRule({ name: 'NO2 high', field: 'no2', op: '>', threshold: 100, deviceId: firenze[0]!.id })
    now += 1000
    reading(firenze[0]!, { no2: 140 })
    alertId = (await ok('GET', `/api/alerts?rule=${rule.id}&state=open`)).items[0].id
    now += 1000
    await ok('POST', `/api/alerts/${alertId}/ack`)
    now += 1000
    const comment = await ok('POST', `/api/alerts/${alertId}/comments`, { text: 'Road works next to the station' }, t.tokens.operator, 201)
    expect(comment).toMatchObject({ kind: 'comment', actor: 'olga', text: 'Road works next to the station' })
    now += 1000
    const assigned = await ok('PUT', `/api/alerts/${alertId}/assignee`, { assignee: 'OLGA' }, t.tokens.admin)
    expect(assigned.assignee).toBe('olga')
    expect((await ok('GET', `/api/alerts?rule=${rule.id}`)).items[0].assignee).toBe('olga')
    // Only staff take alerts.
    expectError(await inject('PUT', `/api/alerts/${alertId}/assignee`, t.tokens.operator, { assignee: 'ivan' }), 400, 'validation', /not an enabled operator or admin/)
    expectError(await inject('PUT', `/api/alerts/${alertId}/assignee`, t.tokens.operator, { assignee: 'nobody' }), 400, 'validation')
    expectError(await inject('POST', `/api/alerts/${alertId}/comments`, t.tokens.installer, { text: 'hi' }), 403, 'forbidden')
    expectError(await inject('POST', `/api/alerts/${alertId}/comments`, t.tokens.operator, { text: '' }), 400, 'validation')
    expectError(await inject('POST', '/api/alerts/999999/comments', t.tokens.operator, { text: 'x' }), 404, 'not-found')
    const assignees = await ok('GET', '/api/alert-assignees')
    expect(assignees.items.map((u: Json) => u.username).sort()).toEqual(['admin', 'olga'])

    now += 1000
    reading(firenze[0]!, { no2: 20 })
    now += 1000
    // A resolved alert takes comments (the post-mortem), not assignments.
    await ok('POST', `/api/alerts/${alertId}/comments`, { text: 'Works finished' }, t.tokens.operator, 201)
    expectError(await inject('PUT', `/api/alerts/${alertId}/assignee`, t.tokens.operator, { assignee: null }), 409, 'conflict')

    const timeline = await ok('GET', `/api/alerts/${alertId}/timeline`, undefined, t.tokens.installer)
    expect(timeline.alert).toMatchObject({ id: alertId, state: 'resolved', assignee: 'olga' })
    expect(timeline.events.map((e: Json) => [e.kind, e.actor, e.text ?? e.assignee])).toEqual([
      ['opened', null, 'NO₂ 140 µg/m³ > 100 µg/m³ at Firenze 0'],
      ['acknowledged', 'olga', null],
      ['comment', 'olga', 'Road works next to the station'],
      ['assigned', 'admin', 'olga'],
      ['resolved', null, 'cleared'],
      ['comment', 'olga', 'Works finished'],
    ])
    expect(Date.parse(timeline.events[1].at) - Date.parse(timeline.events[0].at)).toBe(1000)

    const comments = (await audit('alert.comment')).filter((e) => e.target === String(alertId))
    expect(comments.map((e) => e.changes.comment?.to)).toEqual(['Works finished', 'Road works next to the station'])
    const assigns = (await audit('alert.assign')).filter((e) => e.target === String(alertId))
    expect(assigns.map((e) => [e.actor, e.changes.assignee])).toEqual([['admin', { from: null, to: 'olga' }]])
  })

  it('answers 404 for the timeline of an unknown alert, and of a device an installer may not see', async () => {
    expectError(await inject('GET', '/api/alerts/999999/timeline', t.tokens.operator), 404, 'not-found')
    // Fred sees only devices he registered: none of these.
    expectError(await inject('GET', `/api/alerts/${alertId}/timeline`, t.tokens.freelancer), 404, 'not-found')
  })
})

describe('silences', () => {
  let rule: Json

  it('mute a rule in a city for a time window: alerts still open, marked silenced, until it expires', async () => {
    rule = await createRule({ name: 'O3 high', field: 'o3', op: '>', threshold: 100, type: 'air-quality' })
    const silence = await ok('POST', '/api/alert-silences', { ruleId: rule.id, city: 'firenze', reason: 'Sensor maintenance', duration: '1h' }, t.tokens.operator, 201)
    expect(silence).toMatchObject({ ruleId: rule.id, city: 'firenze', deviceId: null, reason: 'Sensor maintenance', state: 'active', createdBy: 'olga', endedBy: null })
    expect(Date.parse(silence.endsAt) - Date.parse(silence.startsAt)).toBe(3_600_000)

    events.length = 0
    reading(firenze[1]!, { o3: 180 })
    reading(pisa[0]!, { o3: 180 })
    const alerts = (await ok('GET', `/api/alerts?rule=${rule.id}&state=open`)).items as Json[]
    expect(alerts.map((a) => [a.city, a.silenced]).sort()).toEqual([
      ['firenze', true],
      ['pisa', false],
    ])
    expect((await groupsOf(rule.id)).map((g) => [g.city, g.open, g.silenced]).sort()).toEqual([
      ['firenze', 1, 1],
      ['pisa', 1, 0],
    ])
    // What the notifier sees: the opened events, the Firenze one silenced.
    expect(events.filter((e) => e.type === 'opened').map((e) => [e.alert.city, e.silenced]).sort()).toEqual([
      ['firenze', true],
      ['pisa', false],
    ])
    const fiAlert = alerts.find((a) => a.city === 'firenze')!
    expect(t.operations.alerts.isSilenced({ ruleId: rule.id, deviceId: firenze[1]!.id, city: 'firenze' })).toBe(true)
    expect(t.operations.alerts.isSilenced({ ruleId: rule.id, deviceId: firenze[1]!.id, city: 'firenze' }, now + 3_600_000)).toBe(false)

    // An hour later it has expired on its own.
    now += 3_600_000
    await t.operations.alerts.tick()
    expect(t.operations.alerts.isSilenced(fiAlert as never)).toBe(false)
    expect((await ok('GET', `/api/alerts?rule=${rule.id}&city=firenze&state=open`)).items[0].silenced).toBe(false)
    const listed = (await ok('GET', '/api/alert-silences')).items as Json[]
    expect(listed.find((s) => s.id === silence.id)).toMatchObject({ state: 'expired', endedBy: null })
  })

  it('mute a device ahead (a maintenance window), end it early; created and ended silences are audited', async () => {
    const startsAt = new Date(now + 60_000).toISOString()
    const endsAt = new Date(now + 7_200_000).toISOString()
    const silence = await ok('POST', '/api/alert-silences', { deviceId: pisa[0]!.id, reason: 'Battery swap', startsAt, endsAt }, t.tokens.admin, 201)
    expect(silence).toMatchObject({ state: 'pending', startsAt, endsAt })
    expect(t.operations.alerts.isSilenced({ ruleId: rule.id, deviceId: pisa[0]!.id, city: 'pisa' })).toBe(false)
    now += 60_000
    expect(t.operations.alerts.isSilenced({ ruleId: rule.id, deviceId: pisa[0]!.id, city: 'pisa' })).toBe(true)
    await t.operations.alerts.tick()
    expect((await ok('GET', `/api/alerts?rule=${rule.id}&city=pisa&state=open`)).items[0].silenced).toBe(true)

    now += 1000
    const ended = await ok('DELETE', `/api/alert-silences/${silence.id}`)
    expect(ended).toMatchObject({ state: 'expired', endedBy: 'olga', endsAt: new Date(now).toISOString() })
    expect(t.operations.alerts.isSilenced({ ruleId: rule.id, deviceId: pisa[0]!.id, city: 'pisa' })).toBe(false)
    expect((await ok('GET', `/api/alerts?rule=${rule.id}&city=pisa&state=open`)).items[0].silenced).toBe(false)
    // Ending it again changes nothing and records nothing.
    await ok('DELETE', `/api/alert-silences/${silence.id}`)

    const created = (await audit('silence.create')).find((e) => e.target === String(silence.id))!
    expect(created).toMatchObject({ actor: 'admin', targetType: 'silence', changes: { deviceId: { to: pisa[0]!.id }, reason: { to: 'Battery swap' }, endsAt: { to: endsAt } } })
    const expired = (await audit('silence.expire')).filter((e) => e.target === String(silence.id))
    expect(expired.map((e) => [e.actor, e.changes.endsAt])).toEqual([['olga', { from: endsAt, to: new Date(now).toISOString() }]])
  })

  it('refuses silences that match nothing, end in the past, have no or two ends, or name an unknown rule, device or city', async () => {
    const bad = async (body: Json, message: RegExp) => expectError(await inject('POST', '/api/alert-silences', t.tokens.operator, body), 400, 'validation', message)
    await bad({ reason: 'x', duration: '1h' }, /at least one of ruleId, deviceId, city/)
    await bad({ city: 'firenze', reason: 'x' }, /endsAt or duration/)
    await bad({ city: 'firenze', reason: 'x', duration: '1h', endsAt: new Date(now + 1000).toISOString() }, /endsAt or duration/)
    await bad({ city: 'firenze', reason: 'x', endsAt: new Date(now - 1000).toISOString() }, /ends in the past/)
    await bad({ city: 'firenze', reason: 'x', startsAt: new Date(now + 7_200_000).toISOString(), endsAt: new Date(now + 3_600_000).toISOString() }, /end after it starts/)
    await bad({ city: 'firenze', reason: 'x', endsAt: 'tomorrow' }, /ISO 8601/)
    await bad({ city: 'firenze', reason: 'x', duration: '31d' }, /at most 30 days/)
    await bad({ ruleId: 99_999, reason: 'x', duration: '1h' }, /no alert rule with id 99999/)
    await bad({ deviceId: 'aq-nowhere', reason: 'x', duration: '1h' }, /no device/)
    await bad({ city: 'atlantis', reason: 'x', duration: '1h' }, /unknown city/)
    await bad({ city: 'firenze', reason: '', duration: '1h' }, /reason/)
    expectError(await inject('POST', '/api/alert-silences', t.tokens.installer, { city: 'firenze', reason: 'x', duration: '1h' }), 403, 'forbidden')
    expectError(await inject('DELETE', '/api/alert-silences/99999', t.tokens.operator), 404, 'not-found')
  })
})

describe('the audit log of alert rules', () => {
  it('records rule creation, each change field by field, and deletion', async () => {
    const rule = await createRule({ name: 'Noise', field: 'LAeq', op: '>', threshold: 70, city: 'siena' })
    await ok('PATCH', `/api/alert-rules/${rule.id}`, { threshold: 75, severity: 'critical' }, t.tokens.admin)
    // A change that changes nothing records nothing.
    await ok('PATCH', `/api/alert-rules/${rule.id}`, { threshold: 75 })
    const del = await inject('DELETE', `/api/alert-rules/${rule.id}`, t.tokens.operator)
    expect(del.statusCode).toBe(204)
    const entries = (await t.audit.list({ action: 'alert-rule.', target: String(rule.id), targetType: 'alert-rule' })).items
    expect(entries.map((e) => [e.action, e.actor])).toEqual([
      ['alert-rule.delete', 'olga'],
      ['alert-rule.update', 'admin'],
      ['alert-rule.create', 'olga'],
    ])
    expect(entries[2]!.changes).toMatchObject({ name: { to: 'Noise' }, field: { to: 'LAeq' }, op: { to: '>' }, threshold: { to: 70 }, city: { to: 'siena' }, severity: { to: 'warning' } })
    expect(entries[1]!.changes).toEqual({ threshold: { from: 70, to: 75 }, severity: { from: 'warning', to: 'critical' } })
    expect(entries[0]!.changes).toMatchObject({ name: { from: 'Noise' }, threshold: { from: 75 } })
    // Admins read them through the API, filtered by kind.
    const api = await ok('GET', `/api/audit?action=alert-rule.&target=${rule.id}`, undefined, t.tokens.admin)
    expect(api.items).toHaveLength(3)
  })
})
