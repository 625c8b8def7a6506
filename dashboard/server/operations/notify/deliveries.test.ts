import { createHmac, randomBytes } from 'node:crypto'
import type { LookupAddress } from 'node:dns'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import Database from 'better-sqlite3'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Value } from 'typebox/value'
import { NotificationSchema, type Notification } from '../../../shared/notify.ts'
import { startSmtpReceiver, startWebhookReceiver, type ReceivedRequest, type SmtpReceiver, type WebhookReceiver } from '../../../../testkit/receivers.ts'
import { createDeliveries } from './deliveries.ts'
import { createMailer } from './email.ts'
import { asyncNotifyStore, createNotifyStore } from './store.ts'
import { createUrlPolicy, parseAllowList, type UrlPolicyOptions } from './url-policy.ts'

/**
 * Deliveries against real receivers on loopback: an HTTP server that checks the webhook's HMAC
 * and answers 500 once (the delivery retries), and a real SMTP server (smtp-server) that requires
 * a login and receives the e-mail, parsed with mailparser.
 */

const SECRET = 'a-webhook-secret-of-some-length'

let hooks: WebhookReceiver
let url: string
/** Statuses the receiver answers with, in order; 200 once used up. */
let answers: number[] = []
let received: ReceivedRequest[]

beforeAll(async () => {
  hooks = await startWebhookReceiver(() => answers.shift() ?? 200)
  received = hooks.received
  url = hooks.url('/hook')
})
afterAll(() => hooks.close())
afterEach(() => {
  received.length = 0
  answers = []
})

const notification = (over: Partial<Notification> = {}): Notification => ({
  version: 1,
  id: 'b3c0c1c6-4e0f-4a43-9a51-1a2b3c4d5e6f',
  status: 'firing',
  group: { key: '7:firenze', ruleId: 7, ruleName: 'PM2.5 high', city: 'firenze', severity: 'warning' },
  count: 2,
  newAlerts: 2,
  devices: [
    { id: 'aq-1', name: 'Viale Gramsci', alertId: 1, value: 12, openedAt: '2026-12-04T07:00:00.000Z', message: 'PM2.5 12 µg/m³ > 5 µg/m³ at Viale Gramsci' },
    { id: 'aq-2', name: 'Piazza della Signoria', alertId: 2, value: 9, openedAt: '2026-12-04T07:00:01.000Z', message: 'PM2.5 9 µg/m³ > 5 µg/m³ at Piazza della Signoria' },
  ],
  more: 0,
  summary: '[warning] PM2.5 high in firenze: 2 devices in alert',
  summaryIt: '[warning] PM2.5 high a firenze: 2 dispositivi in allarme',
  sentAt: '2026-12-04T07:00:31.000Z',
  ...over,
})

/** Loopback is refused by default: these tests let their receivers through, as NOTIFY_WEBHOOK_ALLOW would. */
function setup(options: { mailer?: ReturnType<typeof createMailer>; maxAttempts?: number; keep?: number; allow?: string; lookup?: UrlPolicyOptions['lookup'] } = {}) {
  const db = new Database(':memory:')
  const store = createNotifyStore(db, { keep: options.keep ?? 100, secretKey: randomBytes(32) })
  const urlPolicy = createUrlPolicy({ allow: parseAllowList(options.allow ?? '127.0.0.1'), lookup: options.lookup })
  const deliveries = createDeliveries({ store: asyncNotifyStore(store), mailer: options.mailer, urlPolicy, retry: { maxAttempts: options.maxAttempts ?? 4, baseMs: 20, maxMs: 200 }, timeoutMs: 5000 })
  return { db, store, deliveries }
}

const hmac = (timestamp: string, body: string) => `sha256=${createHmac('sha256', SECRET).update(`${timestamp}.${body}`).digest('hex')}`

describe('webhook deliveries', () => {
  it('POSTs the notification as JSON with an HMAC over timestamp and body, retrying after a 500', async () => {
    const { store, deliveries } = setup()
    const cp = store.create({ kind: 'webhook', name: 'ops', url, addresses: [], secret: SECRET, enabled: true }, 'admin', new Date().toISOString())
    answers = [500]
    deliveries.send(notification())
    await deliveries.idle()

    expect(received).toHaveLength(2)
    for (const r of received) {
      const timestamp = r.headers['x-piazza-timestamp'] as string
      expect(timestamp).toMatch(/^\d{10}$/)
      expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(600)
      expect(r.headers['x-piazza-signature']).toBe(hmac(timestamp, r.body))
      expect(r.headers['x-piazza-delivery']).toBe(notification().id)
      expect(r.headers['content-type']).toBe('application/json')
      const body = JSON.parse(r.body) as unknown
      expect(Value.Check(NotificationSchema, body)).toBe(true)
      expect(body).toEqual(notification())
    }
    // A tampered body or another secret does not verify.
    expect(hmac(received[0]!.headers['x-piazza-timestamp'] as string, received[0]!.body.replace('12', '13'))).not.toBe(received[0]!.headers['x-piazza-signature'])

    const [log] = store.deliveries(cp.id, 10)
    expect(log).toMatchObject({ outcome: 'delivered', attempts: 2, httpStatus: 200, error: null, status: 'firing', notificationId: notification().id })
    expect(log!.finishedAt).not.toBeNull()
  })

  it('gives up after the bounded attempts on 5xx and 429, and at once on another 4xx, logging why', async () => {
    const { store, deliveries } = setup({ maxAttempts: 3 })
    const cp = store.create({ kind: 'webhook', name: 'ops', url, addresses: [], secret: SECRET, enabled: true }, 'admin', new Date().toISOString())
    answers = [503, 429, 502]
    deliveries.send(notification())
    await deliveries.idle()
    expect(received).toHaveLength(3)
    expect(store.deliveries(cp.id, 10)[0]).toMatchObject({ outcome: 'failed', attempts: 3, httpStatus: 502, error: 'HTTP 502' })

    received.length = 0
    answers = [404]
    deliveries.send(notification({ id: 'second' }))
    await deliveries.idle()
    expect(received).toHaveLength(1)
    expect(store.deliveries(cp.id, 10)[0]).toMatchObject({ notificationId: 'second', outcome: 'failed', attempts: 1, httpStatus: 404, error: 'HTTP 404 (not retried)' })
  })

  it('retries a refused connection, then reports it; skips disabled contact points; keeps the newest N log entries', async () => {
    const { store, deliveries } = setup({ maxAttempts: 2, keep: 3 })
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/`
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    const dead = store.create({ kind: 'webhook', name: 'dead', url: deadUrl, addresses: [], secret: SECRET, enabled: true }, 'admin', new Date().toISOString())
    const off = store.create({ kind: 'webhook', name: 'off', url, addresses: [], secret: SECRET, enabled: false }, 'admin', new Date().toISOString())
    for (let i = 0; i < 5; i++) deliveries.send(notification({ id: `n${i}` }))
    await deliveries.idle()
    const log = store.deliveries(dead.id, 10)
    expect(log.map((d) => d.notificationId)).toEqual(['n4', 'n3', 'n2'])
    expect(log[0]).toMatchObject({ outcome: 'failed', attempts: 2, httpStatus: null })
    expect(log[0]!.error).toMatch(/could not reach 127\.0\.0\.1:\d+: ECONNREFUSED/)
    expect(store.deliveries(off.id, 10)).toEqual([])
    expect(received).toHaveLength(0)
  })
})

describe('webhook URL policy at delivery', () => {
  /** Stands in for DNS: answers each name with the addresses `answers` holds for it now. */
  const fakeDns = (answers: Record<string, string[]>): UrlPolicyOptions['lookup'] =>
    ((hostname: string, _options: unknown, callback: (err: Error | null, addresses: LookupAddress[]) => void) => {
      const found = answers[hostname]
      if (!found) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), [])
      callback(null, found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })))
    }) as never

  it('refuses loopback, link-local (cloud metadata) and names resolving to them by default: final, nothing sent', async () => {
    const { store, deliveries } = setup({ allow: '' })
    const port = new URL(url).port
    const targets = [url, `http://localhost:${port}/hook`, `http://[::ffff:127.0.0.1]:${port}/hook`, 'http://169.254.169.254/latest/meta-data/']
    const cps = targets.map((u, i) => store.create({ kind: 'webhook', name: `t${i}`, url: u, addresses: [], secret: SECRET, enabled: true }, 'admin', new Date().toISOString()))
    deliveries.send(notification())
    await deliveries.idle()
    expect(received).toHaveLength(0)
    const errors = cps.map((cp) => store.deliveries(cp.id, 1)[0]!)
    for (const d of errors) expect(d).toMatchObject({ outcome: 'failed', attempts: 1, httpStatus: null })
    expect(errors[0]!.error).toBe('webhook URL refused: 127.0.0.1 is a loopback address; add it to NOTIFY_WEBHOOK_ALLOW to permit it')
    expect(errors[1]!.error).toMatch(/^webhook URL refused: localhost \((127\.0\.0\.1|::1)\) is a loopback address/)
    expect(errors[2]!.error).toMatch(/^webhook URL refused: ::ffff:7f00:1 is a loopback address/)
    expect(errors[3]!.error).toMatch(/^webhook URL refused: 169\.254\.169\.254 is a link-local address \(this includes cloud metadata services/)
  })

  it('checks the address it connects to: a name that now resolves to loopback (DNS rebinding) is refused', async () => {
    const dns = { 'hooks.city.test': ['93.184.216.34'] }
    const { store, deliveries } = setup({ allow: '', lookup: fakeDns(dns) })
    const cp = store.create({ kind: 'webhook', name: 'rebinding', url: `http://hooks.city.test:${new URL(url).port}/hook`, addresses: [], secret: SECRET, enabled: true }, 'admin', new Date().toISOString())
    dns['hooks.city.test'] = ['127.0.0.1']
    deliveries.send(notification())
    await deliveries.idle()
    expect(received).toHaveLength(0)
    expect(store.deliveries(cp.id, 1)[0]).toMatchObject({ outcome: 'failed', attempts: 1, error: 'webhook URL refused: hooks.city.test (127.0.0.1) is a loopback address; add it to NOTIFY_WEBHOOK_ALLOW to permit it' })
  })

  it('connects to the address its lookup checked, and lets an allowed name through', async () => {
    // Real DNS knows no such name: the request reaching the receiver went through the policy's lookup.
    const { store, deliveries } = setup({ allow: `hooks.internal.test:${new URL(url).port}`, lookup: fakeDns({ 'hooks.internal.test': ['127.0.0.1'] }) })
    const cp = store.create({ kind: 'webhook', name: 'internal', url: `http://hooks.internal.test:${new URL(url).port}/hook`, addresses: [], secret: SECRET, enabled: true }, 'admin', new Date().toISOString())
    deliveries.send(notification())
    await deliveries.idle()
    expect(store.deliveries(cp.id, 1)[0]).toMatchObject({ outcome: 'delivered', httpStatus: 200 })
    expect(received).toHaveLength(1)
    expect(received[0]!.headers.host).toBe(`hooks.internal.test:${new URL(url).port}`)
  })
})

describe('e-mail deliveries', () => {
  let smtp: SmtpReceiver
  let smtpPort: number
  let mails: SmtpReceiver['mails']

  beforeAll(async () => {
    smtp = await startSmtpReceiver({ user: 'piazza', password: 'mail-password' })
    smtpPort = smtp.port
    mails = smtp.mails
  })
  afterAll(() => smtp.close())

  it('sends a plain-text e-mail, Italian first, through a real SMTP server with a login', async () => {
    const mailer = createMailer({ smtpUrl: `smtp://piazza:mail-password@127.0.0.1:${smtpPort}`, from: 'Piazza <alerts@piazza.test>', timeoutMs: 5000 })
    const { store, deliveries } = setup({ mailer })
    const cp = store.create({ kind: 'email', name: 'control room', url: null, addresses: ['ops@city.test', 'duty@city.test'], secret: null, enabled: true }, 'admin', new Date().toISOString())
    deliveries.send(notification())
    await deliveries.idle()
    mailer.close()

    expect(mails).toHaveLength(1)
    const { envelope, mail, user } = mails[0]!
    expect(user).toBe('piazza')
    expect(envelope).toEqual({ from: 'alerts@piazza.test', to: ['ops@city.test', 'duty@city.test'] })
    expect(mail.subject).toBe('[Piazza] [warning] PM2.5 high a firenze: 2 dispositivi in allarme / [warning] PM2.5 high in firenze: 2 devices in alert')
    expect(mail.headers.get('x-piazza-notification')).toBe(notification().id)
    const text = mail.text!
    expect(text.indexOf('dispositivi in allarme')).toBeLessThan(text.indexOf('devices in alert'))
    expect(text).toContain('Allarmi attivi: 2, nuovi: 2')
    expect(text).toContain('  - Viale Gramsci (aq-1): PM2.5 12 µg/m³ > 5 µg/m³ at Viale Gramsci')
    expect(text).toContain('Active alerts: 2, new: 2')
    expect(store.deliveries(cp.id, 1)[0]).toMatchObject({ outcome: 'delivered', attempts: 1 })
  })

  it('logs a refused login as a failed delivery with the server’s answer', async () => {
    const mailer = createMailer({ smtpUrl: `smtp://piazza:wrong@127.0.0.1:${smtpPort}`, from: 'alerts@piazza.test', timeoutMs: 5000 })
    const { store, deliveries } = setup({ mailer, maxAttempts: 2 })
    const cp = store.create({ kind: 'email', name: 'x', url: null, addresses: ['ops@city.test'], secret: null, enabled: true }, 'admin', new Date().toISOString())
    const before = mails.length
    deliveries.send(notification())
    await deliveries.idle()
    mailer.close()
    expect(mails.length).toBe(before)
    const [log] = store.deliveries(cp.id, 1)
    expect(log!.outcome).toBe('failed')
    expect(log!.error).toMatch(/^SMTP: .*invalid login/i)
  })
})
