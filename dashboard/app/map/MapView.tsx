import 'maplibre-gl/dist/maplibre-gl.css'
import { Map as MapLibreMap, Marker, NavigationControl, Popup, setWorkerUrl, type GeoJSONSource, type MapGeoJSONFeature } from 'maplibre-gl'
// maplibre-gl 6 ships its worker as a separate ES module; Vite copies it and gives us its URL.
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url'
import { useCallback, useEffect, useRef, useState } from 'react'
import { alertStore } from '../alerts/hooks.ts'
import type { AppConfig, Device } from '../api/types.ts'
import { cityName, typeLabel } from '../devices/format.ts'
import { live, type FlushBatch } from '../live/connection.ts'
import { healthText } from '../live/health.ts'
import { useLang } from '../../i18n/react.tsx'
import { MAP_STRINGS } from './strings.ts'
import { useLiveFlush } from '../live/hooks.ts'
import type { Theme } from '../theme.ts'
import { matchesFilters, writeView, type Filters, type MapView as View } from '../view.ts'
import { createFeatureCache, healthOf, type DeviceFeature } from './features.ts'
import { createBaseMap, type BaseMapControl } from './basemap.ts'
import { addBadgeImages } from './icons.ts'
import { grade } from './levels.ts'
import {
  ALERT_LAYER,
  alertLayer,
  applyBaseTheme,
  BADGE_LAYER,
  badgeLayer,
  CLUSTER_LAYER,
  CLUSTER_OPTIONS,
  clusterLayer,
  DEVICE_LAYER,
  DEVICE_SOURCE,
  deviceLayer,
  offlineStyle,
  SELECTED_LAYER,
  selectedLayer,
} from './style.ts'

setWorkerUrl(workerUrl)

const deviceSource = (map: MapLibreMap | null) => map?.getSource<GeoJSONSource>(DEVICE_SOURCE)
/** Cluster labels and the drawn-devices count are refreshed at most this often while the map renders. */
const LABEL_REFRESH_MS = 200
/** The map's device data is updated at most this often (live changes in between are merged). */
const MAP_UPDATE_MS = 500
/** Zoom at which every device is drawn on its own (one more than the source's clusterMaxZoom). */
const UNCLUSTERED_ZOOM = 14

/** A request to frame a city ('' for the whole region); `seq` makes a repeated request count. */
export interface FlyRequest {
  city: string
  seq: number
}

interface Props {
  config: AppConfig
  devices: readonly Device[]
  filters: Filters
  selectedId: string | null
  onSelect: (id: string) => void
  /** From the URL; when absent the map frames the region. */
  initialView: View | null
  fly: FlyRequest | null
  theme: Theme
}

/**
 * The device map. Devices are one clustered GeoJSON source (WebGL, smooth with thousands):
 * clusters with their counts as HTML labels when zoomed out, single dots when zoomed in. Live data
 * never goes through React state here: the connection manager's frame callback sends the map
 * only the devices whose drawing changed, at most once per frame. Filters are applied to the
 * source's data, so clusters count only what is shown.
 */
export function MapView({ config, devices, filters, selectedId, onSelect, initialView, fly, theme }: Props) {
  const container = useRef<HTMLDivElement>(null)
  const mapRef = useRef<MapLibreMap | null>(null)
  const alertIds = useRef(new Set<string>())
  const cache = useRef(
    createFeatureCache({ getState: live.getDevice, getHealth: live.getHealth, hasAlert: (id) => alertIds.current.has(id) }),
  ).current
  const byId = useRef(new Map<string, Device>())
  const onSelectRef = useRef(onSelect)
  onSelectRef.current = onSelect
  const themeRef = useRef(theme)
  themeRef.current = theme
  const [ready, setReady] = useState(false)
  const { lang } = useLang()
  const langRef = useRef(lang)
  langRef.current = lang
  const baseRef = useRef<BaseMapControl | null>(null)

  const showCount = useCallback(() => {
    container.current?.setAttribute('data-device-count', String(cache.shownCount()))
  }, [cache])

  useEffect(() => {
    const { west, south, east, north } = config.bbox
    const base = createBaseMap(config.baseMap, {
      outline: () => offlineStyle(themeRef.current),
      theme: themeRef.current,
      lang: langRef.current,
      onStyleChange: (kind) => {
        if (kind === 'outline') addCityLabels()
        addDeviceLayers()
      },
    })
    baseRef.current = base
    const map = new MapLibreMap({
      container: container.current!,
      style: base.initialStyle,
      ...(initialView
        ? { center: [initialView.lon, initialView.lat] as [number, number], zoom: initialView.zoom }
        : {
            bounds: [
              [west, south],
              [east, north],
            ] as [[number, number], [number, number]],
            fitBoundsOptions: { padding: 24 },
          }),
      // The base map adds the attribution control when it draws third-party data (basemap.ts).
      attributionControl: false,
      dragRotate: false,
      pitchWithRotate: false,
      touchPitch: false,
      // No cross-fade of symbols: with live updates every fraction of a second, fading would keep
      // the map redrawing continuously; without it a data update costs a frame or two.
      fadeDuration: 0,
    })
    mapRef.current = map
    map.touchZoomRotate.disableRotation()
    map.keyboard.disableRotation()
    map.addControl(new NavigationControl({ showCompass: false }), 'top-right')
    base.attach(map)

    // City names as HTML markers on the outline; a street map has its own labels.
    const cityMarkers: Marker[] = []
    function addCityLabels() {
      if (cityMarkers.length > 0) return
      for (const c of config.cities) {
        const el = document.createElement('div')
        el.className = 'city-label'
        el.textContent = c.name
        el.dataset.city = c.id
        // Above the spot, clear of the city's cluster drawn on it.
        cityMarkers.push(new Marker({ element: el, anchor: 'bottom', offset: [0, -20] }).setLngLat([c.lon, c.lat]).addTo(map))
      }
    }
    if (base.kind() === 'outline') addCityLabels()

    // Cluster counts as HTML markers (no glyphs offline): one button per visible cluster.
    const clusterMarkers = new Map<number, { marker: Marker; el: HTMLButtonElement; key: string }>()
    const syncClusters = () => {
      if (!map.getLayer(CLUSTER_LAYER)) return
      const seen = new Set<number>()
      let drawn = 0
      for (const f of map.queryRenderedFeatures({ layers: [CLUSTER_LAYER] })) {
        const p = f.properties as { cluster_id: number; point_count: number; silent: number; late: number; alerts: number }
        if (seen.has(p.cluster_id)) continue
        seen.add(p.cluster_id)
        drawn += p.point_count
        const [lon, lat] = (f.geometry as GeoJSON.Point).coordinates as [number, number]
        const key = `${p.point_count}|${p.silent}|${p.late}|${p.alerts}|${lon}|${lat}|${langRef.current}`
        let entry = clusterMarkers.get(p.cluster_id)
        if (!entry) {
          const el = document.createElement('button')
          el.type = 'button'
          el.className = 'cluster-label'
          el.addEventListener('click', (e) => {
            e.stopPropagation()
            void zoomIntoCluster(map, p.cluster_id, [lon, lat])
          })
          entry = { marker: new Marker({ element: el }).setLngLat([lon, lat]).addTo(map), el, key: '' }
          clusterMarkers.set(p.cluster_id, entry)
        }
        if (entry.key !== key) {
          entry.key = key
          entry.marker.setLngLat([lon, lat])
          const problems = p.silent + p.late
          entry.el.innerHTML = ''
          const count = document.createElement('span')
          count.className = 'count'
          count.textContent = p.point_count >= 10_000 ? `${Math.round(p.point_count / 1000)}k` : String(p.point_count)
          entry.el.append(count)
          if (problems > 0) {
            const badge = document.createElement('span')
            badge.className = `problems${p.silent > 0 ? ' has-silent' : ''}`
            badge.textContent = `${p.silent > 0 ? '✕' : '◔'}${problems}`
            entry.el.append(badge)
          }
          if (p.alerts > 0) {
            const badge = document.createElement('span')
            badge.className = 'alerts'
            badge.textContent = `⚠${p.alerts}`
            entry.el.append(badge)
          }
          const w = MAP_STRINGS[langRef.current].map
          const parts = [w.devices(p.point_count)]
          if (p.silent) parts.push(w.silent(p.silent))
          if (p.late) parts.push(w.late(p.late))
          if (p.alerts) parts.push(w.withAlerts(p.alerts))
          entry.el.setAttribute('aria-label', w.zoomIn(parts.join(', ')))
          entry.el.title = parts.join(', ')
          entry.el.dataset.count = String(p.point_count)
        }
      }
      for (const [id, entry] of clusterMarkers) {
        if (seen.has(id)) continue
        entry.marker.remove()
        clusterMarkers.delete(id)
      }
      // What the map really drew (not just what it was given): devices in clusters count too.
      const single = new Set(map.queryRenderedFeatures({ layers: [DEVICE_LAYER] }).map((f) => f.properties?.id))
      container.current?.setAttribute('data-rendered-devices', String(drawn + single.size))
    }
    let lastSync = 0
    let syncTimer: ReturnType<typeof setTimeout> | undefined
    const scheduleSync = () => {
      if (syncTimer) return
      syncTimer = setTimeout(
        () => {
          syncTimer = undefined
          lastSync = performance.now()
          syncClusters()
        },
        Math.max(0, lastSync + LABEL_REFRESH_MS - performance.now()),
      )
    }

    // On the first load, and again after the base map handed over to the next one (a new style).
    function addDeviceLayers() {
      if (map.getSource(DEVICE_SOURCE)) return
      addBadgeImages(map)
      // promoteId makes each feature addressable by device id, so live frames send only the changed ones.
      map.addSource(DEVICE_SOURCE, { type: 'geojson', data: cache.collection(), promoteId: 'id', ...CLUSTER_OPTIONS } as never)
      map.addLayer(clusterLayer(themeRef.current))
      map.addLayer(deviceLayer(themeRef.current))
      map.addLayer(alertLayer)
      map.addLayer(badgeLayer)
      map.addLayer(selectedLayer(themeRef.current))
    }

    map.on('load', () => {
      addDeviceLayers()
      setReady(true)
    })
    map.on('idle', syncClusters)
    map.on('render', scheduleSync)
    map.on('moveend', () => {
      const c = map.getCenter()
      writeView({ map: { lon: c.lng, lat: c.lat, zoom: map.getZoom() } })
    })

    const popup = new Popup({ closeButton: false, closeOnClick: false, offset: 12, className: 'device-popup', maxWidth: '18rem' })
    map.on('click', DEVICE_LAYER, (e) => {
      const id = e.features?.[0]?.properties?.id
      if (typeof id === 'string') onSelectRef.current(id)
    })
    map.on('click', CLUSTER_LAYER, (e) => {
      const f = e.features?.[0] as MapGeoJSONFeature | undefined
      const cid = f?.properties?.cluster_id
      if (typeof cid === 'number') void zoomIntoCluster(map, cid, (f!.geometry as GeoJSON.Point).coordinates as [number, number])
    })
    map.on('mousemove', DEVICE_LAYER, (e) => {
      map.getCanvas().style.cursor = 'pointer'
      const id = e.features?.[0]?.properties?.id
      const device = typeof id === 'string' ? byId.current.get(id) : undefined
      if (!device) return
      popup.setLngLat(e.lngLat).setDOMContent(popupContent(config, device)).addTo(map)
    })
    map.on('mouseleave', DEVICE_LAYER, () => {
      map.getCanvas().style.cursor = ''
      popup.remove()
    })
    map.on('mouseenter', CLUSTER_LAYER, () => {
      map.getCanvas().style.cursor = 'zoom-in'
    })
    map.on('mouseleave', CLUSTER_LAYER, () => {
      map.getCanvas().style.cursor = ''
    })

    return () => {
      clearTimeout(syncTimer)
      for (const m of cityMarkers) m.remove()
      for (const { marker } of clusterMarkers.values()) marker.remove()
      popup.remove()
      base.detach()
      map.remove()
      mapRef.current = null
      setReady(false)
    }
    // The initial view is read once, at creation.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [config, cache])

  // A new device list or new filters: rebuild which features are shown and replace the data.
  useEffect(() => {
    byId.current = new Map(devices.map((d) => [d.id, d]))
    cache.setDevices(devices)
    cache.setFilter((d, h) => matchesFilters(config, d, h, filters))
    showCount()
    if (!ready) return
    pending.current.add.clear()
    pending.current.remove.clear()
    void deviceSource(mapRef.current)?.setData(cache.collection())
  }, [devices, filters, ready, cache, config, showCount])

  // Live frames: only the devices whose drawing changed (band, state, position, filter
  // membership), sent to the map at most every MAP_UPDATE_MS: each update of a clustered source
  // regroups and redraws the map, which at thousands of devices is worth doing a few times a
  // second, not on every frame. Changes in between merge (the newest feature per device).
  const pending = useRef<{ add: Map<string, DeviceFeature>; remove: Set<string>; timer?: ReturnType<typeof setTimeout>; last: number }>({
    add: new Map(),
    remove: new Set(),
    last: 0,
  })
  const sendPending = useCallback(() => {
    const p = pending.current
    p.timer = undefined
    p.last = performance.now()
    if (p.add.size === 0 && p.remove.size === 0) return
    const diff = { add: [...p.add.values()], remove: [...p.remove] }
    p.add.clear()
    p.remove.clear()
    void deviceSource(mapRef.current)?.updateData(diff)
  }, [])
  useEffect(() => () => clearTimeout(pending.current.timer), [])
  useLiveFlush(
    useCallback(
      (batch: FlushBatch) => {
        const diff = cache.update(batch.changed)
        const el = container.current
        if (el) el.dataset.liveFrames = String(Number(el.dataset.liveFrames ?? 0) + 1)
        if (!ready || (diff.add.length === 0 && diff.remove.length === 0)) return
        const p = pending.current
        for (const f of diff.add) {
          p.add.set(f.properties.id, f)
          p.remove.delete(f.properties.id)
        }
        for (const id of diff.remove) {
          p.add.delete(id)
          p.remove.add(id)
        }
        p.timer ??= setTimeout(sendPending, Math.max(0, p.last + MAP_UPDATE_MS - performance.now()))
        if (diff.remove.length > 0 || batch.health?.length) showCount()
      },
      [cache, ready, showCount, sendPending],
    ),
  )

  // Alerts opening or closing change a device's ring.
  useEffect(() => {
    const sync = () => {
      const next = new Set(alertStore.getSnapshot().active.map((a) => a.deviceId))
      const changed: string[] = []
      for (const id of next) if (!alertIds.current.has(id)) changed.push(id)
      for (const id of alertIds.current) if (!next.has(id)) changed.push(id)
      alertIds.current = next
      if (changed.length === 0) return
      const diff = cache.update(changed)
      if (ready && (diff.add.length || diff.remove.length)) void deviceSource(mapRef.current)?.updateData(diff)
    }
    sync()
    return alertStore.subscribe(sync)
  }, [cache, ready])

  // The selected device: a ring, and into view (unclustered) when it is not drawn on its own.
  useEffect(() => {
    const map = mapRef.current
    if (!map || !ready) return
    map.setFilter(SELECTED_LAYER, ['all', ['!', ['has', 'point_count']], ['==', ['get', 'id'], selectedId ?? '']])
    const at = selectedId && cache.isShown(selectedId) ? cache.get(selectedId)?.geometry.coordinates : undefined
    if (!at) return
    const [lon, lat] = at as [number, number]
    const drawnAlone = map.getBounds().contains([lon, lat]) && map.queryRenderedFeatures({ layers: [DEVICE_LAYER], filter: ['==', ['get', 'id'], selectedId] }).length > 0
    if (!drawnAlone) map.easeTo({ center: [lon, lat], zoom: Math.max(map.getZoom(), UNCLUSTERED_ZOOM), duration: 600 })
  }, [selectedId, ready, cache])

  // Frame a city, or the whole region, on request (city cards, the city filter).
  useEffect(() => {
    const map = mapRef.current
    if (!map || !fly) return
    const c = config.cities.find((x) => x.id === fly.city)
    if (c) map.flyTo({ center: [c.lon, c.lat], zoom: 12, essential: true })
    else {
      const { west, south, east, north } = config.bbox
      map.fitBounds(
        [
          [west, south],
          [east, north],
        ],
        { padding: 24 },
      )
    }
  }, [fly, config])

  // The outline note and the street names in the page's language; cluster labels redrawn.
  useEffect(() => {
    baseRef.current?.setLang(lang)
    const map = mapRef.current
    if (map && ready) map.triggerRepaint()
  }, [lang, ready])

  useEffect(() => {
    const map = mapRef.current
    if (!map || !ready) return
    // The outline's colours (and the dots' outlines drawn for them), or the self-hosted tiles' colours.
    if (baseRef.current?.kind() === 'outline') applyBaseTheme(map, theme)
    else baseRef.current?.setTheme(theme)
  }, [theme, ready])

  return (
    <div
      ref={container}
      className="map"
      data-testid="map"
      data-ready={ready ? 'true' : 'false'}
      role="region"
      aria-label={MAP_STRINGS[lang].map.label}
    />
  )
}

async function zoomIntoCluster(map: MapLibreMap, clusterId: number, at: [number, number]): Promise<void> {
  const source = deviceSource(map)
  if (!source) return
  let zoom = map.getZoom() + 2
  try {
    zoom = await source.getClusterExpansionZoom(clusterId)
  } catch {
    // The cluster is gone (data changed meanwhile): zoom in a bit anyway.
  }
  map.easeTo({ center: at, zoom: Math.min(zoom + 0.2, 16), duration: 500 })
}

/** A small card on hover: name, type and city, state and value, in words. */
function popupContent(config: AppConfig, device: Device): HTMLElement {
  const state = live.getDevice(device.id)
  const h = healthOf(device, live.getHealth(device.id))
  const g = grade(device.type, state?.values, device.status === 'active')
  const el = document.createElement('div')
  const title = document.createElement('strong')
  title.textContent = device.name
  const meta = document.createElement('div')
  meta.className = 'popup-meta'
  meta.textContent = `${typeLabel(config, device.type)} · ${cityName(config, device.city)}`
  const status = document.createElement('div')
  status.textContent = `${healthText(h).symbol} ${healthText(h).label}${g.kind === 'level' ? ` · ${g.text} (${g.detail})` : ''}`
  el.append(title, meta, status)
  return el
}
