import { createHash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { csvLine as writeCsvLine, type CsvCell } from '../../shared/csv.ts'
import { badRequest } from '../http/errors.ts'

/**
 * Formats of the open-data API (JSON, CSV, NGSI-LD), picked by `?format=` or else by the Accept
 * header; CSV records; and cached answers with ETag / If-None-Match.
 */

export const FORMATS = ['json', 'csv', 'ngsi-ld'] as const
export type Format = (typeof FORMATS)[number]

export const CONTENT_TYPES: Record<Format, string> = {
  json: 'application/json; charset=utf-8',
  csv: 'text/csv; charset=utf-8; header=present',
  'ngsi-ld': 'application/ld+json; charset=utf-8',
}

/** `?format=` wins; otherwise the client's most preferred of the media types the route offers; JSON by default. */
export function negotiate(format: string | undefined, accept: string | undefined, allowed: readonly Format[]): Format {
  if (format !== undefined) {
    if (!(allowed as readonly string[]).includes(format)) throw badRequest(`query parameter 'format' must be one of ${allowed.join(', ')} here; got "${format}"`)
    return format as Format
  }
  if (!accept) return 'json'
  const ranges = accept
    .split(',')
    .map((part, i) => {
      const [type = '', ...params] = part.split(';').map((s) => s.trim())
      const q = params.find((p) => p.startsWith('q='))
      return { type: type.toLowerCase(), q: q ? Number(q.slice(2)) : 1, i }
    })
    .filter((r) => r.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i)
  for (const r of ranges) {
    if (r.type === 'text/csv' && allowed.includes('csv')) return 'csv'
    if (r.type === 'application/ld+json' && allowed.includes('ngsi-ld')) return 'ngsi-ld'
    if (r.type === 'application/json' || r.type === 'application/*' || r.type === '*/*') return 'json'
  }
  return 'json'
}

/**
 * One CSV record for the exports, streamed or whole (the header is a record too): the shared
 * writer (dashboard/shared/csv.ts), so RFC 4180 quoting and the spreadsheet-formula guard.
 * Numbers stay numbers; anything that is not a CSV cell is written as its text.
 */
export function csvLine(cells: readonly unknown[]): string {
  return writeCsvLine(cells.map(toCell))
}

function toCell(value: unknown): CsvCell {
  if (value === null || value === undefined || value instanceof Date) return value
  const t = typeof value
  return t === 'string' || t === 'number' || t === 'bigint' || t === 'boolean' ? (value as CsvCell) : String(value)
}

export interface Rendered {
  body: string
  etag: string
}

export function rendered(body: string): Rendered {
  return { body, etag: `"${createHash('sha1').update(body).digest('base64url')}"` }
}

/** Whether an If-None-Match header matches the ETag (weak comparison, as RFC 9110 says for GET). */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false
  const bare = etag.replace(/^W\//, '')
  return header.split(',').some((t) => {
    const tag = t.trim()
    return tag === '*' || tag.replace(/^W\//, '') === bare
  })
}

/**
 * Sends a snapshot's rendering: cacheable for `maxAgeSeconds` by anyone, then revalidated with
 * its ETag (304 Not Modified with no body when unchanged).
 */
export function sendRendered(request: FastifyRequest, reply: FastifyReply, r: Rendered, format: Format, maxAgeSeconds: number, filename?: string): FastifyReply {
  reply.header('etag', r.etag).header('cache-control', `public, max-age=${maxAgeSeconds}`).header('vary', 'Accept')
  if (etagMatches(request.headers['if-none-match'], r.etag)) return reply.code(304).send()
  if (format === 'csv' && filename) reply.header('content-disposition', `attachment; filename="${filename}"`)
  return reply.type(CONTENT_TYPES[format]).send(r.body)
}

/** A small memo of renderings, keyed by snapshot versions and request options. */
export function createRenderCache(capacity = 256) {
  const entries = new Map<string, Rendered>()
  return (key: string, produce: () => string): Rendered => {
    let r = entries.get(key)
    if (!r) {
      if (entries.size >= capacity) entries.clear()
      r = rendered(produce())
      entries.set(key, r)
    }
    return r
  }
}
