import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureDashboardBuilt } from '../../dashboard/build.ts'
import { launchBrowser, screenshot, type Browser } from '../../testkit/browser.ts'
import { ADMIN_PASSWORD, startStack, type Stack } from '../../testkit/stack.ts'

/**
 * The first dashboard, as an operator sees it: real Chromium, the whole stack, readings from a
 * real MQTT client (mosquitto_pub with the device's own credentials).
 */

/** How long a wait for the page may take: a deadline for a busy machine, not an expected time. */
const WAIT = { timeout: 20_000 }
let stack: Stack
let browser: Browser
let page: Page
const devices: { id: string; secret: string; type: string }[] = []

beforeAll(async () => {
  await ensureDashboardBuilt()
  stack = await startStack()
  for (const [type, city, name, lat, lon] of [
    ['air-quality', 'Firenze', 'Viale Gramsci', 43.7745, 11.2668],
    ['air-quality', 'Pisa', 'Lungarno Pacinotti', 43.7168, 10.4003],
    ['parking', 'Lucca', 'Parcheggio Mazzini', 43.8405, 10.5083],
  ] as const) {
    const { device, secret } = await stack.registry.add({ type, city, name, lat, lon })
    devices.push({ id: device.id, secret, type })
  }
  browser = await launchBrowser()
  page = await browser.newPage()
}, 180_000)

afterAll(async () => {
  await browser?.close()
  await stack?.stop()
})

const publish = (device: { id: string; secret: string }, payload: object) =>
  promisify(execFile)('mosquitto_pub', [
    '-h', '127.0.0.1', '-p', String(stack.mqttPort), '-i', device.id, '-u', device.id, '-P', device.secret,
    '-q', '1', '-t', `devices/${device.id}/telemetry`, '-m', JSON.stringify(payload),
  ])

describe('the operators dashboard', () => {
  it('refuses a wrong password with a clear message, then logs in', async () => {
    await page.goto(`${stack.urls.http}/dashboard`)
    await page.getByTestId('login-form').waitFor()
    await screenshot(page, 'dashboard-login')
    await page.getByTestId('login-username').fill('admin')
    await page.getByTestId('login-password').fill('wrong password')
    await page.getByTestId('login-submit').click()
    await expect.poll(() => page.getByTestId('login-error').textContent(), WAIT).toMatch(/username or password/i)
    await page.getByTestId('login-password').fill(ADMIN_PASSWORD)
    await page.getByTestId('login-submit').click()
    await page.getByTestId('current-user').waitFor()
    expect(await page.getByTestId('current-user').textContent()).toContain('admin')
  })

  it('shows every registered device on the map and in the list', async () => {
    const map = page.getByTestId('map')
    await expect.poll(() => map.getAttribute('data-ready'), { timeout: 30_000 }).toBe('true')
    await expect.poll(() => map.getAttribute('data-device-count'), WAIT).toBe(String(devices.length))
    await expect.poll(() => map.getAttribute('data-rendered-devices'), WAIT).toBe(String(devices.length))
    await expect.poll(() => page.getByTestId('device-list-item').count(), WAIT).toBe(devices.length)
    await screenshot(page, 'dashboard-map')
  })

  it('opens a device and shows a reading published over MQTT within two seconds', async () => {
    const station = devices[0]!
    await page.getByTestId('device-list-item').filter({ hasText: 'Viale Gramsci' }).click()
    const panel = page.getByTestId('device-panel')
    await panel.waitFor()
    expect(await panel.getAttribute('data-device-id')).toBe(station.id)

    const published = Date.now()
    await publish(station, { ts: new Date(published).toISOString(), pm25: 23.4, pm10: 31.2, no2: 44 })
    const cell = page.getByTestId('latest-value-pm25')
    await expect.poll(() => cell.getAttribute('data-value'), { timeout: 2000, interval: 50 }).toBe('23.4')
    expect(await page.getByTestId('latest-value-no2').getAttribute('data-value')).toBe('44')
    await expect.poll(() => page.getByTestId('device-chart').getAttribute('data-points'), WAIT).not.toBe('0')
    await screenshot(page, 'dashboard-device-panel')
  })
})
