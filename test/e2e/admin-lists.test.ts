import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureDashboardBuilt } from '../../dashboard/build.ts'
import type { DeviceType } from '../../devices/kinds.ts'
import { cities } from '../../devices/region.ts'
import { openRegistryDatabase } from '../../devices/registry-store.ts'
import { launchBrowser, screenshot, type Browser } from '../../testkit/browser.ts'
import { ADMIN_PASSWORD, startStack, type Stack } from '../../testkit/stack.ts'

/**
 * Lists that scale (issue 13), in real Chromium against the whole stack with 5,000 registered
 * devices: the admins' device page searched, sorted (names in natural order) and paged by the
 * server up to its last device; the users page as a searchable table with its create form; every
 * list page in the dashboard's design, light and dark, on a desktop and a 390 px phone, never
 * wider than the phone.
 */

const WAIT = { timeout: 30_000 }
const BULK = 5000
const TYPES: DeviceType[] = ['air-quality', 'parking', 'traffic-counter', 'noise']
/** Twelve stations on one street: their natural order is #1, #2, … #12 (a text sort gives #1, #10, #11, #12, #2). */
const GRAMSCI = Array.from({ length: 12 }, (_, i) => `Firenze – Viale Gramsci #${i + 1}`)
/** The last two names of the fleet in natural order ("Volterra" after every bulk name, "#10" after "#9"). */
const LAST = ['Volterra – Viale dei Ponti #9', 'Volterra – Viale dei Ponti #10']

let dataDir: string
let stack: Stack
let browser: Browser
let page: Page
const names = new Map<string, string>()

beforeAll(async () => {
  await ensureDashboardBuilt()
  dataDir = mkdtempSync(join(tmpdir(), 'piazza-admin-lists-'))
  const db = openRegistryDatabase(join(dataDir, 'registry.db'))
  const insert = db.prepare(`INSERT INTO devices (id, type, name, city, lat, lon, interval, metadata, status, secret_hash, created_at, updated_at, created_by)
    VALUES (?, ?, ?, ?, ?, ?, 3600, '{}', 'active', 'bulk-no-login', ?, ?, 'test')`)
  const now = new Date().toISOString()
  // Written in an order that is neither the name order nor the id order of the special names.
  const special = [...LAST].reverse().concat([...GRAMSCI].reverse())
  db.transaction(() => {
    for (let i = 0; i < BULK; i++) {
      const city = cities[i % cities.length]!
      const type = TYPES[i % TYPES.length]!
      const name = special[i] ?? `${type === 'air-quality' ? 'Air station' : type === 'parking' ? 'Car park' : type === 'noise' ? 'Noise meter' : 'Counter'} ${city.name}, Via Roma ${i + 1}`
      const id = `bulk-${String(i).padStart(5, '0')}`
      insert.run(id, type, name, city.id, city.lat + ((i % 37) - 18) * 0.0004, city.lon + ((i % 41) - 20) * 0.0004, now, now)
      names.set(id, name)
    }
  })()
  db.close()
  stack = await startStack({ DATA_DIR: dataDir })
  browser = await launchBrowser({ locale: 'en-GB' })
  page = await browser.newPage({ width: 1440, height: 900 })
  await page.goto(`${stack.urls.http}/dashboard/installer`)
  await page.getByTestId('login-form').waitFor(WAIT)
  await page.getByTestId('login-username').fill('admin')
  await page.getByTestId('login-password').fill(ADMIN_PASSWORD)
  await page.getByTestId('login-submit').click()
  await page.getByTestId('current-user').waitFor(WAIT)
}, 240_000)

afterAll(async () => {
  await browser?.close()
  await stack?.stop()
  if (dataDir) rmSync(dataDir, { recursive: true, force: true })
})

const range = (p: Page = page) => p.getByTestId('installer-range')
const rowNames = (p: Page = page) => p.getByTestId('installer-device-item').allTextContents()

/** The page is never wider than the window (a table scrolls inside its card). */
const pageFits = (p: Page) => p.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)

async function setTheme(p: Page, theme: 'light' | 'dark') {
  await p.evaluate((t) => localStorage.setItem('piazza-theme', t), theme)
  await p.reload()
  await expect.poll(() => p.evaluate(() => document.documentElement.dataset.theme), WAIT).toBe(theme)
}

describe("the admins' device page", () => {
  it('shows every device a page at a time, in natural name order, with full names', async () => {
    await expect.poll(() => range().getAttribute('data-total'), WAIT).toBe(String(BULK))
    expect(await range().textContent()).toBe('1–50 of 5,000')
    expect(await page.getByTestId('installer-device-item').count()).toBe(50)
    expect(await page.getByTestId('sort-name').getAttribute('data-active')).toBe('true')
    const first = await rowNames()
    // Whole names, and in the order a reader expects.
    for (const n of first) expect([...names.values()]).toContain(n)
    // Air stations stand in Firenze every 20th device (21, 41, …): 101 after 81, as read, not as text.
    expect(first.slice(0, 5)).toEqual([21, 41, 61, 81, 101].map((n) => `Air station Firenze, Via Roma ${n}`))
  })

  it('searches on the server: the page asks for the words, the total narrows', async () => {
    const asked = page.waitForRequest((r) => r.url().includes('/api/devices?') && new URL(r.url()).searchParams.get('search') === 'gramsci')
    await page.getByTestId('installer-search').fill('gramsci')
    await asked
    await expect.poll(() => range().getAttribute('data-total'), WAIT).toBe('12')
    // Natural order: #2 before #10.
    expect(await rowNames()).toEqual(GRAMSCI)
    await page.getByTestId('sort-name').click()
    await expect.poll(() => rowNames(), WAIT).toEqual([...GRAMSCI].reverse())
    await page.getByTestId('sort-name').click()
    await expect.poll(() => rowNames(), WAIT).toEqual(GRAMSCI)
    await screenshot(page, 'admin-devices-search')
    await page.getByTestId('installer-search').fill('')
    await expect.poll(() => range().getAttribute('data-total'), WAIT).toBe(String(BULK))
  })

  it('pages to the last device, and a search or a new order starts again at the first page', async () => {
    await page.getByTestId('installer-next').click()
    await expect.poll(() => range().textContent(), WAIT).toBe('51–100 of 5,000')
    await page.getByTestId('installer-last').click()
    await expect.poll(() => range().textContent(), WAIT).toBe('4,951–5,000 of 5,000')
    const last = await rowNames()
    expect(last.slice(-2)).toEqual(LAST)
    expect(await page.getByTestId('installer-next').isDisabled()).toBe(true)
    // By id, descending: the newest bulk id first.
    await page.getByTestId('sort-id').click()
    await expect.poll(() => range().textContent(), WAIT).toBe('1–50 of 5,000')
    await page.getByTestId('sort-id').click()
    await expect.poll(async () => (await page.getByTestId('installer-device-item').first().getAttribute('data-device-id')) ?? '', WAIT).toBe('bulk-04999')
    await page.getByTestId('sort-name').click()
    await expect.poll(async () => (await rowNames())[0], WAIT).toBe('Air station Firenze, Via Roma 21')
  })

  it('reads in Italian with the language switch, numbers included', async () => {
    await page.getByTestId('lang-it').click()
    // Italian groups thousands from five digits: 5000, 15.000.
    await expect.poll(() => range().textContent(), WAIT).toBe('1–50 di 5000')
    expect(await page.getByTestId('nav-devices').textContent()).toBe('Dispositivi')
    expect(await page.getByTestId('sort-city').textContent()).toContain('Città')
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('it')
    await screenshot(page, 'admin-devices-it')
    await page.getByTestId('lang-en').click()
    await expect.poll(() => range().textContent(), WAIT).toBe('1–50 of 5,000')
  })
})

describe("the admins' users page", () => {
  it('creates a user with the shared form, then finds them by search, sorted and counted by the server', async () => {
    await page.getByTestId('nav-users').click()
    await page.getByTestId('user-create-form').waitFor(WAIT)
    await expect.poll(() => page.getByTestId('users-range').getAttribute('data-total'), WAIT).toBe('1')
    await page.getByTestId('user-create-submit').click()
    await expect.poll(() => page.getByTestId('user-create-error').textContent(), WAIT).toBe('Give a username.')
    for (const [name, role] of [['tecnico10', 'installer'], ['tecnico2', 'operator']] as const) {
      await page.getByTestId('user-username').fill(name)
      await page.getByTestId('user-password').fill('a-long-password-1')
      await page.getByTestId('user-role').selectOption(role)
      if (role === 'installer') await page.getByTestId('user-city-pisa').check()
      await page.getByTestId('user-create-submit').click()
      await page.locator(`[data-testid="user-item"][data-username="${name}"]`).waitFor(WAIT)
    }
    expect(await page.getByTestId('users-notice').textContent()).toBe('Created tecnico2 (Operator).')
    expect(await page.locator('[data-testid="user-item"][data-username="tecnico10"]').textContent()).toContain('Cities: Pisa')
    await page.getByTestId('users-search').fill('tecnico')
    await expect.poll(() => page.getByTestId('users-range').getAttribute('data-total'), WAIT).toBe('2')
    const order = () => page.getByTestId('user-item').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-username')))
    expect(await order()).toEqual(['tecnico2', 'tecnico10'])
    await page.getByTestId('sort-username').click()
    await expect.poll(order, WAIT).toEqual(['tecnico10', 'tecnico2'])
    await page.getByTestId('users-role-filter').selectOption('installer')
    await expect.poll(order, WAIT).toEqual(['tecnico10'])
    await page.getByTestId('users-role-filter').selectOption('')
    await page.getByTestId('users-search').fill('')
    await expect.poll(() => page.getByTestId('users-range').getAttribute('data-total'), WAIT).toBe('3')
  })
})

describe('every list in the dashboard’s design, light and dark, desktop and phone', () => {
  const pages = [
    { name: 'device-list', path: '/dashboard', ready: async (p: Page) => expect.poll(() => p.getByTestId('device-count').getAttribute('data-count'), { timeout: 60_000 }).toBe(String(BULK)) },
    { name: 'admin-devices', path: '/dashboard/installer', ready: async (p: Page) => expect.poll(() => range(p).getAttribute('data-total'), WAIT).toBe(String(BULK)) },
    { name: 'admin-users', path: '/dashboard/admin/users', ready: async (p: Page) => p.getByTestId('users-table').waitFor(WAIT) },
    { name: 'admin-contact-points', path: '/dashboard/admin/notifications', ready: async (p: Page) => p.getByTestId('cp-create-form').waitFor(WAIT) },
  ]

  it('draws each page in both themes on a 1440 px desktop and a 390 px phone, never wider than the phone', async () => {
    const phone = await browser.newPage({ width: 390, height: 844 })
    try {
      for (const theme of ['light', 'dark'] as const) {
        for (const [device, p] of [['desktop', page], ['phone', phone]] as const) {
          for (const target of pages) {
            await p.goto(`${stack.urls.http}${target.path}`)
            if (p.url() !== `${stack.urls.http}${target.path}` || (await p.evaluate(() => document.documentElement.dataset.theme)) !== theme) await setTheme(p, theme)
            await target.ready(p)
            expect(await p.evaluate(() => document.documentElement.dataset.theme)).toBe(theme)
            if (target.name !== 'device-list') {
              // The installer pages wear the dashboard's top bar and its colours.
              const bar = await p.locator('header.topbar').evaluate((el) => getComputedStyle(el).backgroundColor)
              expect(bar).toBe(theme === 'dark' ? 'rgb(9, 17, 26)' : 'rgb(22, 50, 79)')
            }
            expect(await pageFits(p), `${target.name} ${theme} ${device} is wider than the window`).toBe(true)
            await screenshot(p, `lists-${target.name}-${theme}-${device}`)
          }
        }
      }
    } finally {
      await phone.close()
      await setTheme(page, 'light')
    }
  }, 300_000)
})
