import { rmSync } from 'node:fs'
import type { TestProject } from 'vitest/node'
import { startInfluxd, type Influxd } from '../../testkit/influxd.ts'

/** One InfluxDB for the whole run; each test file uses its own databases on it. */

declare module 'vitest' {
  export interface ProvidedContext {
    influxUrl: string
  }
}

let influxd: Influxd | undefined

export async function setup(project: TestProject): Promise<void> {
  influxd = await startInfluxd()
  project.provide('influxUrl', influxd.url)
}

export async function teardown(): Promise<void> {
  await influxd?.stop()
  if (influxd) rmSync(influxd.dataDir, { recursive: true, force: true })
}
