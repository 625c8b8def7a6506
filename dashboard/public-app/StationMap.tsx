import 'maplibre-gl/dist/maplibre-gl.css'
import { LngLatBounds, Map as MapLibreMap, Marker, NavigationControl, setWorkerUrl, type GeoJSONSource, type StyleSpecification } from 'maplibre-gl'
// maplibre-gl 6 ships its worker as a separate ES module; Vite copies it and gives us its URL.
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url'
import { useEffect, useRef, useState } from 'react'
import { band as bandOf, type Level } from '../../devices/aqi.ts'
import type { BaseMap } from '../shared/config.ts'
import { createBaseMap, type BaseMapControl } from '../app/map/basemap.ts'
import type { StationSummary } from './api.ts'
import type { PublicCity } from './cities.ts'
import { bandName, strings, type Lang } from './i18n.ts'

setWorkerUrl(workerUrl)

/**
 * The city's stations on a map, coloured by band. No tile server is reachable, so the style is
 * built here: a background, a soft disc round the city centre and the stations as a circle layer.
 * Text labels are HTML markers (symbol layers would need glyphs from a server). When
 * /api/config names a style URL, that style is the base and the stations go on top.
 */

const SOURCE = 'stations'
const LAYER = 'stations'
const NO_INDEX = '#5f6b76'

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

function features(stations: readonly StationSummary[]): GeoJSON.FeatureCollection {
  return {
    type: 'FeatureCollection',
    features: stations.map((s) => ({
      type: 'Feature',
      id: s.id,
      properties: { id: s.id, color: s.index ? bandOf(s.index.value as Level).color : NO_INDEX },
      geometry: { type: 'Point', coordinates: [s.lon, s.lat] },
    })),
  }
}

export default function StationMap({ city, stations, lang, label }: { city: PublicCity; stations: readonly StationSummary[]; lang: Lang; label: string }) {
  const container = useRef<HTMLDivElement>(null)
  const mapRef = useRef<MapLibreMap | null>(null)
  const markers = useRef<Marker[]>([])
  /** The station set last framed: the map is framed again only when it changes, not on every refresh. */
  const framed = useRef('')
  const [ready, setReady] = useState(false)
  const [baseMap, setBaseMap] = useState<BaseMap | undefined>(undefined)
  const baseRef = useRef<BaseMapControl | null>(null)
  /** For a base map that hands over to the next one (a new style): the stations drawn again. */
  const latestStations = useRef(stations)
  latestStations.current = stations

  useEffect(() => {
    let cancelled = false
    const none: BaseMap = { styleUrl: null, pmtilesUrl: null, attribution: null }
    fetch('/api/config')
      .then((r) => (r.ok ? (r.json() as Promise<{ baseMap: BaseMap }>) : { baseMap: none }))
      .then((c) => !cancelled && setBaseMap(c.baseMap ?? none))
      .catch(() => !cancelled && setBaseMap(none))
    return () => {
      cancelled = true
    }
  }, [])

  useEffect(() => {
    if (baseMap === undefined || !container.current) return
    // The shared base map (street style, self-hosted tiles, or this outline, said so on the map).
    const base = createBaseMap(baseMap, { outline: () => offlineStyle(city), lang, onStyleChange: () => addStations() })
    baseRef.current = base
    const map = new MapLibreMap({
      container: container.current,
      style: base.initialStyle,
      center: [city.lon, city.lat],
      zoom: 11.5,
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
    function addStations() {
      if (map.getSource(SOURCE)) return
      map.addSource(SOURCE, { type: 'geojson', data: features(latestStations.current) })
      map.addLayer({
        id: LAYER,
        type: 'circle',
        source: SOURCE,
        paint: {
          'circle-color': ['get', 'color'],
          'circle-radius': ['interpolate', ['linear'], ['zoom'], 8, 6, 12, 10, 15, 14],
          'circle-stroke-color': '#1f2933',
          'circle-stroke-width': 1.5,
        },
      })
    }
    map.on('load', () => {
      addStations()
      setReady(true)
    })
    return () => {
      for (const m of markers.current) m.remove()
      markers.current = []
      framed.current = ''
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

  useEffect(() => {
    const map = mapRef.current
    if (!map || !ready) return
    map.getSource<GeoJSONSource>(SOURCE)?.setData(features(stations))
    for (const m of markers.current) m.remove()
    const t = strings(lang)
    markers.current = stations.map((s) => {
      const el = document.createElement('div')
      el.className = 'station-label'
      el.dataset.station = s.id
      el.setAttribute('aria-hidden', 'true')
      const b = s.index ? bandOf(s.index.value as Level) : undefined
      // Short, so it fits a phone: the band in words is in the station list under the map.
      el.textContent = `${s.name} · ${b ? b.level : t.stationStatus[s.status] || '—'}`
      el.title = b ? `${s.name}: ${bandName(lang, b.id)} (${b.level})` : s.name
      return new Marker({ element: el, anchor: 'top', offset: [0, 12] }).setLngLat([s.lon, s.lat]).addTo(map)
    })
    const key = stations.map((s) => `${s.id}@${s.lon},${s.lat}`).join('|')
    if (key === framed.current) return
    framed.current = key
    if (stations.length > 1) {
      const bounds = new LngLatBounds()
      for (const s of stations) bounds.extend([s.lon, s.lat])
      // Room for the HTML labels, which hang below and to both sides of each dot.
      const side = Math.min(140, Math.round((container.current?.clientWidth ?? 300) * 0.3))
      map.fitBounds(bounds, { padding: { top: 40, bottom: 56, left: side, right: side }, maxZoom: 14, duration: 0 })
    } else if (stations.length === 1) map.jumpTo({ center: [stations[0]!.lon, stations[0]!.lat], zoom: 13 })
  }, [stations, ready, lang])

  return <div ref={container} className="map" data-testid="map" data-ready={ready} data-stations={stations.length} />
}
