import fastifyRateLimit from '@fastify/rate-limit'
import type { Logger } from 'pino'
import type { Registry } from '../../../devices/registry.ts'
import type { Storage } from '../../../ingest/storage/contract.ts'
import type { Accounts } from '../identity/accounts.ts'
import { tooManyRequests } from '../http/errors.ts'
import type { Feed } from '../../../feed/feed.ts'
import type { Api } from '../http/types.ts'
import { licenseLink, resolveLicense, type DataLicense } from './license.ts'
import { registerPages } from './pages.ts'
import { registerPublicRoutes } from './routes.ts'
import { registerStatisticsRoutes } from './statistics.ts'
import { createSnapshots, type Snapshots } from './snapshots.ts'
import { createMobilitySnapshots, type MobilitySnapshots } from './mobility-snapshot.ts'
import { registerMobilityRoutes } from './mobility-routes.ts'
import type { GtfsStore } from './gtfs-static.ts'
import type { LiveHub } from '../realtime/live.ts'

/**
 * The citizens' side, registered by buildApp with one call: the public pages (`/`,
 * `/widget/<city>`) and the open-data API under `/api/public/` (snapshots, exports, licence on
 * every answer, CORS open, a rate limit per client address answering 429 with Retry-After in the
 * API's one error shape).
 */

export interface PublicDataOptions {
  /** SPDX id (CC-BY-4.0 by default, CC0-1.0, CC-BY-SA-4.0, ODbL-1.0, IODL-2.0) or the licence's URL. */
  license?: string
  /** Credit line for reusers; a default naming Piazza when absent. */
  attribution?: string
  rateLimit?: {
    /** Requests per client address and window to the snapshot answers. Default 1200 (a page asks about 7 a minute; many visitors may share an address behind a carrier's NAT). */
    max?: number
    /** Requests per client address and window to the exports. Default 60. */
    exportMax?: number
    /** Default 60 000 ms. */
    windowMs?: number
  }
  snapshots?: {
    /** Default 5000 ms. */
    minIntervalMs?: number
    /** Default 60 000 ms. */
    maxAgeMs?: number
    /** false: compute every answer from storage (only to measure what snapshots save). Default true. */
    enabled?: boolean
    /** Compute every city once at start. Default true. */
    warm?: boolean
  }
  /** Cache-Control max-age of snapshot answers. Default 5 s. */
  maxAgeSeconds?: number
  /** Who answers for the open data (GBFS system_information, the catalogue's contact point). */
  contactEmail?: string
  /** The mobility feeds' snapshot (GTFS-Realtime, GBFS, parking) is rebuilt at most this often; 0: per request (only to measure what it saves). Default 1000 ms. */
  mobilitySnapshotMs?: number
}

/** Until DATA_CONTACT_EMAIL is set: a reserved domain, so nobody mistakes it for a real address. */
export const DEFAULT_CONTACT_EMAIL = 'opendata@piazza.invalid'

export interface PublicDeps {
  registry: Pick<Registry, 'get' | 'list' | 'onChange'>
  storage: Pick<Storage, 'series' | 'windows' | 'readings' | 'latest' | 'lastReadings'>
  feed?: Pick<Feed, 'subscribe'>
  /** Newest reading per device, for the mobility feeds. */
  live: Pick<LiveHub, 'readingsOf'>
  /** Static GTFS per city, for matching buses to trips in the GTFS-Realtime feeds. */
  gtfs?: Pick<GtfsStore, 'get' | 'cities' | 'version'>
  accounts: Pick<Accounts, 'authenticate'>
  logger: Logger
  staticDir?: string
  options?: PublicDataOptions
}

export interface PublicSide {
  snapshots: Snapshots
  mobility: MobilitySnapshots
  license: DataLicense
}

export async function registerPublic(app: Api, deps: PublicDeps): Promise<PublicSide> {
  const options = deps.options ?? {}
  const license = resolveLicense({ license: options.license, attribution: options.attribution })
  const snapshots = createSnapshots({
    registry: deps.registry,
    storage: deps.storage,
    feed: deps.feed,
    logger: deps.logger.child({ part: 'public' }),
    minIntervalMs: options.snapshots?.minIntervalMs,
    maxAgeMs: options.snapshots?.maxAgeMs,
    cache: options.snapshots?.enabled,
    warm: options.snapshots?.warm,
  })
  app.addHook('onClose', async () => snapshots.close())

  const mobility = createMobilitySnapshots({ registry: deps.registry, live: deps.live, minIntervalMs: options.mobilitySnapshotMs })

  registerPages(app, { staticDir: deps.staticDir, accounts: deps.accounts })

  const windowMs = options.rateLimit?.windowMs ?? 60_000
  const link = licenseLink(license)
  await app.register(async (scope) => {
    const api = scope as unknown as Api
    // Before the rate limit's own hook, so a 429 names the licence and is readable cross-origin too.
    api.addHook('onRequest', async (_request, reply) => {
      reply.header('link', link)
      reply.header('access-control-allow-origin', '*')
      reply.header('access-control-expose-headers', 'ETag, Link, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Content-Disposition')
    })
    await api.register(fastifyRateLimit, {
      max: options.rateLimit?.max ?? 1200,
      timeWindow: windowMs,
      errorResponseBuilder: (_request, context) =>
        tooManyRequests(`too many requests from this address: at most ${context.max} per ${Math.round(windowMs / 1000)} s; try again in ${Math.ceil(context.ttl / 1000)} s`, context.ttl / 1000),
    })
    registerPublicRoutes(api, {
      registry: deps.registry,
      storage: deps.storage,
      snapshots,
      license,
      maxAgeSeconds: options.maxAgeSeconds ?? 5,
      exportRateLimit: { max: options.rateLimit?.exportMax ?? 60, timeWindow: windowMs },
    })
    registerMobilityRoutes(api, { snapshots: mobility, gtfs: deps.gtfs, license, contactEmail: options.contactEmail ?? DEFAULT_CONTACT_EMAIL, maxAgeSeconds: options.maxAgeSeconds ?? 5 })
    registerStatisticsRoutes(api, {
      registry: deps.registry,
      storage: deps.storage,
      license,
      rateLimit: { max: options.rateLimit?.exportMax ?? 60, timeWindow: windowMs },
    })
  })
  return { snapshots, mobility, license }
}
