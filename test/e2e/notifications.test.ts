import { createHmac } from 'node:crypto'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureDashboardBuilt } from '../../dashboard/build.ts'
import { launchBrowser, screenshot, type Browser } from '../../testkit/browser.ts'
import { startSmtpReceiver, startWebhookReceiver, type ReceivedMail, type ReceivedRequest, type SmtpReceiver, type WebhookReceiver } from '../../testkit/receivers.ts'
import { ADMIN_PASSWORD, startStack, type Stack } from '../../testkit/stack.ts'

/**
 * The admin's contact-point page in real Chromium against the whole stack: create a webhook (to
 * a loopback HTTP server that checks the signature) and an e-mail contact point (a real SMTP
 * server on loopback), send a test through each and read it in the delivery log, disable and
 * delete. Screenshots on desktop and phone.
 */

const WAIT = { timeout: 20_000 }
const SECRET = 'browser-test-webhook-secret'

let stack: Stack
let browser: Browser
let page: Page
let receiver: WebhookReceiver
let smtp: SmtpReceiver
let hooks: ReceivedRequest[]
let mails: ReceivedMail[]
const pageErrors: string[] = []

beforeAll(async () => {
  await ensureDashboardBuilt()
  receiver = await startWebhookReceiver()
  hooks = receiver.received
  smtp = await startSmtpReceiver()
  mails = smtp.mails
  stack = await startStack({ SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, SMTP_FROM: 'piazza@comune.test', NOTIFY_WEBHOOK_ALLOW: receiver.allow })
  browser = await launchBrowser({ locale: 'en-GB' })
  page = await browser.newPage()
  page.on('pageerror', (e) => pageErrors.push(e.message))
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 40[13]/.test(m.text())) pageErrors.push(m.text())
  })
}, 180_000)

afterAll(async () => {
  expect(pageErrors).toEqual([])
  await browser?.close()
  await stack?.stop()
  await smtp?.close()
  await receiver?.close()
})

const item = (name: string) => page.locator('[data-testid="cp-item"]', { hasText: name })

describe('an admin manages contact points', () => {
  it('creates a webhook and an e-mail contact point, tests both, reads the log, disables and deletes', async () => {
    await page.goto(`${stack.urls.http}/dashboard`)
    await page.getByTestId('login-form').waitFor()
    await page.getByTestId('login-username').fill('admin')
    await page.getByTestId('login-password').fill(ADMIN_PASSWORD)
    await page.getByTestId('login-submit').click()
    await page.getByTestId('current-user').waitFor()
    await page.goto(`${stack.urls.http}/dashboard/admin/users`)
    await page.getByTestId('nav-notifications').click()
    await page.getByTestId('contact-points-empty').waitFor()

    // A short secret is refused in the form, saying why.
    await page.getByTestId('cp-name').fill('Sala operativa')
    await page.getByTestId('cp-url').fill(receiver.url('/hook'))
    await page.getByTestId('cp-secret').fill('short')
    await page.getByTestId('cp-create-submit').click()
    await expect.poll(() => page.getByTestId('cp-create-error').textContent(), WAIT).toBe('The secret needs at least 16 characters.')
    await page.getByTestId('cp-secret').fill(SECRET)
    await page.getByTestId('cp-create-submit').click()
    await item('Sala operativa').waitFor()

    await page.getByTestId('cp-kind').selectOption('email')
    await page.getByTestId('cp-name').fill('Turno di notte')
    await page.getByTestId('cp-addresses').fill('turno@comune.test, capo@comune.test')
    await page.getByTestId('cp-create-submit').click()
    await item('Turno di notte').waitFor()
    expect(await item('Turno di notte').textContent()).toContain('turno@comune.test, capo@comune.test')

    await item('Sala operativa').getByTestId('cp-test').click()
    await expect.poll(() => page.getByTestId('contact-points-notice').textContent(), WAIT).toBe('Test sent to Sala operativa.')
    await expect.poll(() => item('Sala operativa').locator('[data-testid="cp-delivery"]').first().getAttribute('data-outcome'), WAIT).toBe('delivered')
    expect(hooks).toHaveLength(1)
    const { headers, body } = hooks[0]!
    expect(headers['x-piazza-signature']).toBe(`sha256=${createHmac('sha256', SECRET).update(`${headers['x-piazza-timestamp']}.${body}`).digest('hex')}`)

    await item('Turno di notte').getByTestId('cp-test').click()
    await expect.poll(() => page.getByTestId('contact-points-notice').textContent(), WAIT).toBe('Test sent to Turno di notte.')
    expect(mails).toHaveLength(1)
    expect(mails[0]!.mail.subject).toBe('[Piazza] Notifica di prova da Piazza / Test notification from Piazza')
    await screenshot(page, 'admin-contact-points')
    await page.setViewportSize({ width: 390, height: 844 })
    await screenshot(page, 'admin-contact-points-phone')
    await page.setViewportSize({ width: 1400, height: 900 })

    await item('Turno di notte').getByTestId('cp-toggle').click()
    await expect.poll(() => item('Turno di notte').textContent(), WAIT).toContain('disabled')
    await item('Sala operativa').getByTestId('cp-delete').click()
    await item('Sala operativa').getByTestId('cp-delete-confirm').click()
    await expect.poll(() => page.getByTestId('cp-item').count(), WAIT).toBe(1)

    const audit = await stack.web.audit.list({ action: 'contact-point.' })
    expect(audit.items.map((e) => e.action)).toEqual(['contact-point.delete', 'contact-point.update', 'contact-point.test', 'contact-point.test', 'contact-point.create', 'contact-point.create'])
  })
})
