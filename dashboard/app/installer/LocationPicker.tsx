import 'maplibre-gl/dist/maplibre-gl.css'
import { Map as MapLibreMap, Marker, NavigationControl, setWorkerUrl, type GeoJSONSource } from 'maplibre-gl'
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url'
import { useEffect, useRef, useState } from 'react'
import { CITY_RADIUS_KM } from '../../../devices/region.ts'
import type { BaseMap } from '../../shared/config.ts'
import { createBaseMap } from '../map/basemap.ts'
import { offlineStyle } from '../map/style.ts'
import type { CityInfo } from './api.ts'
import { useLang } from '../../i18n/react.tsx'
import { INSTALLER_STRINGS } from './strings.ts'

setWorkerUrl(workerUrl)


/** A polygon approximating a circle on the map (for the "inside the city" area). */
export function circle(lat: number, lon: number, km: number, steps = 64): [number, number][] {
  const out: [number, number][] = []
  const dLat = km / 111.32
  const dLon = km / (111.32 * Math.cos((lat * Math.PI) / 180))
  for (let i = 0; i <= steps; i++) {
    const a = (i / steps) * 2 * Math.PI
    out.push([+(lon + dLon * Math.cos(a)).toFixed(6), +(lat + dLat * Math.sin(a)).toFixed(6)])
  }
  return out
}

export const roundCoord = (v: number) => Math.round(v * 1e6) / 1e6

/** Frames the whole city area (the 15 km circle) on a phone-sized map. */
const CITY_ZOOM = 8.5

interface Props {
  cities: CityInfo[]
  city: CityInfo | undefined
  value: { lat: number; lon: number } | undefined
  onChange: (value: { lat: number; lon: number }) => void
  baseMap: BaseMap
  testid: string
}

/**
 * Tap (or click) the map to place the device; the marker can be dragged. The shaded circle is the
 * area commissioning accepts as "inside the city". Keyboard users type the coordinates instead.
 */
export function LocationPicker({ cities, city, value, onChange, baseMap, testid }: Props) {
  const { lang } = useLang()
  const container = useRef<HTMLDivElement>(null)
  const mapRef = useRef<MapLibreMap | null>(null)
  const markerRef = useRef<Marker | null>(null)
  const onChangeRef = useRef(onChange)
  onChangeRef.current = onChange
  const [ready, setReady] = useState(false)
  const [styleGeneration, setStyleGeneration] = useState(0)

  useEffect(() => {
    const addCityArea = () => {
      if (map.getSource('city-area')) return
      map.addSource('city-area', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } })
      map.addLayer({ id: 'city-area-fill', type: 'fill', source: 'city-area', paint: { 'fill-color': '#1f5f99', 'fill-opacity': 0.1 } })
      map.addLayer({ id: 'city-area-line', type: 'line', source: 'city-area', paint: { 'line-color': '#1f5f99', 'line-width': 2, 'line-opacity': 0.7 } })
    }
    // The outline has no place names: city names as HTML markers, as on the operators' map.
    const labels: Marker[] = []
    const addLabels = () => {
      if (labels.length > 0) return
      for (const c of cities) {
        const el = document.createElement('div')
        el.className = 'inst-map-label'
        el.textContent = c.name
        labels.push(new Marker({ element: el, anchor: 'center' }).setLngLat([c.lon, c.lat]).addTo(map))
      }
    }
    const base = createBaseMap(baseMap, {
      outline: () => offlineStyle(),
      lang,
      onStyleChange: (kind) => {
        if (kind === 'outline') addLabels()
        addCityArea()
        // Draw the city's area again, in the new style's source.
        setStyleGeneration((n) => n + 1)
      },
    })
    const map = new MapLibreMap({
      container: container.current!,
      style: base.initialStyle,
      center: city ? [city.lon, city.lat] : [11.0, 43.5],
      zoom: city ? CITY_ZOOM : 7,
      attributionControl: false,
      dragRotate: false,
      pitchWithRotate: false,
      touchPitch: false,
    })
    mapRef.current = map
    map.touchZoomRotate.disableRotation()
    map.addControl(new NavigationControl({ showCompass: false }), 'top-right')
    base.attach(map)
    map.on('load', () => {
      addCityArea()
      setReady(true)
    })
    if (base.kind() === 'outline') addLabels()
    map.on('click', (e) => onChangeRef.current({ lat: roundCoord(e.lngLat.lat), lon: roundCoord(e.lngLat.lng) }))
    return () => {
      for (const label of labels) label.remove()
      base.detach()
      markerRef.current = null
      mapRef.current = null
      setReady(false)
      try {
        map.remove()
      } catch {
        // A map removed before its style loaded can throw inside maplibre; it is gone either way.
      }
    }
    // The map is made once; city and value changes are applied below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [baseMap])

  // Frame the city and draw its plausible area.
  useEffect(() => {
    const map = mapRef.current
    if (!map || !ready || !city) return
    map.getSource<GeoJSONSource>('city-area')?.setData({
      type: 'Feature',
      properties: {},
      geometry: { type: 'Polygon', coordinates: [circle(city.lat, city.lon, CITY_RADIUS_KM)] },
    })
    map.jumpTo({ center: [city.lon, city.lat], zoom: CITY_ZOOM })
    // Only a city change reframes; moving the marker must not.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [city, ready, styleGeneration])

  // The marker follows the value (a tap, a drag, or typed coordinates).
  useEffect(() => {
    const map = mapRef.current
    if (!map) return
    if (!value) {
      markerRef.current?.remove()
      markerRef.current = null
      return
    }
    if (!markerRef.current) {
      const marker = new Marker({ color: '#c0392b', draggable: true, className: 'inst-map-pin' }).setLngLat([value.lon, value.lat]).addTo(map)
      marker.on('dragend', () => {
        const at = marker.getLngLat()
        onChangeRef.current({ lat: roundCoord(at.lat), lon: roundCoord(at.lng) })
      })
      markerRef.current = marker
    } else markerRef.current.setLngLat([value.lon, value.lat])
    if (ready && !map.getBounds().contains([value.lon, value.lat])) map.easeTo({ center: [value.lon, value.lat] })
  }, [value, ready])

  return (
    <div
      ref={container}
      className="inst-map"
      data-testid={testid}
      data-ready={ready ? 'true' : 'false'}
      role="application"
      aria-label={INSTALLER_STRINGS[lang].register.mapLabel}
    />
  )
}
