import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { cities, findCity } from '../../../devices/region.ts'
import { ApiError, badRequest, errorResponses, notFound } from '../http/errors.ts'
import type { Api } from '../http/types.ts'
import { SECURED, type Auth } from '../identity/auth.ts'
import { GtfsError, type GtfsStore } from './gtfs-static.ts'

/** An admin uploads a city's static GTFS zip; the GTFS-Realtime feeds then match its buses to trips. */

/** A region's GTFS zip is tens of MB; the API's usual body limit is far smaller. */
export const GTFS_BODY_LIMIT_BYTES = 100 * 1024 * 1024
const ZIP_TYPES = ['application/zip', 'application/x-zip-compressed', 'application/octet-stream']

const GtfsSummarySchema = Type.Object({
  city: Type.String(),
  routes: Type.Integer(),
  trips: Type.Integer(),
  services: Type.Integer(),
  timezone: Type.String({ description: "agency.txt's agency_timezone: the timetable's clock" }),
  uploadedAt: Type.String({ format: 'date-time' }),
})

export function registerGtfsAdminRoutes(app: Api, deps: { gtfs: GtfsStore; auth: Auth }): void {
  const { gtfs, auth } = deps
  // The zip parser lives in this plugin only: elsewhere the API still takes JSON alone.
  void app.register(async (plugin) => {
    const scope = plugin.withTypeProvider<TypeBoxTypeProvider>()
    scope.addContentTypeParser(ZIP_TYPES, { parseAs: 'buffer', bodyLimit: GTFS_BODY_LIMIT_BYTES }, (_request, body, done) => done(null, body))
    scope.put(
      '/api/admin/gtfs/:city',
      {
        onRequest: [
          auth.requireRole('admin'),
          async (request) => {
            const type = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase()
            if (!type || !ZIP_TYPES.includes(type)) throw new ApiError(415, 'unsupported-media-type', `send the GTFS zip with Content-Type: application/zip${type ? `; got ${type}` : ''}`)
          },
        ],
        bodyLimit: GTFS_BODY_LIMIT_BYTES,
        schema: {
          tags: ['open data'],
          summary: "Upload a city's static GTFS (admin)",
          description:
            'Body: the GTFS zip (Content-Type: application/zip) with agency.txt, routes.txt, trips.txt, stop_times.txt and calendar.txt and/or calendar_dates.txt at its top level. ' +
            'It is parsed off the event loop (a worker thread) and checked first: a missing file or a bad row answers 400 naming the file and line, and the city keeps its previous GTFS. ' +
            'Kept in the data directory (read back at start) and replaces the previous one; the GTFS-Realtime feeds then carry trip_id for its buses.',
          security: SECURED,
          consumes: ['application/zip'],
          params: Type.Object({ city: Type.String({ maxLength: 40, description: `A city id: ${cities.map((c) => c.id).join(', ')}` }) }),
          response: { 200: GtfsSummarySchema, ...errorResponses(400, 401, 403, 404, 413, 415) },
        },
      },
      async (request) => {
        const city = findCity(request.params.city)
        if (!city) throw notFound(`unknown city '${request.params.city}'; cities: ${cities.map((c) => c.id).join(', ')}`)
        try {
          const summary = await gtfs.put(city.id, request.body as Buffer)
          request.log.info({ city: city.id, routes: summary.routes, trips: summary.trips }, 'static GTFS uploaded')
          return summary
        } catch (err) {
          if (err instanceof GtfsError) {
            request.log.warn({ city: city.id, reason: err.message }, 'static GTFS refused')
            throw badRequest(`GTFS of ${city.id} refused: ${err.message}`)
          }
          throw err
        }
      },
    )
  })
}
