import { GeoJSONVT } from '@maplibre/geojson-vt'
import { fromGeojsonVt } from '@maplibre/vt-pbf'
import { gzipSync } from 'node:zlib'
import { Compression, TileType, zxyToTileId } from 'pmtiles'

/**
 * Builds a small PMTiles v3 archive of vector tiles for tests: real Mapbox Vector Tiles
 * (@maplibre/geojson-vt slices GeoJSON layers, @maplibre/vt-pbf encodes them), written in the
 * PMTiles v3 layout (https://github.com/protomaps/PMTiles/blob/main/spec/v3/spec.md): a 127-byte
 * header, a root directory (no leaf directories: a test archive has few tiles), JSON metadata and
 * the tile data, in tile-id order. npm has no maintained PMTiles writer (the `pmtiles` package
 * reads only), so the layout is written here; it uses that package's tile-id function, and the
 * tests read the archive back with its reader.
 */

export interface ArchiveOptions {
  /** Layer name → features (WGS84 GeoJSON), as in the Protomaps basemap schema (earth, water, roads, places…). */
  layers: Record<string, GeoJSON.Feature[]>
  minZoom?: number
  maxZoom: number
  /** Written into the metadata, as a real extract carries it. */
  attribution?: string
}

/** Varint as PMTiles writes it (unsigned LEB128). */
function varint(out: number[], value: number): void {
  let v = value
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80)
    v = Math.floor(v / 0x80)
  }
  out.push(v)
}

interface Entry {
  tileId: number
  offset: number
  length: number
  runLength: number
}

function serializeDirectory(entries: Entry[]): Uint8Array {
  const out: number[] = []
  varint(out, entries.length)
  let last = 0
  for (const e of entries) {
    varint(out, e.tileId - last)
    last = e.tileId
  }
  for (const e of entries) varint(out, e.runLength)
  for (const e of entries) varint(out, e.length)
  entries.forEach((e, i) => {
    const previous = entries[i - 1]
    // 0: right after the previous tile's bytes; otherwise offset + 1.
    varint(out, previous && e.offset === previous.offset + previous.length ? 0 : e.offset + 1)
  })
  return Uint8Array.from(out)
}

/** Tile x/y range covering a lon/lat box at zoom z (Web Mercator). */
function tileRange(z: number, [west, south, east, north]: [number, number, number, number]) {
  const n = 2 ** z
  const x = (lon: number) => Math.min(n - 1, Math.max(0, Math.floor(((lon + 180) / 360) * n)))
  const y = (lat: number) => {
    const r = (lat * Math.PI) / 180
    return Math.min(n - 1, Math.max(0, Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n)))
  }
  return { x0: x(west), x1: x(east), y0: y(north), y1: y(south) }
}

function bounds(features: GeoJSON.Feature[]): [number, number, number, number] {
  const b: [number, number, number, number] = [180, 90, -180, -90]
  const visit = (c: unknown): void => {
    if (Array.isArray(c) && typeof c[0] === 'number') {
      const [lon, lat] = c as [number, number]
      b[0] = Math.min(b[0], lon)
      b[1] = Math.min(b[1], lat)
      b[2] = Math.max(b[2], lon)
      b[3] = Math.max(b[3], lat)
    } else if (Array.isArray(c)) for (const x of c) visit(x)
  }
  for (const f of features) if (f.geometry.type !== 'GeometryCollection') visit(f.geometry.coordinates)
  return b
}

export interface BuiltArchive {
  bytes: Uint8Array
  /** How many tiles the archive holds (all zooms). */
  tiles: number
  bounds: [number, number, number, number]
}

export function buildPmtilesArchive(options: ArchiveOptions): BuiltArchive {
  const minZoom = options.minZoom ?? 0
  const all = Object.values(options.layers).flat()
  const box = bounds(all)
  const indexes = Object.entries(options.layers).map(
    ([name, features]) => [name, new GeoJSONVT({ type: 'FeatureCollection', features }, { maxZoom: options.maxZoom, indexMaxZoom: options.maxZoom, buffer: 64, tolerance: 1 })] as const,
  )
  const tiles: { tileId: number; data: Uint8Array }[] = []
  for (let z = minZoom; z <= options.maxZoom; z++) {
    const { x0, x1, y0, y1 } = tileRange(z, box)
    for (let x = x0; x <= x1; x++) {
      for (let y = y0; y <= y1; y++) {
        const layers: Record<string, NonNullable<ReturnType<GeoJSONVT['getTile']>>> = {}
        for (const [name, index] of indexes) {
          const tile = index.getTile(z, x, y)
          if (tile && tile.features.length > 0) layers[name] = tile
        }
        if (Object.keys(layers).length === 0) continue
        tiles.push({ tileId: zxyToTileId(z, x, y), data: gzipSync(fromGeojsonVt(layers, { version: 2, extent: 4096 })) })
      }
    }
  }
  tiles.sort((a, b) => a.tileId - b.tileId)
  const entries: Entry[] = []
  let offset = 0
  for (const t of tiles) {
    entries.push({ tileId: t.tileId, offset, length: t.data.length, runLength: 1 })
    offset += t.data.length
  }
  const root = gzipSync(serializeDirectory(entries))
  const metadata = gzipSync(
    Buffer.from(
      JSON.stringify({
        name: 'piazza test archive',
        attribution: options.attribution ?? '© OpenStreetMap contributors',
        vector_layers: Object.keys(options.layers).map((id) => ({ id, fields: {} })),
      }),
    ),
  )
  const HEADER = 127
  const rootOffset = HEADER
  const metadataOffset = rootOffset + root.length
  const tileDataOffset = metadataOffset + metadata.length
  const header = Buffer.alloc(HEADER)
  header.write('PMTiles', 0, 'ascii')
  header.writeUInt8(3, 7)
  const u64 = (at: number, v: number) => header.writeBigUInt64LE(BigInt(v), at)
  u64(8, rootOffset)
  u64(16, root.length)
  u64(24, metadataOffset)
  u64(32, metadata.length)
  u64(40, tileDataOffset + offset) // no leaf directories: an empty section after the tiles
  u64(48, 0)
  u64(56, tileDataOffset)
  u64(64, offset)
  u64(72, entries.length)
  u64(80, entries.length)
  u64(88, entries.length)
  header.writeUInt8(1, 96) // clustered: tiles in tile-id order
  header.writeUInt8(Compression.Gzip, 97)
  header.writeUInt8(Compression.Gzip, 98)
  header.writeUInt8(TileType.Mvt, 99)
  header.writeUInt8(minZoom, 100)
  header.writeUInt8(options.maxZoom, 101)
  const e7 = (v: number) => Math.round(v * 1e7)
  header.writeInt32LE(e7(box[0]), 102)
  header.writeInt32LE(e7(box[1]), 106)
  header.writeInt32LE(e7(box[2]), 110)
  header.writeInt32LE(e7(box[3]), 114)
  header.writeUInt8(Math.min(options.maxZoom, 10), 118)
  header.writeInt32LE(e7((box[0] + box[2]) / 2), 119)
  header.writeInt32LE(e7((box[1] + box[3]) / 2), 123)
  if (HEADER + root.length > 16_384) throw new Error('test archive too large for a root directory alone (the reader fetches the first 16 KiB)')
  const bytes = Buffer.concat([header, root, metadata, ...tiles.map((t) => t.data)])
  return { bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), tiles: tiles.length, bounds: box }
}

/** A Florence-like sample in the Protomaps basemap schema (v4 layer and kind names). */
export function sampleFlorenceLayers(): Record<string, GeoJSON.Feature[]> {
  const feature = (properties: Record<string, string | number>, geometry: GeoJSON.Geometry): GeoJSON.Feature => ({ type: 'Feature', properties, geometry })
  return {
    earth: [
      feature({ kind: 'earth' }, { type: 'Polygon', coordinates: [[[9.6, 42.3], [12.4, 42.3], [12.4, 44.5], [9.6, 44.5], [9.6, 42.3]]] }),
    ],
    water: [
      // The Arno through the city, as a thin polygon.
      feature({ kind: 'river', name: 'Arno' }, { type: 'Polygon', coordinates: [[[11.15, 43.762], [11.35, 43.762], [11.35, 43.7685], [11.15, 43.7685], [11.15, 43.762]]] }),
    ],
    roads: [
      feature({ kind: 'highway', name: 'Autostrada del Sole', ref: 'A1' }, { type: 'LineString', coordinates: [[10.9, 43.55], [11.1, 43.7], [11.3, 43.85], [11.5, 44.05]] }),
      feature({ kind: 'major_road', name: 'Viale dei Mille' }, { type: 'LineString', coordinates: [[11.22, 43.765], [11.25, 43.772], [11.29, 43.785]] }),
    ],
    places: [
      feature({ kind: 'locality', name: 'Borgo Piazzetta', population_rank: 9, min_zoom: 5 }, { type: 'Point', coordinates: [11.262, 43.7765] }),
    ],
  }
}
