import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_PASSWORD, startTestApp, type TestApp } from '../../../testkit/test-app.ts'

/**
 * Who gets which page: `/` is the citizens' page (operators with a session go on to
 * `/dashboard`), `/dashboard/*` the operators' app, `/widget/<city>` the embeddable card that
 * any site may frame, `/public/*` the citizens' build. Against a stand-in build in a temp dir.
 */

describe('public pages', () => {
  let t: TestApp
  let dist: string

  beforeAll(async () => {
    dist = mkdtempSync(join(tmpdir(), 'piazza-public-dist-'))
    mkdirSync(join(dist, 'assets'))
    mkdirSync(join(dist, 'public', 'assets'), { recursive: true })
    writeFileSync(join(dist, 'index.html'), '<!doctype html><html lang="en"><title>Operators</title><div id="root" data-app="operators"></div>')
    writeFileSync(join(dist, 'assets', 'index-1a2b3c.js'), 'console.log("operators")')
    writeFileSync(join(dist, 'public', 'public.html'), '<!doctype html><html lang="it"><title>Aria</title><div id="root" data-app="public"></div>')
    writeFileSync(join(dist, 'public', 'widget.html'), '<!doctype html><html lang="it"><title>Widget</title><div id="root" data-app="widget"></div>')
    writeFileSync(join(dist, 'public', 'assets', 'public-4d5e6f.js'), 'console.log("public")')
    t = await startTestApp({ deps: { staticDir: dist, publicData: { snapshots: { warm: false } } } })
  })
  afterAll(async () => {
    await t?.cleanup()
    rmSync(dist, { recursive: true, force: true })
  })

  it('serves the citizens’ page at /, in the visitor’s language, never framed', async () => {
    const page = await t.app.inject({ url: '/', headers: { 'accept-language': 'it-IT,it;q=0.9,en;q=0.8' } })
    expect(page.statusCode).toBe(200)
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(page.body).toContain('data-app="public"')
    expect(page.body).toContain('<html lang="it"')
    expect(page.headers['cache-control']).toBe('no-cache')
    expect(page.headers.vary).toBe('Cookie, Accept-Language')
    expect(page.headers['x-frame-options']).toBe('DENY')
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'")
    expect(page.headers['content-security-policy']).toContain("script-src 'self'")
    for (const [accept, lang] of [['en-US,en;q=0.9', 'en'], ['de-DE,de;q=0.9,en;q=0.5', 'en'], ['fr-FR', 'en'], [undefined, 'it'], ['en;q=0.4,it;q=0.8', 'it']] as const) {
      const response = await t.app.inject({ url: '/?city=pisa', headers: accept ? { 'accept-language': accept } : {} })
      expect(response.body, String(accept)).toContain(`<html lang="${lang}"`)
    }
  })

  it('shows a visitor with a valid session the citizens’ page too, marked as staff; a stale cookie is a visitor', async () => {
    const token = await t.login('admin', ADMIN_PASSWORD)
    const staff = await t.app.inject({ url: '/', cookies: { piazza_session: token } })
    expect(staff.statusCode).toBe(200)
    expect(staff.body).toContain('data-app="public"')
    expect(staff.body).toMatch(/<html lang="[a-z]+" data-staff="true"/)
    const stale = await t.app.inject({ url: '/', cookies: { piazza_session: 'not-a-session' } })
    expect(stale.statusCode).toBe(200)
    expect(stale.body).toContain('data-app="public"')
    expect(stale.body).not.toContain('data-staff')
  })

  it('answers an unknown address with the citizens’ page as a 404, the operators’ app under /dashboard', async () => {
    for (const url of ['/nope', '/nope/xyz?x=1', '/cities/firenze']) {
      const response = await t.app.inject({ url })
      expect(response.statusCode, url).toBe(404)
      expect(response.headers['content-type']).toBe('text/html; charset=utf-8')
      expect(response.body).toContain('data-app="public"')
    }
    // The operators' app shows its own "not found" for its unknown sub-paths.
    const staff = await t.app.inject({ url: '/dashboard/nope/xyz' })
    expect(staff.statusCode).toBe(200)
    expect(staff.body).toContain('data-app="operators"')
    expect((await t.app.inject({ method: 'POST', url: '/nope', payload: {} })).json()).toMatchObject({ error: { status: 404, code: 'not-found' } })
  })

  it('serves the operators’ app at /dashboard and its sub-paths, with its assets at /assets/', async () => {
    for (const url of ['/dashboard', '/dashboard/devices/aq-firenze-1', '/dashboard?city=pisa']) {
      const response = await t.app.inject({ url })
      expect(response.statusCode, url).toBe(200)
      expect(response.body).toContain('data-app="operators"')
      expect(response.headers['x-frame-options']).toBe('DENY')
    }
    expect((await t.app.inject({ url: '/assets/index-1a2b3c.js' })).headers['cache-control']).toBe('public, max-age=31536000, immutable')
  })

  it('serves the citizens’ build under /public/, hashed assets cached for a year, nothing else falls back', async () => {
    const asset = await t.app.inject({ url: '/public/assets/public-4d5e6f.js' })
    expect(asset.statusCode).toBe(200)
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    const missing = await t.app.inject({ url: '/public/assets/missing-000.js' })
    expect(missing.statusCode).toBe(404)
    const notAnApp = await t.app.inject({ url: '/public/somewhere' })
    expect(notAnApp.statusCode).toBe(404)
    expect(notAnApp.json()).toMatchObject({ error: { status: 404, code: 'not-found' } })
  })

  it('serves the widget to any site’s frames, and only the widget', async () => {
    const widget = await t.app.inject({ url: '/widget/firenze?theme=dark', headers: { 'accept-language': 'en-GB' } })
    expect(widget.statusCode).toBe(200)
    expect(widget.body).toContain('data-app="widget"')
    expect(widget.body).toContain('<html lang="en"')
    expect(widget.headers['x-frame-options']).toBeUndefined()
    expect(widget.headers['content-security-policy']).toContain('frame-ancestors *')
    expect((await t.app.inject({ url: '/widget/Pisa?lang=it' })).body).toContain('<html lang="it"')
    // An unknown city: the widget says so itself, as a 404 (frames show it, crawlers skip it).
    const unknown = await t.app.inject({ url: '/widget/atlantis' })
    expect(unknown.statusCode).toBe(404)
    expect(unknown.body).toContain('data-app="widget"')
    expect((await t.app.inject({ url: '/widget/firenze?theme=pink' })).statusCode).toBe(400)
    // Everything else keeps DENY, the open-data API included.
    for (const url of ['/api/public/air-quality?city=firenze', '/api/config']) {
      const response = await t.app.inject({ url })
      expect(response.headers['x-frame-options'], url).toBe('DENY')
      expect(response.headers['content-security-policy'], url).toContain("frame-ancestors 'none'")
    }
  })
})

describe('public pages without a build', () => {
  it('answers / with a clear 404 when nothing is built', async () => {
    const t = await startTestApp({ deps: { publicData: { snapshots: { warm: false } } } })
    try {
      const response = await t.app.inject({ url: '/' })
      expect(response.statusCode).toBe(404)
      expect(response.json().error.message).toMatch(/public pages are not built/)
      expect((await t.app.inject({ url: '/widget/firenze' })).json().error.message).toMatch(/widget is not built/)
      expect((await t.app.inject({ url: '/widget/atlantis' })).json().error.message).toMatch(/no city 'atlantis'/)
    } finally {
      await t.cleanup()
    }
  })
})
