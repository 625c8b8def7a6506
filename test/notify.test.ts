import { createHmac } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Notification } from '../dashboard/shared/notify.ts'
import { startSmtpReceiver, startWebhookReceiver, type ReceivedMail, type ReceivedRequest, type SmtpReceiver, type WebhookReceiver } from '../testkit/receivers.ts'
import { ADMIN_PASSWORD, startStack, type Stack } from '../testkit/stack.ts'

/**
 * An alert storm end to end: 50 air-quality stations in Firenze publish over real MQTT a PM2.5
 * above a rule's threshold; the contact points (a webhook to a loopback HTTP server, an e-mail
 * to a real SMTP server on loopback) get exactly one message each, listing the 50 devices. Then
 * every station publishes a clean reading: exactly one "resolved" message each.
 *
 * The group window is set long (10 min) and the test sends the pending group by hand once every
 * alert has opened (notifications.flush()): the storm's grouping does not depend on how fast a
 * busy machine publishes. The window's and the interval's timing are the unit tests' business
 * (grouping.test.ts, with a clock moved by hand).
 */

const WEBHOOK_SECRET = 'integration-webhook-secret'
const DEVICES = 50
const WAIT = { timeout: 30_000, interval: 100 }

let stack: Stack
let receiver: WebhookReceiver
let smtp: SmtpReceiver
let token: string
let hooks: ReceivedRequest[]
let mails: ReceivedMail[]
const clients: MqttClient[] = []
const stations: { id: string; secret: string }[] = []

beforeAll(async () => {
  receiver = await startWebhookReceiver()
  hooks = receiver.received
  smtp = await startSmtpReceiver({ user: 'alerts', password: 'smtp-pass' })
  mails = smtp.mails
  const smtpPort = smtp.port

  stack = await startStack({
    SMTP_URL: `smtp://alerts:smtp-pass@127.0.0.1:${smtpPort}`,
    SMTP_FROM: 'Piazza <piazza@comune.test>',
    NOTIFY_WEBHOOK_SECRET: WEBHOOK_SECRET,
    NOTIFY_WEBHOOK_ALLOW: receiver.allow,
    NOTIFY_GROUP_WINDOW_S: '600',
    NOTIFY_REPEAT_INTERVAL_S: '3600',
  })
  const login = await stack.web.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin', password: ADMIN_PASSWORD } })
  token = (login.json() as { token: string }).token
  for (let i = 0; i < DEVICES; i++) {
    const { device, secret } = await stack.registry.add({ type: 'air-quality', city: 'firenze', name: `Centralina ${i + 1}`, interval: 60 }, 'cli')
    stations.push({ id: device.id, secret })
  }
  // A station in Prato too: a rule scoped to Firenze leaves it out.
  const prato = await stack.registry.add({ type: 'air-quality', city: 'prato', name: 'Prato station', interval: 60 }, 'cli')
  stations.push({ id: prato.device.id, secret: prato.secret })
  for (const s of stations) {
    clients.push(await mqtt.connectAsync(`mqtt://127.0.0.1:${stack.mqttPort}`, { protocolVersion: 4, clientId: s.id, username: s.id, password: s.secret, reconnectPeriod: 0, connectTimeout: 10_000 }))
  }
})

afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync()))
  await stack?.stop()
  await smtp?.close()
  await receiver?.close()
})

const api = (method: 'GET' | 'POST', url: string, payload?: object) =>
  stack.web.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload ? { payload } : {}) })

/** Every station publishes one reading, QoS 1: resolves once the broker acknowledged them all. */
const publishAll = (pm25: number) =>
  Promise.all(clients.map((c, i) => c.publishAsync(`devices/${stations[i]!.id}/telemetry`, JSON.stringify({ ts: Date.now(), pm25, pm10: 10 }), { qos: 1 })))

const openAlerts = async () => ((await api('GET', '/api/alerts?state=open&limit=1000')).json() as { total: number }).total

const verified = (h: { headers: IncomingHttpHeaders; body: string }) =>
  h.headers['x-piazza-signature'] === `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(`${h.headers['x-piazza-timestamp']}.${h.body}`).digest('hex')}`

describe('notifications of an alert storm', () => {
  it('50 devices crossing one rule: one webhook delivery and one e-mail; all resolved: one "resolved" of each', async () => {
    expect((await api('POST', '/api/contact-points', { kind: 'webhook', name: 'Sala operativa', url: receiver.url('/hook') })).statusCode).toBe(201)
    expect((await api('POST', '/api/contact-points', { kind: 'email', name: 'Turno', addresses: ['turno@comune.test'] })).statusCode).toBe(201)
    const rule = await api('POST', '/api/alert-rules', { name: 'PM2.5 alto', field: 'pm25', op: '>', threshold: 5, city: 'firenze', severity: 'critical' })
    expect(rule.statusCode, rule.body).toBe(201)
    const ruleId = (rule.json() as { id: number }).id

    await publishAll(40)
    await expect.poll(openAlerts, WAIT).toBe(DEVICES)
    // Inside the group window: nothing sent yet.
    expect(hooks).toHaveLength(0)
    expect(mails).toHaveLength(0)

    stack.web.notifications.flush()
    await stack.web.notifications.idle()
    expect(hooks).toHaveLength(1)
    expect(verified(hooks[0]!)).toBe(true)
    const firing = JSON.parse(hooks[0]!.body) as Notification
    expect(firing).toMatchObject({ status: 'firing', count: DEVICES, newAlerts: DEVICES, more: 0, group: { key: `${ruleId}:firenze`, ruleName: 'PM2.5 alto', city: 'firenze', severity: 'critical' } })
    expect(new Set(firing.devices.map((d) => d.id))).toEqual(new Set(stations.slice(0, DEVICES).map((s) => s.id)))
    expect(mails).toHaveLength(1)
    expect(mails[0]!.mail.subject).toBe('[Piazza] [critical] PM2.5 alto a firenze: 50 dispositivi in allarme / [critical] PM2.5 alto in firenze: 50 devices in alert')
    expect(mails[0]!.mail.text).toContain('Centralina 50')

    // Readings still over the threshold change nothing: the alerts stay open, no new message.
    await publishAll(41)
    stack.web.notifications.flush()
    await stack.web.notifications.idle()
    expect(hooks).toHaveLength(1)
    expect(mails).toHaveLength(1)

    await publishAll(2)
    await expect.poll(openAlerts, WAIT).toBe(0)
    stack.web.notifications.flush()
    await stack.web.notifications.idle()
    expect(hooks).toHaveLength(2)
    expect(verified(hooks[1]!)).toBe(true)
    expect(JSON.parse(hooks[1]!.body)).toMatchObject({ status: 'resolved', count: 0, newAlerts: DEVICES, group: { key: `${ruleId}:firenze` } })
    expect(mails).toHaveLength(2)
    expect(mails[1]!.mail.subject).toMatch(/^\[Piazza\] Risolto: PM2\.5 alto a firenze — tutti i 50 dispositivi sono tornati alla normalità/)

    // The delivery log says so too.
    const points = (await api('GET', '/api/contact-points')).json() as { items: { id: number }[] }
    for (const cp of points.items) {
      const log = (await api('GET', `/api/contact-points/${cp.id}/deliveries`)).json() as { items: { status: string; outcome: string }[] }
      expect(log.items.map((d) => [d.status, d.outcome])).toEqual([
        ['resolved', 'delivered'],
        ['firing', 'delivered'],
      ])
    }
  })

  it('a silence on the rule in the city: the storm opens its alerts, sends nothing, and the silence is audited', async () => {
    const rules = (await api('GET', '/api/alert-rules')).json() as { items: { id: number; name: string }[] }
    const ruleId = rules.items.find((r) => r.name === 'PM2.5 alto')!.id
    const silence = await api('POST', '/api/alert-silences', { ruleId, city: 'firenze', reason: 'Manutenzione centraline', duration: '1h' })
    expect(silence.statusCode, silence.body).toBe(201)
    const [hooksBefore, mailsBefore] = [hooks.length, mails.length]

    await publishAll(40)
    await expect.poll(openAlerts, WAIT).toBe(DEVICES)
    stack.web.notifications.flush()
    await stack.web.notifications.idle()
    await publishAll(2)
    await expect.poll(openAlerts, WAIT).toBe(0)
    stack.web.notifications.flush()
    await stack.web.notifications.idle()
    expect(hooks).toHaveLength(hooksBefore)
    expect(mails).toHaveLength(mailsBefore)

    const audit = (await api('GET', '/api/audit?action=silence.')).json() as { items: { action: string; changes: Record<string, { to?: unknown }> }[] }
    expect(audit.items.map((e) => e.action)).toContain('silence.create')
  })
})
