import Database from 'better-sqlite3'
import fs from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ADMIN_PASSWORD } from '../testkit/stack.ts'
import { adminToken, startPiazza, type PiazzaProcess } from './support/piazza-process.ts'

/**
 * A CSV import of 1,000 devices interrupted by a stop, on a real `piazza start` (embedded
 * storage): a graceful stop finishes the import and answers it; after a kill -9, importing the
 * same file again creates exactly the devices that were missing.
 */

const ROWS = 1000
const dirs: string[] = []
const running: PiazzaProcess[] = []

afterAll(() => {
  for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL')
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

const CITIES = ['firenze', 'pisa', 'siena', 'lucca', 'livorno', 'prato', 'pistoia', 'arezzo', 'grosseto', 'massa']
const csv = ['id,type,city,name,interval', ...Array.from({ length: ROWS }, (_, i) => `,air-quality,${CITIES[i % CITIES.length]},Import station ${i},60`)].join('\n')

async function start(dataDir: string) {
  const piazza = await startPiazza({ DATA_DIR: dataDir, ADMIN_PASSWORD, LOG_LEVEL: 'warn' })
  running.push(piazza)
  const token = await adminToken(piazza.httpUrl, ADMIN_PASSWORD)
  const importCsv = () => fetch(`${piazza.httpUrl}/api/devices/import?dryRun=false`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' }, body: csv })
  return { piazza, importCsv }
}

/** Counts the imported devices in the registry's database, read beside the running server (SQLite allows readers while it writes). */
function importedCounter(dataDir: string) {
  const db = new Database(join(dataDir, 'registry.db'), { readonly: true })
  const query = db.prepare(`SELECT count(*) AS n FROM devices WHERE name LIKE 'Import station %'`)
  return { count: () => (query.get() as { n: number }).n, close: () => db.close() }
}

function registered(dataDir: string): number {
  const counter = importedCounter(dataDir)
  try {
    return counter.count()
  } finally {
    counter.close()
  }
}

/** Resolves with the count seen once the import has created some devices (callers check it is not all of them). */
async function midImport(dataDir: string): Promise<number> {
  const counter = importedCounter(dataDir)
  try {
    for (;;) {
      const n = counter.count()
      if (n > 0) return n
      await new Promise((resolve) => setTimeout(resolve, 1))
    }
  } finally {
    counter.close()
  }
}

describe('a device import interrupted by a stop', () => {
  it('finishes and answers on a graceful stop (SIGTERM) that comes mid-import', async () => {
    const dataDir = fs.mkdtempSync(join(tmpdir(), 'piazza-import-term-'))
    dirs.push(dataDir)
    const { piazza, importCsv } = await start(dataDir)
    const answer = importCsv()
    const seen = await midImport(dataDir)
    piazza.child.kill('SIGTERM')
    // The stop came while rows were still to be created: otherwise this tested nothing.
    expect(seen).toBeLessThan(ROWS)
    const response = await answer
    expect(response.status).toBe(200)
    const body = (await response.json()) as { summary: { created: number }; secretsCsv: string }
    expect(body.summary.created).toBe(ROWS)
    expect(body.secretsCsv.trim().split('\n')).toHaveLength(ROWS + 1)
    expect(await piazza.exited).toBe(0)
    expect(registered(dataDir)).toBe(ROWS)
  }, 120_000)

  it('after a kill -9 mid-import, the same file imported again creates only the devices that were missing', async () => {
    const dataDir = fs.mkdtempSync(join(tmpdir(), 'piazza-import-kill-'))
    dirs.push(dataDir)
    const first = await start(dataDir)
    const answer = first.importCsv().catch((err: unknown) => err)
    await midImport(dataDir)
    first.piazza.child.kill('SIGKILL')
    await first.piazza.exited
    // No answer came: the connection died with the process.
    expect(await answer).toBeInstanceOf(Error)
    const before = registered(dataDir)
    expect(before).toBeGreaterThan(0)
    expect(before).toBeLessThan(ROWS)

    const second = await start(dataDir)
    const response = await second.importCsv()
    expect(response.status).toBe(200)
    const body = (await response.json()) as { summary: { created: number; exists: number } }
    expect(body.summary).toMatchObject({ created: ROWS - before, exists: before })
    expect(registered(dataDir)).toBe(ROWS)
    second.piazza.child.kill('SIGTERM')
    expect(await second.piazza.exited).toBe(0)
  }, 180_000)
})
