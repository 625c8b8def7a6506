import 'maplibre-gl/dist/maplibre-gl.css'
import { LngLatBounds, Map as MapLibreMap, Marker, NavigationControl, setWorkerUrl, type StyleSpecification } from 'maplibre-gl'
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url'
import { useEffect, useRef, useState } from 'react'
import { band as bandOf, type Level } from '../../devices/aqi.ts'
import { createBaseMap, type BaseMapControl } from '../app/map/basemap.ts'
import { useBaseMap } from './api.ts'
import type { CityNow } from './cities.ts'
import { bandName, strings } from './i18n.ts'
import { type Lang } from '../i18n/lang.ts'

setWorkerUrl(workerUrl)

/**
 * The ten cities on a map of the region, each a marker with its index level and its name; a tap
 * opens the city. On the shared base map (the configured street style or tiles); its outline here
 * is a plain background, the cities on top.
 */

const NO_INDEX = { color: '#5f6b76', textColor: '#ffffff' }

const OUTLINE: StyleSpecification = {
  version: 8,
  name: 'Piazza public region',
  sources: {},
  layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#e9ede6' } }],
}

type Box = { left: number; top: number; right: number; bottom: number }
const overlaps = (a: Box, b: Box) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom

/**
 * Names beside their dots without covering another dot or name: to the right if there is room,
 * else to the left, else none (the list and the button's label still name the city). In the
 * cities' order (largest first), so the bigger cities keep their names.
 */
function placeNames(map: MapLibreMap, markers: readonly Marker[]) {
  const { clientWidth, clientHeight } = map.getContainer()
  const at = markers.map((m) => map.project(m.getLngLat()))
  const placed: Box[] = at.map((p) => ({ left: p.x - 12, top: p.y - 12, right: p.x + 12, bottom: p.y + 12 }))
  markers.forEach((m, i) => {
    const el = m.getElement()
    const name = el.querySelector<HTMLElement>('.city-marker-name')!
    const { x, y } = at[i]!
    const w = name.offsetWidth
    const h = name.offsetHeight
    const sides: [string, Box][] = [
      ['right', { left: x + 14, top: y - h / 2, right: x + 14 + w, bottom: y + h / 2 }],
      ['left', { left: x - 14 - w, top: y - h / 2, right: x - 14, bottom: y + h / 2 }],
    ]
    const fits = (b: Box, own: number) => b.left >= 0 && b.right <= clientWidth && b.top >= 0 && b.bottom <= clientHeight && placed.every((p, j) => j === own || !overlaps(p, b))
    const side = sides.find(([, b]) => fits(b, i))
    el.dataset.name = side ? side[0] : 'none'
    if (side) placed.push(side[1])
  })
}

export default function CitiesMap({ cities, lang, current, onCity, label }: { cities: readonly CityNow[]; lang: Lang; current: string; onCity: (id: string) => void; label: string }) {
  const container = useRef<HTMLDivElement>(null)
  const mapRef = useRef<MapLibreMap | null>(null)
  const markers = useRef<Marker[]>([])
  const [ready, setReady] = useState(false)
  const baseMap = useBaseMap()
  const baseRef = useRef<BaseMapControl | null>(null)
  const onCityRef = useRef(onCity)
  onCityRef.current = onCity

  useEffect(() => {
    if (baseMap === undefined || !container.current) return
    // The markers are HTML: a base map handing over to the next style keeps them.
    const base = createBaseMap(baseMap, { outline: () => OUTLINE, lang, onStyleChange: () => {} })
    baseRef.current = base
    const bounds = new LngLatBounds()
    for (const c of cities) bounds.extend([c.lon, c.lat])
    const map = new MapLibreMap({
      container: container.current,
      style: base.initialStyle,
      bounds,
      // Tight at the sides: a name with no room there goes to the other side of its dot, or is left out.
      fitBoundsOptions: { padding: { top: 24, bottom: 24, left: 24, right: 24 } },
      attributionControl: false,
      dragRotate: false,
      pitchWithRotate: false,
      touchPitch: false,
    })
    mapRef.current = map
    map.touchZoomRotate.disableRotation()
    map.addControl(new NavigationControl({ showCompass: false }), 'top-right')
    base.attach(map)
    map.getCanvas().setAttribute('aria-label', label)
    map.on('load', () => setReady(true))
    map.on('zoomend', () => placeNames(map, markers.current))
    return () => {
      for (const m of markers.current) m.remove()
      markers.current = []
      base.detach()
      map.remove()
      mapRef.current = null
      baseRef.current = null
      setReady(false)
    }
    // Built once the base map is known; the markers below follow the data, the label and language their own effect.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [baseMap])

  useEffect(() => {
    mapRef.current?.getCanvas().setAttribute('aria-label', label)
    baseRef.current?.setLang(lang)
  }, [label, lang])

  useEffect(() => {
    const map = mapRef.current
    if (!map || !ready) return
    for (const m of markers.current) m.remove()
    const t = strings(lang)
    markers.current = cities.map((c) => {
      const b = c.level ? bandOf(c.level as Level) : undefined
      const el = document.createElement('button')
      el.type = 'button'
      el.className = c.id === current ? 'city-marker selected' : 'city-marker'
      el.dataset.city = c.id
      const dot = document.createElement('span')
      dot.className = 'city-marker-level'
      dot.style.background = b?.color ?? NO_INDEX.color
      dot.style.color = b?.textColor ?? NO_INDEX.textColor
      dot.textContent = b ? String(b.level) : '–'
      const name = document.createElement('span')
      name.className = 'city-marker-name'
      name.textContent = c.name
      el.append(dot, name)
      el.setAttribute('aria-label', `${c.name}: ${b ? `${bandName(lang, b.id)}, ${t.indexOf(b.level)}` : t.noIndex}`)
      el.addEventListener('click', (e) => {
        e.stopPropagation()
        onCityRef.current(c.id)
      })
      return new Marker({ element: el }).setLngLat([c.lon, c.lat]).addTo(map)
    })
    placeNames(map, markers.current)
  }, [cities, ready, lang, current])

  return <div ref={container} className="map overview-map" data-testid="cities-map" data-ready={ready} />
}
