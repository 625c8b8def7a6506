import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseCsv, toCsv } from '../http/csv.ts'
import { expectError, startRolesApp, type Json, type RolesApp } from '../../../testkit/roles-app.ts'

const GOOD = `id,type,city,name,lat,lon,interval,meta.serial,meta.mounting_height_m
,air-quality,firenze,Firenze Import A,43.7781,11.2656,60,SN-0001,3.5
aq-firenze-import-b,air-quality,Firenze,Firenze Import B,,,30,00042,
,noise,firenze,"Firenze Import, ""C""",43.77,11.25,,SN-0003,4
`

const BAD = `id,type,city,name,lat,lon,interval,meta.serial
,air-quality,firenze,Ok row,43.7781,11.2656,60,SN-1
,airquality,firenze,Bad type,,,,
,noise,milano,Bad city,,,,
,noise,firenze,,43.7,,0,
Bad_Id,noise,firenze,Bad id,abc,11.2,,
,noise,firenze,Ok row 2,45.46,9.19,,
,air-quality,firenze,Ok row,,,,
,noise,prato,Other city,,,,
`

describe('bulk import', () => {
  let t: RolesApp
  const post = (body: string, dryRun: boolean | undefined, token: string | undefined, contentType = 'text/csv') =>
    t.app.inject({
      method: 'POST',
      url: `/api/devices/import${dryRun === undefined ? '' : `?dryRun=${dryRun}`}`,
      headers: { ...(token ? t.as(token) : {}), 'content-type': contentType },
      payload: body,
    })

  beforeAll(async () => {
    t = await startRolesApp()
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  describe('csv', () => {
    it('reads quotes, doubled quotes, line breaks in quotes, CRLF, a BOM and semicolons', () => {
      expect(parseCsv('\uFEFFa,b\r\n"x, ""y""","line\nbreak"\r\n')).toEqual([
        { line: 1, fields: ['a', 'b'] },
        { line: 2, fields: ['x, "y"', 'line\nbreak'] },
      ])
      expect(parseCsv('a;b\n1,5;2\n')).toEqual([
        { line: 1, fields: ['a', 'b'] },
        { line: 2, fields: ['1,5', '2'] },
      ])
      expect(() => parseCsv('a\n"open')).toThrow(/line 2: a quoted field is not closed/)
      expect(toCsv([['a', 'b,c', 'd"e', null]])).toBe('a,"b,c","d""e",\r\n')
    })
  })

  it('serves a template that imports as it is', async () => {
    const response = await t.app.inject({ url: '/api/devices/import/template', headers: t.as(t.tokens.installer) })
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toMatch(/^text\/csv/)
    expect(response.headers['content-disposition']).toContain('piazza-devices-template.csv')
    expect(response.body.split('\r\n')[0]).toBe('id,type,city,name,lat,lon,interval,meta.serial,meta.mounting_height_m')
    const dry = (await post(response.body, true, t.tokens.admin)).json() as Json
    expect(dry).toMatchObject({ dryRun: true, ok: true, summary: { rows: 2, create: 2, errors: 0 } })
    expectError(await t.app.inject({ url: '/api/devices/import/template' }), 401, 'unauthorized')
    expectError(await t.app.inject({ url: '/api/devices/import/template', headers: t.as(t.tokens.operator) }), 403, 'forbidden')
  })

  it('a dry run reports every row\'s errors precisely and creates nothing', async () => {
    const before = t.registry.list().total
    const response = await post(BAD, true, t.tokens.installer)
    expect(response.statusCode, response.body).toBe(200)
    const report = response.json() as Json
    expect(report).toMatchObject({ dryRun: true, ok: false, summary: { rows: 8, create: 1, errors: 7, exists: 0, created: 0 } })
    const byLine = Object.fromEntries(report.rows.map((r: Json) => [r.line, r]))
    expect(byLine[2]).toMatchObject({ status: 'create', type: 'air-quality', city: 'firenze', name: 'Ok row', errors: [] })
    expect(byLine[3].errors).toEqual([expect.stringMatching(/^type: 'airquality' is not a device type; types: air-quality, noise/)])
    expect(byLine[4].errors).toEqual([expect.stringMatching(/^city: 'milano' is not one of firenze, prato/)])
    expect(byLine[5].errors).toEqual([
      'name: missing',
      'lat and lon: give both, or neither (the device then stands at the city centre)',
      "interval: '0' must be a whole number of seconds from 1 to 86400",
    ])
    expect(byLine[6].errors).toEqual([expect.stringMatching(/^id: 'Bad_Id' must be/), "lat: 'abc' is not a number"])
    expect(byLine[7]).toMatchObject({ status: 'error', errors: ['location 45.46, 9.19 is outside the region'] })
    expect(byLine[8].errors).toEqual(['the same device as line 2'])
    expect(byLine[9].errors).toEqual(["city: installer 'ivan' works in firenze, not in prato"])
    expect(t.registry.list().total).toBe(before)
  })

  it('refuses with 403 an installer importing devices into a city that is not theirs, creating nothing', async () => {
    const total = t.registry.list().total
    const csv = 'type,city,name\nnoise,firenze,Mine Firenze\nnoise,pisa,Not Mine Pisa\n'
    const dry = (await post(csv, true, t.tokens.installer)).json() as Json
    expect(dry.rows[1]).toMatchObject({ status: 'error', errors: [expect.stringMatching(/works in firenze, not in pisa/)] })
    expectError(await post(csv, false, t.tokens.installer), 403, 'forbidden', /^1 of 2 rows are in cities you may not register devices in, so nothing was imported \(line 3: installer 'ivan' works in firenze, not in pisa\)/)
    expect(t.registry.list().total).toBe(total)
  })

  it('refuses an import with errors as a whole (400), creating nothing', async () => {
    const before = t.registry.list().total
    expectError(await post(BAD, false, t.tokens.installer), 400, 'validation', /^7 of 8 rows have errors, so nothing was imported \(line 3: type: 'airquality'/)
    expect(t.registry.list().total).toBe(before)
  })

  it('imports the corrected file once: secrets come back once as CSV; importing again creates nothing', async () => {
    const dry = (await post(GOOD, true, t.tokens.installer)).json() as Json
    expect(dry).toMatchObject({ ok: true, summary: { create: 3, errors: 0 } })
    expect(dry).not.toHaveProperty('secretsCsv')

    const response = await post(GOOD, false, t.tokens.installer)
    expect(response.statusCode, response.body).toBe(200)
    const report = response.json() as Json
    expect(report).toMatchObject({ dryRun: false, ok: true, summary: { rows: 3, created: 3, exists: 0, errors: 0 } })
    const secrets = parseCsv(report.secretsCsv)
    expect(secrets[0]!.fields).toEqual(['id', 'type', 'city', 'name', 'username', 'password', 'client_id', 'topic'])
    expect(secrets).toHaveLength(4)
    for (const { fields } of secrets.slice(1)) {
      const [id, , , , username, password, clientId, topic] = fields
      expect(username).toBe(id)
      expect(clientId).toBe(id)
      expect(topic).toBe(`devices/${id}/telemetry`)
      expect(await t.registry.checkCredentials(id!, password!)).toMatchObject({ ok: true })
    }
    const b = t.registry.get('aq-firenze-import-b')!
    expect(b).toMatchObject({ name: 'Firenze Import B', interval: 30, createdBy: 'ivan', metadata: { serial: '00042' } })
    const a = t.registry.list({ search: 'Firenze Import A' }).items[0]!
    expect(a.metadata).toEqual({ serial: 'SN-0001', mounting_height_m: 3.5 })
    expect(t.registry.list({ search: 'Import, "C"' }).items[0]).toMatchObject({ type: 'noise', lat: 43.77 })
    expect((await t.audit.list({ target: b.id })).items[0]).toMatchObject({ action: 'device.create', actor: 'ivan', details: { via: 'import' } })
    expect(JSON.stringify((await t.audit.list()).items)).not.toContain(secrets[1]!.fields[5]!)

    const total = t.registry.list().total
    const again = (await post(GOOD, false, t.tokens.installer)).json() as Json
    expect(again).toMatchObject({ ok: true, summary: { created: 0, exists: 3 } })
    expect(again.rows.map((r: Json) => r.id)).toEqual(report.rows.map((r: Json) => r.id))
    expect(parseCsv(again.secretsCsv)).toHaveLength(1)
    expect(t.registry.list().total).toBe(total)
  })

  it('two imports of the same new file at once create each device once', async () => {
    const file = 'type,city,name\nweather,firenze,Concurrent A\nweather,firenze,Concurrent B\n'
    const [one, two] = await Promise.all([post(file, false, t.tokens.admin), post(file, false, t.tokens.admin)])
    const created = [one, two].map((r) => (r.json() as Json).summary.created)
    expect(created.sort()).toEqual([0, 2])
    expect(t.registry.list({ search: 'Concurrent' }).total).toBe(2)
  })

  it('an id that is taken by a different device is an error; semicolons and decimal commas are read', async () => {
    const taken = await post('id,type,city,name\naq-firenze-import-b,noise,firenze,Other\n', true, t.tokens.admin)
    expect((taken.json() as Json).rows[0].errors).toEqual(["id: 'aq-firenze-import-b' is already used by another device (air-quality in firenze, 'Firenze Import B')"])
    const semi = (await post('type;city;name;lat;lon\nnoise;pisa;Pisa Semicolon;43,7175;10,3985\n', true, t.tokens.admin)).json() as Json
    expect(semi.rows[0]).toMatchObject({ status: 'create', city: 'pisa', errors: [] })
  })

  it('validates the file, the query, the content type and the role', async () => {
    expectError(await post('type,city\nnoise,firenze\n', true, t.tokens.admin), 400, 'validation', /missing column 'name'/)
    expectError(await post('type,city,name,colour\n', true, t.tokens.admin), 400, 'validation', /unknown column 'colour'/)
    expectError(await post('type,city,name\n', true, t.tokens.admin), 400, 'validation', /no device rows/)
    expectError(await post('', true, t.tokens.admin), 400, 'validation')
    expectError(await post(GOOD, undefined, t.tokens.admin), 400, 'validation', /missing required query parameter 'dryRun'/)
    expectError(await post(GOOD, true, t.tokens.admin, 'application/json'), 415, 'unsupported-media-type', /Content-Type: text\/csv/)
    expectError(await post(GOOD, true, t.tokens.admin, 'text/plain'), 415, 'unsupported-media-type', /Content-Type: text\/csv/)
    expectError(await post(GOOD, true, undefined), 401, 'unauthorized')
    expectError(await post(GOOD, true, t.tokens.operator), 403, 'forbidden', /installer or admin/)
  })

  it('keeps text/csv to this route: elsewhere the API still takes JSON only', async () => {
    const response = await t.app.inject({ method: 'POST', url: '/api/devices', headers: { ...t.as(t.tokens.admin), 'content-type': 'text/csv' }, payload: 'type,city,name\n' })
    expectError(response, 415, 'unsupported-media-type', /JSON/)
  })
})
