import type { Static } from 'typebox'
import type { DeviceType } from '../../../devices/kinds.ts'
import type { Latest as StoredLatest, SeriesPoint } from '../../../ingest/storage/contract.ts'
import type { Config } from '../../shared/config.ts'
import type { LiveUpdate } from '../../shared/realtime.ts'
import type { DeviceViewSchema } from '../../server/devices/routes.ts'

/**
 * Shapes of the HTTP API, taken from the schemas the server answers with (type-only imports:
 * nothing of the server is bundled). Where the app works on a different view of the same data
 * (kinds keyed by type, points without gaps), the view is derived here from the wire type.
 */

export type { DeviceType }

export type Role = string

export interface User {
  id?: string | number
  username: string
  role: Role
  /** City ids an installer works in; absent means every city. */
  cities?: string[]
}

/** GET /api/config as the server sends it (dashboard/shared/config.ts). */
export type { Config as RawConfig }
export type City = Config['cities'][number]
export type Bbox = Config['region']['bbox']
/** One kind as the server lists it: fields and tags in the kind's order. */
export type ConfigKind = Config['kinds'][number]
export type FieldInfo = ConfigKind['fields'][number]

/** A kind as the app looks it up: fields by name (in the kind's order), tags as name → label. */
export type KindInfo = Omit<ConfigKind, 'fields' | 'tags'> & {
  fields: Record<string, FieldInfo>
  tags: Record<string, string>
}

/** The config as the app uses it: api/client.ts `normaliseConfig` derives it from the server's. */
export type AppConfig = Omit<Config, 'kinds'> & {
  /** The region's bounding box (`region.bbox`). */
  bbox: Bbox
  /** Keyed by device type, in the server's order. */
  kinds: Record<string, KindInfo>
}

/** A reading's values: measured fields (numbers) and tags such as a bus route or lane. */
export type Values = LiveUpdate['values']

/** The newest value of each field (GET /api/devices/:id/latest when the device has readings). */
export type Latest = StoredLatest

/** A registry device as the API lists it: `connected` when a broker runs, `lastSeen` in epoch ms. */
export type Device = Static<typeof DeviceViewSchema>

/** A series point the chart draws: the server's, gaps (null values) left out. */
export type Point = { [K in keyof SeriesPoint]: NonNullable<SeriesPoint[K]> }
