import { addProtocol, AttributionControl, type Map as MapLibreMap, type StyleSpecification } from 'maplibre-gl'
import { Protocol } from 'pmtiles'
import type { BaseMap } from '../../shared/config.ts'

/**
 * The base map under the data, shared by the operators' map, the installers' location picker and
 * the public station map. Tried in order (README "Base maps"):
 *   1. `style`: a style URL with streets and places (default OpenFreeMap; its sources credit their data);
 *   2. `pmtiles`: vector tiles from a PMTiles archive served by our own server, read with HTTP
 *      range requests through the `pmtiles` protocol, drawn with the small style below (the
 *      Protomaps basemap schema, v4: layers earth, water, landuse, roads, buildings, places);
 *   3. `outline`: the bundled outline, which says on the map that it is only an outline.
 * A choice that fails before its first tile arrives (style unreachable, archive missing) hands over
 * to the next one; a failing tile later on does not (a flaky network must not blank the map).
 * Text needs no glyph server: with no `glyphs` URL maplibre draws letters with local fonts.
 */

export type BaseMapKind = 'style' | 'pmtiles' | 'outline'
export type BaseMapLang = 'en' | 'it'

/** Sources the apps add on top of the base map: their errors are not the base map's. */
const BASE_SOURCE = 'basemap'
const OSM_CREDIT = '<a href="https://www.openstreetmap.org/copyright" target="_blank" rel="noopener">© OpenStreetMap</a>'

/** The order in which the configured base maps are tried; the outline is always last. */
export function baseMapChain(base: BaseMap): BaseMapKind[] {
  const chain: BaseMapKind[] = []
  if (base.styleUrl) chain.push('style')
  if (base.pmtilesUrl) chain.push('pmtiles')
  chain.push('outline')
  return chain
}

let protocolAdded = false
function ensurePmtilesProtocol(): void {
  if (protocolAdded) return
  protocolAdded = true
  addProtocol('pmtiles', new Protocol().tile)
}

const THEMES = {
  light: { water: '#a9cbe3', earth: '#f4f1e8', park: '#d5e8c6', building: '#e2ddd2', road: '#ffffff', roadCase: '#c9c2b3', major: '#fbe3a7', highway: '#f6c177', text: '#2d3640', halo: '#ffffff', boundary: '#9a8fb0' },
  dark: { water: '#0e2233', earth: '#1d2630', park: '#1f3326', building: '#2b3540', road: '#3a4654', roadCase: '#141b22', major: '#5b5037', highway: '#7a5a2e', text: '#dfe6ee', halo: '#10161c', boundary: '#6d6482' },
} as const

/** A small style for the Protomaps basemap schema (v4), enough to find a street: land, water, parks, roads, buildings, names. */
export function pmtilesStyle(url: string, theme: 'light' | 'dark' = 'light', lang: BaseMapLang = 'it'): StyleSpecification {
  const c = THEMES[theme]
  const absolute = new URL(url, window.location.href).href
  const kind = (...kinds: string[]) => ['in', ['get', 'kind'], ['literal', kinds]] as never
  // Protomaps extracts carry name:<lang> beside the local name.
  const name = ['coalesce', ['get', `name:${lang}`], ['get', 'name']] as never
  const roadWidth = (z6: number, z12: number, z16: number) => ['interpolate', ['exponential', 1.6], ['zoom'], 6, z6, 12, z12, 16, z16] as never
  return {
    version: 8,
    name: 'Piazza self-hosted',
    sources: { [BASE_SOURCE]: { type: 'vector', url: `pmtiles://${absolute}`, attribution: OSM_CREDIT } },
    layers: [
      { id: 'base-background', type: 'background', paint: { 'background-color': c.water } },
      { id: 'base-earth', type: 'fill', source: BASE_SOURCE, 'source-layer': 'earth', paint: { 'fill-color': c.earth } },
      { id: 'base-parks', type: 'fill', source: BASE_SOURCE, 'source-layer': 'landuse', filter: kind('park', 'forest', 'wood', 'nature_reserve', 'grass', 'garden'), paint: { 'fill-color': c.park } },
      { id: 'base-water', type: 'fill', source: BASE_SOURCE, 'source-layer': 'water', paint: { 'fill-color': c.water } },
      { id: 'base-buildings', type: 'fill', source: BASE_SOURCE, 'source-layer': 'buildings', minzoom: 14, paint: { 'fill-color': c.building } },
      { id: 'base-boundaries', type: 'line', source: BASE_SOURCE, 'source-layer': 'boundaries', paint: { 'line-color': c.boundary, 'line-width': 1, 'line-dasharray': [3, 2] } },
      { id: 'base-roads-minor', type: 'line', source: BASE_SOURCE, 'source-layer': 'roads', minzoom: 11, filter: kind('minor_road', 'other', 'path'), layout: { 'line-cap': 'round', 'line-join': 'round' }, paint: { 'line-color': c.road, 'line-width': roadWidth(0.5, 1, 8) } },
      { id: 'base-roads-major-case', type: 'line', source: BASE_SOURCE, 'source-layer': 'roads', filter: kind('major_road', 'highway'), layout: { 'line-cap': 'round', 'line-join': 'round' }, paint: { 'line-color': c.roadCase, 'line-width': roadWidth(1.5, 3.5, 16) } },
      { id: 'base-roads-major', type: 'line', source: BASE_SOURCE, 'source-layer': 'roads', filter: kind('major_road'), layout: { 'line-cap': 'round', 'line-join': 'round' }, paint: { 'line-color': c.major, 'line-width': roadWidth(0.8, 2.5, 13) } },
      { id: 'base-roads-highway', type: 'line', source: BASE_SOURCE, 'source-layer': 'roads', filter: kind('highway'), layout: { 'line-cap': 'round', 'line-join': 'round' }, paint: { 'line-color': c.highway, 'line-width': roadWidth(1, 3, 14) } },
      {
        id: 'base-road-names',
        type: 'symbol',
        source: BASE_SOURCE,
        'source-layer': 'roads',
        minzoom: 12,
        layout: { 'symbol-placement': 'line', 'text-field': name, 'text-font': ['sans-serif'], 'text-size': 12 },
        paint: { 'text-color': c.text, 'text-halo-color': c.halo, 'text-halo-width': 1.5 },
      },
      {
        id: 'base-place-names',
        type: 'symbol',
        source: BASE_SOURCE,
        'source-layer': 'places',
        filter: kind('locality', 'neighbourhood', 'macrohood', 'region'),
        layout: {
          'text-field': name,
          'text-font': ['sans-serif'],
          'text-size': ['match', ['get', 'kind'], 'locality', 14, 12] as never,
          'symbol-sort-key': ['coalesce', ['get', 'population_rank'], 0] as never,
        },
        paint: { 'text-color': c.text, 'text-halo-color': c.halo, 'text-halo-width': 2 },
      },
    ],
  }
}

const NOTE = {
  en: { none: 'Offline outline: no street map configured', failed: 'Offline outline: the street map could not be loaded' },
  it: { none: 'Contorno offline: nessuna mappa stradale configurata', failed: 'Contorno offline: impossibile caricare la mappa stradale' },
} as const

export interface BaseMapControl {
  /** The style to create the map with. */
  readonly initialStyle: string | StyleSpecification
  /** What is drawn now. */
  kind(): BaseMapKind
  /** Call right after `new Map(...)`: hands over to the next base map on failure, credits, notes. */
  attach(map: MapLibreMap): void
  /** The outline note's language (the public pages switch language without a new map). */
  setLang(lang: BaseMapLang): void
  /** Light or dark colours for the self-hosted tiles, in place (the outline has its own, style.ts; a style URL keeps its own). */
  setTheme(theme: 'light' | 'dark'): void
  detach(): void
}

export interface BaseMapOptions {
  /** The bundled outline for this map. */
  outline: () => StyleSpecification
  theme?: 'light' | 'dark'
  lang?: BaseMapLang
  /** After a hand-over the new style has loaded: add the map's own sources and layers again. */
  onStyleChange?: (kind: BaseMapKind) => void
}

/**
 * Picks and runs the base map. The container gets data-basemap (the kind drawn) and, once the map
 * is idle, data-basemap-names: the names of base-map features drawn (so tests, and anyone
 * inspecting the page, can see that tiles really rendered).
 */
export function createBaseMap(base: BaseMap, options: BaseMapOptions): BaseMapControl {
  const chain = baseMapChain(base)
  let index = 0
  let lang = options.lang ?? 'en'
  let reason: 'none' | 'failed' = chain.length === 1 ? 'none' : 'failed'
  let map: MapLibreMap | undefined
  let note: HTMLElement | undefined
  let attribution: AttributionControl | undefined
  let baseTileLoaded = false
  const styleFor = (kind: BaseMapKind): string | StyleSpecification => {
    if (kind === 'style') return base.styleUrl!
    if (kind === 'pmtiles') {
      ensurePmtilesProtocol()
      return pmtilesStyle(base.pmtilesUrl!, options.theme, lang)
    }
    return options.outline()
  }
  const initialStyle = styleFor(chain[0]!)

  // The apps' own data are GeoJSON sources; the base maps' are vector (or raster) tiles.
  const ownSource = (id: string | undefined) => id !== undefined && map?.getSource(id)?.type === 'geojson'
  const showState = () => {
    if (!map) return
    const container = map.getContainer()
    const kind = chain[index]!
    container.dataset.basemap = kind
    if (kind === 'outline') {
      if (!note) {
        note = document.createElement('div')
        note.className = 'basemap-note'
        note.dataset.testid = 'basemap-note'
        note.setAttribute('role', 'note')
        Object.assign(note.style, {
          position: 'absolute',
          left: '8px',
          bottom: '8px',
          zIndex: '2',
          maxWidth: 'calc(100% - 16px)',
          padding: '2px 8px',
          borderRadius: '4px',
          font: '12px/1.5 system-ui, sans-serif',
          background: 'rgba(255,255,255,0.85)',
          color: '#2d3640',
          pointerEvents: 'none',
        })
        container.append(note)
      }
      note.textContent = NOTE[lang][reason]
    } else note?.remove()
    if (kind !== 'outline' && !attribution) {
      const custom = base.attribution ? escapeHtml(base.attribution) : undefined
      attribution = new AttributionControl({ compact: true, ...(custom && { customAttribution: custom }) })
      map.addControl(attribution)
    } else if (kind === 'outline' && attribution) {
      map.removeControl(attribution)
      attribution = undefined
    }
  }

  const next = (why: string) => {
    if (!map || index >= chain.length - 1) return
    console.warn(`base map '${chain[index]}' failed (${why}); using '${chain[index + 1]}'`)
    index++
    baseTileLoaded = false
    reason = 'failed'
    map.setStyle(styleFor(chain[index]!), { diff: false })
    map.once('style.load', () => options.onStyleChange?.(chain[index]!))
    showState()
  }
  const onError = (e: { error?: { message?: string }; sourceId?: string }) => {
    if (baseTileLoaded || ownSource(e.sourceId)) {
      console.warn(`map: ${e.error?.message ?? e}`)
      return
    }
    next(e.error?.message ?? 'error')
  }
  const onData = (e: { dataType?: string; sourceId?: string; tile?: unknown }) => {
    if (e.dataType === 'source' && e.tile && !ownSource(e.sourceId)) baseTileLoaded = true
  }
  let lastNames = ''
  let namesTimer: ReturnType<typeof setTimeout> | undefined
  const readNames = () => {
    namesTimer = undefined
    if (!map || chain[index] === 'outline') return
    // Only the base map's text layers: cheap next to querying thousands of device dots.
    const layers = map.getLayersOrder().filter((id) => {
      const layer = map!.getLayer(id)
      return layer?.type === 'symbol' && !ownSource(layer.source)
    })
    const names = new Set<string>()
    for (const f of map.queryRenderedFeatures({ layers })) {
      const n = f.properties?.name
      if (typeof n === 'string' && names.size < 50) names.add(n)
    }
    const joined = [...names].sort().join('|')
    if (joined !== lastNames) {
      lastNames = joined
      map.getContainer().dataset.basemapNames = joined
    }
  }
  // Live data make the map idle several times a second: read the names once things settle.
  const onIdle = () => {
    clearTimeout(namesTimer)
    namesTimer = setTimeout(readNames, 300)
  }

  return {
    initialStyle,
    kind: () => chain[index]!,
    attach(m) {
      map = m
      m.on('error', onError)
      m.on('data', onData)
      m.on('idle', onIdle)
      showState()
    },
    setLang(l) {
      lang = l
      if (note) note.textContent = NOTE[lang][reason]
    },
    setTheme(theme) {
      options.theme = theme
      if (!map || chain[index] !== 'pmtiles') return
      // Same layers, new colours: the map's own layers on top stay as they are.
      for (const layer of pmtilesStyle(base.pmtilesUrl!, theme, lang).layers) {
        if (!map.getLayer(layer.id) || !('paint' in layer) || !layer.paint) continue
        for (const [property, value] of Object.entries(layer.paint)) map.setPaintProperty(layer.id, property as 'fill-color', value as never)
      }
    },
    detach() {
      clearTimeout(namesTimer)
      map?.off('error', onError)
      map?.off('data', onData)
      map?.off('idle', onIdle)
      note?.remove()
      note = undefined
      map = undefined
    },
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`)
}
