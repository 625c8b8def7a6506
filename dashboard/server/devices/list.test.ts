import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectError, startRolesApp, type Json, type RolesApp } from '../../../testkit/roles-app.ts'

/** GET /api/devices and GET /api/users as the admin pages use them: searched, sorted and paged on the server. */
describe('device and user lists: search, sort, pages', () => {
  let t: RolesApp
  const get = async (url: string, token = t.tokens.admin) => {
    const response = await t.app.inject({ url, headers: t.as(token) })
    expect(response.statusCode, response.body).toBe(200)
    return response.json() as Json
  }
  const names = (body: Json) => (body.items as Json[]).map((d) => d.name as string)
  const ids: Record<string, string> = {}

  beforeAll(async () => {
    t = await startRolesApp()
    const add = async (token: string, name: string, city: string, type = 'air-quality') => {
      const response = await t.app.inject({ method: 'POST', url: '/api/devices', headers: t.as(token), payload: { type, city, name } })
      expect(response.statusCode, response.body).toBe(201)
      ids[name] = (response.json() as Json).id
    }
    // Registered out of order, so neither the id nor the insertion order is the name order.
    for (const n of [10, 2, 1, 21, 3]) await add(t.tokens.admin, `Firenze – Viale Gramsci #${n}`, 'firenze')
    await add(t.tokens.admin, 'arezzo – Piazza Grande', 'arezzo', 'noise')
    await add(t.tokens.admin, 'Pisa – Lungarno Pacinotti', 'pisa', 'parking')
    await add(t.tokens.installer, 'Firenze – Via Ghibellina 9', 'firenze')
    // Seen by the feed: #3 long ago, #1 just now.
    t.feed.accepted({ id: ids['Firenze – Viale Gramsci #3']!, type: 'air-quality', city: 'firenze' }, [{ time: 1_700_000_000_000, values: { pm25: 3 } }], 1_700_000_000_000)
    t.feed.accepted({ id: ids['Firenze – Viale Gramsci #1']!, type: 'air-quality', city: 'firenze' }, [{ time: Date.now(), values: { pm25: 4 } }], Date.now())
    for (const u of ['user10', 'user2', 'user1']) await t.accounts.create({ username: u, password: 'long-enough-1', role: 'operator' })
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  it('sorts by name naturally ("#2" before "#10"), any case, both ways, with the total', async () => {
    const asc = await get('/api/devices?sort=name')
    expect(names(asc)).toEqual([
      'arezzo – Piazza Grande',
      'Firenze – Via Ghibellina 9',
      'Firenze – Viale Gramsci #1',
      'Firenze – Viale Gramsci #2',
      'Firenze – Viale Gramsci #3',
      'Firenze – Viale Gramsci #10',
      'Firenze – Viale Gramsci #21',
      'Pisa – Lungarno Pacinotti',
    ])
    expect(asc).toMatchObject({ total: 8, limit: 100, offset: 0 })
    expect(names(await get('/api/devices?sort=name&order=desc'))).toEqual(names(asc).reverse())
  })

  it('pages a sorted list without gaps or overlaps, and searches on the server before paging', async () => {
    const all = names(await get('/api/devices?sort=name'))
    const pages: string[] = []
    for (let offset = 0; offset < 8; offset += 3) {
      const page = await get(`/api/devices?sort=name&limit=3&offset=${offset}`)
      expect(page.total).toBe(8)
      pages.push(...names(page))
    }
    expect(pages).toEqual(all)
    const searched = await get('/api/devices?search=gramsci&sort=name&order=desc&limit=2&offset=1')
    expect(searched.total).toBe(5)
    expect(names(searched)).toEqual(['Firenze – Viale Gramsci #10', 'Firenze – Viale Gramsci #3'])
  })

  it('sorts by city name, type, and when last seen (never seen counts as oldest), ties by name', async () => {
    expect(names(await get('/api/devices?sort=city')).map((n) => n.split(' – ')[0])).toEqual(['arezzo', 'Firenze', 'Firenze', 'Firenze', 'Firenze', 'Firenze', 'Firenze', 'Pisa'])
    expect(names(await get('/api/devices?sort=type&limit=1&order=desc'))).toEqual(['Pisa – Lungarno Pacinotti'])
    const seen = names(await get('/api/devices?sort=lastSeen&order=desc&limit=3'))
    // desc is the exact reverse of asc, ties included: the never-seen follow, last name first.
    expect(seen).toEqual(['Firenze – Viale Gramsci #1', 'Firenze – Viale Gramsci #3', 'Pisa – Lungarno Pacinotti'])
    expect(names(await get('/api/devices?sort=lastSeen&limit=1'))).toEqual(['arezzo – Piazza Grande'])
  })

  it('keeps the id order by default (the dashboard pages through every device by offset)', async () => {
    const body = await get('/api/devices')
    const got = (body.items as Json[]).map((d) => d.id as string)
    expect(got).toEqual([...got].sort())
  })

  it('sorts an installer\'s own scope the same way', async () => {
    const body = await get('/api/devices?sort=name&limit=2', t.tokens.installer)
    expect(body.total).toBe(6)
    expect(names(body)).toEqual(['Firenze – Via Ghibellina 9', 'Firenze – Viale Gramsci #1'])
  })

  it('refuses an unknown sort or order precisely', async () => {
    const list = (q: string) => t.app.inject({ url: `/api/devices${q}`, headers: t.as(t.tokens.admin) })
    expectError(await list('?sort=colour'), 400, 'validation', /query parameter 'sort'/)
    expectError(await list('?order=up'), 400, 'validation', /query parameter 'order'/)
  })

  it('lists users searched, filtered by role, sorted naturally and paged, with the total', async () => {
    const body = await get('/api/users?search=USER&sort=username')
    expect((body.items as Json[]).map((u) => u.username)).toEqual(['user1', 'user2', 'user10'])
    expect(body.total).toBe(3)
    const page = await get('/api/users?role=operator&sort=username&order=desc&limit=2&offset=1')
    expect(page.total).toBe(4) // olga and the three
    expect((page.items as Json[]).map((u) => u.username)).toEqual(['user2', 'user1'])
    const everyone = await get('/api/users')
    expect(everyone.total).toBe((everyone.items as Json[]).length)
    expect((await get('/api/users?sort=createdAt&order=desc&limit=1')).items[0].username).toBe('user1')
    expectError(await t.app.inject({ url: '/api/users?sort=age', headers: t.as(t.tokens.admin) }), 400, 'validation', /query parameter 'sort'/)
  })
})
