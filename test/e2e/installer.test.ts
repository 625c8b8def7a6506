import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import mqtt, { type MqttClient } from 'mqtt'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureDashboardBuilt } from '../../dashboard/build.ts'
import { launchBrowser, screenshot, type Browser } from '../../testkit/browser.ts'
import { ADMIN_PASSWORD, startStack, type Stack } from '../../testkit/stack.ts'

/**
 * An installer on a street corner, on a phone-sized screen (390×844), against the whole platform:
 * registers a device, copies its credentials, a real MQTT client connects with them and publishes,
 * the commissioning view goes green; a bad payload shows its exact reason; a revoked device is
 * disconnected and refused. Then a CSV import with mistakes gets a precise dry-run report, and
 * the corrected file imports once.
 */

/** How long a wait for the page may take: a deadline for a busy machine, not an expected time. */
const WAIT = { timeout: 20_000 }
const PHONE = { width: 390, height: 844 }
const INSTALLER = { username: 'ivan', password: 'installer-password', role: 'installer' as const, cities: ['firenze'] }

let stack: Stack
let browser: Browser
let page: Page
const clients: MqttClient[] = []
/** Script errors in the page: there must be none. */
const pageErrors: string[] = []

beforeAll(async () => {
  await ensureDashboardBuilt()
  stack = await startStack()
  await stack.web.accounts.create(INSTALLER)
  browser = await launchBrowser({ locale: 'en-GB' })
  await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.urls.http })
  page = await browser.newPage(PHONE)
  page.on('pageerror', (e) => pageErrors.push(e.message))
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 40[13]/.test(m.text())) pageErrors.push(m.text())
  })
}, 180_000)

afterAll(async () => {
  expect(pageErrors).toEqual([])
  for (const client of clients) client.end(true)
  await browser?.close()
  await stack?.stop()
})

async function login(username: string, password: string) {
  await page.goto(`${stack.urls.http}/dashboard`)
  await page.getByTestId('login-form').waitFor()
  await page.getByTestId('login-username').fill(username)
  await page.getByTestId('login-password').fill(password)
  await page.getByTestId('login-submit').click()
  await page.getByTestId('current-user').waitFor()
}

const clipboard = () => page.evaluate(() => navigator.clipboard.readText())

/** Connects like a device: MQTT 3.1.1, username = client id = device id, password = secret. */
function connectDevice(id: string, secret: string, options: { reconnect?: boolean } = {}): MqttClient {
  const client = mqtt.connect(`mqtt://127.0.0.1:${stack.mqttPort}`, {
    protocolVersion: 4,
    clientId: id,
    username: id,
    password: secret,
    reconnectPeriod: options.reconnect ? 200 : 0,
    connectTimeout: 5000,
  })
  client.on('error', () => {})
  clients.push(client)
  return client
}

const stage = () => page.getByTestId('commissioning-stage').getAttribute('data-stage')

describe('an installer commissions a device from a phone', () => {
  let deviceId = ''
  let secret = ''
  let command = ''
  let device: MqttClient

  it('logs in and lands on their devices', async () => {
    await login(INSTALLER.username, INSTALLER.password)
    await expect.poll(() => new URL(page.url()).pathname, WAIT).toBe('/dashboard/installer')
    await page.getByTestId('installer-devices').waitFor()
    await page.getByTestId('installer-devices-empty').waitFor()
  })

  it('registers a device: type, name, city, location by tapping the map or typing, interval and metadata', async () => {
    await page.getByTestId('nav-register').click()
    await page.getByTestId('register-form').waitFor()
    // Only the installer's city is offered.
    expect(await page.getByTestId('register-city').locator('option').allTextContents()).toEqual(['Firenze (FI)'])
    await page.getByTestId('register-type').selectOption('air-quality')
    await page.getByTestId('register-name').fill('Viale Gramsci 12')

    // A tap on the map sets the coordinates…
    const map = page.getByTestId('register-map')
    await expect.poll(() => map.getAttribute('data-ready'), { timeout: 30_000 }).toBe('true')
    await map.scrollIntoViewIfNeeded()
    await map.click({ position: { x: 120, y: 130 } })
    await expect.poll(() => page.getByTestId('register-lat').inputValue(), WAIT).toMatch(/^43\.\d+$/)
    expect(await page.getByTestId('register-lon').inputValue()).toMatch(/^1[01]\.\d+$/)
    // …and typed coordinates set them exactly.
    await page.getByTestId('register-lat').fill('43.7781')
    await page.getByTestId('register-lon').fill('11.2656')
    expect(await page.getByTestId('register-interval').inputValue()).toBe('60')
    await page.getByTestId('register-meta-value-0').fill('SN-000042')
    await page.getByTestId('register-meta-value-1').fill('3.5')
    await page.getByTestId('register-lat').scrollIntoViewIfNeeded()
    await page.evaluate(() => window.scrollBy(0, -260))
    await screenshot(page, 'installer-register-form')

    await page.getByTestId('register-submit').click()
    await page.getByTestId('connection-sheet').waitFor()
    deviceId = (await page.getByTestId('connection-sheet').getAttribute('data-device-id'))!
    expect(deviceId).toMatch(/^aq-firenze-[0-9a-f]{6}$/)
    const registered = stack.registry.get(deviceId)!
    expect(registered).toMatchObject({ name: 'Viale Gramsci 12', lat: 43.7781, lon: 11.2656, interval: 60, createdBy: 'ivan', metadata: { serial: 'SN-000042', mounting_height_m: 3.5 } })
  })

  it('shows the connection sheet once: copy buttons, broker host and port, example, command line, QR code', async () => {
    expect(await page.getByTestId('sheet-host').textContent()).toBe('127.0.0.1')
    expect(await page.getByTestId('sheet-port').textContent()).toBe(String(stack.mqttPort))
    expect(await page.getByTestId('sheet-client-id').textContent()).toBe(deviceId)
    expect(await page.getByTestId('sheet-username').textContent()).toBe(deviceId)
    expect(await page.getByTestId('sheet-topic').textContent()).toBe(`devices/${deviceId}/telemetry`)
    expect(JSON.parse((await page.getByTestId('sheet-payload').textContent())!)).toMatchObject({ pm25: expect.any(Number), pm10: expect.any(Number) })
    expect(await page.getByTestId('sheet-command').textContent()).toContain(`mosquitto_pub -h 127.0.0.1 -p ${stack.mqttPort}`)
    expect(await page.getByTestId('sheet-qr').locator('path').getAttribute('d')).toMatch(/^M/)

    // The installer copies the credentials.
    await page.getByTestId('copy-password').click()
    await expect.poll(() => page.getByTestId('copy-password').getAttribute('data-state'), WAIT).toBe('copied')
    secret = await clipboard()
    expect(secret).toBe(await page.getByTestId('sheet-password').textContent())
    await page.getByTestId('copy-client-id').click()
    await expect.poll(clipboard, WAIT).toBe(deviceId)
    await page.getByTestId('copy-command').click()
    await expect.poll(clipboard, WAIT).toMatch(/^mosquitto_pub /)
    command = await clipboard()
    expect(await stack.registry.checkCredentials(deviceId, secret)).toMatchObject({ ok: true })

    await page.getByTestId('sheet-host').scrollIntoViewIfNeeded()
    await page.evaluate(() => window.scrollTo(0, 0))
    await screenshot(page, 'installer-connection-sheet')

    // Downloadable once.
    const download = page.waitForEvent('download')
    await page.getByTestId('sheet-download').click()
    const file = readFileSync((await (await download).path())!, 'utf8')
    expect(file).toContain(`Password:      ${secret}`)
    expect(await page.getByTestId('sheet-download').isDisabled()).toBe(true)
  })

  it('a real MQTT client connects with the copied credentials and the commissioning view follows live', async () => {
    await page.getByTestId('sheet-continue').click()
    await page.getByTestId('commissioning').waitFor()
    await expect.poll(stage, WAIT).toBe('waiting')
    await expect.poll(() => page.getByTestId('commissioning-live').getAttribute('data-state'), WAIT).toBe('live')

    // The commonest field error first, a wrong password: the page shows it live, with what to change.
    const wrong = connectDevice(deviceId, 'not-the-secret')
    await new Promise<void>((resolve) => wrong.once('error', () => resolve()))
    wrong.end(true)
    await expect.poll(() => page.getByTestId('check-connection').getAttribute('data-state'), WAIT).toBe('fail')
    expect(await page.getByTestId('check-connection').textContent()).toContain('login refused: wrong password')
    // The banner at the top says so in plain words instead of "waiting for the device", in either language.
    const banner = page.getByTestId('commissioning-stage')
    await expect.poll(() => banner.getAttribute('data-refused'), WAIT).toBe('true')
    expect(await banner.textContent()).toBe('The password is wrong: the broker refused the device’s login. Copy the secret from the connection sheet (or rotate it) and set it on the device.')
    await screenshot(page, 'installer-commissioning-login-refused')
    await page.getByTestId('lang-it').click()
    await expect.poll(() => banner.textContent(), WAIT).toMatch(/^La password è sbagliata: il broker ha rifiutato l’accesso del dispositivo\./)
    // The checks below it too, worded by the page from what the server found.
    expect(await page.getByTestId('check-connection').textContent()).toContain('Connessione accesso rifiutato: password sbagliata')
    await page.getByTestId('theme-toggle').click()
    await expect.poll(() => page.locator('html').getAttribute('data-theme'), WAIT).toBe('dark')
    await screenshot(page, 'installer-commissioning-login-refused-it-dark')
    await page.getByTestId('theme-toggle').click()
    await expect.poll(() => page.locator('html').getAttribute('data-theme'), WAIT).toBe('light')
    await page.getByTestId('lang-en').click()
    await expect.poll(() => banner.textContent(), WAIT).toMatch(/^The password is wrong/)

    device = connectDevice(deviceId, secret)
    await new Promise<void>((resolve, reject) => {
      device.once('connect', () => resolve())
      device.once('error', reject)
    })
    await expect.poll(stage, WAIT).toBe('connected')
    expect(await banner.getAttribute('data-refused')).toBe('false')
    expect(await page.getByTestId('step-connected').getAttribute('data-state')).toBe('done')
    expect(await page.getByTestId('step-reading').getAttribute('data-state')).toBe('current')
  })

  it('shows a bad payload at once with its exact reason', async () => {
    const topic = `devices/${deviceId}/telemetry`
    await device.publishAsync(topic, JSON.stringify({ ts: new Date().toISOString(), pm2_5: 12 }), { qos: 1 })
    const rejection = page.getByTestId('rejection').first()
    await expect.poll(() => rejection.textContent(), WAIT).toContain("unknown field 'pm2_5' (did you mean 'pm25'?)")
    await device.publishAsync(topic, JSON.stringify({ ts: new Date().toISOString(), pm25: -3 }), { qos: 1 })
    await expect.poll(() => page.getByTestId('rejection').first().textContent(), WAIT).toContain('pm25: -3 is below the minimum 0')
    await device.publishAsync(topic, JSON.stringify({ ts: '2031-01-01T00:00:00Z', pm25: 10 }), { qos: 1 })
    await expect.poll(() => page.getByTestId('rejection').first().textContent(), WAIT).toContain('timestamp 2031-01-01T00:00:00.000Z is in the future')
    expect(await page.getByTestId('check-values').getAttribute('data-state')).toBe('fail')
    expect(await stage()).toBe('connected')
  })

  it('goes green once good readings arrive at about the expected interval', async () => {
    const topic = `devices/${deviceId}/telemetry`
    const now = Date.now()
    // Three readings a minute apart (the device's interval), the newest now.
    for (const [i, pm25] of [[2, 11.5], [1, 12.25], [0, 12.75]] as const) {
      await device.publishAsync(topic, JSON.stringify({ ts: new Date(now - i * 60_000).toISOString(), pm25, pm10: 20 + i }), { qos: 1 })
    }
    await expect.poll(stage, WAIT).toBe('plausible')
    expect(await page.getByTestId('step-plausible').getAttribute('data-state')).toBe('done')
    expect(await page.getByTestId('commissioning-value-pm25').getAttribute('data-value')).toBe('12.75')
    for (const check of ['connection', 'reading', 'values', 'location', 'interval']) {
      expect(await page.getByTestId(`check-${check}`).getAttribute('data-state'), check).toBe('ok')
    }
    expect(await page.getByTestId('check-location').textContent()).toMatch(/km from the centre of Firenze/)
    expect(await page.getByTestId('rejection').count()).toBe(3)
    await page.evaluate(() => window.scrollTo(0, 0))
    await screenshot(page, 'installer-commissioning')
  })

  it("the sheet's mosquitto_pub command line, as copied, publishes a reading that is accepted", async () => {
    // The command takes the client id over: the mqtt.js client steps aside for it.
    device.end(true)
    const accepted = async () => Number(await page.getByTestId('commissioning-accepted').getAttribute('data-count'))
    const before = await accepted()
    await promisify(execFile)('bash', ['-c', command])
    await expect.poll(accepted, WAIT).toBe(before + 1)
    expect(await stage()).toBe('plausible')
  })

  it('revokes the device: its live connection is dropped and reconnects are refused', async () => {
    device = connectDevice(deviceId, secret)
    await new Promise<void>((resolve) => device.once('connect', () => resolve()))
    await expect.poll(() => page.getByTestId('commissioning-live').textContent(), WAIT).toContain('device connected')
    const closed = new Promise<void>((resolve) => device.once('close', () => resolve()))

    await page.getByTestId('action-revoke').click()
    await page.getByTestId('action-revoke-confirm').click()
    await expect.poll(stage, WAIT).toBe('revoked')
    await closed
    expect(stack.broker.isConnected(deviceId)).toBe(false)

    const again = connectDevice(deviceId, secret)
    const refusal = await new Promise<Error & { code?: number }>((resolve) => again.once('error', resolve))
    expect(refusal.code).toBe(5) // CONNACK: not authorised
    expect(await page.getByTestId('check-connection').textContent()).toMatch(/revoked/)
    expect(await page.getByTestId('device-status-badge').getAttribute('data-status')).toBe('revoked')
  })
})

describe('bulk import from a phone', () => {
  const WITH_MISTAKES = [
    'id,type,city,name,lat,lon,interval,meta.serial',
    ',air-quality,firenze,Piazza della Signoria,43.7696,11.2556,60,SN-100',
    ',airquality,firenze,Santa Croce,43.7686,11.2622,60,SN-101',
    ',noise,milano,Duomo,45.4642,9.19,60,SN-102',
    ',weather,firenze,Careggi,43.80,,30,SN-103',
    ',parking,prato,Piazza Mercatale,43.8807,11.0961,60,SN-104',
    '',
  ].join('\n')
  const CORRECTED = [
    'id,type,city,name,lat,lon,interval,meta.serial',
    ',air-quality,firenze,Piazza della Signoria,43.7696,11.2556,60,SN-100',
    ',noise,firenze,Santa Croce,43.7686,11.2622,60,SN-101',
    ',weather,firenze,Careggi,43.8003,11.2467,30,SN-103',
    '',
  ].join('\n')

  it('reports every row of a file with mistakes precisely, creating nothing', async () => {
    const before = stack.registry.list().total
    await page.getByTestId('nav-import').click()
    await page.getByTestId('import-file').setInputFiles({ name: 'devices.csv', mimeType: 'text/csv', buffer: Buffer.from(WITH_MISTAKES) })
    await expect.poll(() => page.getByTestId('import-text').inputValue(), WAIT).toBe(WITH_MISTAKES)
    await page.getByTestId('import-check').click()
    const report = page.getByTestId('import-report')
    await report.waitFor()
    expect(await report.getAttribute('data-ok')).toBe('false')
    expect(await page.getByTestId('import-summary').textContent()).toContain('5 rows: 1 to create, 0 already registered, 4 with errors')
    const rowErrors = async (line: number) => page.locator(`[data-testid="import-row"][data-line="${line}"] [data-testid="import-row-error"]`).allTextContents()
    expect(await page.locator('[data-testid="import-row"][data-line="2"]').getAttribute('data-status')).toBe('create')
    expect(await rowErrors(3)).toEqual([expect.stringMatching(/^type: 'airquality' is not a device type; types: air-quality, noise/)])
    expect(await rowErrors(4)).toEqual([expect.stringMatching(/^city: 'milano' is not one of firenze/), 'location 45.4642, 9.19 is outside the region'])
    expect(await rowErrors(5)).toEqual(['lat and lon: give both, or neither (the device then stands at the city centre)'])
    expect(await rowErrors(6)).toEqual(["city: installer 'ivan' works in firenze, not in prato"])
    expect(await page.getByTestId('import-submit').isDisabled()).toBe(true)
    expect(stack.registry.list().total).toBe(before)
    await report.scrollIntoViewIfNeeded()
    await screenshot(page, 'installer-import-report')
  })

  it('imports the corrected file once, with the secrets as a CSV; the same file again creates nothing', async () => {
    const before = stack.registry.list().total
    await page.getByTestId('import-text').fill(CORRECTED)
    await page.getByTestId('import-check').click()
    await expect.poll(() => page.getByTestId('import-report').getAttribute('data-ok'), WAIT).toBe('true')
    expect(await page.getByTestId('import-summary').textContent()).toContain('3 rows: 3 to create')
    await page.getByTestId('import-submit').click()
    await page.getByTestId('import-result').waitFor()
    expect(stack.registry.list().total).toBe(before + 3)

    const download = page.waitForEvent('download')
    await page.getByTestId('import-secrets-download').click()
    const csv = readFileSync((await (await download).path())!, 'utf8').trim().split(/\r?\n/)
    expect(csv[0]).toBe('id,type,city,name,username,password,client_id,topic')
    expect(csv).toHaveLength(4)
    for (const row of csv.slice(1)) {
      const [id, , , , , password] = row.split(',')
      expect(await stack.registry.checkCredentials(id!, password!)).toMatchObject({ ok: true })
    }
    expect(await page.getByTestId('import-secrets-download').isDisabled()).toBe(true)
    await screenshot(page, 'installer-import-done')

    // The same file again: every row is already registered, nothing to import.
    await page.getByTestId('import-check').click()
    await expect.poll(() => page.getByTestId('import-summary').textContent(), WAIT).toContain('3 rows: 0 to create, 3 already registered, 0 with errors')
    expect(await page.getByTestId('import-submit').isDisabled()).toBe(true)
    expect(stack.registry.list().total).toBe(before + 3)
  })
})

describe('an admin manages users and reads the audit log', () => {
  it('creates an installer for a city, sees the audit log of the morning, and disables the account', async () => {
    await page.getByTestId('logout').click()
    await login('admin', ADMIN_PASSWORD)
    await page.goto(`${stack.urls.http}/dashboard/admin/users`)
    await page.getByTestId('user-create-form').waitFor()
    await page.getByTestId('user-username').fill('nina')
    await page.getByTestId('user-password').fill('nina-password-1')
    await page.getByTestId('user-role').selectOption('installer')
    await page.getByTestId('user-city-pisa').check()
    await page.getByTestId('user-create-submit').click()
    const nina = page.locator('[data-testid="user-item"][data-username="nina"]')
    await nina.waitFor()
    expect(await nina.textContent()).toContain('Cities: Pisa')
    await screenshot(page, 'admin-users')

    await nina.getByTestId('user-disable').click()
    await nina.getByTestId('user-disable-confirm').click()
    await expect.poll(() => nina.getAttribute('data-disabled'), WAIT).toBe('true')

    await page.getByTestId('nav-audit').click()
    await page.getByTestId('audit-page').waitFor()
    await expect.poll(() => page.getByTestId('audit-entry').count(), WAIT).toBeGreaterThanOrEqual(7)
    const actions = await page.getByTestId('audit-entry').evaluateAll((els) => els.map((e) => e.getAttribute('data-action')))
    expect(actions.slice(0, 2)).toEqual(['user.disable', 'user.create'])
    expect(actions).toEqual(expect.arrayContaining(['device.create', 'device.revoke']))
    await page.getByTestId('audit-actor').fill('ivan')
    await page.getByTestId('audit-action').selectOption('device.revoke')
    await page.getByTestId('audit-apply').click()
    await expect.poll(() => page.getByTestId('audit-total').textContent(), WAIT).toBe('1 change')
    expect(await page.getByTestId('audit-entry').first().textContent()).toContain("status: 'active' → 'revoked'")
    await screenshot(page, 'admin-audit')
  })
})
