import { describe, expect, it } from 'vitest'
import { catalog } from './catalog.ts'
import { resolveLicense } from './license.ts'

describe('the DCAT-AP_IT catalogue', () => {
  // Harvesters (a regional CKAN) key datasets and distributions by their @id, and a distribution's
  // @id is its position in its dataset: a reordering or a renamed id silently breaks harvesting,
  // which mobility.test.ts's semantic checks do not see. A deliberate change: `npx vitest run -u`.
  it('is byte for byte the committed catalogue, for a fixed server, licence, contact and day', async () => {
    const doc = catalog({ base: 'https://piazza.example', license: resolveLicense(), contactEmail: 'opendata@comune.example.it', modified: new Date('2026-12-04T08:30:00Z') })
    await expect(`${JSON.stringify(doc, null, 2)}\n`).toMatchFileSnapshot('./__snapshots__/catalog.jsonld')
  })
})
