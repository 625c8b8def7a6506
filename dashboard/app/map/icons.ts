import type { Map as MapLibreMap } from 'maplibre-gl'

/**
 * The state badges on the map, drawn on a canvas at start (the offline style has no sprite):
 * late is an amber disc with a clock's hands, silent a red disc with a white cross. The legend
 * draws the same shapes in SVG (Legend.tsx, StateIcon).
 */

export const BADGE_COLORS = { late: '#f5a300', silent: '#c8102e' } as const
const SIZE = 28
const RATIO = 2

function draw(kind: 'late' | 'silent'): ImageData | undefined {
  const canvas = document.createElement('canvas')
  canvas.width = canvas.height = SIZE * RATIO
  const ctx = canvas.getContext('2d')
  if (!ctx) return undefined
  ctx.scale(RATIO, RATIO)
  const c = SIZE / 2
  ctx.beginPath()
  ctx.arc(c, c, c - 2, 0, Math.PI * 2)
  ctx.fillStyle = BADGE_COLORS[kind]
  ctx.fill()
  ctx.lineWidth = 2
  ctx.strokeStyle = '#ffffff'
  ctx.stroke()
  ctx.lineCap = 'round'
  if (kind === 'late') {
    ctx.strokeStyle = '#1f2933'
    ctx.lineWidth = 2.6
    ctx.beginPath()
    ctx.moveTo(c, c)
    ctx.lineTo(c, c - 7)
    ctx.moveTo(c, c)
    ctx.lineTo(c + 5.5, c + 2)
    ctx.stroke()
  } else {
    ctx.strokeStyle = '#ffffff'
    ctx.lineWidth = 3
    ctx.beginPath()
    ctx.moveTo(c - 5, c - 5)
    ctx.lineTo(c + 5, c + 5)
    ctx.moveTo(c + 5, c - 5)
    ctx.lineTo(c - 5, c + 5)
    ctx.stroke()
  }
  return ctx.getImageData(0, 0, SIZE * RATIO, SIZE * RATIO)
}

/** Adds the badge images to the map's style (again after a style change). */
export function addBadgeImages(map: MapLibreMap): void {
  for (const kind of ['late', 'silent'] as const) {
    const name = `piazza-${kind}`
    if (map.hasImage(name)) continue
    const image = draw(kind)
    if (image) map.addImage(name, image, { pixelRatio: RATIO })
  }
}
