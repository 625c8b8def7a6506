import Type from 'typebox'
import type { Metrics } from './metrics.ts'
import type { Api } from './types.ts'

/** Prometheus scrape endpoint (text exposition format). Public like /api/health: restrict it at the proxy if needed. */
export function registerMetricsRoutes(app: Api, deps: { metrics: Metrics }): void {
  const { metrics } = deps
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics',
        produces: ['text/plain'],
        response: { 200: Type.String({ description: 'Prometheus text exposition format 0.0.4.' }) },
      },
    },
    async (_request, reply) => reply.type(metrics.contentType).send(await metrics.text()),
  )
}
