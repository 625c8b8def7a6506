import send from '@fastify/send'
import type { FastifyReply } from 'fastify'
import { basename, dirname } from 'node:path'
import Type from 'typebox'
import { ApiError, ErrorSchema, errorResponses, notFound } from './errors.ts'
import type { Api } from './types.ts'
import { NoQuerySchema } from './validation.ts'

const PMTILES_TYPE = 'application/vnd.pmtiles'

/** Where the browser reads the self-hosted base map (MAP_PMTILES_FILE). */
export const PMTILES_PATH = '/tiles/base.pmtiles'

/**
 * The PMTiles archive of the self-hosted base map. Browsers read it in pieces with HTTP range
 * requests (the `pmtiles` library's maplibre protocol asks for the header, then directories and
 * tiles), so this answers 206 with the asked bytes; ETag and Last-Modified let a replaced archive
 * be noticed. Public, like the rest of the map. Served by @fastify/send, as static files are.
 */
export function registerTilesRoutes(app: Api, deps: { pmtilesFile: string }): void {
  const root = dirname(deps.pmtilesFile)
  const file = `/${encodeURIComponent(basename(deps.pmtilesFile))}`
  app.get(
    PMTILES_PATH,
    {
      schema: {
        tags: ['config'],
        summary: 'The self-hosted base map (PMTiles archive), read with HTTP range requests',
        querystring: NoQuerySchema,
        response: {
          200: { description: 'The whole archive', content: { [PMTILES_TYPE]: { schema: Type.String({ format: 'binary' }) } } },
          206: { description: 'The bytes asked for with Range', content: { [PMTILES_TYPE]: { schema: Type.String({ format: 'binary' }) } } },
          ...errorResponses(400, 404),
          416: ErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const result = await send(request.raw, file, { root, dotfiles: 'allow', acceptRanges: true, cacheControl: false, etag: true, lastModified: true })
      if (result.type === 'error') {
        if (result.statusCode === 416) {
          throw new ApiError(416, 'range-not-satisfiable', 'the range asked for lies outside the base map archive', { 'content-range': String(result.headers['Content-Range']) })
        }
        if (result.statusCode === 404) throw notFound('the base map archive (MAP_PMTILES_FILE) is not there any more')
        request.log.warn({ err: String(result.metadata.error), file: deps.pmtilesFile }, 'base map archive unreadable')
        throw new ApiError(500, 'internal', 'the base map archive (MAP_PMTILES_FILE) could not be read')
      }
      const raw = reply as FastifyReply
      void raw.code(result.statusCode).headers(result.headers as Record<string, string>)
      // Revalidated, so a new archive under the same name is picked up (its ETag changes).
      raw.header('cache-control', 'no-cache')
      raw.header('content-type', PMTILES_TYPE)
      return raw.send(result.stream)
    },
  )
}
