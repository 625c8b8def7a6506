/**
 * The licence the open data is published under, named on every public answer: in JSON bodies
 * (`license`, `attribution`) and as an HTTP `Link: <url>; rel="license"` header (the only place a
 * CSV or NGSI-LD array has for it). Configured with DATA_LICENSE / DATA_ATTRIBUTION.
 */

export interface DataLicense {
  /** SPDX identifier, or 'custom' for a licence given by URL. */
  id: string
  name: string
  url: string
  attribution: string
}

export const KNOWN_LICENSES: Readonly<Record<string, { name: string; url: string }>> = {
  'CC-BY-4.0': { name: 'CC BY 4.0', url: 'https://creativecommons.org/licenses/by/4.0/' },
  'CC-BY-SA-4.0': { name: 'CC BY-SA 4.0', url: 'https://creativecommons.org/licenses/by-sa/4.0/' },
  'CC0-1.0': { name: 'CC0 1.0', url: 'https://creativecommons.org/publicdomain/zero/1.0/' },
  'ODbL-1.0': { name: 'ODbL 1.0', url: 'https://opendatacommons.org/licenses/odbl/1-0/' },
  'IODL-2.0': { name: 'IODL 2.0', url: 'https://www.dati.gov.it/content/italian-open-data-license-v20' },
}

export const DEFAULT_LICENSE = 'CC-BY-4.0'
export const DEFAULT_ATTRIBUTION = 'Piazza open data, Toscana (piazza smart-city telemetry)'

/** Why a DATA_LICENSE value is not usable, or undefined when it is. */
export function checkLicense(value: string): string | undefined {
  if (KNOWN_LICENSES[value]) return undefined
  try {
    const url = new URL(value)
    if (url.protocol === 'https:' || url.protocol === 'http:') return undefined
  } catch {
    // fall through
  }
  return `must be one of ${Object.keys(KNOWN_LICENSES).join(', ')} or the licence's http(s) URL`
}

export function resolveLicense(options: { license?: string; attribution?: string } = {}): DataLicense {
  const id = options.license ?? DEFAULT_LICENSE
  const problem = checkLicense(id)
  if (problem) throw new Error(`data licence '${id}' ${problem}`)
  const known = KNOWN_LICENSES[id]
  const attribution = options.attribution?.trim() || DEFAULT_ATTRIBUTION
  return known ? { id, ...known, attribution } : { id: 'custom', name: id, url: id, attribution }
}

/** The `Link` header value naming the licence. */
export function licenseLink(license: DataLicense): string {
  return `<${license.url}>; rel="license"; title="${license.name.replace(/"/g, "'")}"`
}

/** The fields every JSON body starts with. */
export function licenseFields(license: DataLicense): { license: { id: string; name: string; url: string }; attribution: string } {
  return { license: { id: license.id, name: license.name, url: license.url }, attribution: license.attribution }
}
