import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureDashboardBuilt } from '../../dashboard/build.ts'
import { launchBrowser, screenshot, type Browser } from '../../testkit/browser.ts'
import { ADMIN_PASSWORD, startStack, type Stack } from '../../testkit/stack.ts'

/**
 * The Italian dashboard: a browser that prefers Italian gets the login page and the operators'
 * dashboard in Italian (words, decimal commas, Italian dates); a choice of English made on the
 * page outlasts a reload (over the browser's preference), and switching back works. What the
 * server writes (a refused login, a form's error, a rule's description, an alert's message, the
 * CSV import's report) reads in Italian too.
 */

/** How long a wait for the page may take: a deadline for a busy machine, not an expected time. */
const WAIT = { timeout: 20_000 }
/** "4 dic 2026": a day, an Italian month abbreviation, a year. */
const ITALIAN_DATE = /\b\d{1,2} (gen|feb|mar|apr|mag|giu|lug|ago|set|ott|nov|dic) \d{4}\b/
let stack: Stack
let browser: Browser
let page: Page
let station: { id: string; secret: string }

beforeAll(async () => {
  await ensureDashboardBuilt()
  stack = await startStack()
  const added = await stack.registry.add({ type: 'air-quality', city: 'Firenze', name: 'Viale Gramsci', lat: 43.7745, lon: 11.2668 })
  station = { id: added.device.id, secret: added.secret }
  await stack.registry.add({ type: 'parking', city: 'Lucca', name: 'Parcheggio Mazzini', lat: 43.8405, lon: 10.5083 })
  browser = await launchBrowser({ locale: 'it-IT' })
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

const text = async (testid: string) => ((await page.getByTestId(testid).first().textContent()) ?? '').trim()

describe('the Italian dashboard', () => {
  it('shows the login page in Italian for an Italian browser, with its messages', async () => {
    await page.goto(`${stack.urls.http}/dashboard`)
    await page.getByTestId('login-form').waitFor()
    expect(await page.locator('html').getAttribute('lang')).toBe('it')
    expect(await page.getByTestId('lang-it').getAttribute('aria-pressed')).toBe('true')
    expect(await text('login-submit')).toBe('Accedi')
    expect(await page.locator('label[for="login-username"]').textContent()).toBe('Nome utente')
    expect(await page.locator('.login-sub').textContent()).toBe('Telemetria urbana per la Toscana. Accedi per continuare.')
    await page.getByTestId('login-submit').click()
    await expect.poll(() => text('login-error'), WAIT).toBe('Inserisci il nome utente.')
    // The server's refusal, in Italian.
    await page.getByTestId('login-username').fill('admin')
    await page.getByTestId('login-password').fill('not-the-password')
    await page.getByTestId('login-submit').click()
    await expect.poll(() => text('login-error'), WAIT).toBe('nome utente o password errati')
    await screenshot(page, 'italian-login')
  })

  it('shows the operators’ dashboard in Italian, with decimal commas and Italian dates', async () => {
    await page.getByTestId('login-username').fill('admin')
    await page.getByTestId('login-password').fill(ADMIN_PASSWORD)
    await page.getByTestId('login-submit').click()
    await page.getByTestId('current-user').waitFor()
    await expect.poll(() => page.getByTestId('map').getAttribute('data-ready'), { timeout: 30_000 }).toBe('true')

    expect(await text('logout')).toBe('Esci')
    expect(await text('nav-devices')).toBe('Dispositivi e utenti')
    expect(await text('current-user')).toContain('(amministratore)')
    expect(await text('tab-cities')).toBe('Città')
    expect(await text('tab-alerts')).toBe('Allarmi')
    expect(await text('alert-badge')).toContain('Nessun allarme aperto')
    expect(await text('filter-count')).toBe('2 dispositivi')
    expect(await page.getByTestId('city-filter').locator('option').first().textContent()).toBe('Tutta la Toscana')
    await expect.poll(() => text('live-status'), WAIT).toBe('In tempo reale')
    expect(await text('legend-toggle')).toContain('Legenda')
    expect(await page.getByTestId('device-list-item').filter({ hasText: 'Parcheggio Mazzini' }).textContent()).toContain('Parcheggio')

    await page.getByTestId('device-list-item').filter({ hasText: 'Viale Gramsci' }).click()
    const panel = page.getByTestId('device-panel')
    await panel.waitFor()
    await publish(station, { ts: new Date().toISOString(), pm25: 23.4, pm10: 31.2, no2: 44 })
    const cell = page.getByTestId('latest-value-pm25')
    await expect.poll(() => cell.getAttribute('data-value'), WAIT).toBe('23.4')
    expect(await cell.locator('td').textContent()).toBe('23,4 µg/m³')
    expect(await text('device-type')).toBe('Centralina qualità dell’aria')
    expect(await panel.locator('table.values caption').textContent()).toMatch(/^Ultimi valori alle \d{2}:\d{2}:\d{2}$/)
    // The last reading: an Italian date, and how long ago in Italian.
    await expect.poll(() => text('device-last-seen'), WAIT).toMatch(ITALIAN_DATE)
    expect(await text('device-last-seen')).toMatch(/\d+ s fa\)$/)
    // The grade: the band in Italian, the measured value with a decimal comma.
    expect(await text('device-level')).toMatch(/^(Buona|Discreta|Moderata|Scadente|Molto scadente|Estremamente scadente) · PM2,5 23,4 µg\/m³$/)
    await expect.poll(() => page.getByTestId('device-chart').getAttribute('data-points'), WAIT).not.toBe('0')
    expect(await page.getByTestId('range-custom').textContent()).toBe('Personalizzato')
    await screenshot(page, 'italian-dashboard-light')

    await page.getByTestId('theme-toggle').click()
    await expect.poll(() => page.locator('html').getAttribute('data-theme')).toBe('dark')
    expect(await text('theme-toggle')).toContain('Chiaro')
    await screenshot(page, 'italian-dashboard-dark')
  })

  it('remembers English chosen on the page over the browser’s Italian, and switches back', async () => {
    await page.getByTestId('lang-en').click()
    await expect.poll(() => text('logout')).toBe('Log out')
    expect(await page.locator('html').getAttribute('lang')).toBe('en')
    // The open panel follows at once: words and the decimal point.
    expect(await page.getByTestId('latest-value-pm25').locator('td').textContent()).toBe('23.4 µg/m³')
    expect(await text('device-type')).toBe('Air-quality station')

    await page.reload()
    await page.getByTestId('current-user').waitFor()
    expect(await text('logout')).toBe('Log out')
    expect(await text('alert-badge')).toContain('No open alerts')
    expect(await page.getByTestId('lang-en').getAttribute('aria-pressed')).toBe('true')
    expect(await text('filter-count')).toBe('2 devices')

    await page.getByTestId('lang-it').click()
    await expect.poll(() => text('logout')).toBe('Esci')
    await page.reload()
    await page.getByTestId('current-user').waitFor()
    expect(await text('alert-badge')).toContain('Nessun allarme aperto')
    expect(await page.locator('html').getAttribute('lang')).toBe('it')
  })

  it('shows the dashboard in Italian on a phone, light and dark, with the switch in reach', async () => {
    const phone = await browser.newPage({ width: 390, height: 844 })
    try {
      await phone.goto(`${stack.urls.http}/dashboard`)
      await phone.getByTestId('current-user').waitFor(WAIT)
      const on = async (testid: string) => ((await phone.getByTestId(testid).first().textContent()) ?? '').trim()
      expect(await on('tab-cities')).toBe('Città')
      expect(await on('filter-count')).toBe('2 dispositivi')
      // On a small screen the legend starts closed, its button in Italian.
      expect(await on('legend-toggle')).toContain('Legenda')
      expect(await phone.getByTestId('lang-it').isVisible()).toBe(true)
      // Nothing wider than the screen.
      expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
      if ((await phone.locator('html').getAttribute('data-theme')) === 'dark') await phone.getByTestId('theme-toggle').click()
      await expect.poll(() => phone.locator('html').getAttribute('data-theme'), WAIT).toBe('light')
      await screenshot(phone, 'italian-dashboard-phone-light')
      await phone.getByTestId('theme-toggle').click()
      await expect.poll(() => phone.locator('html').getAttribute('data-theme'), WAIT).toBe('dark')
      expect(await on('theme-toggle')).toContain('Chiaro')
      await screenshot(phone, 'italian-dashboard-phone-dark')
    } finally {
      await phone.close()
    }
  })

  it('shows the installers’ register page in Italian, with the switch in their bar', async () => {
    await page.goto(`${stack.urls.http}/dashboard/installer/register`)
    await page.getByTestId('register-form').waitFor()
    expect(await page.locator('#register-title').textContent()).toBe('Registra un dispositivo')
    expect(await text('nav-register')).toBe('Registra')
    expect(await text('register-submit')).toBe('Registra e ottieni la scheda di connessione')
    expect(await page.getByTestId('register-type').locator('option').first().textContent()).toBe('Centralina qualità dell’aria')
    await page.getByTestId('register-submit').click()
    await expect.poll(() => text('register-error'), WAIT).toBe('Dai un nome al dispositivo, per esempio via e numero civico.')
    expect(await page.getByTestId('lang-it').getAttribute('aria-pressed')).toBe('true')
    await screenshot(page, 'italian-installer-register')
  })

  it('words the CSV import in Italian: a wrong header, a row’s error, a row’s warning', async () => {
    await page.goto(`${stack.urls.http}/dashboard/installer/import`)
    await page.getByTestId('import-text').waitFor()
    await page.getByTestId('import-text').fill('type,city\nnoise,firenze\n')
    await page.getByTestId('import-check').click()
    await expect.poll(() => text('import-error'), WAIT).toBe("l’intestazione (riga 1) è errata: manca la colonna 'name'")
    await page.getByTestId('import-text').fill(['type,city,name,lat,lon', 'airquality,firenze,Santa Croce,,', 'noise,firenze,Lungarno a Pisa,43.7228,10.4017', ''].join('\n'))
    await page.getByTestId('import-check').click()
    const row = (line: number) => page.locator(`[data-testid="import-row"][data-line="${line}"]`)
    const errors = () => row(2).getByTestId('import-row-error').allTextContents()
    await expect.poll(errors, WAIT).toEqual([expect.stringMatching(/^type: 'airquality' non è un tipo di dispositivo; tipi: air-quality, /)])
    expect(await text('import-error')).toBe('')
    expect(await row(3).getByTestId('import-row-warning').allTextContents()).toEqual([expect.stringMatching(/^la posizione è a \d+,\d km dal centro di Firenze \(più di 15 km\)$/)])
    await row(2).scrollIntoViewIfNeeded()
    await screenshot(page, 'italian-installer-import')
    // In English: the server's own sentences.
    await page.getByTestId('lang-en').click()
    await expect.poll(errors, WAIT).toEqual([expect.stringMatching(/^type: 'airquality' is not a device type; types: air-quality, /)])
    expect(await row(3).getByTestId('import-row-warning').allTextContents()).toEqual([expect.stringMatching(/^location is \d+\.\d km from the centre of Firenze \(more than 15 km\)$/)])
    await page.getByTestId('lang-it').click()
    await expect.poll(errors, WAIT).toEqual([expect.stringMatching(/^type: 'airquality' non è/)])
  })

  it('words what the server writes in Italian: a rule form’s error, the rule, the alert it opens', async () => {
    await page.goto(`${stack.urls.http}/dashboard`)
    await page.getByTestId('current-user').waitFor()
    await page.getByTestId('tab-rules').click()
    await page.getByTestId('rule-new').click()
    await page.getByTestId('rule-name').fill('PM2.5 alto in Viale Gramsci')
    await page.getByTestId('rule-field').selectOption('pm25')
    await page.getByTestId('rule-op').selectOption('>')
    await page.getByTestId('rule-threshold').fill('10.5')
    await page.getByTestId('rule-device').fill('aq-firenze-nessuno')
    await page.getByTestId('rule-submit').click()
    await expect.poll(() => text('rule-error'), WAIT).toBe("nessun dispositivo con id 'aq-firenze-nessuno'")
    await page.getByTestId('rule-device').fill(station.id)
    await page.getByTestId('rule-submit').click()
    await expect.poll(() => page.getByTestId('rule-item').count(), WAIT).toBe(1)
    expect(await page.getByTestId('rule-item').locator('.rule-desc').textContent()).toBe(`PM2,5 > 10,5 µg/m³: dispositivo ${station.id}`)

    await page.getByTestId('tab-alerts').click()
    await publish(station, { ts: new Date().toISOString(), pm25: 23.4, pm10: 31.2 })
    const item = page.locator(`[data-testid="alert-item"][data-device-id="${station.id}"]`)
    await expect.poll(() => item.getAttribute('data-state'), WAIT).toBe('open')
    expect(await item.getByTestId('alert-message').textContent()).toBe('PM2,5 23,4 µg/m³ > 10,5 µg/m³ presso Viale Gramsci')
    await screenshot(page, 'italian-alert')
    // In English: the server's own sentence.
    await page.getByTestId('lang-en').click()
    await expect.poll(() => item.getByTestId('alert-message').textContent(), WAIT).toBe('PM2.5 23.4 µg/m³ > 10.5 µg/m³ at Viale Gramsci')
    await page.getByTestId('lang-it').click()
    await expect.poll(() => item.getByTestId('alert-message').textContent(), WAIT).toBe('PM2,5 23,4 µg/m³ > 10,5 µg/m³ presso Viale Gramsci')
  })
})
