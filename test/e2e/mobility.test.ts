import { existsSync } from 'node:fs'
import mqtt, { type MqttClient } from 'mqtt'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureDashboardBuilt } from '../../dashboard/build.ts'
import type { DeviceType } from '../../devices/kinds.ts'
import { launchBrowser, screenshot, type Browser } from '../../testkit/browser.ts'
import { startStack, type Stack } from '../../testkit/stack.ts'

/**
 * "Getting around now" on the citizens' page, as a visitor sees it: real Chromium in Italian and
 * English, the whole stack, a bus, a car park and a bike dock publishing over real MQTT with their
 * own credentials, and new readings reaching the open page through the public live room.
 */

const WAIT = { timeout: 30_000 }
const PHONE = { width: 390, height: 844 }

let stack: Stack
const devices: Record<string, { id: string; client: MqttClient }> = {}

async function add(key: string, type: DeviceType, name: string, lat: number, lon: number) {
  const { device, secret } = await stack.registry.add({ type, city: 'firenze', name, lat, lon, interval: 600 })
  const client = mqtt.connect(stack.urls.mqtt, { protocolVersion: 4, clientId: device.id, username: device.id, password: secret, reconnectPeriod: 0, connectTimeout: 10_000 })
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve())
    client.once('error', reject)
  })
  devices[key] = { id: device.id, client }
}

const publish = (key: string, reading: Record<string, number | string>) =>
  devices[key]!.client.publishAsync(`devices/${devices[key]!.id}/telemetry`, JSON.stringify({ ts: Date.now(), ...reading }), { qos: 1 })

beforeAll(async () => {
  await ensureDashboardBuilt().catch((err: unknown) => {
    if (!existsSync(new URL('../../dashboard/dist/public/public.html', import.meta.url))) throw err
    console.warn(String(err).split('\n')[0])
  })
  stack = await startStack()
  await add('bus', 'bus', 'Vettura 3021', 43.7731, 11.2556)
  await add('park', 'parking', 'Parcheggio Beccaria', 43.7702, 11.2712)
  await add('dock', 'bike-dock', 'Piazza del Duomo', 43.7731, 11.2560)
  await publish('bus', { route: '14', lat: 43.775, lon: 11.25, delay: 120 })
  await publish('park', { availableSpotNumber: 150, totalSpotNumber: 200 })
  await publish('dock', { availableBikeNumber: 7, freeSlotNumber: 5 })
}, 240_000)

afterAll(async () => {
  await Promise.all(Object.values(devices).map((d) => d.client.endAsync()))
  await stack?.stop()
})

async function openMobility(browser: Browser): Promise<Page> {
  const page = await browser.newPage(PHONE)
  await page.goto(`${stack.urls.http}/?city=firenze`)
  await page.getByTestId('mobility-section').scrollIntoViewIfNeeded()
  await page.getByTestId('mobility').waitFor(WAIT)
  await page.getByTestId('mobility').scrollIntoViewIfNeeded()
  return page
}

describe('"Getting around now" in an Italian browser', () => {
  let browser: Browser
  let page: Page
  beforeAll(async () => {
    browser = await launchBrowser({ locale: 'it-IT' })
    page = await openMobility(browser)
  })
  afterAll(async () => browser?.close())

  it("shows the city's bus with its delay, the car park's free spaces and the dock's bikes", async () => {
    expect(await page.locator('#mobility-title').textContent()).toBe('Muoversi ora a Firenze')
    await expect.poll(() => page.getByTestId('mobility').getAttribute('data-state'), WAIT).toBe('live')
    const bus = page.locator(`[data-testid="bus"][data-bus="${devices.bus!.id}"]`)
    await expect.poll(() => bus.textContent(), WAIT).toBe('Linea 14 · in ritardo di 2 min')
    const park = page.locator(`[data-testid="park"][data-park="${devices.park!.id}"]`)
    await expect.poll(() => park.textContent(), WAIT).toMatch(/^Parcheggio Beccaria · 150 liberi su 200/)
    const dock = page.locator(`[data-testid="dock"][data-dock="${devices.dock!.id}"]`)
    await expect.poll(() => dock.textContent(), WAIT).toBe('Piazza del Duomo · 7 bici · 5 stalli liberi')
    expect(await page.getByTestId('bus-map').getAttribute('aria-label')).toBe('Posizione degli autobus a Firenze, schematica')
    await screenshot(page, 'public-phone-it-mobility')
  })

  it('updates live, without reloading: the bus moves and is later, the car park fills (trend down)', async () => {
    const dot = page.locator(`[data-testid="bus-dot"][data-bus="${devices.bus!.id}"]`)
    const before = await dot.getAttribute('style')
    await publish('bus', { route: '14', lat: 43.78, lon: 11.26, delay: 300 })
    await publish('park', { availableSpotNumber: 0, totalSpotNumber: 200 })
    await expect.poll(() => page.locator(`[data-testid="bus"][data-bus="${devices.bus!.id}"]`).textContent(), WAIT).toBe('Linea 14 · in ritardo di 5 min')
    await expect.poll(() => dot.getAttribute('style'), WAIT).not.toBe(before)
    const park = page.locator(`[data-testid="park"][data-park="${devices.park!.id}"]`)
    await expect.poll(() => park.getAttribute('data-trend'), WAIT).toBe('falling')
    expect(await park.getByTestId('park-free').textContent()).toBe('Completo')
    expect(await park.textContent()).toContain('(in calo)')
  })
})

describe('"Getting around now" in an English browser', () => {
  let browser: Browser
  afterAll(async () => browser?.close())

  it('is in English', async () => {
    browser = await launchBrowser({ locale: 'en-GB' })
    const page = await openMobility(browser)
    expect(await page.locator('#mobility-title').textContent()).toBe('Getting around Firenze now')
    await expect.poll(() => page.locator(`[data-testid="bus"][data-bus="${devices.bus!.id}"]`).textContent(), WAIT).toMatch(/^Route 14 · \d min late$/)
    await expect.poll(() => page.locator(`[data-testid="dock"][data-dock="${devices.dock!.id}"]`).textContent(), WAIT).toBe('Piazza del Duomo · 7 bikes · 5 free docks')
    await screenshot(page, 'public-phone-en-mobility')
  })
})
