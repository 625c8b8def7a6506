import Type, { type Static } from 'typebox'
import type { IngestHealth } from '../../../ingest/ingest.ts'
import { errorResponses } from './errors.ts'
import type { Api } from './types.ts'
import { NoQuerySchema } from './validation.ts'

/**
 * Liveness and readiness of each part. 200 when ready (ingest can make readings durable and
 * storage answers, the broker listens when it is part of this process), 503 otherwise, with the
 * same body either way so a load balancer and a person both get their answer. Public. In cluster
 * mode it also says whether Redis is reachable, without making the node unready over it.
 */

export interface HealthRouteDeps {
  ingestStatus: { health(): Promise<IngestHealth> }
  broker?: { listening?(): boolean }
  live: { socketCount(): number; connectedCount(): number }
  startedAt: number
  /** Cluster mode: the state of this node's Redis connections. */
  redis?: { status(): RedisStatus }
}

export const RedisStatusSchema = Type.Object(
  {
    ok: Type.Boolean({ description: 'Every Redis connection of this node is up. Readiness does not depend on it: ingest needs no Redis.' }),
    feed: Type.Boolean({ description: 'Events between nodes (readings, connections, registry changes).' }),
    mqtt: Type.Boolean({ description: 'Messages to devices connected to other nodes, session takeover.' }),
    realtime: Type.Boolean({ description: 'Room emits to browsers on other nodes.' }),
    dropped: Type.Integer({ description: 'Messages for other nodes dropped while Redis was unreachable, since start.' }),
    detail: Type.Optional(Type.String()),
  },
  { description: 'Cluster mode only (REDIS_URL set).' },
)
export type RedisStatus = Static<typeof RedisStatusSchema>

const PartSchema = { ok: Type.Boolean() }
export const HealthSchema = Type.Object({
  ready: Type.Boolean({ description: 'Whether every part is ready; the status code is 200 when true, 503 when false.' }),
  uptimeSeconds: Type.Integer(),
  checkedAt: Type.Integer(),
  broker: Type.Optional(
    Type.Object({ ...PartSchema, connectedDevices: Type.Integer(), listening: Type.Optional(Type.Boolean()) }, { description: 'Absent when no broker runs in this process.' }),
  ),
  ingest: Type.Object({
    ...PartSchema,
    backlogBytes: Type.Integer({ description: 'Durable in the write-ahead log, not yet confirmed by storage.' }),
    overBudget: Type.Boolean({ description: 'The log is over its disk budget: devices wait for acknowledgements.' }),
    lastStoredAt: Type.Union([Type.Integer(), Type.Null()]),
    lagMs: Type.Integer({ description: 'How long the backlog has waited since storage last confirmed a batch; 0 without backlog.' }),
    detail: Type.Optional(Type.String()),
  }),
  storage: Type.Object({ ...PartSchema, kind: Type.String(), detail: Type.String() }),
  stream: Type.Object({ ...PartSchema, sockets: Type.Integer() }),
  redis: Type.Optional(RedisStatusSchema),
})

/** Storage is asked at most this often, however many probes and visitors ask for health. */
const INGEST_HEALTH_CACHE_MS = 1000

export function registerHealthRoutes(app: Api, deps: HealthRouteDeps): void {
  const { broker, live, startedAt } = deps
  let cached: { at: number; health: Promise<IngestHealth> } | undefined
  const ingestStatus = {
    health(): Promise<IngestHealth> {
      const now = Date.now()
      if (!cached || now - cached.at >= INGEST_HEALTH_CACHE_MS) cached = { at: now, health: deps.ingestStatus.health() }
      return cached.health
    },
  }
  app.get(
    '/api/health',
    {
      schema: {
        tags: ['operations'],
        summary: 'Liveness and readiness of broker, ingest, storage and live stream',
        querystring: NoQuerySchema,
        response: { 200: HealthSchema, 503: HealthSchema, ...errorResponses(400) },
      },
    },
    async (_request, reply) => {
      const now = Date.now()
      let ingest: Static<typeof HealthSchema>['ingest']
      let storage: Static<typeof HealthSchema>['storage']
      try {
        const h = await ingestStatus.health()
        const lastStoredAt = h.lastStoredAt ?? null
        ingest = {
          ok: h.ok,
          backlogBytes: h.backlogBytes,
          overBudget: h.overBudget,
          lastStoredAt,
          lagMs: h.backlogBytes > 0 ? Math.max(0, now - (lastStoredAt ?? startedAt)) : 0,
        }
        if (h.overBudget) ingest.detail = 'the write-ahead log is over its disk budget; acknowledgements wait until storage catches up'
        else if (!h.ok) ingest.detail = h.storage.ok ? 'the write-ahead log is failing' : 'storage is not accepting writes'
        storage = { ok: h.storage.ok, kind: h.storage.kind, detail: h.storage.detail }
      } catch (err) {
        const detail = `health check failed: ${(err as Error).message}`
        ingest = { ok: false, backlogBytes: 0, overBudget: false, lastStoredAt: null, lagMs: 0, detail }
        storage = { ok: false, kind: 'unknown', detail }
      }
      const body: Static<typeof HealthSchema> = {
        ready: false,
        uptimeSeconds: Math.floor((now - startedAt) / 1000),
        checkedAt: now,
        ingest,
        storage,
        stream: { ok: true, sockets: live.socketCount() },
      }
      if (broker) {
        const listening = broker.listening?.()
        body.broker = { ok: listening !== false, connectedDevices: live.connectedCount() }
        if (listening !== undefined) body.broker.listening = listening
      }
      if (deps.redis) body.redis = deps.redis.status()
      // Redis is left out on purpose: a node without it still acknowledges and stores readings.
      body.ready = ingest.ok && storage.ok && (body.broker?.ok ?? true)
      return reply.status(body.ready ? 200 : 503).send(body)
    },
  )
}
