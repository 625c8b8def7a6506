import { readFileSync } from 'node:fs'
import mqtt, { type MqttClient } from 'mqtt'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureDashboardBuilt } from '../../dashboard/build.ts'
import type { DeviceType } from '../../devices/kinds.ts'
import { launchBrowser, screenshot, type Browser } from '../../testkit/browser.ts'
import { startStack, type Stack } from '../../testkit/stack.ts'

/**
 * The operators' control room (issue #4) in real Chromium against the whole stack: every reading
 * is published over real MQTT by the device itself (the `mqtt` package, the device's own id and
 * secret). Filters and search with the view in the URL, the device panel and its chart, an alert
 * raised by an over-threshold reading and acknowledged, a device turning late then silent; the
 * run saves screenshots of the map, a city panel, a device panel and the alert list, light and dark.
 */

/** How long a wait for the page may take: a deadline for a busy machine, not an expected time. */
const WAIT = { timeout: 20_000 }
const OPERATOR = { username: 'olga', password: 'operator-password', role: 'operator' as const }

interface TestDevice {
  key: string
  id: string
  secret: string
  type: DeviceType
  city: string
  name: string
  client?: MqttClient
}

let stack: Stack
let browser: Browser
let page: Page
const devices: TestDevice[] = []
const byKey = (key: string) => devices.find((d) => d.key === key)!
/** The first reading each fleet device published, by key. */
const published = new Map<string, Record<string, number | string>>()

// A small fleet across the region, so the map, the city cards and the screenshots have something to show.
const CITY_CENTRES: Record<string, [number, number]> = {
  firenze: [43.7696, 11.2558],
  prato: [43.8777, 11.1022],
  livorno: [43.5485, 10.3106],
  arezzo: [43.4633, 11.8796],
  pisa: [43.7228, 10.4017],
  pistoia: [43.9303, 10.9078],
  lucca: [43.8429, 10.5027],
  grosseto: [42.7635, 11.1124],
  massa: [44.0354, 10.1396],
  siena: [43.3188, 11.3308],
}
const FLEET_TYPES: { type: DeviceType; name: string; dlat: number; dlon: number }[] = [
  { type: 'air-quality', name: 'Air station', dlat: 0.004, dlon: -0.006 },
  { type: 'traffic-counter', name: 'Ring road counter', dlat: -0.006, dlon: 0.008 },
  { type: 'parking', name: 'Central car park', dlat: 0.007, dlon: 0.005 },
  { type: 'bus', name: 'Bus', dlat: -0.003, dlon: -0.009 },
]

function valuesFor(type: DeviceType, i: number): Record<string, number | string> {
  switch (type) {
    case 'air-quality':
      return { pm25: 4 + (i % 5) * 6, pm10: 10 + (i % 4) * 9, no2: 12 + i * 2, o3: 40 }
    case 'traffic-counter':
      return { laneId: 1, intensity: 20 + i * 3, averageVehicleSpeed: 25 + (i % 5) * 8, occupancy: [0.06, 0.14, 0.27, 0.42, 0.55][i % 5]! }
    case 'parking':
      return { availableSpotNumber: [180, 60, 12, 0, 95][i % 5]!, totalSpotNumber: 200 }
    case 'bus': {
      const [lat, lon] = CITY_CENTRES[Object.keys(CITY_CENTRES)[i % 10]!]!
      return { route: String(10 + i), lat: lat + 0.002, lon: lon - 0.004, speed: 22, delay: [30, 120, 240, 420, 700][i % 5]! }
    }
    case 'noise':
      return { LAeq: 64, LAmax: 78 }
    default:
      return {}
  }
}

async function register(key: string, input: { type: DeviceType; city: string; name: string; lat?: number; lon?: number; interval?: number }) {
  const { device, secret } = await stack.registry.add(input, 'cli')
  const d: TestDevice = { key, id: device.id, secret, type: device.type, city: device.city, name: device.name }
  devices.push(d)
  return d
}

async function connect(d: TestDevice): Promise<MqttClient> {
  d.client ??= await mqtt.connectAsync(`mqtt://127.0.0.1:${stack.mqttPort}`, {
    protocolVersion: 4,
    clientId: d.id,
    username: d.id,
    password: d.secret,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
  })
  return d.client
}

/** Publishes one reading as the device itself, QoS 1: resolves once the broker acknowledged it. */
async function publish(d: TestDevice, values: Record<string, number | string>, ts = Date.now()): Promise<void> {
  const client = await connect(d)
  await client.publishAsync(`devices/${d.id}/telemetry`, JSON.stringify({ ts, ...values }), { qos: 1 })
}

async function login(p: Page, url: string): Promise<void> {
  await p.goto(url)
  await p.getByTestId('login-form').waitFor()
  await p.getByTestId('login-username').fill(OPERATOR.username)
  await p.getByTestId('login-password').fill(OPERATOR.password)
  await p.getByTestId('login-submit').click()
  await p.getByTestId('current-user').waitFor()
}

/** Devices the list holds (it is virtualised: only the rows in view are in the page). */
const listCount = () => page.getByTestId('device-count').getAttribute('data-count').then(Number)
/** Types a search and waits until the list shows just that device (typing is debounced). */
async function searchFor(text: string, id: string): Promise<void> {
  await page.getByTestId('device-search').fill(text)
  await expect.poll(async () => (await listCount()) === 1 && (await page.getByTestId('device-list-item').getAttribute('data-device-id')) === id, WAIT).toBe(true)
}
const mapAttr = (name: string) => page.getByTestId('map').getAttribute(name)

beforeAll(async () => {
  await ensureDashboardBuilt()
  stack = await startStack()
  await stack.web.accounts.create(OPERATOR)
  let i = 0
  for (const [city, [lat, lon]] of Object.entries(CITY_CENTRES)) {
    for (const t of FLEET_TYPES) {
      const name = t.type === 'bus' ? `Bus line ${10 + i}` : `${t.name} ${city[0]!.toUpperCase()}${city.slice(1)}`
      // An hour's interval: these stay live however slowly a busy machine runs the tests (a bus's
      // default 10 s would make it late between two tests); 'campo' below tests late and silent.
      await register(`${t.type}-${city}`, { type: t.type, city, name, lat: lat + t.dlat, lon: lon + t.dlon, interval: 3600 })
    }
    i += 1
  }
  // The default 60 s interval: its panel expects 60 readings an hour (late only after 2 minutes of silence).
  await register('gramsci', { type: 'air-quality', city: 'firenze', name: 'Viale Gramsci', lat: 43.7745, lon: 11.2668 })
  await register('signoria', { type: 'noise', city: 'firenze', name: 'Piazza della Signoria', lat: 43.7696, lon: 11.2556, interval: 3600 })
  // Reports every second: late after 2 s without a reading, silent after 5.
  await register('campo', { type: 'air-quality', city: 'siena', name: 'Piazza del Campo', lat: 43.3184, lon: 11.3316, interval: 1 })
  browser = await launchBrowser()
  page = await browser.newPage()
}, 240_000)

afterAll(async () => {
  await Promise.all(devices.map((d) => d.client?.endAsync(true)))
  await browser?.close()
  await stack?.stop()
})

describe("the operators' control room", () => {
  it('logs in as an operator and draws every device, live values streaming in over MQTT', async () => {
    await login(page, `${stack.urls.http}/dashboard`)
    await expect.poll(() => mapAttr('data-ready'), { timeout: 30_000 }).toBe('true')
    let i = 0
    for (const d of devices.filter((x) => x.key.includes('-'))) {
      published.set(d.key, valuesFor(d.type, i++))
      await publish(d, published.get(d.key)!)
    }
    await publish(byKey('gramsci'), { pm25: 18, pm10: 32, no2: 41, o3: 60 })
    await publish(byKey('signoria'), { LAeq: 67.5, LAmax: 80 })
    await expect.poll(() => mapAttr('data-device-count'), WAIT).toBe(String(devices.length))
    await expect.poll(() => mapAttr('data-rendered-devices'), WAIT).toBe(String(devices.length))
    await expect.poll(() => listCount(), WAIT).toBe(devices.length)
    // Health from the server: devices that reported are live.
    await searchFor('gramsci', byKey('gramsci').id)
    await expect.poll(() => page.getByTestId('device-list-item').getAttribute('data-state'), WAIT).toBe('live')
    await page.getByTestId('device-search').fill('')
    await expect.poll(() => listCount(), WAIT).toBe(devices.length)
    // Cluster counts are HTML labels (no glyphs offline); the groups add up to what is drawn.
    await expect.poll(() => page.locator('.cluster-label').count(), WAIT).toBeGreaterThan(0)
    await screenshot(page, 'operators-map')
  })

  it('filters by city, family, type and state, searches by name or id, and keeps the view in the URL', async () => {
    await page.getByTestId('family-filter').selectOption('environment')
    const environment = devices.filter((d) => ['air-quality', 'noise', 'weather'].includes(d.type)).length
    await expect.poll(() => listCount(), WAIT).toBe(environment)
    await expect.poll(() => mapAttr('data-device-count'), WAIT).toBe(String(environment))

    await page.getByTestId('device-type-filter').selectOption('air-quality')
    await page.getByTestId('city-filter').selectOption('firenze')
    const firenzeAir = devices.filter((d) => d.type === 'air-quality' && d.city === 'firenze')
    await expect.poll(() => listCount(), WAIT).toBe(firenzeAir.length)
    await expect.poll(() => mapAttr('data-device-count'), WAIT).toBe(String(firenzeAir.length))
    await expect.poll(() => page.url(), WAIT).toMatch(/city=firenze/)
    expect(page.url()).toMatch(/family=environment/)
    expect(page.url()).toMatch(/type=air-quality/)

    // A colleague opening the link sees the same view.
    const link = page.url()
    const colleague = await browser.newPage()
    await colleague.goto(link)
    await colleague.getByTestId('device-list').waitFor()
    expect(await colleague.getByTestId('city-filter').inputValue()).toBe('firenze')
    expect(await colleague.getByTestId('device-type-filter').inputValue()).toBe('air-quality')
    await expect.poll(() => colleague.getByTestId('device-count').getAttribute('data-count'), WAIT).toBe(String(firenzeAir.length))
    await colleague.close()

    await page.getByTestId('clear-filters').click()
    await expect.poll(() => listCount(), WAIT).toBe(devices.length)
    await page.getByTestId('device-search').fill('gramsci')
    await expect.poll(() => listCount(), WAIT).toBe(1)
    await expect.poll(() => page.url(), WAIT).toMatch(/q=gramsci/)
    expect(await page.getByTestId('device-list-item').textContent()).toContain('Viale Gramsci')
    await page.getByTestId('device-search').fill(byKey('signoria').id)
    await expect.poll(() => page.getByTestId('device-list-item').first().getAttribute('data-device-id'), WAIT).toBe(byKey('signoria').id)
    expect(await listCount()).toBe(1)
    await page.getByTestId('device-search').fill('')
    await expect.poll(() => listCount(), WAIT).toBe(devices.length)

    // By state: only the devices that have reported are live; the one that never did is not.
    await page.getByTestId('state-filter').selectOption('live')
    await expect.poll(() => listCount(), WAIT).toBe(devices.length - 1)
    await page.getByTestId('state-filter').selectOption('')
    await expect.poll(() => listCount(), WAIT).toBe(devices.length)
  })

  it('shows a city at a glance and flies the map there', async () => {
    await page.getByTestId('tab-cities').click()
    const firenze = page.locator('[data-testid="city-card"][data-city="firenze"]')
    await firenze.waitFor()
    await expect.poll(() => firenze.getByTestId('city-devices').getAttribute('data-live'), WAIT).toBe(String(devices.filter((d) => d.city === 'firenze').length))
    const parking = published.get('parking-firenze')!
    await expect.poll(() => firenze.getByTestId('city-parking').textContent(), WAIT).toMatch(new RegExp(`^${parking.availableSpotNumber} free of 200`))
    await expect.poll(() => firenze.getByTestId('city-air').getAttribute('data-level'), WAIT).not.toBe('')
    expect(await firenze.getByTestId('city-traffic').textContent()).toMatch(/Free flow|Light|Moderate|Heavy|Congested/)
    expect(await firenze.getByTestId('city-buses').textContent()).toMatch(/% on time/)
    const region = page.locator('[data-testid="city-card"][data-city="region"]')
    expect(Number(await region.getByTestId('city-devices').getAttribute('data-live'))).toBe(devices.length - 1)

    await firenze.click()
    // The map's view lands on Firenze (lon,lat,zoom in the URL once the flight ends).
    await expect
      .poll(
        () => {
          const m = /map=([\d.]+)%2C([\d.]+)%2C([\d.]+)/.exec(page.url())
          return m ? Math.abs(Number(m[1]) - 11.2558) < 0.01 && Math.abs(Number(m[2]) - 43.7696) < 0.01 && Number(m[3]) > 11 : false
        },
        { timeout: 10_000 },
      )
      .toBe(true)
    // The card set the city filter too: the list and the URL show Firenze.
    expect(await page.getByTestId('city-filter').inputValue()).toBe('firenze')
    await expect.poll(() => listCount(), WAIT).toBe(devices.filter((d) => d.city === 'firenze').length)
    expect(page.url()).toMatch(/city=firenze/)
    await screenshot(page, 'operators-city-panel')
    await page.locator('[data-testid="city-card"][data-city="region"]').click()
    await expect.poll(() => page.getByTestId('city-filter').inputValue(), WAIT).toBe('')
    await expect.poll(() => listCount(), WAIT).toBe(devices.length)
  })

  it('opens a device: latest values, health, a chart of several fields and ranges, and a CSV of it', async () => {
    const station = byKey('gramsci')
    const now = Date.now()
    for (let k = 6; k >= 1; k--) await publish(station, { pm25: 10 + k, pm10: 20 + k * 2, no2: 30 + k }, now - k * 60_000)
    await searchFor('gramsci', station.id)
    await page.getByTestId('device-list-item').click()
    const panel = page.getByTestId('device-panel')
    await panel.waitFor()
    expect(await panel.getAttribute('data-device-id')).toBe(station.id)
    await expect.poll(() => page.url(), WAIT).toMatch(new RegExp(`device=${station.id}`))
    await expect.poll(() => page.getByTestId('latest-value-pm25').getAttribute('data-value'), WAIT).toBe('18')
    expect(await page.getByTestId('device-health').getAttribute('data-state')).toBe('live')
    await expect.poll(() => page.getByTestId('device-readings-per-hour').textContent(), WAIT).toMatch(/^7 of \d+ expected \(registered \d+ (s|min) ago\)$/)
    await expect.poll(() => page.getByTestId('device-rejected-none').count(), WAIT).toBe(1)

    const chart = page.getByTestId('device-chart')
    await expect.poll(() => chart.getAttribute('data-points'), WAIT).toBe('7')
    // A reading published now reaches the chart's right edge.
    await publish(station, { pm25: 21.5, pm10: 35 })
    await expect.poll(() => chart.getAttribute('data-points'), WAIT).toBe('8')

    await page.getByTestId('chart-add-field').selectOption('pm10')
    await expect.poll(() => chart.getAttribute('data-series'), WAIT).toBe('2')
    await expect.poll(() => chart.getAttribute('data-points'), WAIT).toBe('16')
    await page.getByTestId('chart-compare-device').fill(`Air station Firenze (${byKey('air-quality-firenze').id})`)
    await page.getByTestId('chart-compare-add').click()
    await expect.poll(() => chart.getAttribute('data-series'), WAIT).toBe('3')

    await page.getByTestId('range-24h').click()
    await expect.poll(() => chart.getAttribute('data-range'), WAIT).toBe('24h')
    await expect.poll(() => chart.getAttribute('data-status'), WAIT).toBe('ready')
    // 5-minute means: fewer points than readings, and never more than the API's cap.
    await expect.poll(async () => Number(await chart.getAttribute('data-points')), WAIT).toBeGreaterThan(0)
    await page.getByTestId('range-1h').click()
    await expect.poll(() => chart.getAttribute('data-points'), WAIT).toBe('17')

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('chart-csv').click()])
    const csv = readFileSync((await download.path())!, 'utf8').trim().split(/\r\n/)
    expect(csv[0]).toBe(`time,Viale Gramsci PM2.5 (µg/m³),Viale Gramsci PM10 (µg/m³),Air station Firenze PM2.5 (µg/m³)`)
    // One row per time: the station's 8 readings and the other station's one.
    expect(csv).toHaveLength(1 + 9)
    expect(csv.some((line) => /,21\.5,35,/.test(line))).toBe(true)
    await screenshot(page, 'operators-device-panel')
    await page.getByTestId('device-panel-close').click()
    await page.getByTestId('device-search').fill('')
    await expect.poll(() => listCount(), WAIT).toBe(devices.length)
  })

  it('raises an alert from an over-threshold reading within two seconds, and acknowledges it', async () => {
    // The rule, made in the UI like an operator would.
    await page.getByTestId('tab-rules').click()
    await page.getByTestId('rule-new').click()
    await page.getByTestId('rule-name').fill('PM10 over 50 in Firenze')
    await page.getByTestId('rule-field').selectOption('pm10')
    await page.getByTestId('rule-op').selectOption('>')
    await page.getByTestId('rule-threshold').fill('50')
    await page.getByTestId('rule-type').selectOption('air-quality')
    await page.getByTestId('rule-city').selectOption('firenze')
    await page.getByTestId('rule-severity').selectOption('critical')
    await page.getByTestId('rule-submit').click()
    await expect.poll(() => page.getByTestId('rule-item').count(), WAIT).toBe(1)
    expect(await page.getByTestId('rule-item').textContent()).toContain('PM10 > 50 µg/m³: air-quality stations in Firenze')
    await page.getByTestId('tab-alerts').click()
    await page.getByTestId('alerts-empty').waitFor()

    const station = byKey('gramsci')
    await publish(station, { pm25: 30, pm10: 84.2 })
    const item = page.locator(`[data-testid="alert-item"][data-device-id="${station.id}"]`)
    await expect.poll(() => item.getAttribute('data-state'), { timeout: 2000, interval: 50 }).toBe('open')
    expect(await item.getByTestId('alert-message').textContent()).toBe('PM10 84.2 µg/m³ > 50 µg/m³ at Viale Gramsci')
    expect(await page.getByTestId('alert-badge').getAttribute('data-open')).toBe('1')
    await expect.poll(() => page.getByTestId('alert-toast').count(), WAIT).toBe(1)
    await screenshot(page, 'operators-alerts')

    await item.getByTestId('alert-ack').click()
    await expect.poll(() => item.getAttribute('data-state'), WAIT).toBe('acknowledged')
    expect(await item.getByTestId('alert-acknowledged').textContent()).toMatch(/Acknowledged by olga at/)
    await expect.poll(() => page.getByTestId('alert-badge').getAttribute('data-open'), WAIT).toBe('0')
    const stored = await stack.web.app.inject({ url: '/api/alerts?state=acknowledged', headers: { authorization: `Bearer ${await token()}` } })
    expect(stored.json().items[0]).toMatchObject({ deviceId: station.id, acknowledgedBy: 'olga' })

    // Back under the threshold: resolved, gone from the active list.
    await publish(station, { pm25: 12, pm10: 31 })
    await expect.poll(() => item.count(), WAIT).toBe(0)
  })

  it('shows a device turning late, then silent, when it stops publishing, and a "device silent" alert', async () => {
    const campo = byKey('campo')
    const created = await stack.web.app.inject({
      method: 'POST',
      url: '/api/alert-rules',
      headers: { authorization: `Bearer ${await token()}` },
      payload: { name: 'Station silent', kind: 'silent', type: 'air-quality', severity: 'critical' },
    })
    expect(created.statusCode).toBe(201)
    await searchFor('campo', campo.id)
    const row = page.getByTestId('device-list-item')
    for (let k = 0; k < 4; k++) {
      await publish(campo, { pm25: 9, pm10: 18 })
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }
    await expect.poll(() => row.getAttribute('data-state'), WAIT).toBe('live')
    // It stops: late after 2 missed seconds, silent after 5.
    await expect.poll(() => row.getAttribute('data-state'), WAIT).toBe('late')
    expect(await row.getByTestId('device-state').textContent()).toContain('Late')
    await expect.poll(() => row.getAttribute('data-state'), WAIT).toBe('silent')
    expect(await row.getByTestId('device-state').textContent()).toContain('Silent')
    const alert = page.locator(`[data-testid="alert-item"][data-device-id="${campo.id}"]`)
    await expect.poll(() => alert.getAttribute('data-state'), WAIT).toBe('open')
    expect(await alert.getByTestId('alert-message').textContent()).toMatch(/Piazza del Campo is silent/)
    await page.getByTestId('state-filter').selectOption('silent')
    await page.getByTestId('device-search').fill('')
    await expect.poll(() => page.locator('[data-testid="device-list-item"][data-state="silent"]').count(), WAIT).toBeGreaterThanOrEqual(1)
    expect(await page.locator('[data-testid="device-list-item"]:not([data-state="silent"])').count()).toBe(0)
    await page.getByTestId('state-filter').selectOption('')

    // It reports again: late first (not yet on schedule), then live; the silent alert resolves.
    await publish(campo, { pm25: 9 })
    await expect.poll(() => alert.count(), WAIT).toBe(0)
    await publish(campo, { pm25: 9 })
    await searchFor('campo', campo.id)
    await expect.poll(() => page.getByTestId('device-list-item').getAttribute('data-state'), WAIT).toBe('live')
    await page.getByTestId('device-search').fill('')
  })

  it('has a dark theme for control rooms, remembered across visits', async () => {
    // The search cleared by the test before reaches the address 150 ms later (FilterBar's
    // debounce): reloading sooner would bring back a map of that one device.
    await expect.poll(() => new URL(page.url()).searchParams.has('q'), WAIT).toBe(false)
    await page.getByTestId('theme-toggle').click()
    await expect.poll(() => page.evaluate(() => document.documentElement.dataset.theme), WAIT).toBe('dark')
    await page.reload()
    await page.getByTestId('map').waitFor()
    await expect.poll(() => page.evaluate(() => document.documentElement.dataset.theme), WAIT).toBe('dark')
    await expect.poll(() => mapAttr('data-ready'), { timeout: 30_000 }).toBe('true')
    await page.getByTestId('tab-cities').click()
    // The whole region, as the control room's wall shows it.
    await page.locator('[data-testid="city-card"][data-city="region"]').click()
    await expect.poll(() => Number(/map=[\d.]+%2C[\d.]+%2C([\d.]+)/.exec(page.url())?.[1] ?? 99), WAIT).toBeLessThan(9)
    await expect.poll(() => mapAttr('data-rendered-devices'), WAIT).toBe(String(devices.length))
    await screenshot(page, 'operators-map-dark')
    // A critical alert to show, then the device panel.
    await publish(byKey('gramsci'), { pm25: 30, pm10: 90 })
    await page.getByTestId('tab-alerts').click()
    await expect.poll(() => page.locator('[data-testid="alert-item"][data-state="open"]').count(), WAIT).toBeGreaterThanOrEqual(1)
    await screenshot(page, 'operators-alerts-dark')
    await searchFor('gramsci', byKey('gramsci').id)
    await page.getByTestId('device-list-item').click()
    await expect.poll(() => page.getByTestId('device-chart').getAttribute('data-status'), WAIT).toBe('ready')
    await screenshot(page, 'operators-device-panel-dark')
    await page.getByTestId('theme-toggle').click()
    await expect.poll(() => page.evaluate(() => document.documentElement.dataset.theme), WAIT).toBe('light')
  })
})

let cachedToken: string | undefined
async function token(): Promise<string> {
  if (cachedToken) return cachedToken
  const response = await stack.web.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: OPERATOR.username, password: OPERATOR.password } })
  cachedToken = (response.json() as { token: string }).token
  return cachedToken
}
