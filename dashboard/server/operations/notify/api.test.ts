import { createHmac } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startWebhookReceiver, type ReceivedRequest, type WebhookReceiver } from '../../../../testkit/receivers.ts'
import { expectError, startRolesApp, type Json, type RolesApp } from '../../../../testkit/roles-app.ts'

/**
 * The contact-point API: admins create, change, test and delete contact points, read their
 * delivery log; every change is in the audit log, never a secret; bad input answers 400 naming
 * the problem. The test webhook goes to a real loopback HTTP server that checks the signature.
 */

const SECRET = 'contact-point-secret-for-tests'
let t: RolesApp
let receiver: WebhookReceiver
let hookUrl: string
let received: ReceivedRequest[]

beforeAll(async () => {
  receiver = await startWebhookReceiver()
  received = receiver.received
  hookUrl = receiver.url('/piazza')
  // No SMTP_URL and no default webhook secret: what a server without notification settings says.
  // Loopback is refused by default: the receiver (and only its port) is let through.
  t = await startRolesApp({ env: { NOTIFY_WEBHOOK_ALLOW: receiver.allow } })
})

afterAll(async () => {
  await t?.cleanup()
  await receiver.close()
})

const inject = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, token = t.tokens.admin) =>
  t.app.inject({ method, url, headers: t.as(token), ...(payload === undefined ? {} : { payload: payload as object }) })

const auditFor = async (id: number) => ((await inject('GET', `/api/audit?targetType=contact-point&target=${id}`)).json() as Json).items as Json[]

describe('contact points API', () => {
  let id: number

  it('creates a webhook contact point; the secret is never shown nor audited', async () => {
    const response = await inject('POST', '/api/contact-points', { kind: 'webhook', name: 'Control room hook', url: hookUrl, secret: SECRET })
    expect(response.statusCode, response.body).toBe(201)
    const cp = response.json() as Json
    id = cp.id
    expect(response.headers.location).toBe(`/api/contact-points/${id}`)
    expect(cp).toMatchObject({ name: 'Control room hook', kind: 'webhook', url: hookUrl, addresses: [], secret: 'own', enabled: true, createdBy: 'admin' })
    expect(response.body).not.toContain(SECRET)

    const listed = await inject('GET', '/api/contact-points')
    expect(listed.body).not.toContain(SECRET)
    const list = listed.json() as Json
    expect(list).toMatchObject({ email: false, defaultSecret: false })
    expect(list.items.map((c: Json) => c.id)).toEqual([id])

    const entry = (await auditFor(id))[0]!
    expect(entry).toMatchObject({ actor: 'admin', action: 'contact-point.create', targetType: 'contact-point', target: String(id) })
    expect(entry.changes).toMatchObject({ name: { to: 'Control room hook' }, kind: { to: 'webhook' }, url: { to: hookUrl } })
    expect(JSON.stringify(entry)).not.toContain(SECRET)
  })

  it('refuses what cannot deliver, saying why', async () => {
    expectError(await inject('POST', '/api/contact-points', { kind: 'webhook', name: 'No secret', url: hookUrl }), 400, 'validation', /needs a secret.*NOTIFY_WEBHOOK_SECRET/)
    expectError(await inject('POST', '/api/contact-points', { kind: 'email', name: 'Mail', addresses: ['ops@city.test'] }), 400, 'validation', /SMTP_URL/)
    expectError(await inject('POST', '/api/contact-points', { kind: 'webhook', name: 'Bad', url: 'ftp://x.test/', secret: SECRET }), 400, 'validation')
    expectError(await inject('POST', '/api/contact-points', { kind: 'webhook', name: 'Short', url: hookUrl, secret: 'short' }), 400, 'validation')
    expectError(await inject('POST', '/api/contact-points', { kind: 'webhook', name: 'Creds', url: 'http://u:p@127.0.0.1/', secret: SECRET }), 400, 'validation', /user name or password/)
    expectError(await inject('PATCH', `/api/contact-points/${id}`, { addresses: ['a@b.test'] }), 400, 'validation', /apply to e-mail/)
    // Where webhooks may go: loopback, link-local (cloud metadata), private and unspecified addresses are refused, at creation and on change.
    const otherPort = new URL(hookUrl).port === '9' ? 10 : 9
    expectError(await inject('POST', '/api/contact-points', { kind: 'webhook', name: 'Loopback', url: `http://127.0.0.1:${otherPort}/`, secret: SECRET }), 400, 'validation', /^webhook URL refused: 127\.0\.0\.1 is a loopback address; add it to NOTIFY_WEBHOOK_ALLOW/)
    expectError(await inject('POST', '/api/contact-points', { kind: 'webhook', name: 'Metadata', url: 'http://169.254.169.254/latest/meta-data/', secret: SECRET }), 400, 'validation', /169\.254\.169\.254 is a link-local address/)
    expectError(await inject('POST', '/api/contact-points', { kind: 'webhook', name: 'Private', url: 'https://10.0.0.8/hook', secret: SECRET }), 400, 'validation', /10\.0\.0\.8 is a private address/)
    expectError(await inject('POST', '/api/contact-points', { kind: 'webhook', name: 'Unspecified', url: 'http://0.0.0.0:8080/', secret: SECRET }), 400, 'validation', /0\.0\.0\.0 is the unspecified address/)
    expectError(await inject('POST', '/api/contact-points', { kind: 'webhook', name: 'Localhost', url: `http://localhost:${otherPort}/`, secret: SECRET }), 400, 'validation', /localhost \((127\.0\.0\.1|::1)\) is a loopback address/)
    expectError(await inject('PATCH', `/api/contact-points/${id}`, { url: 'http://[::1]/' }), 400, 'validation', /::1 is a loopback address/)
    expectError(await inject('PATCH', '/api/contact-points/9999', { enabled: false }), 404, 'not-found')
    expectError(await inject('POST', '/api/contact-points', { kind: 'webhook', name: 'x', url: hookUrl, secret: SECRET }, t.tokens.operator), 403, 'forbidden')
    expect(((await inject('GET', '/api/contact-points')).json() as Json).items).toHaveLength(1)
  })

  it('sends a signed test notification and logs the delivery', async () => {
    const response = await inject('POST', `/api/contact-points/${id}/test`)
    expect(response.statusCode, response.body).toBe(200)
    const delivery = response.json() as Json
    expect(delivery).toMatchObject({ contactPointId: id, status: 'test', outcome: 'delivered', attempts: 1, httpStatus: 200, error: null })
    expect(received).toHaveLength(1)
    const { headers, body } = received[0]!
    const expected = `sha256=${createHmac('sha256', SECRET).update(`${headers['x-piazza-timestamp']}.${body}`).digest('hex')}`
    expect(headers['x-piazza-signature']).toBe(expected)
    expect(JSON.parse(body)).toMatchObject({ version: 1, status: 'test', id: delivery.notificationId, summaryIt: 'Notifica di prova da Piazza' })

    const log = (await inject('GET', `/api/contact-points/${id}/deliveries`)).json() as Json
    expect(log.items).toEqual([delivery])
    expect((await auditFor(id))[0]).toMatchObject({ action: 'contact-point.test', details: { outcome: 'delivered' } })
  })

  it('changes a contact point, auditing each field and only that the secret changed', async () => {
    const response = await inject('PATCH', `/api/contact-points/${id}`, { name: 'Renamed hook', secret: 'another-secret-of-length', enabled: false })
    expect(response.statusCode, response.body).toBe(200)
    expect(response.json()).toMatchObject({ name: 'Renamed hook', enabled: false, secret: 'own' })
    const entry = (await auditFor(id))[0]!
    expect(entry).toMatchObject({ action: 'contact-point.update', changes: { name: { from: 'Control room hook', to: 'Renamed hook' }, enabled: { from: true, to: false }, signing: { to: 'new secret' } } })
    expect(JSON.stringify(entry)).not.toContain('another-secret-of-length')
  })

  it('deletes a contact point with its log, audited', async () => {
    expect((await inject('DELETE', `/api/contact-points/${id}`)).statusCode).toBe(204)
    expectError(await inject('GET', `/api/contact-points/${id}/deliveries`), 404, 'not-found')
    expectError(await inject('DELETE', `/api/contact-points/${id}`), 404, 'not-found')
    expect((await auditFor(id))[0]).toMatchObject({ action: 'contact-point.delete', details: { kind: 'webhook' } })
  })
})
