import { VectorTile } from '@mapbox/vector-tile'
import { PbfReader } from 'pbf'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PMTiles, type RangeResponse, type Source } from 'pmtiles'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildPmtilesArchive, sampleFlorenceLayers } from '../../../testkit/pmtiles-archive.ts'
import { startTestApp, type TestApp } from '../../../testkit/test-app.ts'

/**
 * The self-hosted base map: the PMTiles archive named by MAP_PMTILES_FILE is served with HTTP
 * range requests, as the browser's `pmtiles` protocol reads it. The archive is built by the test
 * (testkit/pmtiles-archive.ts) and read back through the server with the `pmtiles` reader.
 */

describe('GET /tiles/base.pmtiles', () => {
  let t: TestApp
  let dir: string
  const archive = buildPmtilesArchive({ layers: sampleFlorenceLayers(), maxZoom: 10 })

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'piazza-tiles-'))
    const file = join(dir, 'toscana.pmtiles')
    writeFileSync(file, archive.bytes)
    t = await startTestApp({ deps: { map: { pmtilesFile: file, attribution: 'Estratto di prova' } } })
  })
  afterAll(async () => {
    await t?.cleanup()
    rmSync(dir, { recursive: true, force: true })
  })

  it('is named in /api/config, with the credit line', async () => {
    const body = (await t.app.inject({ url: '/api/config' })).json() as { baseMap: unknown }
    expect(body.baseMap).toEqual({ styleUrl: null, pmtilesUrl: '/tiles/base.pmtiles', attribution: 'Estratto di prova' })
  })

  it('answers a range request with 206 and exactly those bytes', async () => {
    const head = await t.app.inject({ url: '/tiles/base.pmtiles', headers: { range: 'bytes=0-126' } })
    expect(head.statusCode).toBe(206)
    expect(head.headers['content-range']).toBe(`bytes 0-126/${archive.bytes.length}`)
    expect(head.headers['accept-ranges']).toBe('bytes')
    expect(head.rawPayload.equals(Buffer.from(archive.bytes.subarray(0, 127)))).toBe(true)
    expect(head.rawPayload.subarray(0, 7).toString('ascii')).toBe('PMTiles')

    const from = archive.bytes.length - 300
    const middle = await t.app.inject({ url: '/tiles/base.pmtiles', headers: { range: `bytes=${from}-${from + 99}` } })
    expect(middle.statusCode).toBe(206)
    expect(middle.rawPayload.equals(Buffer.from(archive.bytes.subarray(from, from + 100)))).toBe(true)

    // The reader's first request asks for 16 KiB, more than a small archive has: the rest, still 206.
    const first = await t.app.inject({ url: '/tiles/base.pmtiles', headers: { range: 'bytes=0-16383' } })
    expect(first.statusCode).toBe(206)
    expect(first.rawPayload.length).toBe(Math.min(16_384, archive.bytes.length))

    const whole = await t.app.inject({ url: '/tiles/base.pmtiles' })
    expect(whole.statusCode).toBe(200)
    expect(whole.rawPayload.length).toBe(archive.bytes.length)

    const beyond = await t.app.inject({ url: '/tiles/base.pmtiles', headers: { range: `bytes=${archive.bytes.length + 10}-${archive.bytes.length + 20}` } })
    expect(beyond.statusCode).toBe(416)
    expect(beyond.headers['content-range']).toBe(`bytes */${archive.bytes.length}`)
  })

  it('is read back through the server by the pmtiles reader: header, metadata and decoded tiles', async () => {
    const source: Source = {
      getKey: () => '/tiles/base.pmtiles',
      async getBytes(offset, length): Promise<RangeResponse> {
        const r = await t.app.inject({ url: '/tiles/base.pmtiles', headers: { range: `bytes=${offset}-${offset + length - 1}` } })
        if (r.statusCode !== 206) throw new Error(`status ${r.statusCode}`)
        const bytes = r.rawPayload
        return { data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer }
      },
    }
    const reader = new PMTiles(source)
    const header = await reader.getHeader()
    expect(header).toMatchObject({ specVersion: 3, minZoom: 0, maxZoom: 10, tileType: 1, numAddressedTiles: archive.tiles })
    expect(header.minLon).toBeCloseTo(9.6, 5)
    expect(header.maxLat).toBeCloseTo(44.5, 5)
    expect(((await reader.getMetadata()) as { vector_layers: { id: string }[] }).vector_layers.map((l) => l.id)).toEqual(['earth', 'water', 'roads', 'places'])

    // Zoom 10 tile holding the place in the sample (11.262, 43.7765).
    const z = 10
    const x = Math.floor(((11.262 + 180) / 360) * 2 ** z)
    const lat = (43.7765 * Math.PI) / 180
    const y = Math.floor(((1 - Math.log(Math.tan(lat) + 1 / Math.cos(lat)) / Math.PI) / 2) * 2 ** z)
    const tile = await reader.getZxy(z, x, y)
    expect(tile).toBeDefined()
    const decoded = new VectorTile(new PbfReader(new Uint8Array(tile!.data)))
    const places = decoded.layers.places!
    expect(places.length).toBe(1)
    expect(places.feature(0).properties).toMatchObject({ kind: 'locality', name: 'Borgo Piazzetta' })
    expect(decoded.layers.earth!.length).toBe(1)
    // Far from every feature: no tile.
    expect(await reader.getZxy(10, 0, 0)).toBeUndefined()
  })

  it('is not there when no archive is configured', async () => {
    const other = await startTestApp()
    try {
      expect((await other.app.inject({ url: '/tiles/base.pmtiles', headers: { range: 'bytes=0-126' } })).statusCode).toBe(404)
      expect(((await other.app.inject({ url: '/api/config' })).json() as { baseMap: unknown }).baseMap).toEqual({ styleUrl: null, pmtilesUrl: null, attribution: null })
    } finally {
      await other.cleanup()
    }
  })
})
