import { existsSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import mqtt, { type MqttClient } from 'mqtt'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { ensureDashboardBuilt } from '../../dashboard/build.ts'
import { launchBrowser, screenshot, type Browser } from '../../testkit/browser.ts'
import { LAYOUT_SHIFT_OBSERVER, layoutShifts, publicSectionsDrawn, scrollToBottom, sumShifts } from '../../testkit/layout-shift.ts'
import { startStack, type Stack } from '../../testkit/stack.ts'

/**
 * The citizens' pages as a visitor sees them: real Chromium (Italian and English browsers), the
 * whole stack, a week of readings published over real MQTT with each station's own credentials,
 * then one more reading that pushes PM2.5 into a worse band while the page is open.
 */

/** How long a wait for the page may take: a deadline for a busy machine, not an expected time. */
const WAIT = { timeout: 20_000 }
const PHONE = { width: 390, height: 844 }
const DESKTOP = { width: 1400, height: 1000 }
const MINUTE = 60_000
const INTERVAL_S = 600 // the stations report every 10 minutes: 6 readings an hour, 5 needed
const WEEK_READINGS = (7 * 24 * 60) / 10

interface Station {
  id: string
  secret: string
  client: MqttClient
}

let stack: Stack
let seededAt: number
const stations: Record<string, Station> = {}

/** Smooth, plausible values: Fair air in Firenze (PM2.5 ≈ 12 µg/m³ now), Good air in Pisa. */
function reading(city: 'firenze' | 'pisa', offset: number, ts: number) {
  const wave = Math.sin(ts / 3_600_000 / 24 * 2 * Math.PI)
  if (city === 'pisa') return { ts, pm25: 3 + wave, pm10: 9 + 2 * wave, no2: 7 + 2 * wave, o3: 45 + 8 * wave, so2: 2, co: 0.2 }
  return { ts, pm25: round(12 + offset + 1.5 * wave), pm10: round(22 + 4 * wave), no2: round(20 + 3 * wave), o3: round(48 + 8 * wave), so2: 3, co: 0.4 }
}
const round = (v: number) => Math.round(v * 10) / 10

async function connect(id: string, secret: string): Promise<MqttClient> {
  const client = mqtt.connect(stack.urls.mqtt, { protocolVersion: 4, clientId: id, username: id, password: secret, reconnectPeriod: 0, connectTimeout: 5000 })
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve())
    client.once('error', reject)
  })
  return client
}

async function publish(station: Station, readings: object[]): Promise<void> {
  for (let i = 0; i < readings.length; i += 500) {
    await station.client.publishAsync(`devices/${station.id}/telemetry`, JSON.stringify(readings.slice(i, i + 500)), { qos: 1 })
  }
}

async function json(path: string): Promise<any> {
  const response = await fetch(`${stack.urls.http}${path}`)
  return response.ok ? response.json() : undefined
}

beforeAll(async () => {
  await ensureDashboardBuilt().catch((err: unknown) => {
    // These pages need only the citizens' build; a broken operators' build is the dashboard test's to report.
    if (!existsSync(new URL('../../dashboard/dist/public/public.html', import.meta.url))) throw err
    console.warn(String(err).split('\n')[0])
  })
  // The stations backfill 30 days in batches, far above their interval's quota: quotas off here.
  stack = await startStack()
  const add = async (key: string, city: string, name: string, lat: number, lon: number) => {
    const { device, secret } = await stack.registry.add({ type: 'air-quality', city, name, lat, lon, interval: INTERVAL_S })
    stations[key] = { id: device.id, secret, client: await connect(device.id, secret) }
  }
  await add('gramsci', 'firenze', 'Viale Gramsci', 43.7745, 11.2668)
  await add('boboli', 'firenze', 'Giardino di Boboli', 43.7625, 11.2481)
  await add('pisa', 'pisa', 'Lungarno Pacinotti', 43.7168, 10.4003)
  await add('lucca', 'lucca', 'Porta Elisa', 43.8436, 10.5119)

  // A week of readings every 10 minutes, newest now, over MQTT in batches.
  seededAt = Date.now()
  const week = (city: 'firenze' | 'pisa', offset: number) =>
    Array.from({ length: WEEK_READINGS }, (_, k) => reading(city, offset, seededAt - (WEEK_READINGS - 1 - k) * 10 * MINUTE))
  await publish(stations.gramsci!, week('firenze', 0))
  await publish(stations.boboli!, week('firenze', -4))
  await publish(stations.pisa!, week('pisa', 0))
  // Lucca's station went quiet 40 minutes ago (stale after 3 intervals = 30 minutes): clean air, but no index.
  await publish(stations.lucca!, week('pisa', 0).filter((r) => r.ts < seededAt - 40 * MINUTE))

  // The snapshots pick the readings up as they arrive: wait until both cities have an index and a history.
  // Polled gently: the public API allows 1200 requests a minute per address, and the pages below need their share.
  await vi.waitFor(
    async () => {
      const [f, p, h] = await Promise.all([json('/api/public/air-quality?city=firenze'), json('/api/public/air-quality?city=pisa'), json('/api/public/air-quality/history?city=firenze')])
      expect({ firenze: f?.items[0].index.value, pisa: p?.items[0].index.value }).toEqual({ firenze: 2, pisa: 1 })
      expect(h?.hours.filter((x: { index: number | null }) => x.index !== null).length).toBeGreaterThan(100)
    },
    { timeout: 60_000, interval: 500 },
  )
}, 240_000)

afterAll(async () => {
  await Promise.all(Object.values(stations).map((s) => s.client.endAsync()))
  await stack?.stop()
})

async function openPage(browser: Browser, viewport: { width: number; height: number }, path = '/'): Promise<Page> {
  const page = await browser.newPage(viewport)
  await page.goto(`${stack.urls.http}${path}`)
  await page.getByTestId('aqi-card').waitFor()
  return page
}

/** Scrolls the charts and the map into view and waits until both have drawn. */
async function showChartsAndMap(page: Page) {
  await page.getByTestId('charts-section').scrollIntoViewIfNeeded()
  await page.getByTestId('charts').waitFor({ timeout: 30_000 })
  await expect.poll(() => page.getByTestId('charts').getAttribute('data-ready'), { timeout: 30_000 }).toBe('true')
  await expect.poll(() => page.locator('.recharts-bar-rectangle').count(), WAIT).toBeGreaterThan(10)
  await page.getByTestId('map-section').scrollIntoViewIfNeeded()
  const map = page.getByTestId('map')
  await expect.poll(() => map.getAttribute('data-ready'), { timeout: 30_000 }).toBe('true')
  await expect.poll(() => page.locator('.station-marker').count(), WAIT).toBeGreaterThan(0)
}

/** The on-screen boxes of the map's markers and groups, to check that none overlaps another. */
async function markerBoxes(page: Page) {
  const boxes = await page.locator('.station-marker, .station-cluster').evaluateAll((els) =>
    els.map((el) => {
      const r = el.getBoundingClientRect()
      return { left: r.left, top: r.top, right: r.right, bottom: r.bottom }
    }),
  )
  const overlaps = boxes.filter((a, i) => boxes.some((b, j) => j > i && a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom))
  return { count: boxes.length, overlaps: overlaps.length }
}

describe('the public page in an Italian browser', () => {
  let browser: Browser
  let page: Page
  beforeAll(async () => {
    browser = await launchBrowser({ locale: 'it-IT' })
    page = await openPage(browser, PHONE)
  })
  afterAll(async () => browser?.close())

  it('is in Italian by default, with the index now, in colour, word and number, and its cause', async () => {
    expect(await page.locator('html').getAttribute('lang')).toBe('it')
    expect(await page.getByTestId('city-title').textContent()).toBe('Aria a Firenze')
    const card = page.getByTestId('aqi-card')
    await expect.poll(() => card.getAttribute('data-level'), WAIT).toBe('2')
    expect(await page.getByTestId('aqi-band').textContent()).toBe('Discreta')
    expect(await page.getByTestId('aqi-value').textContent()).toBe('2')
    expect(await page.getByTestId('aqi-pollutant').getAttribute('data-pollutant')).toBe('pm25')
    expect(await page.getByTestId('aqi-pollutant').textContent()).toContain('PM2,5')
    expect(await page.getByTestId('advice-general').textContent()).toContain('attività all’aperto')
    expect(await page.getByTestId('last-update').textContent()).toMatch(/Ultimo aggiornamento: .*\d{2}:\d{2}/)
    // Colour is never the only signal: the band is written in the pollutant rows too.
    expect(await page.getByTestId('pollutant-pm25').textContent()).toContain('Discreta')
    expect(await page.getByTestId('license').textContent()).toContain('CC BY 4.0')
    // Screen readers hear the whole index in one sentence.
    expect(await page.locator('.index-card [aria-live]').textContent()).toMatch(/Discreta, 2 su 6\. Inquinante che determina l’indice: Particolato fine/)
    await screenshot(page, 'public-phone-it')
  })

  it('chooses another city with the keyboard and remembers it', async () => {
    const select = page.getByTestId('city-select')
    await select.focus()
    await select.selectOption('pisa')
    await expect.poll(() => page.getByTestId('city-title').textContent(), WAIT).toBe('Aria a Pisa')
    await expect.poll(() => page.getByTestId('aqi-card').getAttribute('data-level'), WAIT).toBe('1')
    expect(await page.getByTestId('aqi-band').textContent()).toBe('Buona')
    expect(new URL(page.url()).searchParams.get('city')).toBe('pisa')
    await page.reload()
    await expect.poll(() => page.getByTestId('city-title').textContent(), WAIT).toBe('Aria a Pisa')
    await select.selectOption('firenze')
    await expect.poll(() => page.getByTestId('aqi-card').getAttribute('data-level'), WAIT).toBe('2')
  })

  it('shows a city whose station has gone quiet as out of date, never as good', async () => {
    await page.getByTestId('city-select').selectOption('lucca')
    const card = page.getByTestId('aqi-card')
    await expect.poll(() => card.getAttribute('data-status'), WAIT).toBe('stale')
    expect(await card.getAttribute('data-level')).toBe('')
    expect(await page.getByTestId('aqi-band').textContent()).toBe('Indice non disponibile')
    expect(await page.getByTestId('aqi-message').textContent()).toMatch(/^Dati non aggiornati: le stazioni non inviano misure dalle /)
    expect(await page.getByTestId('advice').count()).toBe(0)
    expect(await page.getByTestId('station-list').textContent()).toContain('dati non aggiornati')
    await screenshot(page, 'public-phone-it-stale')
    await page.getByTestId('city-select').selectOption('firenze')
    await expect.poll(() => card.getAttribute('data-level'), WAIT).toBe('2')
  })

  it('draws the last 24 hours and 7 days, and the stations on a map coloured by band', async () => {
    await showChartsAndMap(page)
    expect(await page.getByTestId('station').count()).toBe(2)
    expect(await page.getByTestId('station-list').textContent()).toContain('Viale Gramsci')
    // Numbered markers, the numbers those of the list, the name and band said to screen readers.
    const number = String((await page.getByTestId('station').evaluateAll((els) => els.map((e) => e.getAttribute('data-station')))).indexOf(stations.gramsci!.id) + 1)
    const marker = page.locator(`.station-marker[data-station="${stations.gramsci!.id}"]`)
    expect(await marker.textContent()).toBe(number)
    expect(await marker.getAttribute('aria-label')).toBe(`${number}. Apri la stazione Viale Gramsci: Discreta (2)`)
    expect(await markerBoxes(page)).toEqual({ count: 2, overlaps: 0 })
    await page.getByTestId('charts-section').scrollIntoViewIfNeeded()
    await screenshot(page, 'public-phone-it-charts')
    await page.getByTestId('station-list').evaluate((el) => el.scrollIntoView({ block: 'end' }))
    await screenshot(page, 'public-phone-it-map')
  })

  it('groups markers that would overlap when zoomed out, and a tap on the group zooms in to its stations', async () => {
    await page.getByTestId('map-section').scrollIntoViewIfNeeded()
    const map = page.getByTestId('map')
    // Zoom out until Firenze's two stations (2 km apart) would overlap: one group of 2, nothing overlapping.
    await expect
      .poll(
        async () => {
          if ((await page.locator('.station-cluster').count()) === 0) await map.locator('.maplibregl-ctrl-zoom-out').click()
          return page.locator('.station-cluster').count()
        },
        { timeout: 30_000, interval: 500 },
      )
      .toBe(1)
    expect(await page.locator('.station-cluster').textContent()).toBe('2')
    expect(await page.locator('.station-cluster').getAttribute('aria-label')).toMatch(/^2 stazioni vicine: ingrandisci: 1\. .*, 2\. /)
    expect(await markerBoxes(page)).toEqual({ count: 1, overlaps: 0 })
    const zoomedOut = Number(await map.getAttribute('data-zoom'))
    // A marker is replaced when the map redraws (a zoom that was still easing, fresh data): the tap
    // is repeated on the group while it is still there.
    await expect
      .poll(async () => {
        const cluster = page.locator('.station-cluster')
        if ((await cluster.count()) > 0) await cluster.click({ timeout: 2000 }).catch(() => {})
        return page.locator('.station-marker').count()
      }, WAIT)
      .toBe(2)
    expect(Number(await map.getAttribute('data-zoom'))).toBeGreaterThan(zoomedOut)
    expect(await markerBoxes(page)).toEqual({ count: 2, overlaps: 0 })
  })

  it('opens a station with a tap on its marker: its panel, its year so far, and the address names it', async () => {
    const id = stations.gramsci!.id
    const panel = page.getByTestId('station-panel')
    // Tapped again while a redraw replaced the marker under the tap (see above).
    await expect
      .poll(async () => {
        const open = async () => ((await panel.count()) > 0 ? panel.getAttribute('data-station') : null)
        if ((await open()) !== id) await page.locator(`.station-marker[data-station="${id}"]`).click({ timeout: 2000 }).catch(() => {})
        return open()
      }, WAIT)
      .toBe(id)
    expect(new URL(page.url()).searchParams.get('station')).toBe(id)
    expect(await panel.locator('h3').first().textContent()).toMatch(/^Stazione \d\. Viale Gramsci$/)
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('station-panel-title')
    expect(await panel.getByTestId('station-panel-index').textContent()).toContain('2 · Discreta')
    // Its name hangs under its marker, and its row in the list is marked open.
    expect(await page.locator(`.station-label[data-station="${id}"]`).textContent()).toBe('Viale Gramsci')
    expect(await page.locator(`[data-testid="station"][data-station="${id}"] button`).getAttribute('aria-pressed')).toBe('true')
    // The station's own year, as the API computed it for that station.
    const table = panel.getByTestId('year-table')
    await table.waitFor(WAIT)
    const api = await json('/api/public/air-quality/statistics?city=firenze')
    const mine = api.cities[0].stations.find((s: { id: string }) => s.id === id)
    expect(Number(await table.locator('[data-figure="no2-mean"]').getAttribute('data-value'))).toBe(mine.pollutants.no2.mean)
    expect(Number(await table.locator('[data-figure="pm25-mean"]').getAttribute('data-value'))).toBe(mine.pollutants.pm25.mean)
    expect(await panel.getByTestId('station-year').locator('h3').textContent()).toMatch(/^Quest’anno finora/)
    await screenshot(page, 'public-phone-it-station')

    // A link to the station opens it; closing it takes it out of the address.
    await page.reload()
    await expect.poll(() => page.getByTestId('station-panel').getAttribute('data-station'), WAIT).toBe(id)
    await page.getByTestId('station-close').click()
    expect(await page.getByTestId('station-panel').count()).toBe(0)
    expect(new URL(page.url()).searchParams.get('station')).toBeNull()
    // The list opens a station too (keyboard users and screen readers).
    await page.locator(`[data-testid="station"][data-station="${stations.boboli!.id}"] button`).click()
    await expect.poll(() => page.getByTestId('station-panel').getAttribute('data-station'), WAIT).toBe(stations.boboli!.id)
    await page.getByTestId('station-close').click()
  })

  it('shows all ten cities at a glance, in a list and on a map, each with its index', async () => {
    await page.getByTestId('overview-section').scrollIntoViewIfNeeded()
    const overview = page.getByTestId('overview')
    await expect.poll(() => overview.getAttribute('data-loaded'), WAIT).toBe('true')
    expect(await overview.getByRole('heading', { level: 2 }).textContent()).toBe('Tutte le città')
    const cities = overview.getByTestId('overview-city')
    expect(await cities.count()).toBe(10)
    const level = (id: string) => overview.locator(`[data-testid="overview-city"][data-city="${id}"]`)
    expect(await level('firenze').getAttribute('data-level')).toBe('2')
    expect(await level('firenze').textContent()).toContain('Discreta')
    expect(await level('pisa').getAttribute('data-level')).toBe('1')
    expect(await level('pisa').textContent()).toContain('Buona')
    // Lucca's station is quiet and Siena has none: no index, said in words.
    expect(await level('lucca').getAttribute('data-level')).toBe('')
    expect(await level('siena').textContent()).toContain('Indice non disponibile')
    const map = page.getByTestId('cities-map')
    await expect.poll(() => map.getAttribute('data-ready'), { timeout: 30_000 }).toBe('true')
    // On the shared base map, like the station map: no street map is configured here, so its outline, said so on the map.
    expect(await map.getAttribute('data-basemap')).toBe('outline')
    expect(await map.getByTestId('basemap-note').textContent()).toContain('Contorno offline')
    expect(await page.locator('.city-marker').count()).toBe(10)
    // Names sit beside their dots without covering another dot or name (a name with no room is left out).
    const boxes = await page.locator('.city-marker-level, .city-marker:not([data-name="none"]) .city-marker-name').evaluateAll((els) =>
      els.map((el) => {
        const r = el.getBoundingClientRect()
        return { left: r.left, top: r.top, right: r.right, bottom: r.bottom }
      }),
    )
    expect(boxes.length).toBeGreaterThan(15)
    const overlapping = boxes.filter((a, i) => boxes.some((b, j) => j > i && a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom))
    expect(overlapping).toEqual([])
    expect(await page.locator('.city-marker[data-city="pisa"]').getAttribute('aria-label')).toBe('Pisa: Buona, 1 su 6')
    await overview.scrollIntoViewIfNeeded()
    await screenshot(page, 'public-phone-it-overview')
    // A tap on a city on the map opens it.
    await page.locator('.city-marker[data-city="pisa"]').click()
    await expect.poll(() => page.getByTestId('city-title').textContent(), WAIT).toBe('Aria a Pisa')
    expect(new URL(page.url()).searchParams.get('city')).toBe('pisa')
    // And from the list.
    await page.getByTestId('overview-section').scrollIntoViewIfNeeded()
    await level('firenze').locator('button').click()
    await expect.poll(() => page.getByTestId('city-title').textContent(), WAIT).toBe('Aria a Firenze')
  })

  it('finds the nearest city from the browser’s position', async () => {
    await browser.context.grantPermissions(['geolocation'], { origin: stack.urls.http })
    // On the Lungarno in Pisa.
    await browser.context.setGeolocation({ latitude: 43.7168, longitude: 10.4003 })
    await page.evaluate(() => window.scrollTo(0, 0))
    await page.getByTestId('nearest-city').click()
    await expect.poll(() => page.getByTestId('city-title').textContent(), WAIT).toBe('Aria a Pisa')
    expect(await page.getByTestId('nearest-status').textContent()).toMatch(/^La città più vicina a te è Pisa, a \d+(,\d)? km\.$/)
    expect(await page.getByTestId('nearest-status').getAttribute('data-city')).toBe('pisa')
    await expect.poll(() => page.getByTestId('aqi-card').getAttribute('data-level'), WAIT).toBe('1')
    // Without permission: said so, and the city stays as it was.
    await browser.context.clearPermissions()
    await page.getByTestId('nearest-city').click()
    await expect.poll(() => page.getByTestId('nearest-status').textContent(), WAIT).toBe('Posizione non disponibile: scegli la città dall’elenco.')
    expect(await page.getByTestId('city-title').textContent()).toBe('Aria a Pisa')
    await page.getByTestId('city-select').selectOption('firenze')
    await expect.poll(() => page.getByTestId('aqi-card').getAttribute('data-level'), WAIT).toBe('2')
  })

  it('shows this year so far against the EU limit values, named with their source', async () => {
    await page.getByTestId('year-section').scrollIntoViewIfNeeded()
    const year = page.getByTestId('year')
    await year.getByTestId('year-table').waitFor(WAIT)
    const api = await json('/api/public/air-quality/statistics?city=firenze')
    expect(await year.getAttribute('data-city')).toBe('firenze')
    expect(await year.getByRole('heading', { level: 2 }).textContent()).toBe(`Quest’anno finora (${api.year})`)
    const row = (figure: string) => year.locator(`[data-testid="year-row"][data-figure="${figure}"]`)
    // Firenze's PM10 waves round 22 µg/m³ all week: the page shows the worst station's mean the API computed.
    const pm10 = Number(await row('pm10-mean').getAttribute('data-value'))
    expect(pm10).toBe(api.cities[0].worst.pollutants.pm10.value)
    expect(pm10).toBeGreaterThan(18)
    expect(pm10).toBeLessThan(26)
    expect(await row('pm10-mean').textContent()).toContain(`${String(pm10).replace('.', ',')} µg/m³`)
    expect(await row('pm10-mean').locator('th').textContent()).toContain('Valore limite 40 µg/m³ (Direttiva 2008/50/CE, allegato XI)')
    expect(await row('pm10-days-over-50').locator('td').first().textContent()).toMatch(/^0 su 35 consentiti/)
    expect(await row('pm10-days-over-50').locator('th').textContent()).toContain('Valore limite 50 µg/m³, al massimo 35 volte l’anno (Direttiva 2008/50/CE, allegato XI); dal 2030: 45 µg/m³, al massimo 18 volte (Direttiva (UE) 2024/2881')
    expect(await row('no2-hours-over-200').locator('td').first().textContent()).toMatch(/^0 su 18 consentiti/)
    expect(await row('o3-days-over-120').locator('td').first().textContent()).toMatch(/^0 \(consentiti 25, media su tre anni\)/)
    // A week of a year: the data capture is stated, small, and marked indicative.
    const capture = Number(await row('pm10-mean').locator('td').last().getAttribute('data-capture'))
    expect(capture).toBeGreaterThan(0)
    expect(capture).toBeLessThan(90)
    expect(await row('pm10-mean').locator('td.indicative').count()).toBe(1)
    expect(await year.getByTestId('year-sources').textContent()).toContain('Direttiva (UE) 2024/2881')
    expect(await year.locator('table caption').textContent()).toContain('Firenze')
    await year.scrollIntoViewIfNeeded()
    await screenshot(page, 'public-phone-it-year')
  })

  it('switches to English and remembers the choice', async () => {
    await page.evaluate(() => window.scrollTo(0, 0))
    await page.getByTestId('lang-en').focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => page.getByTestId('city-title').textContent(), WAIT).toBe('Air in Firenze')
    expect(await page.locator('html').getAttribute('lang')).toBe('en')
    expect(await page.getByTestId('aqi-band').textContent()).toBe('Fair')
    expect(await page.getByTestId('lang-en').getAttribute('aria-pressed')).toBe('true')
    await page.reload()
    await page.getByTestId('aqi-card').waitFor()
    expect(await page.getByTestId('city-title').textContent()).toBe('Air in Firenze')
    await screenshot(page, 'public-phone-en')
  })

  it('shows a desktop layout', async () => {
    const wide = await openPage(browser, DESKTOP, '/?city=firenze')
    await wide.getByTestId('lang-it').click()
    await expect.poll(() => wide.getByTestId('city-title').textContent(), WAIT).toBe('Aria a Firenze')
    await showChartsAndMap(wide)
    await wide.evaluate(() => window.scrollTo(0, 0))
    await screenshot(wide, 'public-desktop-it')
    await wide.close()
  })
})

describe('the public page in an English browser', () => {
  let browser: Browser
  let page: Page
  beforeAll(async () => {
    browser = await launchBrowser({ locale: 'en-US' })
    page = await openPage(browser, DESKTOP)
  })
  afterAll(async () => browser?.close())

  it('is in English by default and links to the operators’ dashboard', async () => {
    expect(await page.locator('html').getAttribute('lang')).toBe('en')
    expect(await page.getByTestId('city-title').textContent()).toBe('Air in Firenze')
    expect(await page.getByTestId('aqi-band').textContent()).toBe('Fair')
    expect(await page.getByTestId('aqi-pollutant').textContent()).toContain('PM2.5')
    expect(await page.getByTestId('operators-link').getAttribute('href')).toBe('/dashboard')
    await showChartsAndMap(page)
    await page.evaluate(() => window.scrollTo(0, 0))
    await screenshot(page, 'public-desktop-en')
  })

  it('shows this year so far in English', async () => {
    await page.getByTestId('year-section').scrollIntoViewIfNeeded()
    const year = page.getByTestId('year')
    await year.getByTestId('year-table').waitFor(WAIT)
    expect(await year.getByRole('heading', { level: 2 }).textContent()).toMatch(/^This year so far \(\d{4}\)$/)
    expect(await year.locator('[data-figure="pm10-days-over-50"] td').first().textContent()).toMatch(/^0 of 35 allowed/)
    expect(await year.locator('[data-figure="no2-hours-over-200"] th').textContent()).toContain('Limit value 200 µg/m³, at most 18 times a year (Directive 2008/50/EC, Annex XI)')
    expect(Number(await year.locator('[data-figure="no2-mean"]').getAttribute('data-value'))).toBeGreaterThan(15)
    expect(await year.getByTestId('year-sources').textContent()).toContain('Directive 2008/50/EC')
  })

  it('shows all cities and the nearest city in English', async () => {
    await page.getByTestId('overview-section').scrollIntoViewIfNeeded()
    const overview = page.getByTestId('overview')
    await expect.poll(() => overview.getAttribute('data-loaded'), WAIT).toBe('true')
    expect(await overview.getByRole('heading', { level: 2 }).textContent()).toBe('All cities')
    expect(await overview.getByTestId('overview-city').count()).toBe(10)
    expect(await overview.locator('[data-testid="overview-city"][data-city="pisa"]').textContent()).toContain('Good')
    expect(await overview.locator('[data-testid="overview-city"][data-city="grosseto"]').textContent()).toContain('Index not available')
    await browser.context.grantPermissions(['geolocation'], { origin: stack.urls.http })
    // Piazza del Campo, Siena.
    await browser.context.setGeolocation({ latitude: 43.3184, longitude: 11.3316 })
    await page.evaluate(() => window.scrollTo(0, 0))
    await page.getByTestId('nearest-city').click()
    await expect.poll(() => page.getByTestId('city-title').textContent(), WAIT).toBe('Air in Siena')
    expect(await page.getByTestId('nearest-status').textContent()).toMatch(/^The city nearest to you is Siena, \d+(\.\d)? km away\.$/)
    await page.getByTestId('city-select').selectOption('firenze')
    await expect.poll(() => page.getByTestId('aqi-card').getAttribute('data-level'), WAIT).toBe('2')
  })

  it('shows a worse band within the refresh period when a reading over MQTT pushes PM2.5 up', async () => {
    // Gramsci's last hour holds 6 readings of ≈ 12 µg/m³ (fair); one more of 80 makes the mean ≈ 21 (moderate).
    await page.getByTestId('aqi-card').scrollIntoViewIfNeeded()
    expect(await page.getByTestId('aqi-card').getAttribute('data-level')).toBe('2')
    await publish(stations.gramsci!, [{ ts: new Date().toISOString(), pm25: 80, no2: 21 }])
    await expect.poll(() => page.getByTestId('aqi-card').getAttribute('data-level'), { timeout: 30_000, interval: 250 }).toBe('3')
    expect(await page.getByTestId('aqi-band').textContent()).toBe('Moderate')
    expect(await page.getByTestId('aqi-pollutant').getAttribute('data-pollutant')).toBe('pm25')
    expect(await page.getByTestId('advice-sensitive').textContent()).toContain('Consider reducing intense outdoor activities')
    await page.evaluate(() => window.scrollTo(0, 0))
    await screenshot(page, 'public-desktop-en-moderate')
    const phone = await openPage(browser, PHONE)
    await screenshot(phone, 'public-phone-en-moderate')
    await phone.close()
  })

  it('opens the widget, light and dark, also framed by another site', async () => {
    const widget = await browser.newPage({ width: 340, height: 210 })
    await widget.goto(`${stack.urls.http}/widget/firenze?theme=dark`)
    const card = widget.getByTestId('widget')
    await expect.poll(() => card.getAttribute('data-level'), WAIT).toBe('3')
    expect(await card.getAttribute('data-theme')).toBe('dark')
    expect(await widget.getByTestId('widget-index').textContent()).toContain('Moderate')
    await screenshot(widget, 'public-widget-dark')
    await widget.goto(`${stack.urls.http}/widget/pisa?theme=light&lang=it`)
    await expect.poll(() => widget.getByTestId('widget').getAttribute('data-level'), WAIT).toBe('1')
    expect(await widget.getByTestId('widget-index').textContent()).toContain('Buona')
    await screenshot(widget, 'public-widget-light')
    await widget.close()

    // Another origin (another port) embedding the widget: frame-ancestors * lets it in.
    const site: Server = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html; charset=utf-8')
      res.end(`<!doctype html><title>Comune</title><h1>Notizie</h1><iframe id="aq" title="Aria" src="${stack.urls.http}/widget/firenze?theme=light" width="340" height="210" style="border:0"></iframe>`)
    })
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve))
    try {
      const host = await browser.newPage({ width: 700, height: 400 })
      await host.goto(`http://127.0.0.1:${(site.address() as AddressInfo).port}/`)
      const framed = host.frameLocator('#aq').getByTestId('widget')
      await expect.poll(() => framed.getAttribute('data-level'), WAIT).toBe('3')
      await screenshot(host, 'public-widget-embedded')
      await host.close()
    } finally {
      site.closeAllConnections()
      await new Promise((resolve) => site.close(resolve))
    }
  })
})

describe('the public page on a narrow phone', () => {
  let browser: Browser
  beforeAll(async () => {
    browser = await launchBrowser({ locale: 'it-IT' })
  })
  afterAll(async () => browser?.close())

  const overflow = (page: Page) =>
    page.evaluate(() => {
      const el = document.scrollingElement!
      return { scrollWidth: el.scrollWidth, clientWidth: el.clientWidth }
    })

  for (const width of [320, 390]) {
    it(`has no horizontal scroll at ${width} px, the embed code included`, async () => {
      const page = await openPage(browser, { width, height: 740 })
      await page.locator('.foot pre code').waitFor()
      const before = await overflow(page)
      expect(before.scrollWidth).toBeLessThanOrEqual(before.clientWidth)
      // And with every lazy section drawn (charts, map, buses).
      await showChartsAndMap(page)
      await page.getByTestId('mobility-section').scrollIntoViewIfNeeded()
      await expect.poll(() => page.getByTestId('mobility-section').getAttribute('data-loaded'), WAIT).toBe('true')
      const after = await overflow(page)
      expect(after.scrollWidth).toBeLessThanOrEqual(after.clientWidth)
      // The year table fits the screen with a long station name in it, without a scroll of its own.
      // The seeded stations have short names, so the page names the worst station long here.
      await page.getByTestId('year-section').scrollIntoViewIfNeeded()
      await page.locator('[data-testid="year"] .year-at').first().waitFor(WAIT)
      const year = await page.evaluate((name) => {
        for (const at of document.querySelectorAll('[data-testid="year"] .year-at')) at.textContent = `presso ${name}`
        const scroller = document.querySelector<HTMLElement>('[data-testid="year"] .year-scroll')!
        const cells = [...scroller.querySelectorAll<HTMLElement>('th, td')].filter((c) => c.scrollWidth > c.clientWidth + 1).map((c) => c.textContent)
        return { scrollWidth: scroller.scrollWidth, clientWidth: scroller.clientWidth, cells, page: document.scrollingElement!.scrollWidth - document.scrollingElement!.clientWidth }
      }, 'Stazione di monitoraggio Lungarno Amerigo Vespucci angolo Piazza Carlo Goldoni (Fortezza-da-Basso/Circonvallazione)')
      expect(year).toEqual({ scrollWidth: year.clientWidth, clientWidth: year.clientWidth, cells: [], page: 0 })
      await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight))
      await screenshot(page, `public-phone-${width}-footer`)
      await page.close()
    })
  }

  for (const width of [320, 390]) {
    it(`keeps still while the lazy sections arrive on the way down at ${width} px (layout shift below 0.1)`, async () => {
      const page = await browser.newPage({ width, height: 740 })
      await page.addInitScript(LAYOUT_SHIFT_OBSERVER)
      await page.goto(`${stack.urls.http}/`)
      await page.getByTestId('aqi-card').waitFor()
      await page.locator('.foot pre code').waitFor()
      // A screen at a time to the bottom, each section that comes near drawn with its data before the next step.
      await scrollToBottom(page, () => publicSectionsDrawn(page), 500)
      for (const section of ['charts-section', 'map-section', 'year-section', 'overview-section', 'mobility-section']) {
        expect(await page.getByTestId(section).getAttribute('data-loaded'), section).toBe('true')
      }
      expect(await page.getByTestId('year-row').count()).toBe(9)
      expect(await page.getByTestId('cities-map').getAttribute('data-ready')).toBe('true')
      const shifts = await layoutShifts(page)
      const cls = sumShifts(shifts)
      console.info(`phone ${width} px: layout shift ${cls.toFixed(4)} after scrolling through every lazy section${shifts.length ? `; ${shifts.map((s) => `${s.value.toFixed(3)} (${s.sources.join(', ')})`).join('; ')}` : ''}`)
      expect(cls).toBeLessThan(0.1)
      const { scrollWidth, clientWidth } = await overflow(page)
      expect(scrollWidth).toBeLessThanOrEqual(clientWidth)
      await page.close()
    })
  }

  it('requests the charts, map and bus chunks only once they are scrolled near', async () => {
    const page = await browser.newPage(PHONE)
    const requested: string[] = []
    const urls: string[] = []
    page.on('request', (r) => {
      requested.push(new URL(r.url()).pathname)
      urls.push(r.url())
    })
    await page.goto(`${stack.urls.http}/`)
    await page.getByTestId('aqi-card').waitFor()
    await page.locator('.foot pre code').waitFor()
    // Every first-paint request has settled, and the data has pushed the sections down.
    await page.waitForLoadState('networkidle')
    const lazy = (name: string) => requested.filter((p) => new RegExp(`/assets/${name}-[^/]*\\.js$`).test(p))
    const beforeScroll = requested.length
    expect({ charts: lazy('Charts'), map: lazy('StationMap'), maplibre: lazy('maplibre'), buses: lazy('MobilityNow') }).toEqual({ charts: [], map: [], maplibre: [], buses: [] })
    for (const section of ['charts-section', 'map-section', 'year-section', 'mobility-section']) expect(await page.getByTestId(section).getAttribute('data-loaded')).toBe('false')
    const statistics = () => requested.filter((p) => p === '/api/public/air-quality/statistics')
    expect(statistics()).toEqual([])
    const allCities = () => urls.filter((u) => u.endsWith('/api/public/air-quality'))
    expect({ overview: lazy('CitiesOverview'), allCities: allCities() }).toEqual({ overview: [], allCities: [] })
    expect(await page.getByTestId('overview-section').getAttribute('data-loaded')).toBe('false')

    await showChartsAndMap(page)
    expect(lazy('Charts')).toHaveLength(1)
    expect(lazy('StationMap')).toHaveLength(1)
    expect(lazy('maplibre')).toHaveLength(1)
    await page.getByTestId('year-section').scrollIntoViewIfNeeded()
    // At least one: a page that becomes visible again asks at once (usePolling), whatever the period.
    await expect.poll(() => statistics().length, WAIT).toBeGreaterThan(0)
    expect(lazy('YearSoFar')).toHaveLength(1)
    await page.getByTestId('overview-section').scrollIntoViewIfNeeded()
    await expect.poll(() => allCities().length, WAIT).toBeGreaterThan(0)
    expect(lazy('CitiesOverview')).toHaveLength(1)
    await page.getByTestId('mobility-section').scrollIntoViewIfNeeded()
    await expect.poll(() => lazy('MobilityNow').length, WAIT).toBe(1)
    console.info(`phone page: ${beforeScroll} requests before scrolling, ${requested.length} after`)
    expect(requested.length).toBeGreaterThan(beforeScroll)
    await page.close()
  })
})
