import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { KINDS, type DeviceType } from '../../devices/kinds.ts'
import { encodeReading, seriesPrefix } from '../../devices/line-protocol.ts'
import { createRegistry, openRegistryDatabase } from '../../devices/registry.ts'
import { createIngest } from '../../ingest/ingest.ts'
import { createEmbeddedStorage } from '../../ingest/storage/embedded.ts'
import { buildApp, type AppDeps } from './app.ts'
import { createLiveHub, type LiveHubOptions } from './realtime/live.ts'

/** A whole API for tests: in-memory registry, embedded storage and real ingest in a temp dir. */

export const ADMIN_PASSWORD = 'admin-password-for-tests'
export const RETENTION_MS = 30 * 86_400_000

export function line(type: DeviceType, city: string, deviceId: string, time: number, values: Record<string, number | string>): string {
  return encodeReading(KINDS[type], seriesPrefix({ type, city, deviceId }), { time, values })
}

/** Waits for a condition (not for a time): polls until it holds or the test times out. */
export async function until<T>(probe: () => T | Promise<T>, what: string, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

export interface TestAppOptions {
  deps?: Partial<AppDeps>
  live?: LiveHubOptions
}

export async function startTestApp(options: TestAppOptions = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'piazza-dashboard-'))
  const logger = pino({ level: 'silent' })
  const db = openRegistryDatabase(':memory:')
  const registry = createRegistry({ db })
  const storage = createEmbeddedStorage({ file: join(dir, 'readings.db'), retentionMs: RETENTION_MS })
  const live = createLiveHub(options.live)
  const ingest = await createIngest({ dataDir: dir, storage, logger, walBudgetBytes: 64 * 1024 * 1024, flushIntervalMs: 20, onAccepted: live.push })
  await until(async () => (await ingest.health()).ok, 'storage to open')
  const connected = new Set<string>()
  const broker = { connectedDevices: () => connected.size, isConnected: (id: string) => connected.has(id) }
  const built = await buildApp({ registry, db, storage, ingestStatus: ingest, broker, live, logger, adminPassword: ADMIN_PASSWORD, ...options.deps })
  const { app } = built

  async function login(username: string, password: string): Promise<string> {
    const response = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password } })
    if (response.statusCode !== 200) throw new Error(`login as ${username} failed: ${response.statusCode} ${response.body}`)
    return (response.json() as { token: string }).token
  }

  return {
    ...built,
    dir,
    db,
    registry,
    storage,
    ingest,
    live,
    connected,
    login,
    bearer: (token: string) => ({ authorization: `Bearer ${token}` }),
    async cleanup() {
      await built.close()
      await ingest.close(1000)
      registry.close()
      db.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export type TestApp = Awaited<ReturnType<typeof startTestApp>>
