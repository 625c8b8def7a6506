import { mkdtempSync, rmSync, statSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Compile } from 'typebox/compile'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DEVICE_TYPES } from '../devices/kinds.ts'
import { cities, cityIds, isInRegion } from '../devices/region.ts'
import { createRegistry, DEVICE_ID_PATTERN, NewDeviceSchema, openRegistryDatabase, type Registry } from '../devices/registry.ts'
import { randomBytes } from 'node:crypto'
import { apportion, ensureFleet, planFleet, TYPE_MIX } from './fleet.ts'
import { STREETS } from './streets.ts'

const countBy = <T>(items: T[], key: (item: T) => string) => {
  const out: Record<string, number> = {}
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1
  return out
}

describe('planFleet', () => {
  it('plans exactly the asked number of valid devices across all ten cities, weighted to Firenze', () => {
    const plan = planFleet({ devices: 500, seed: 1 })
    expect(plan).toHaveLength(500)
    const checkNew = Compile(NewDeviceSchema)
    const idPattern = new RegExp(DEVICE_ID_PATTERN)
    for (const d of plan) {
      expect(checkNew.Check(d)).toBe(true)
      expect(d.id).toMatch(idPattern)
      expect(isInRegion(d.lat, d.lon)).toBe(true)
    }
    expect(new Set(plan.map((d) => d.id)).size).toBe(500)

    const perCity = countBy(plan, (d) => d.city)
    expect(Object.keys(perCity).sort()).toEqual([...cityIds].sort())
    for (const city of cityIds) if (city !== 'firenze') expect(perCity.firenze).toBeGreaterThan(perCity[city]!)
    expect(perCity.firenze).toBeGreaterThan(2 * perCity.grosseto!)

    // The type mix follows TYPE_MIX to within a few devices per type.
    const perType = countBy(plan, (d) => d.type)
    for (const type of DEVICE_TYPES) expect(Math.abs(perType[type]! - 500 * TYPE_MIX[type])).toBeLessThanOrEqual(10)
  })

  it('gives buses shared routes and counters their lanes', () => {
    const plan = planFleet({ devices: 300, seed: 2 })
    const buses = plan.filter((d) => d.type === 'bus' && d.city === 'firenze')
    const routes = countBy(buses, (d) => String(d.metadata.route))
    expect(Object.keys(routes).length).toBeGreaterThan(1)
    expect(Math.max(...Object.values(routes))).toBeGreaterThan(1)
    for (const c of plan.filter((d) => d.type === 'traffic-counter')) {
      expect(c.metadata.lanes).toBeGreaterThanOrEqual(2)
      expect(c.metadata.lanes).toBeLessThanOrEqual(4)
    }
  })

  it('is deterministic, honours the city list, and gives every city a device when it can', () => {
    expect(planFleet({ devices: 50, seed: 3 })).toEqual(planFleet({ devices: 50, seed: 3 }))
    expect(planFleet({ devices: 50, seed: 3 })).not.toEqual(planFleet({ devices: 50, seed: 4 }))
    const two = planFleet({ devices: 20, seed: 3, cities: ['Siena', 'prato'] })
    expect(new Set(two.map((d) => d.city))).toEqual(new Set(['siena', 'prato']))
    expect(new Set(planFleet({ devices: 10, seed: 3 }).map((d) => d.city)).size).toBe(10)
    expect(planFleet({ devices: 0, seed: 3 })).toEqual([])
    expect(() => planFleet({ devices: 5, seed: 3, cities: ['Roma'] })).toThrow(/unknown city/)
  })

  it('names air-quality stations in Italian after a street of their city, distinct and deterministic', () => {
    const plan = planFleet({ devices: 500, seed: 7 })
    const stations = plan.filter((d) => d.type === 'air-quality')
    expect(stations.length).toBeGreaterThan(20)
    for (const s of stations) {
      const city = cities.find((c) => c.id === s.city)!
      expect(s.name.startsWith(`${city.name} – `)).toBe(true)
      expect(STREETS[s.city]).toContain(s.name.slice(`${city.name} – `.length).replace(/ \(\d+\)$/, ''))
      expect(s.name).not.toMatch(/#|station/i)
    }
    expect(new Set(stations.map((s) => s.name)).size).toBe(stations.length)
    expect(planFleet({ devices: 500, seed: 7 }).map((d) => d.name)).toEqual(plan.map((d) => d.name))
  })

  it('names the other kinds in Italian too (kind, city, street; buses by line and vehicle), every name distinct and none English', () => {
    const plan = planFleet({ devices: 500, seed: 7 })
    const others = plan.filter((d) => d.type !== 'air-quality')
    const prefix = { noise: 'Fonometro', weather: 'Meteo', 'traffic-counter': 'Conteggio traffico', parking: 'Parcheggio', 'bike-dock': 'Bici' } as const
    for (const d of others) {
      const city = cities.find((c) => c.id === d.city)!
      expect(d.name).not.toMatch(/#|station|counter|parking|dock|meter|line /i)
      if (d.type === 'bus') {
        expect(d.name).toBe(`Bus ${city.name} – Linea ${d.metadata.route}, vettura ${d.id.split('-').pop()}`)
        continue
      }
      const head = `${prefix[d.type as keyof typeof prefix]} ${city.name} – `
      expect(d.name.startsWith(head)).toBe(true)
      expect(STREETS[d.city]).toContain(d.name.slice(head.length).replace(/ \(\d+\)$/, ''))
    }
    for (const type of ['parking', 'bike-dock', 'traffic-counter', 'bus'] as const) expect(others.filter((d) => d.type === type).length).toBeGreaterThan(20)
    expect(new Set(plan.map((d) => d.name)).size).toBe(plan.length)
    // Natural order: vehicle 2 before vehicle 10 (how the lists sort them).
    const natural = new Intl.Collator('it', { numeric: true }).compare
    const firenzeBuses = others
      .filter((d) => d.type === 'bus' && d.city === 'firenze' && d.metadata.route === '1')
      .sort((a, b) => natural(a.name, b.name))
      .map((d) => Number(d.id.split('-').pop()))
    expect(firenzeBuses.length).toBeGreaterThan(2)
    expect(firenzeBuses).toEqual([...firenzeBuses].sort((a, b) => a - b))
  })

  it('apportions exactly', () => {
    expect(apportion(10, [1, 1, 1])).toEqual([4, 3, 3])
    expect(apportion(7, [0.5, 0.25, 0.25]).reduce((a, b) => a + b)).toBe(7)
  })
})

describe('ensureFleet', () => {
  let dir: string
  let registry: Registry
  let close: () => void

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'piazza-fleet-'))
    const db = openRegistryDatabase(join(dir, 'registry.db'))
    registry = createRegistry({ db, secretKey: randomBytes(32) })
    close = () => db.close()
  })
  afterEach(() => {
    close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('registers once, then reuses the same devices and secrets', async () => {
    const file = join(dir, 'simulator', 'fleet.json')
    const plan = planFleet({ devices: 12, seed: 5 })
    const first = await ensureFleet(registry, plan, file)
    expect(first.map((e) => e.device.id)).toEqual(plan.map((p) => p.id))
    expect(registry.list().total).toBe(12)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    for (const { device, secret } of first) expect((await registry.checkCredentials(device.id, secret)).ok).toBe(true)
    expect(first[0]!.device.createdBy).toBe('simulator')

    const second = await ensureFleet(registry, plan, file)
    expect(second.map((e) => [e.device.id, e.secret])).toEqual(first.map((e) => [e.device.id, e.secret]))
    expect(registry.list().total).toBe(12)

    // A bigger plan adds only the new devices.
    const bigger = planFleet({ devices: 15, seed: 5 })
    const third = await ensureFleet(registry, bigger, file)
    expect(registry.list().total).toBe(15)
    const secrets = new Map(first.map((e) => [e.device.id, e.secret]))
    for (const e of third) if (secrets.has(e.device.id)) expect(e.secret).toBe(secrets.get(e.device.id))
  })

  it('renames a station still carrying the English name an earlier demo generated, not one an operator renamed', async () => {
    const file = join(dir, 'fleet.json')
    const plan = planFleet({ devices: 60, seed: 8, cities: ['firenze'] }).filter((d) => d.type === 'air-quality').slice(0, 2)
    expect(plan).toHaveLength(2)
    const [a, b] = plan as [(typeof plan)[number], (typeof plan)[number]]
    const n = (id: string) => id.split('-').pop()
    await registry.add({ ...a, name: `Air-quality station Firenze #${n(a.id)}` }, 'simulator')
    await registry.add({ ...b, name: 'Centralina del Comune' }, 'operator')
    const entries = await ensureFleet(registry, plan, file)
    expect(registry.get(a.id)!.name).toBe(a.name)
    expect(entries[0]!.device.name).toBe(a.name)
    expect(registry.get(b.id)!.name).toBe('Centralina del Comune')
  })

  it('renames car parks and buses still carrying the English names an earlier demo generated', async () => {
    const file = join(dir, 'fleet.json')
    const all = planFleet({ devices: 60, seed: 8, cities: ['firenze'] })
    const park = all.find((d) => d.type === 'parking')!
    const bus = all.find((d) => d.type === 'bus')!
    const n = (id: string) => id.split('-').pop()
    await registry.add({ ...park, name: `Parking area Firenze #${n(park.id)}` }, 'simulator')
    await registry.add({ ...bus, name: `Bus tracker Firenze line ${bus.metadata.route} #${n(bus.id)}` }, 'simulator')
    await ensureFleet(registry, [park, bus], file)
    expect(registry.get(park.id)!.name).toBe(park.name)
    expect(park.name).toMatch(/^Parcheggio Firenze – /)
    expect(registry.get(bus.id)!.name).toBe(`Bus Firenze – Linea ${bus.metadata.route}, vettura ${n(bus.id)}`)
  })

  it('recovers when the credentials file is lost, by rotating secrets instead of duplicating devices', async () => {
    const file = join(dir, 'fleet.json')
    const plan = planFleet({ devices: 4, seed: 6 })
    const first = await ensureFleet(registry, plan, file)
    unlinkSync(file)
    const again = await ensureFleet(registry, plan, file)
    expect(registry.list().total).toBe(4)
    for (let i = 0; i < plan.length; i++) {
      expect(again[i]!.secret).not.toBe(first[i]!.secret)
      expect((await registry.checkCredentials(again[i]!.device.id, again[i]!.secret)).ok).toBe(true)
      expect((await registry.checkCredentials(first[i]!.device.id, first[i]!.secret)).ok).toBe(false)
    }
  })
})
