import Type from 'typebox'
import { DeviceTypeSchema } from '../../../devices/kinds.ts'
import { cityIds, findCity } from '../../../devices/region.ts'
import type { Device } from '../../../devices/registry.ts'
import { SECURED, type Auth } from '../identity/auth.ts'
import type { DeviceStates } from './device-states.ts'
import { DeviceStateSchema, HealthStateSchema } from '../../shared/operations.ts'
import { badRequest, errorResponses } from '../http/errors.ts'
import { actorOf, visibleTo } from '../identity/permissions.ts'
import type { Api } from '../http/types.ts'

/** Every device's health (live, late, silent, pending, inactive), as the server judges it. */

const QuerySchema = Type.Object(
  {
    city: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: `City id: ${cityIds.join(', ')}` })),
    type: Type.Optional(DeviceTypeSchema),
    state: Type.Optional(HealthStateSchema),
  },
  { additionalProperties: false },
)

export function registerDeviceStateRoutes(app: Api, deps: { states: DeviceStates; auth: Auth; registry: { get(id: string): Device | undefined } }): void {
  const { states, auth, registry } = deps
  app.get(
    '/api/device-states',
    {
      onRequest: auth.requireUser,
      schema: {
        tags: ['devices'],
        summary: 'Health of every device: live, late, silent, pending (no reading yet) or inactive',
        description:
          'Judged against each device’s expected reporting interval: late after 2 missed intervals, silent after 5; back to live when a reading follows the previous one within 1.5 intervals (hysteresis). Revoked and decommissioned devices are inactive, never silent. Changes stream to logged-in sockets as `device_states` events.',
        security: SECURED,
        querystring: QuerySchema,
        response: {
          200: Type.Object({
            items: Type.Array(DeviceStateSchema),
            counts: Type.Record(Type.String(), Type.Integer()),
            thresholds: Type.Object({ lateAfter: Type.Number(), silentAfter: Type.Number(), recoverWithin: Type.Number() }),
            generatedAt: Type.Integer(),
          }),
          ...errorResponses(400, 401),
        },
      },
    },
    async (request) => {
      const { city, type, state } = request.query
      const cityId = city === undefined ? undefined : findCity(city)?.id
      if (city !== undefined && !cityId) throw badRequest(`unknown city '${city}'; cities: ${cityIds.join(', ')}`)
      const visible = visibleTo(actorOf(request))
      const matches = (d: { id: string; city: string; type: string }) => {
        if (cityId !== undefined && d.city !== cityId) return false
        if (type !== undefined && d.type !== type) return false
        if (visible) {
          const device = registry.get(d.id)
          if (!device || !visible(device)) return false
        }
        return true
      }
      const items = states.list((d) => matches(d) && (state === undefined || d.state === state))
      return { items, counts: states.counts(matches), thresholds: states.thresholds, generatedAt: Date.now() }
    },
  )
}
