import Type from 'typebox'
import { DEVICE_ID_PATTERN } from '../../../devices/registry.ts'
import { DeadLetterSchema, type Storage } from '../../../ingest/storage/contract.ts'
import { SECURED, type Auth } from '../identity/auth.ts'
import { errorResponses } from '../http/errors.ts'
import type { Api } from '../http/types.ts'

/** Payloads ingest refused, newest first, with the reason: what an installer needs to fix a device. */

const QuerySchema = Type.Object(
  {
    device: Type.Optional(Type.String({ pattern: DEVICE_ID_PATTERN, description: 'Only this device.' })),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  },
  { additionalProperties: false },
)

export function registerDeadLetterRoutes(app: Api, deps: { storage: Pick<Storage, 'deadLetters'>; auth: Auth }): void {
  const { storage, auth } = deps
  app.get(
    '/api/dead-letters',
    {
      onRequest: auth.requireUser,
      schema: {
        tags: ['readings'],
        summary: 'Refused payloads, newest first',
        security: SECURED,
        querystring: QuerySchema,
        response: { 200: Type.Object({ items: Type.Array(DeadLetterSchema) }), ...errorResponses(400, 401, 503) },
      },
    },
    async (request) => {
      const { device, limit } = request.query
      return { items: await storage.deadLetters({ deviceId: device, limit }) }
    },
  )
}
