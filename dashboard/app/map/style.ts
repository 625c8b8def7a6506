import type { CircleLayerSpecification, ExpressionSpecification, Map as MapLibreMap, StyleSpecification, SymbolLayerSpecification } from 'maplibre-gl'
import { neighbours, tuscany } from './tuscany.ts'

/**
 * Map styles. The offline style needs no network at all: no tiles, no sprite and no glyphs (so
 * no text layers; city names and cluster counts are HTML markers, state badges are icons drawn
 * on a canvas, see icons.ts). In production /api/config may name a style URL with real tiles;
 * the device layers go on top of either. Light and dark base colours for control rooms.
 */

export type MapTheme = 'light' | 'dark'

const BASE: Record<MapTheme, { sea: string; landAround: string; coastAround: string; land: string; border: string }> = {
  light: { sea: '#b9d3e6', landAround: '#e6e2d8', coastAround: '#9fb6c6', land: '#fbf8ef', border: '#8a7f6a' },
  dark: { sea: '#0b1622', landAround: '#18212b', coastAround: '#2c3e50', land: '#222d39', border: '#7d93aa' },
}

// Kept for callers of the first version (the installers' location picker).
export const SEA = BASE.light.sea
export const LAND_AROUND = BASE.light.landAround
export const LAND = BASE.light.land
export const BORDER = BASE.light.border

export const DEVICE_SOURCE = 'devices'
export const CLUSTER_LAYER = 'device-clusters'
export const DEVICE_LAYER = 'devices'
export const ALERT_LAYER = 'devices-alert'
export const BADGE_LAYER = 'devices-state'
export const SELECTED_LAYER = 'devices-selected'

export function offlineStyle(theme: MapTheme = 'light'): StyleSpecification {
  const c = BASE[theme]
  return {
    version: 8,
    name: 'Piazza offline',
    sources: {
      neighbours: { type: 'geojson', data: neighbours },
      tuscany: { type: 'geojson', data: tuscany },
    },
    layers: [
      // The background is the sea: everything not covered by a land polygon.
      { id: 'sea', type: 'background', paint: { 'background-color': c.sea } },
      { id: 'land-around', type: 'fill', source: 'neighbours', paint: { 'fill-color': c.landAround } },
      { id: 'coast-around', type: 'line', source: 'neighbours', paint: { 'line-color': c.coastAround, 'line-width': 0.8 } },
      { id: 'tuscany-fill', type: 'fill', source: 'tuscany', paint: { 'fill-color': c.land } },
      {
        id: 'tuscany-border',
        type: 'line',
        source: 'tuscany',
        layout: { 'line-join': 'round' },
        paint: { 'line-color': c.border, 'line-width': ['interpolate', ['linear'], ['zoom'], 6, 1.2, 12, 3] },
      },
    ],
  }
}

/** Switches the offline style's base colours in place (the device layers stay). */
export function applyBaseTheme(map: MapLibreMap, theme: MapTheme): void {
  const c = BASE[theme]
  const set = (layer: string, prop: string, value: string) => {
    if (map.getLayer(layer)) map.setPaintProperty(layer, prop as 'fill-color', value as never)
  }
  set('sea', 'background-color', c.sea)
  set('land-around', 'fill-color', c.landAround)
  set('coast-around', 'line-color', c.coastAround)
  set('tuscany-fill', 'fill-color', c.land)
  set('tuscany-border', 'line-color', c.border)
  for (const layer of [DEVICE_LAYER, CLUSTER_LAYER, SELECTED_LAYER]) {
    const paint = devicePaint(theme)[layer]
    if (paint && map.getLayer(layer)) for (const [k, v] of Object.entries(paint)) map.setPaintProperty(layer, k as 'circle-color', v as never)
  }
}

/** The source's cluster options: counts per state travel with each cluster, for its label. */
export const CLUSTER_OPTIONS = {
  cluster: true,
  clusterRadius: 44,
  clusterMaxZoom: 13,
  clusterProperties: {
    silent: ['+', ['case', ['==', ['get', 'state'], 'silent'], 1, 0]],
    late: ['+', ['case', ['==', ['get', 'state'], 'late'], 1, 0]],
    alerts: ['+', ['get', 'alert']],
  },
} as const

const unclustered: ExpressionSpecification = ['!', ['has', 'point_count']]
const zoomRadius = (at6: number, at10: number, at14: number): ExpressionSpecification => ['interpolate', ['linear'], ['zoom'], 6, at6, 10, at10, 14, at14]
const byState = (active: number, inactive: number): ExpressionSpecification => ['match', ['get', 'state'], 'inactive', inactive, active]

/** Paint that depends on the theme (outlines must stand out on either background). */
function devicePaint(theme: MapTheme): Record<string, Record<string, unknown>> {
  const outline = theme === 'dark' ? '#e8edf3' : '#1f2933'
  return {
    [DEVICE_LAYER]: {
      'circle-stroke-color': ['match', ['get', 'state'], 'inactive', '#9aa0a6', 'pending', theme === 'dark' ? '#c4ccd6' : '#5b6770', outline],
    },
    [CLUSTER_LAYER]: {
      'circle-color': theme === 'dark' ? '#2f5d8f' : '#1d4e89',
    },
    [SELECTED_LAYER]: {
      'circle-stroke-color': theme === 'dark' ? '#ffd166' : '#111111',
    },
  }
}

export function clusterLayer(theme: MapTheme): CircleLayerSpecification {
  return {
    id: CLUSTER_LAYER,
    type: 'circle',
    source: DEVICE_SOURCE,
    filter: ['has', 'point_count'],
    paint: {
      'circle-color': devicePaint(theme)[CLUSTER_LAYER]!['circle-color'] as string,
      'circle-opacity': 0.9,
      'circle-radius': ['step', ['get', 'point_count'], 15, 10, 18, 50, 22, 200, 27, 1000, 32],
      // A red ring when any device in it is silent, magenta with an active alert, orange when
      // late: the label says how many.
      'circle-stroke-color': ['case', ['>', ['get', 'silent'], 0], '#c8102e', ['>', ['get', 'alerts'], 0], '#d6246e', ['>', ['get', 'late'], 0], '#f08a3c', '#ffffff'],
      'circle-stroke-width': ['case', ['>', ['+', ['get', 'silent'], ['get', 'late'], ['get', 'alerts']], 0], 4, 2],
    },
  }
}

/**
 * Device dots. Fill: the value's band (levels.ts). State is shown by shape as well as colour:
 * late and silent get a badge (icons.ts), a device without data yet is a hollow ring, an
 * inactive one a small faint dot.
 */
export function deviceLayer(theme: MapTheme): CircleLayerSpecification {
  return {
    id: DEVICE_LAYER,
    type: 'circle',
    source: DEVICE_SOURCE,
    filter: unclustered,
    paint: {
      'circle-color': ['get', 'color'],
      // Zoom must be the outermost expression: the state is matched inside each stop.
      'circle-radius': ['interpolate', ['linear'], ['zoom'], 6, byState(4, 2), 10, byState(6, 3.5), 14, byState(9, 5)],
      'circle-opacity': ['match', ['get', 'state'], 'inactive', 0.45, 'pending', 0.15, 0.95],
      'circle-stroke-color': devicePaint(theme)[DEVICE_LAYER]!['circle-stroke-color'] as ExpressionSpecification,
      'circle-stroke-width': ['interpolate', ['linear'], ['zoom'], 6, ['match', ['get', 'state'], 'pending', 2, 'inactive', 0.5, 1], 12, ['match', ['get', 'state'], 'pending', 2.5, 'inactive', 0.5, 1.5]],
    },
  }
}

/** A thick ring round devices with an active alert. */
export const alertLayer: CircleLayerSpecification = {
  id: ALERT_LAYER,
  type: 'circle',
  source: DEVICE_SOURCE,
  filter: ['all', unclustered, ['==', ['get', 'alert'], 1]],
  paint: {
    'circle-color': 'rgba(0,0,0,0)',
    'circle-radius': zoomRadius(8, 10, 14),
    'circle-stroke-color': '#d6246e',
    'circle-stroke-width': 3,
  },
}

/** Late and silent badges, top right of the dot. */
export const badgeLayer: SymbolLayerSpecification = {
  id: BADGE_LAYER,
  type: 'symbol',
  source: DEVICE_SOURCE,
  filter: ['all', unclustered, ['match', ['get', 'state'], ['late', 'silent'], true, false]],
  layout: {
    'icon-image': ['match', ['get', 'state'], 'late', 'piazza-late', 'silent', 'piazza-silent', ''],
    'icon-size': ['interpolate', ['linear'], ['zoom'], 6, 0.55, 10, 0.7, 14, 0.9],
    'icon-offset': [14, -14],
    'icon-allow-overlap': true,
    'icon-ignore-placement': true,
  },
}

/** A ring round the selected device; its filter is set when the selection changes. */
export function selectedLayer(theme: MapTheme): CircleLayerSpecification {
  return {
    id: SELECTED_LAYER,
    type: 'circle',
    source: DEVICE_SOURCE,
    filter: ['==', ['get', 'id'], ''],
    paint: {
      'circle-color': 'rgba(0,0,0,0)',
      'circle-radius': zoomRadius(9, 12, 16),
      'circle-stroke-color': devicePaint(theme)[SELECTED_LAYER]!['circle-stroke-color'] as string,
      'circle-stroke-width': 3,
    },
  }
}
