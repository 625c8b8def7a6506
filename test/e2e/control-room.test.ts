import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt from 'mqtt'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureDashboardBuilt } from '../../dashboard/build.ts'
import type { DeviceType } from '../../devices/kinds.ts'
import { cities } from '../../devices/region.ts'
import { openRegistryDatabase } from '../../devices/registry-store.ts'
import { launchBrowser, screenshot, type Browser } from '../../testkit/browser.ts'
import { ADMIN_PASSWORD, startStack, type Stack } from '../../testkit/stack.ts'

/**
 * A control room people can run a city from (issue 13), the staff app's usability in real
 * Chromium against the whole stack: a list of 5,000 devices that scrolls to every one of them,
 * city cards that set the filter, the legend out of the way on a phone, the live connection in
 * plain words, not-found pages (staff, public, widget), the public page for signed-in staff,
 * the health panel's expected count for a young device, "Log out" readable, a register form whose
 * errors go when fixed, the connection sheet warning about a loopback host, and the commissioning
 * banner for a device that went quiet. Readings go over real MQTT with each device's own login.
 */

const WAIT = { timeout: 20_000 }
/** Devices written straight into the registry before the stack starts (one add() each would take minutes). */
const BULK = 5000
const TYPES: DeviceType[] = ['air-quality', 'parking', 'traffic-counter', 'noise']
const STREETS = ['Via Roma', 'Viale dei Mille', 'Piazza Garibaldi', 'Lungarno Corsini', 'Via del Corso', 'Borgo San Frediano']
const LONG_NAME = 'Air-quality station Firenze, Lungarno Amerigo Vespucci at the corner of Ponte alla Carraia, north pavement'

let dataDir: string
let stack: Stack
let browser: Browser
let page: Page
let total = 0
const cityCount = new Map<string, number>()
/** The bulk devices' names by id, as registered. */
const bulkNames = new Map<string, string>()

beforeAll(async () => {
  await ensureDashboardBuilt()
  dataDir = mkdtempSync(join(tmpdir(), 'piazza-control-room-'))
  const db = openRegistryDatabase(join(dataDir, 'registry.db'))
  const insert = db.prepare(`INSERT INTO devices (id, type, name, city, lat, lon, interval, metadata, status, secret_hash, created_at, updated_at, created_by)
    VALUES (?, ?, ?, ?, ?, ?, 3600, '{}', 'active', 'bulk-no-login', ?, ?, 'test')`)
  const now = new Date().toISOString()
  db.transaction(() => {
    for (let i = 0; i < BULK; i++) {
      const city = cities[i % cities.length]!
      const type = TYPES[i % TYPES.length]!
      const name = i === 0 ? LONG_NAME : `${type === 'air-quality' ? 'Air station' : type === 'parking' ? 'Car park' : type === 'noise' ? 'Noise meter' : 'Counter'} ${city.name}, ${STREETS[i % STREETS.length]} ${i + 1}`
      const cityId = i === 0 ? 'firenze' : city.id
      bulkNames.set(`bulk-${String(i).padStart(5, '0')}`, name)
      insert.run(`bulk-${String(i).padStart(5, '0')}`, type, name, cityId, city.lat + ((i % 37) - 18) * 0.0004, city.lon + ((i % 41) - 20) * 0.0004, now, now)
      cityCount.set(cityId, (cityCount.get(cityId) ?? 0) + 1)
    }
  })()
  db.close()
  total = BULK
  stack = await startStack({ DATA_DIR: dataDir })
  browser = await launchBrowser({ locale: 'en-GB' })
  page = await browser.newPage({ width: 1440, height: 900 })
}, 240_000)

afterAll(async () => {
  await browser?.close()
  await stack?.stop()
  if (dataDir) rmSync(dataDir, { recursive: true, force: true })
})

async function register(input: { type: DeviceType; city: string; name: string; lat: number; lon: number; interval: number }) {
  const { device, secret } = await stack.registry.add(input, 'cli')
  total += 1
  cityCount.set(device.city, (cityCount.get(device.city) ?? 0) + 1)
  return { ...device, secret }
}

async function publishAs(d: { id: string; secret: string }, values: Record<string, number>): Promise<void> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${stack.mqttPort}`, { protocolVersion: 4, clientId: d.id, username: d.id, password: d.secret, reconnectPeriod: 0, connectTimeout: 10_000 })
  try {
    await client.publishAsync(`devices/${d.id}/telemetry`, JSON.stringify({ ts: Date.now(), ...values }), { qos: 1 })
  } finally {
    await client.endAsync()
  }
}

const listCount = (p: Page = page) => p.getByTestId('device-count').getAttribute('data-count').then(Number)

/** WCAG contrast of an element's text against the first ancestor with an opaque background. */
async function contrastOf(p: Page, selector: string): Promise<number> {
  return p.evaluate((sel) => {
    const parse = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number)
    const el = document.querySelector(sel) as HTMLElement
    const fg = parse(getComputedStyle(el).color)
    let node: HTMLElement | null = el
    let bg = [255, 255, 255]
    while (node) {
      const c = parse(getComputedStyle(node).backgroundColor)
      if (c.length >= 3 && (c[3] ?? 1) > 0.9) {
        bg = c
        break
      }
      node = node.parentElement
    }
    const lum = ([r, g, b]: number[]) =>
      [r!, g!, b!].map((v) => {
        const s = v / 255
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4
      }).reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i]!, 0)
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x)
    return (a! + 0.05) / (b! + 0.05)
  }, selector)
}

describe('a control room people can run a city from', () => {
  it('says "page not found" for an unknown staff address, after the login', async () => {
    await page.goto(`${stack.urls.http}/dashboard/nope/xyz`)
    await page.getByTestId('login-form').waitFor()
    await page.getByTestId('login-username').fill('admin')
    await page.getByTestId('login-password').fill(ADMIN_PASSWORD)
    await page.getByTestId('login-submit').click()
    await page.getByTestId('not-found').waitFor(WAIT)
    expect(await page.getByTestId('not-found-path').textContent()).toBe('/dashboard/nope/xyz')
    expect(await page.getByTestId('map').count()).toBe(0)
    await screenshot(page, 'control-not-found-staff')
    await page.getByTestId('not-found-map').click()
    await page.getByTestId('device-list').waitFor(WAIT)
    expect(new URL(page.url()).pathname).toBe('/dashboard')
  })

  it('lists every one of 5,000 devices with its full name, virtualised, and scrolling reaches each row', async () => {
    await expect.poll(() => listCount(), { timeout: 60_000 }).toBe(total)
    // Only the rows in view are in the page.
    expect(await page.getByTestId('device-list-item').count()).toBeLessThan(100)
    // A tall window: fewer scroll steps to walk the whole list.
    await page.setViewportSize({ width: 1440, height: 2000 })
    const seen = await page.evaluate(async () => {
      const scroller = document.querySelector<HTMLElement>('[data-testid="device-scroll"]')!
      const ids = new Map<string, string>()
      let maxRows = 0
      const frame = () => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))
      scroller.scrollTop = 0
      await frame()
      for (let guard = 0; guard < 100_000; guard++) {
        const rows = scroller.querySelectorAll<HTMLElement>('[data-testid="device-list-item"]')
        maxRows = Math.max(maxRows, rows.length)
        for (const r of rows) ids.set(r.dataset.deviceId!, r.querySelector('[data-testid="device-row-name"]')!.textContent!)
        if (scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 1) break
        scroller.scrollTop += scroller.clientHeight
        await frame()
      }
      return { distinct: ids.size, maxRows, names: [...ids] }
    })
    await page.setViewportSize({ width: 1440, height: 900 })
    expect(seen.distinct).toBe(total)
    // Every row reached showed its device's whole registered name.
    expect(new Map(seen.names)).toEqual(bulkNames)
    expect(seen.maxRows).toBeLessThan(150)

    // The long name is whole on its row (wrapped, never cut).
    await page.getByTestId('device-search').fill('Vespucci')
    await expect.poll(() => listCount(), WAIT).toBe(1)
    const name = page.getByTestId('device-row-name')
    expect(await name.textContent()).toBe(LONG_NAME)
    expect(await name.evaluate((el) => el.scrollWidth <= el.clientWidth && el.scrollHeight <= el.clientHeight + 1)).toBe(true)
    await page.getByTestId('device-search').fill('')
    await expect.poll(() => listCount(), WAIT).toBe(total)
    await screenshot(page, 'control-device-list')
  }, 300_000)

  it('sorts the list by name, city, type or problems first, and remembers the choice', async () => {
    const firstRow = () => page.getByTestId('device-list-item').first()
    await page.getByTestId('device-scroll').evaluate((el) => (el.scrollTop = 0))
    // By name (the default): "Air station Arezzo, …" comes first.
    await expect.poll(() => firstRow().getByTestId('device-row-name').textContent(), WAIT).toMatch(/^Air/)
    await page.getByTestId('device-sort').selectOption('city')
    await expect.poll(async () => (await firstRow().textContent()) ?? '', WAIT).toMatch(/· Arezzo/)
    await page.getByTestId('device-sort').selectOption('type')
    await expect.poll(async () => (await firstRow().textContent()) ?? '', WAIT).toMatch(/Air-quality station ·/)
    await page.reload()
    await page.getByTestId('device-list').waitFor(WAIT)
    expect(await page.getByTestId('device-sort').inputValue()).toBe('type')
    await page.getByTestId('device-sort').selectOption('name')
  })

  it('sets the city filter from a city card, and the region card clears it', async () => {
    await page.getByTestId('tab-cities').click()
    await page.locator('[data-testid="city-card"][data-city="pisa"]').click()
    await expect.poll(() => page.getByTestId('city-filter').inputValue(), WAIT).toBe('pisa')
    await expect.poll(() => listCount(), WAIT).toBe(cityCount.get('pisa'))
    await expect.poll(() => new URL(page.url()).searchParams.get('city'), WAIT).toBe('pisa')
    await expect.poll(() => page.getByTestId('map').getAttribute('data-device-count'), WAIT).toBe(String(cityCount.get('pisa')))
    expect(await page.locator('[data-testid="device-list-item"]').first().textContent()).toContain('Pisa')
    await screenshot(page, 'control-city-filter')
    await page.locator('[data-testid="city-card"][data-city="region"]').click()
    await expect.poll(() => page.getByTestId('city-filter').inputValue(), WAIT).toBe('')
    await expect.poll(() => listCount(), WAIT).toBe(total)
  })

  it('opens the legend on a desktop and keeps it closed on a phone', async () => {
    expect(await page.getByTestId('legend-toggle').getAttribute('aria-expanded')).toBe('true')
    const phone = await browser.newPage({ width: 390, height: 844 })
    await phone.goto(`${stack.urls.http}/dashboard`)
    await expect.poll(() => phone.getByTestId('map').getAttribute('data-ready'), { timeout: 60_000 }).toBe('true')
    expect(await phone.getByTestId('legend-toggle').getAttribute('aria-expanded')).toBe('false')
    expect(await phone.getByTestId('legend-scale').count()).toBe(0)
    await screenshot(phone, 'control-phone-map')
    await phone.getByTestId('legend-toggle').click()
    await phone.getByTestId('legend-scale').waitFor()
    await phone.close()
  })

  it('tells a connection the server cannot be reached in plain words, never "xhr poll error", then goes live', async () => {
    const p = await browser.newPage({ width: 1440, height: 900 })
    await p.route('**/socket.io/**', (route) => route.abort('connectionrefused'))
    await p.goto(`${stack.urls.http}/dashboard`)
    const badge = p.getByTestId('live-status')
    await expect.poll(() => badge.getAttribute('data-state'), WAIT).toBe('error')
    expect(await badge.getByRole('status').textContent()).toBe('Cannot reach the server, retrying')
    expect(await p.getByTestId('live-age').textContent()).toBe('· no live data yet')
    expect(await badge.textContent()).not.toMatch(/xhr|poll|websocket/i)
    await screenshot(p, 'control-connection-lost')
    await p.unroute('**/socket.io/**')
    await expect.poll(() => badge.getAttribute('data-state'), { timeout: 60_000 }).toBe('live')
    expect(await badge.textContent()).toBe('Live')
    await p.close()
  })

  it('counts the readings a young device owes since it was registered, not a full hour', async () => {
    const d = await register({ type: 'air-quality', city: 'siena', name: 'Piazza Salimbeni', lat: 43.3209, lon: 11.3317, interval: 60 })
    const created = Date.parse(d.createdAt)
    await publishAs(d, { pm25: 8, pm10: 14 })
    await publishAs(d, { pm25: 9, pm10: 15 })
    await page.goto(`${stack.urls.http}/dashboard?q=Salimbeni`)
    await expect.poll(() => listCount(), { timeout: 60_000 }).toBe(1)
    await page.getByTestId('device-list-item').click()
    const cell = page.getByTestId('device-readings-per-hour')
    await expect.poll(() => cell.textContent(), WAIT).toMatch(/^2 of \d+ expected \(registered \d+ s ago\)$/)
    const expected = Number(/of (\d+) expected/.exec((await cell.textContent())!)![1])
    expect(expected).toBeLessThanOrEqual(Math.floor((Date.now() - created) / 60_000))
    await screenshot(page, 'control-device-health')
    await page.getByTestId('device-panel-close').click()
    await page.getByTestId('device-search').fill('')
  })

  it('shows "Log out" with at least 4.5:1 contrast on the dashboard and the installer pages', async () => {
    expect(await contrastOf(page, '[data-testid="logout"]')).toBeGreaterThanOrEqual(4.5)
    await page.goto(`${stack.urls.http}/dashboard/installer`)
    await page.getByTestId('logout').waitFor(WAIT)
    expect(await contrastOf(page, '[data-testid="logout"]')).toBeGreaterThanOrEqual(4.5)
  })

  it('pages and searches the devices page on the server: 50 at a time, whatever the fleet', async () => {
    const range = page.getByTestId('installer-range')
    await expect.poll(() => range.getAttribute('data-total'), WAIT).toBe(String(total))
    expect(await range.textContent()).toBe(`1–50 of ${total.toLocaleString('en-GB')}`)
    expect(await page.getByTestId('installer-device-item').count()).toBe(50)
    await page.getByTestId('installer-next').click()
    await expect.poll(() => range.textContent(), WAIT).toBe(`51–100 of ${total.toLocaleString('en-GB')}`)
    await page.getByTestId('installer-search').fill('vespucci')
    await expect.poll(() => range.getAttribute('data-total'), WAIT).toBe('1')
    expect(await page.getByTestId('installer-device-item').textContent()).toContain(LONG_NAME)
    await screenshot(page, 'control-admin-devices')
  })

  it('clears a form error once its field is fixed, and warns that a loopback broker host is unreachable', async () => {
    const phone = await browser.newPage({ width: 390, height: 844 })
    await phone.goto(`${stack.urls.http}/dashboard/installer/register`)
    await phone.getByTestId('register-form').waitFor(WAIT)
    const error = phone.getByTestId('register-error')
    await phone.getByTestId('register-submit').click()
    await expect.poll(() => error.textContent(), WAIT).toMatch(/Give the device a name/)
    await phone.getByTestId('register-name').fill('Via Ghibellina 12')
    await expect.poll(() => error.textContent(), WAIT).toBe('')
    await phone.getByTestId('register-submit').click()
    await expect.poll(() => error.textContent(), WAIT).toMatch(/Set where the device stands/)
    await phone.getByTestId('register-lat').fill('43.7712')
    expect(await error.textContent()).toMatch(/Set where the device stands/)
    await phone.getByTestId('register-lon').fill('11.2601')
    await expect.poll(() => error.textContent(), WAIT).toBe('')
    await phone.getByTestId('register-submit').click()
    await phone.getByTestId('connection-sheet').waitFor(WAIT)
    expect(await phone.getByTestId('sheet-host').textContent()).toBe('127.0.0.1')
    expect(await phone.getByTestId('sheet-host-warning').textContent()).toMatch(/127\.0\.0\.1 is this server itself.*PUBLIC_HOST/)
    await screenshot(phone, 'control-sheet-loopback-phone')
    await phone.close()
    total += 1
  })

  it('tells a device that went quiet after its first reading, not "checking that they are plausible…"', async () => {
    const d = await register({ type: 'air-quality', city: 'lucca', name: 'Porta Elisa', lat: 43.8434, lon: 10.5138, interval: 1 })
    await publishAs(d, { pm25: 7, pm10: 12 })
    await page.goto(`${stack.urls.http}/dashboard/installer/devices/${d.id}`)
    const banner = page.getByTestId('commissioning-stage')
    await expect.poll(() => banner.getAttribute('data-stage'), WAIT).toBe('receiving')
    // Five silent intervals later (5 s), the banner says it stopped, with how long ago.
    await expect.poll(() => banner.getAttribute('data-silent'), WAIT).toBe('true')
    expect(await banner.textContent()).toMatch(/^No reading for \d+ s \(expected every 1 s\): the device stopped sending\./)
    await screenshot(page, 'control-commissioning-silent')
  })

  it('shows the public page to signed-in staff, with the way to the dashboard', async () => {
    await page.goto(`${stack.urls.http}/`)
    await page.getByTestId('city-title').waitFor(WAIT)
    const link = page.getByTestId('operators-link')
    expect(await link.getAttribute('href')).toBe('/dashboard')
    expect(await link.textContent()).toBe('Open the dashboard')
    await screenshot(page, 'control-public-for-staff')
  })

  it('answers unknown public addresses and unknown widget cities with a not-found page and status 404', async () => {
    const response = await page.goto(`${stack.urls.http}/nope/xyz`)
    expect(response?.status()).toBe(404)
    await page.getByTestId('not-found').waitFor(WAIT)
    expect(await page.getByTestId('not-found').textContent()).toMatch(/Page not found|Pagina non trovata/)
    expect(await page.getByTestId('not-found-home').getAttribute('href')).toBe('/')
    await screenshot(page, 'control-not-found-public')
    const widget = await page.goto(`${stack.urls.http}/widget/atlantis?lang=it`)
    expect(widget?.status()).toBe(404)
    await page.getByTestId('not-found').waitFor(WAIT)
    expect(await page.getByTestId('not-found').textContent()).toContain('Nessuna città “atlantis”.')
    await screenshot(page, 'control-not-found-widget')
  })

  it('looks right in the dark theme on a desktop and a phone', async () => {
    await page.goto(`${stack.urls.http}/dashboard`)
    await page.getByTestId('theme-toggle').click()
    await expect.poll(() => page.evaluate(() => document.documentElement.dataset.theme), WAIT).toBe('dark')
    await expect.poll(() => page.getByTestId('map').getAttribute('data-ready'), { timeout: 60_000 }).toBe('true')
    await expect.poll(() => listCount(), { timeout: 60_000 }).toBe(total)
    expect(await contrastOf(page, '[data-testid="logout"]')).toBeGreaterThanOrEqual(4.5)
    await screenshot(page, 'control-device-list-dark')
    const phone = await browser.newPage({ width: 390, height: 844 })
    await phone.goto(`${stack.urls.http}/dashboard`)
    await expect.poll(() => phone.getByTestId('map').getAttribute('data-ready'), { timeout: 60_000 }).toBe('true')
    expect(await phone.getByTestId('legend-toggle').getAttribute('aria-expanded')).toBe('false')
    await screenshot(phone, 'control-phone-map-dark')
    await phone.close()
    await page.getByTestId('theme-toggle').click()
  })
})
