import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestApp, type TestApp } from '../../../testkit/test-app.ts'

/**
 * Brotli or gzip when the client asks, identity when it does not; hashed bundles cached for a
 * year, HTML revalidated. Against a stand-in build in a temp dir and the real API.
 */

describe('compression and caching', () => {
  let t: TestApp
  let dist: string
  // Big enough to pass the 1 KiB threshold, repetitive as real bundles are.
  const bundle = `console.log(${JSON.stringify('piazza '.repeat(2000))})`
  const html = `<!doctype html><html lang="it"><title>Aria</title><div id="root" data-app="public"></div><!--${' spazio'.repeat(500)}-->`

  beforeAll(async () => {
    dist = mkdtempSync(join(tmpdir(), 'piazza-compress-dist-'))
    mkdirSync(join(dist, 'public', 'assets'), { recursive: true })
    writeFileSync(join(dist, 'public', 'public.html'), html)
    writeFileSync(join(dist, 'public', 'widget.html'), html)
    writeFileSync(join(dist, 'public', 'assets', 'public-4d5e6f.js'), bundle)
    writeFileSync(join(dist, 'public', 'assets', 'public-4d5e6f.css'), `body{margin:0}${'.a{color:red}'.repeat(300)}`)
    writeFileSync(join(dist, 'public', 'assets', 'logo-7a8b9c.bin'), Buffer.alloc(4096, 7))
    t = await startTestApp({ deps: { staticDir: dist, publicData: { snapshots: { warm: false } } } })
  })
  afterAll(async () => {
    await t?.cleanup()
    rmSync(dist, { recursive: true, force: true })
  })

  const decode = (encoding: string | undefined, raw: Buffer) => (encoding === 'br' ? brotliDecompressSync(raw) : encoding === 'gzip' ? gunzipSync(raw) : raw).toString('utf8')

  it('sends a hashed bundle Brotli- or gzip-encoded when asked, identity when not, cached for a year', async () => {
    const url = '/public/assets/public-4d5e6f.js'
    for (const [accept, expected] of [['br, gzip', 'br'], ['gzip, deflate', 'gzip'], ['br;q=0.5, gzip;q=1', 'gzip'], [undefined, undefined], ['identity', undefined]] as const) {
      const response = await t.app.inject({ url, headers: accept ? { 'accept-encoding': accept } : {} })
      expect(response.statusCode, String(accept)).toBe(200)
      expect(response.headers['content-encoding'], String(accept)).toBe(expected)
      expect(response.headers['cache-control']).toBe('public, max-age=31536000, immutable')
      expect(decode(expected, response.rawPayload), String(accept)).toBe(bundle)
      if (expected) {
        expect(response.rawPayload.length).toBeLessThan(bundle.length / 10)
        expect(response.headers.vary).toMatch(/accept-encoding/i)
      }
    }
    const css = await t.app.inject({ url: '/public/assets/public-4d5e6f.css', headers: { 'accept-encoding': 'br' } })
    expect(css.headers['content-encoding']).toBe('br')
    expect(css.headers['cache-control']).toBe('public, max-age=31536000, immutable')
  })

  it('leaves binary files alone', async () => {
    const response = await t.app.inject({ url: '/public/assets/logo-7a8b9c.bin', headers: { 'accept-encoding': 'br, gzip' } })
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-encoding']).toBeUndefined()
    expect(response.rawPayload.equals(Buffer.alloc(4096, 7))).toBe(true)
  })

  it('compresses the HTML page too, which is never cached without revalidating', async () => {
    for (const url of ['/', '/widget/firenze', '/no-such-page']) {
      const plain = await t.app.inject({ url })
      const br = await t.app.inject({ url, headers: { 'accept-encoding': 'br' } })
      expect(plain.headers['content-encoding'], url).toBeUndefined()
      expect(br.headers['content-encoding'], url).toBe('br')
      expect(plain.headers['cache-control'], url).toBe('no-cache')
      expect(br.headers['cache-control'], url).toBe('no-cache')
      expect(decode('br', br.rawPayload), url).toBe(plain.body)
    }
  })

  it('compresses JSON answers of the API when asked, identity when not', async () => {
    const url = '/api/public/stations'
    const plain = await t.app.inject({ url })
    expect(plain.statusCode).toBe(200)
    expect(plain.headers['content-encoding']).toBeUndefined()
    const docs = await t.app.inject({ url: '/api/docs/json', headers: { 'accept-encoding': 'gzip' } })
    expect(docs.statusCode).toBe(200)
    expect(docs.headers['content-type']).toMatch(/^application\/json/)
    expect(docs.headers['content-encoding']).toBe('gzip')
    const decoded = JSON.parse(decode('gzip', docs.rawPayload)) as { openapi: string; paths: object }
    expect(decoded.openapi).toBe('3.1.0')
    expect(Object.keys(decoded.paths).length).toBeGreaterThan(20)
    const identity = await t.app.inject({ url: '/api/docs/json' })
    expect(identity.headers['content-encoding']).toBeUndefined()
    expect(identity.json()).toEqual(decoded)
  })

  it('keeps the open-data answers revalidatable: the same ETag compressed or not, 304 on a match', async () => {
    const url = '/api/public/air-quality'
    const br = await t.app.inject({ url, headers: { 'accept-encoding': 'br' } })
    expect(br.statusCode).toBe(200)
    const etag = br.headers.etag as string
    expect(etag).toMatch(/^"/)
    const again = await t.app.inject({ url, headers: { 'if-none-match': etag } })
    expect(again.statusCode).toBe(304)
    expect(again.headers['content-encoding']).toBeUndefined()
    expect(br.headers.vary).toMatch(/Accept.*accept-encoding|accept-encoding.*Accept/i)
  })

  it('answers the GTFS-RT protobuf intact whether or not the client asks for compression', async () => {
    const url = '/api/public/gtfs-rt/vehicle-positions'
    const plain = await t.app.inject({ url })
    expect(plain.statusCode).toBe(200)
    expect(plain.headers['content-type']).toMatch(/^application\/x-protobuf/)
    const asked = await t.app.inject({ url, headers: { 'accept-encoding': 'br, gzip' } })
    const encoding = asked.headers['content-encoding'] as string | undefined
    const body = encoding === 'br' ? brotliDecompressSync(asked.rawPayload) : encoding === 'gzip' ? gunzipSync(asked.rawPayload) : asked.rawPayload
    // The header carries a timestamp (seconds): compare everything but it by length and prefix.
    expect(body.length).toBe(plain.rawPayload.length)
  })
})
