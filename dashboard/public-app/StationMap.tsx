import 'maplibre-gl/dist/maplibre-gl.css'
import { LngLatBounds, Map as MapLibreMap, Marker, NavigationControl, setWorkerUrl, type StyleSpecification } from 'maplibre-gl'
// maplibre-gl 6 ships its worker as a separate ES module; Vite copies it and gives us its URL.
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url'
import { useEffect, useRef, useState } from 'react'
import { band as bandOf, type Level } from '../../devices/aqi.ts'
import { createBaseMap, type BaseMapControl } from '../app/map/basemap.ts'
import { useBaseMap, type StationSummary } from './api.ts'
import type { PublicCity } from './cities.ts'
import { clusterPoints } from './clusters.ts'
import { bandName, strings } from './i18n.ts'
import { type Lang } from '../i18n/lang.ts'
import { yearStrings } from './year-i18n.ts'

setWorkerUrl(workerUrl)

/**
 * The city's stations on a map: one numbered marker per station (the number it has in the list
 * under the map), coloured by band; markers that would overlap at this zoom become one group
 * showing how many stations it holds, and a tap on it zooms in to them. A tap on a station opens
 * it (`onSelect`: its panel, and the address names it); the open station's name hangs under its
 * marker. Markers are HTML buttons (symbol layers would need glyphs from a server), so they are
 * reachable by keyboard too. No tile server is reachable, so the style is built here: a
 * background and a soft disc round the city centre; when /api/config names a style URL, that
 * style is the base.
 */

const NO_INDEX = { color: '#5f6b76', textColor: '#ffffff' }
/** Markers closer than this on screen, px, are drawn as one group: numbers never overlap. */
const CLUSTER_PX = 34

function circlePolygon(lon: number, lat: number, km: number, steps = 64): GeoJSON.Feature<GeoJSON.Polygon> {
  const coords: [number, number][] = []
  const dLat = km / 111.32
  const dLon = km / (111.32 * Math.cos((lat * Math.PI) / 180))
  for (let i = 0; i <= steps; i++) {
    const a = (i / steps) * 2 * Math.PI
    coords.push([lon + dLon * Math.cos(a), lat + dLat * Math.sin(a)])
  }
  return { type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [coords] } }
}

export function offlineStyle(city: PublicCity): StyleSpecification {
  return {
    version: 8,
    name: 'Piazza public offline',
    sources: {
      area: { type: 'geojson', data: { type: 'FeatureCollection', features: [circlePolygon(city.lon, city.lat, 2.5), circlePolygon(city.lon, city.lat, 6)] } },
    },
    layers: [
      { id: 'background', type: 'background', paint: { 'background-color': '#e9ede6' } },
      { id: 'area', type: 'fill', source: 'area', paint: { 'fill-color': '#f7f5ee', 'fill-opacity': 0.7 } },
      { id: 'area-line', type: 'line', source: 'area', paint: { 'line-color': '#b9b3a3', 'line-width': 1, 'line-dasharray': [2, 2] } },
    ],
  }
}

const MAX_ZOOM = 16

export default function StationMap({
  city,
  stations,
  lang,
  label,
  selected,
  onSelect,
}: {
  city: PublicCity
  stations: readonly StationSummary[]
  lang: Lang
  label: string
  selected: string | null
  onSelect: (id: string) => void
}) {
  const container = useRef<HTMLDivElement>(null)
  const mapRef = useRef<MapLibreMap | null>(null)
  const markers = useRef<Marker[]>([])
  /** The station set last framed: the map is framed again only when it changes, not on every refresh. */
  const framed = useRef('')
  const drawnRef = useRef('')
  const [ready, setReady] = useState(false)
  const [zoom, setZoom] = useState(0)
  const baseMap = useBaseMap()
  const baseRef = useRef<BaseMapControl | null>(null)
  const onSelectRef = useRef(onSelect)
  onSelectRef.current = onSelect

  useEffect(() => {
    if (baseMap === undefined || !container.current) return
    // The shared base map (street style, self-hosted tiles, or this outline, said so on the map).
    // The stations are HTML markers: a base map handing over to the next style keeps them.
    const base = createBaseMap(baseMap, { outline: () => offlineStyle(city), lang, onStyleChange: () => {} })
    baseRef.current = base
    const map = new MapLibreMap({
      container: container.current,
      style: base.initialStyle,
      center: [city.lon, city.lat],
      zoom: 11.5,
      maxZoom: MAX_ZOOM,
      attributionControl: false,
      dragRotate: false,
      pitchWithRotate: false,
      touchPitch: false,
      cooperativeGestures: false,
    })
    mapRef.current = map
    map.touchZoomRotate.disableRotation()
    map.keyboard.disableRotation()
    map.addControl(new NavigationControl({ showCompass: false }), 'top-right')
    base.attach(map)
    map.getCanvas().setAttribute('aria-label', label)
    // Groups depend on the zoom only (a pan moves every marker alike).
    map.on('zoomend', () => setZoom(map.getZoom()))
    map.on('load', () => {
      setZoom(map.getZoom())
      setReady(true)
    })
    return () => {
      for (const m of markers.current) m.remove()
      markers.current = []
      framed.current = ''
      drawnRef.current = ''
      base.detach()
      map.remove()
      mapRef.current = null
      setReady(false)
    }
    // The label is set again below when the language changes; the map is rebuilt only for a new city or style.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [baseMap, city.id])

  useEffect(() => {
    mapRef.current?.getCanvas().setAttribute('aria-label', label)
    baseRef.current?.setLang(lang)
  }, [label, lang])

  // Frame the stations when the set changes.
  useEffect(() => {
    const map = mapRef.current
    if (!map || !ready) return
    const key = stations.map((s) => `${s.id}@${s.lon},${s.lat}`).join('|')
    if (key === framed.current) return
    framed.current = key
    if (stations.length > 1) {
      const bounds = new LngLatBounds()
      for (const s of stations) bounds.extend([s.lon, s.lat])
      map.fitBounds(bounds, { padding: 48, maxZoom: 14, duration: 0 })
    } else if (stations.length === 1) map.jumpTo({ center: [stations[0]!.lon, stations[0]!.lat], zoom: 13 })
    setZoom(map.getZoom())
  }, [stations, ready])

  // The markers: numbered stations and groups, redrawn when the stations, the zoom or the open station change.
  useEffect(() => {
    const map = mapRef.current
    if (!map || !ready) return
    // The page polls every 10 s: redraw only when something shown changed, so a marker is never
    // replaced under a finger that is tapping it.
    const drawn = [lang, zoom, selected, ...stations.map((s) => `${s.id}|${s.name}|${s.lon},${s.lat}|${s.index?.value ?? ''}|${s.status}`)].join('~')
    if (drawn === drawnRef.current) return
    drawnRef.current = drawn
    for (const m of markers.current) m.remove()
    const t = strings(lang)
    const y = yearStrings(lang)
    const number = new Map(stations.map((s, i) => [s.id, i + 1]))
    const byId = new Map(stations.map((s) => [s.id, s]))
    const points = stations.map((s) => ({ id: s.id, ...map.project([s.lon, s.lat]) }))
    const groups = clusterPoints(points, CLUSTER_PX)
    const out: Marker[] = []
    for (const g of groups) {
      const el = document.createElement('button')
      el.type = 'button'
      const at = map.unproject([g.x, g.y])
      if (g.ids.length === 1) {
        const s = byId.get(g.ids[0]!)!
        const b = s.index ? bandOf(s.index.value as Level) : undefined
        const n = number.get(s.id)!
        el.className = s.id === selected ? 'station-marker selected' : 'station-marker'
        el.dataset.station = s.id
        el.textContent = String(n)
        el.style.background = b?.color ?? NO_INDEX.color
        el.style.color = b?.textColor ?? NO_INDEX.textColor
        const state = b ? `${bandName(lang, b.id)} (${b.level})` : t.stationStatus[s.status] || '—'
        el.setAttribute('aria-label', `${n}. ${y.openStation(s.name)}: ${state}`)
        el.title = `${n}. ${s.name}: ${state}`
        el.setAttribute('aria-pressed', String(s.id === selected))
        el.addEventListener('click', (e) => {
          e.stopPropagation()
          onSelectRef.current(s.id)
        })
        out.push(new Marker({ element: el }).setLngLat([s.lon, s.lat]).addTo(map))
        if (s.id === selected) {
          // The open station's name, under its marker: one label, so none overlaps another.
          const name = document.createElement('div')
          name.className = 'station-label'
          name.dataset.station = s.id
          name.setAttribute('aria-hidden', 'true')
          name.textContent = s.name
          out.push(new Marker({ element: name, anchor: 'top', offset: [0, 16] }).setLngLat([s.lon, s.lat]).addTo(map))
        }
      } else {
        el.className = 'station-cluster'
        el.dataset.stations = g.ids.join(',')
        el.textContent = String(g.ids.length)
        el.setAttribute('aria-label', `${y.cluster(g.ids.length)}: ${g.ids.map((id) => `${number.get(id)}. ${byId.get(id)!.name}`).join(', ')}`)
        el.title = g.ids.map((id) => `${number.get(id)}. ${byId.get(id)!.name}`).join('\n')
        el.addEventListener('click', (e) => {
          e.stopPropagation()
          const members = g.ids.map((id) => byId.get(id)!)
          // Stations too close to part even at the closest zoom: open the first.
          if (map.getZoom() >= MAX_ZOOM - 0.01) return onSelectRef.current(members[0]!.id)
          const bounds = new LngLatBounds()
          for (const s of members) bounds.extend([s.lon, s.lat])
          map.fitBounds(bounds, { padding: 60, maxZoom: MAX_ZOOM, duration: 0 })
        })
        out.push(new Marker({ element: el }).setLngLat(at).addTo(map))
      }
    }
    markers.current = out
  }, [stations, ready, lang, zoom, selected])

  return <div ref={container} className="map" data-testid="map" data-ready={ready} data-stations={stations.length} data-zoom={zoom.toFixed(1)} />
}
