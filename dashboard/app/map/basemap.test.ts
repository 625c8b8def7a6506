import { describe, expect, it } from 'vitest'
import { baseMapChain } from './basemap.ts'

describe('baseMapChain', () => {
  const none = { styleUrl: null, pmtilesUrl: null, attribution: null }

  it('is the outline alone when nothing is configured', () => {
    expect(baseMapChain(none)).toEqual(['outline'])
  })

  it('tries the style URL, then the self-hosted archive, and always ends with the outline', () => {
    expect(baseMapChain({ ...none, styleUrl: 'https://tiles.example/style.json' })).toEqual(['style', 'outline'])
    expect(baseMapChain({ ...none, pmtilesUrl: '/tiles/base.pmtiles' })).toEqual(['pmtiles', 'outline'])
    expect(baseMapChain({ styleUrl: 'https://tiles.example/style.json', pmtilesUrl: '/tiles/base.pmtiles', attribution: 'x' })).toEqual(['style', 'pmtiles', 'outline'])
  })
})
