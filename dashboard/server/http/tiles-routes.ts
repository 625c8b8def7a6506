import send from '@fastify/send'
import { basename, dirname } from 'node:path'
import { ApiError, errorResponses, notFound } from './errors.ts'
import type { Api } from './types.ts'
import { NoQuerySchema } from './validation.ts'

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
        response: { ...errorResponses(400, 404) },
      },
    },
    async (request, reply) => {
      const result = await send(request.raw, file, { root, dotfiles: 'allow', acceptRanges: true, cacheControl: false, etag: true, lastModified: true })
      if (result.type === 'error') {
        const status = (result.metadata.error as { status?: number }).status ?? 500
        request.log.warn({ err: String(result.metadata.error), file: deps.pmtilesFile }, 'base map archive unreadable')
        if (status === 404) throw notFound('the base map archive (MAP_PMTILES_FILE) is not there any more')
        throw new ApiError(500, 'internal', 'the base map archive (MAP_PMTILES_FILE) could not be read')
      }
      void reply.code(result.statusCode).headers(result.headers as Record<string, string>)
      // Revalidated, so a new archive under the same name is picked up (its ETag changes).
      reply.header('cache-control', 'no-cache')
      reply.header('content-type', 'application/vnd.pmtiles')
      return reply.send(result.stream)
    },
  )
}
