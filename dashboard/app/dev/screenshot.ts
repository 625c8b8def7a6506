import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Page } from 'playwright-core'
import { startMockServer } from './mock-server.ts'

/**
 * Screenshot smoke run: builds the dashboard, serves dist with `vite preview` (or the dev server
 * with --dev) proxied to the mock API (mock-server.ts), logs in with headless Chromium and saves
 * PNGs of the map, the device panel and a city view. Exits non-zero when a check fails.
 *
 *   npx tsx dashboard/app/dev/screenshot.ts [--dev | --no-build] [--out DIR] [--style URL]
 *
 * --style sets config.mapStyleUrl (e.g. /api/mock-style.json, or a broken URL to see the fallback).
 */

const configFile = fileURLToPath(new URL('../../vite.config.ts', import.meta.url))
const outIndex = process.argv.indexOf('--out')
const outDir = outIndex > 0 ? process.argv[outIndex + 1]! : join(tmpdir(), 'piazza-dashboard-shots')
mkdirSync(outDir, { recursive: true })

const failures: string[] = []
const check = (ok: boolean, what: string) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`)
  if (!ok) failures.push(what)
}

const styleIndex = process.argv.indexOf('--style')
const mapStyleUrl = styleIndex > 0 ? process.argv[styleIndex + 1]! : null
const mock = await startMockServer({ devices: 600, mapStyleUrl })
// Read by vite.config.ts when vite loads it below.
process.env.PIAZZA_API = mock.url
const vite = await import('vite')
const dev = process.argv.includes('--dev')
let server: { close(): Promise<void>; resolvedUrls: { local: string[] } | null }
if (dev) {
  const s = await vite.createServer({ configFile, server: { port: 0, host: '127.0.0.1' }, logLevel: 'warn' })
  server = await s.listen()
} else {
  if (!process.argv.includes('--no-build')) await vite.build({ configFile, logLevel: 'warn' })
  server = await vite.preview({ configFile, preview: { port: 0, host: '127.0.0.1', strictPort: false } })
}
const base = server.resolvedUrls?.local[0] ?? 'http://127.0.0.1:4173/'

const profile = mkdtempSync(join(tmpdir(), 'piazza-chromium-'))
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1440, height: 900 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--enable-unsafe-swiftshader'],
})

const shot = async (page: Page, name: string) => {
  const file = join(outDir, `${name}.png`)
  await page.screenshot({ path: file })
  console.log(`     screenshot ${file}`)
}

try {
  const page = context.pages()[0] ?? (await context.newPage())
  page.on('pageerror', (e) => failures.push(`page error: ${e.message}`))
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') console.log(`     console.${m.type()}: ${m.text()}`)
  })

  await page.goto(base)
  await page.getByTestId('login-form').waitFor()

  // Wrong password: the server's message is shown.
  await page.getByLabel('Username').fill('operator')
  await page.getByLabel('Password').fill('wrong')
  await page.keyboard.press('Enter')
  await page.getByText('Wrong username or password.').waitFor({ timeout: 5000 })
  check(true, 'wrong password shows the API message')
  await shot(page, '0-login-error')

  await page.getByLabel('Password').fill('piazza')
  await page.keyboard.press('Enter')
  await page.locator('[data-testid="map"][data-ready="true"]').waitFor({ timeout: 20_000 })
  check(true, 'map loaded after login')
  await page.locator('[data-testid="live-status"][data-state="live"]').waitFor({ timeout: 10_000 })
  check(true, 'live stream connected')
  // Over a production style the labels come from its tiles (unless it failed and the offline style took over).
  if (!mapStyleUrl) check((await page.locator('.city-label').count()) === 10, 'ten city labels')
  // The subscribe snapshot colours devices at once, without waiting for their next reading.
  const rows = page.getByTestId('device-list-item')
  await page.waitForTimeout(300)
  const noData = await rows.filter({ hasText: 'No data yet' }).count()
  check(noData < (await rows.count()) / 4, `snapshot grades most listed devices (${noData} of ${await rows.count()} without data)`)
  check(Number(await page.getByTestId('map').getAttribute('data-device-count')) === mock.devices.length, 'all devices listed (paged)')
  const frames = async () => Number(await page.getByTestId('map').getAttribute('data-live-frames'))
  const framesBefore = await frames()
  await page.waitForTimeout(3000)
  check((await frames()) > framesBefore, `live frames reach the map (${framesBefore} → ${await frames()})`)
  await shot(page, '1-map')

  // Pick a device from the list, as a keyboard user would.
  await page.getByTestId('device-search').fill('air-quality firenze')
  const first = page.getByTestId('device-list-item').first()
  await first.focus()
  await page.keyboard.press('Enter')
  const panel = page.getByTestId('device-panel')
  await panel.waitFor()
  await page.locator('[data-testid="latest-value-pm25"][data-value]:not([data-value=""])').waitFor({ timeout: 10_000 })
  check(true, 'latest PM2.5 shown: ' + (await page.getByTestId('latest-value-pm25').innerText()).replace(/\s+/g, ' '))
  check((await page.getByTestId('device-connected').getAttribute('data-connected')) !== 'unknown', 'panel shows the connection')
  await page.locator('[data-testid="device-chart"][data-status="ready"]').waitFor({ timeout: 10_000 })
  const before = Number(await page.getByTestId('device-chart').getAttribute('data-points'))
  check(before > 10, `chart seeded from readings (${before} points)`)
  await page.waitForTimeout(7000)
  const after = Number(await page.getByTestId('device-chart').getAttribute('data-points'))
  check(after > before, `chart extended live (${before} → ${after} points)`)
  await shot(page, '2-panel')

  // City filter: the list narrows, the map flies there.
  await page.getByTestId('city-filter').selectOption('firenze')
  await page.getByTestId('device-search').fill('')
  await page.waitForTimeout(2500)
  const listed = await page.getByTestId('device-list-item').evaluateAll((els) => els.map((e) => e.getAttribute('data-device-id')))
  check(listed.length > 0 && listed.every((id) => id?.includes('firenze')), `city filter narrows the list (${listed.length})`)
  await shot(page, '3-firenze')

  await page.keyboard.press('Escape')
  await page.getByTestId('logout').click()
  await page.getByTestId('login-form').waitFor()
  check(true, 'logout returns to the login form')
} catch (e) {
  failures.push(String(e))
  console.error(e)
} finally {
  await context.close()
  rmSync(profile, { recursive: true, force: true })
  await server.close()
  await mock.close()
}

console.log(failures.length ? `\n${failures.length} failure(s):\n- ${failures.join('\n- ')}` : '\nall checks passed')
process.exit(failures.length ? 1 : 0)
