import { rmSync } from 'node:fs'
import type { TestProject } from 'vitest/node'
import { startInfluxd, type Influxd } from '../../testkit/influxd.ts'
import { startPostgres, type Postgres } from '../../testkit/postgres.ts'

/** One InfluxDB and one PostgreSQL for the whole run; each test file uses its own databases on them. */

declare module 'vitest' {
  export interface ProvidedContext {
    influxUrl: string
    /** The PostgreSQL server's maintenance database: createDatabase(postgresUrl) gives a test its own. */
    postgresUrl: string
  }
}

let influxd: Influxd | undefined
let postgres: Postgres | undefined

export async function setup(project: TestProject): Promise<void> {
  ;[influxd, postgres] = await Promise.all([startInfluxd(), startPostgres()])
  project.provide('influxUrl', influxd.url)
  project.provide('postgresUrl', postgres.url)
}

export async function teardown(): Promise<void> {
  await postgres?.stop()
  await influxd?.stop()
  if (influxd) rmSync(influxd.dataDir, { recursive: true, force: true })
}
