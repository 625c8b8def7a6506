import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { vi } from 'vitest'
import { loadConfig } from '../cli/config.ts'
import { KINDS, type DeviceType } from '../devices/kinds.ts'
import { encodeReading, seriesPrefix } from '../devices/line-protocol.ts'
import { createPlatform, type PlatformOptions } from '../platform/platform.ts'
import type { AppDeps } from '../dashboard/server/app.ts'
import type { LiveHubOptions } from '../dashboard/server/realtime/live.ts'
import type { RealtimeOptions } from '../dashboard/server/realtime/server.ts'

/**
 * A whole platform for API tests, built by the production composition root (platform/platform.ts)
 * over the embedded store in a temp dir, nothing listening: requests go through app.inject, and
 * MQTT-side events are published on the feed as the broker and ingest would.
 */

export const ADMIN_PASSWORD = 'admin-password-for-tests'
export const RETENTION_MS = 30 * 86_400_000

export function line(type: DeviceType, city: string, deviceId: string, time: number, values: Record<string, number | string>): string {
  return encodeReading(KINDS[type], seriesPrefix({ type, city, deviceId }), { time, values })
}

export interface TestAppOptions {
  deps?: PlatformOptions['http'] & Partial<Pick<AppDeps, 'feed'>>
  live?: LiveHubOptions
  realtime?: RealtimeOptions
  /** More configuration, as environment variables (read by cli/config.ts as in production). */
  env?: Record<string, string>
  /** Reuse this data directory (a restart); cleanup() then leaves it in place for the caller to remove. */
  dir?: string
}

export async function startTestApp(options: TestAppOptions = {}) {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'piazza-dashboard-'))
  const config = loadConfig({ DATA_DIR: dir, RETENTION_DAYS: String(RETENTION_MS / 86_400_000), INGEST_FLUSH_MS: '20', WAL_BUDGET_MB: '64', ADMIN_PASSWORD, MAP_STYLE_URL: 'none', ...options.env })
  const { feed, ...http } = options.deps ?? {}
  const platform = await createPlatform(config, pino({ level: 'silent' }), {
    feed,
    http: { staticDir: undefined, ...http, live: options.live ?? http.live, realtime: options.realtime ?? http.realtime },
  })
  // The broker listens (on a free port) as in production; HTTP requests go through app.inject.
  const mqtt = await platform.listen({ host: '127.0.0.1', mqttPort: 0 })
  await vi.waitFor(
    async () => {
      if (!(await platform.ingest.health()).ok) throw new Error('storage is not open yet')
    },
    { timeout: 20_000, interval: 20 },
  )
  const built = platform.web
  const { app } = built

  async function login(username: string, password: string): Promise<string> {
    const response = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password } })
    if (response.statusCode !== 200) throw new Error(`login as ${username} failed: ${response.statusCode} ${response.body}`)
    return (response.json() as { token: string }).token
  }

  return {
    ...built,
    platform,
    mqttPort: mqtt.port,
    dir,
    db: platform.db,
    registry: platform.registry,
    storage: platform.storage,
    ingest: platform.ingest,
    feed: platform.feed,
    login,
    bearer: (token: string) => ({ authorization: `Bearer ${token}` }),
    async cleanup() {
      await platform.close()
      if (options.dir === undefined) rmSync(dir, { recursive: true, force: true })
    },
  }
}

export type TestApp = Awaited<ReturnType<typeof startTestApp>>
