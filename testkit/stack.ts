import fs from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { loadConfig } from '../cli/config.ts'
import { startServer, type PlatformOptions, type RunningServer } from '../platform/platform.ts'

/**
 * The whole platform in the test process, on free loopback ports: broker, ingest, storage, API,
 * live stream and the built dashboard — what `piazza start` runs, minus the signal handling.
 */

export const ADMIN_PASSWORD = 'admin-password-for-tests'

export interface Stack extends RunningServer {
  dataDir: string
  stop(): Promise<void>
}

export async function startStack(env: Record<string, string> = {}, options: PlatformOptions = {}): Promise<Stack> {
  const dataDir = fs.mkdtempSync(join(tmpdir(), 'piazza-stack-'))
  const config = loadConfig({
    DATA_DIR: dataDir,
    HTTP_PORT: '0',
    MQTT_PORT: '0',
    MQTT_WS_PORT: '0',
    ADMIN_PASSWORD,
    INGEST_FLUSH_MS: '100',
    // Tests reach no tile service: the outline unless a test configures a base map.
    MAP_STYLE_URL: 'none',
    ...env,
  })
  const server = await startServer(config, pino({ level: process.env.PIAZZA_TEST_LOG ?? 'silent' }), options)
  return Object.assign(server, {
    dataDir,
    async stop() {
      await server.close()
      fs.rmSync(dataDir, { recursive: true, force: true })
    },
  })
}
