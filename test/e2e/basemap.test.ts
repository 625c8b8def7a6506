import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureDashboardBuilt } from '../../dashboard/build.ts'
import { launchBrowser, screenshot, type Browser } from '../../testkit/browser.ts'
import { buildPmtilesArchive, sampleFlorenceLayers } from '../../testkit/pmtiles-archive.ts'
import { ADMIN_PASSWORD, startStack, type Stack } from '../../testkit/stack.ts'

/**
 * Base maps in real Chromium, on the whole stack: self-hosted vector tiles from a PMTiles archive
 * the test builds (read through the pmtiles protocol with range requests, drawn with their names),
 * the outline with its note when nothing is configured, and the hand-over down the chain when the
 * configured maps fail (a style URL nobody answers, an archive that is not one).
 */

const WAIT = { timeout: 30_000 }
/** A name that exists only in the test's archive (testkit/pmtiles-archive.ts). */
const ARCHIVE_PLACE = 'Borgo Piazzetta'

let dir: string
let browser: Browser
let closedPort: Server

beforeAll(async () => {
  await ensureDashboardBuilt()
  dir = mkdtempSync(join(tmpdir(), 'piazza-basemap-'))
  writeFileSync(join(dir, 'toscana.pmtiles'), buildPmtilesArchive({ layers: sampleFlorenceLayers(), maxZoom: 12 }).bytes)
  writeFileSync(join(dir, 'broken.pmtiles'), Buffer.from('this is not a PMTiles archive, only its name is'))
  browser = await launchBrowser({ locale: 'it-IT' })
}, 240_000)

afterAll(async () => {
  await browser?.close()
  closedPort?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

async function withStack(env: Record<string, string>, fn: (stack: Stack) => Promise<void>): Promise<void> {
  const stack = await startStack(env)
  try {
    await stack.registry.add({ type: 'air-quality', city: 'firenze', name: 'Viale Gramsci', lat: 43.7745, lon: 11.2668 })
    await fn(stack)
  } finally {
    await stack.stop()
  }
}

async function operatorsMap(stack: Stack): Promise<Page> {
  const page = await browser.newPage()
  await page.goto(`${stack.urls.http}/dashboard`)
  await page.getByTestId('login-username').fill('admin')
  await page.getByTestId('login-password').fill(ADMIN_PASSWORD)
  await page.getByTestId('login-submit').click()
  await expect.poll(() => page.getByTestId('map').getAttribute('data-ready'), WAIT).toBe('true')
  return page
}

async function publicMap(stack: Stack): Promise<Page> {
  const page = await browser.newPage({ width: 1200, height: 900 })
  await page.goto(`${stack.urls.http}/`)
  await page.getByTestId('map-section').scrollIntoViewIfNeeded({ timeout: 30_000 })
  await expect.poll(() => page.getByTestId('map').getAttribute('data-ready'), WAIT).toBe('true')
  return page
}

describe('self-hosted vector tiles (MAP_PMTILES_FILE)', () => {
  it('draws the archive on the operators map and the public map, read with range requests through the pmtiles protocol', async () => {
    await withStack({ MAP_PMTILES_FILE: join(dir, 'toscana.pmtiles') }, async (stack) => {
      const page = await operatorsMap(stack)
      const ranges: { range: string | undefined; status: number }[] = []
      page.on('response', (response) => {
        if (new URL(response.url()).pathname === '/tiles/base.pmtiles') ranges.push({ range: response.request().headers().range, status: response.status() })
      })
      const map = page.getByTestId('map')
      expect(await map.getAttribute('data-basemap')).toBe('pmtiles')
      // Names the map really drew from the archive's tiles (queried from the rendered features).
      await expect.poll(() => map.getAttribute('data-basemap-names'), WAIT).toContain(ARCHIVE_PLACE)
      expect(await page.getByTestId('basemap-note').count()).toBe(0)
      expect(await page.locator('.maplibregl-ctrl-attrib').textContent()).toContain('OpenStreetMap')
      await screenshot(page, 'basemap-pmtiles-operators')

      // Zoomed in, road names are drawn too; every new tile is a range request answered 206.
      await page.goto(`${stack.urls.http}/dashboard?map=11.2500,43.7700,13`)
      await expect.poll(() => page.getByTestId('map').getAttribute('data-ready'), WAIT).toBe('true')
      await expect.poll(() => page.getByTestId('map').getAttribute('data-basemap-names'), WAIT).toMatch(/Viale dei Mille|Autostrada del Sole/)
      expect(ranges.length).toBeGreaterThan(0)
      expect(ranges.every((r) => r.range?.startsWith('bytes=') && r.status === 206)).toBe(true)

      // The installers' "tap where the device stands" picker draws the same base map.
      await page.goto(`${stack.urls.http}/dashboard/installer/register`)
      const picker = page.getByTestId('register-map')
      await expect.poll(() => picker.getAttribute('data-ready'), WAIT).toBe('true')
      expect(await picker.getAttribute('data-basemap')).toBe('pmtiles')
      await expect.poll(() => picker.getAttribute('data-basemap-names'), WAIT).toContain(ARCHIVE_PLACE)
      await screenshot(page, 'basemap-pmtiles-installer')
      await page.close()

      const citizens = await publicMap(stack)
      const publicMapEl = citizens.getByTestId('map')
      expect(await publicMapEl.getAttribute('data-basemap')).toBe('pmtiles')
      await expect.poll(() => publicMapEl.getAttribute('data-basemap-names'), WAIT).toContain(ARCHIVE_PLACE)
      expect(await citizens.getByTestId('basemap-note').count()).toBe(0)
      await screenshot(citizens, 'basemap-pmtiles-public')
      await citizens.close()
    })
  }, 180_000)
})

describe('the outline, last', () => {
  it('says so on the map when no street map is configured, in the page language', async () => {
    await withStack({}, async (stack) => {
      const page = await operatorsMap(stack)
      expect(await page.getByTestId('map').getAttribute('data-basemap')).toBe('outline')
      // The browser is Italian: the operators' page is too.
      await expect.poll(() => page.getByTestId('basemap-note').textContent(), WAIT).toBe('Contorno offline: nessuna mappa stradale configurata')
      await screenshot(page, 'basemap-outline-operators')
      await page.close()

      const citizens = await publicMap(stack)
      expect(await citizens.getByTestId('map').getAttribute('data-basemap')).toBe('outline')
      await expect.poll(() => citizens.getByTestId('basemap-note').textContent(), WAIT).toBe('Contorno offline: nessuna mappa stradale configurata')
      await citizens.close()
    })
  }, 180_000)

  it('takes over when the configured maps fail: a style URL nobody answers, then an archive that is not one', async () => {
    // A port that was free a moment ago: connections to it are refused at once.
    closedPort = createServer()
    await new Promise<void>((resolve) => closedPort.listen(0, '127.0.0.1', resolve))
    const port = (closedPort.address() as { port: number }).port
    await new Promise<void>((resolve) => closedPort.close(() => resolve()))
    await withStack({ MAP_STYLE_URL: `http://127.0.0.1:${port}/style.json`, MAP_PMTILES_FILE: join(dir, 'broken.pmtiles') }, async (stack) => {
      const page = await browser.newPage()
      const asked: string[] = []
      page.on('request', (request) => asked.push(new URL(request.url()).pathname))
      await page.goto(`${stack.urls.http}/dashboard`)
      await page.getByTestId('login-username').fill('admin')
      await page.getByTestId('login-password').fill(ADMIN_PASSWORD)
      await page.getByTestId('login-submit').click()
      const map = page.getByTestId('map')
      await expect.poll(() => map.getAttribute('data-basemap'), WAIT).toBe('outline')
      await expect.poll(() => page.getByTestId('basemap-note').textContent(), WAIT).toBe('Contorno offline: impossibile caricare la mappa stradale')
      expect(asked).toContain('/style.json')
      expect(asked).toContain('/tiles/base.pmtiles')
      // The devices are still drawn on the outline.
      await expect.poll(() => map.getAttribute('data-ready'), WAIT).toBe('true')
      await expect.poll(() => map.getAttribute('data-rendered-devices'), WAIT).toBe('1')
      await page.close()

      const citizens = await publicMap(stack)
      await expect.poll(() => citizens.getByTestId('map').getAttribute('data-basemap'), WAIT).toBe('outline')
      await expect.poll(() => citizens.getByTestId('basemap-note').textContent(), WAIT).toBe('Contorno offline: impossibile caricare la mappa stradale')
      await citizens.close()
    })
  }, 180_000)
})
