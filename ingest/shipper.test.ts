import fs from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { createShipper } from './shipper.ts'
import { StorageUnavailableError, type DeadLetter, type Storage } from './storage/contract.ts'
import { openWal, type Wal } from './wal.ts'
import { batchLines } from '../devices/line-protocol.ts'

/**
 * The shipper against a scripted store: storage faults the real stores cannot be made to produce
 * on demand (a 503 with Retry-After, a refused line in the middle of a batch).
 */

const logger = pino({ level: 'silent' })
const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

function scriptedStorage(script: ((lines: readonly string[]) => { rejected: { line: string; reason: string }[] } | Error)[], deadLetterFailures = 0) {
  const written: string[] = []
  const letters: DeadLetter[] = []
  const attempts: number[] = []
  const storage = {
    kind: 'scripted',
    async write(batch: Buffer) {
      const lines = batchLines(batch)
      attempts.push(Date.now())
      const step = script.shift()
      const outcome = step ? step(lines) : { rejected: [] }
      if (outcome instanceof Error) throw outcome
      const refused = new Set(outcome.rejected.map((r) => r.line))
      written.push(...lines.filter((l) => !refused.has(l)))
      return outcome
    },
    async writeDeadLetters(batch: readonly DeadLetter[]) {
      if (deadLetterFailures-- > 0) throw new StorageUnavailableError('503 Service Unavailable', 10)
      letters.push(...batch)
    },
  } as unknown as Storage
  return { storage, written, letters, attempts }
}

async function walWith(records: string[]): Promise<Wal> {
  const dir = fs.mkdtempSync(join(tmpdir(), 'piazza-shipper-'))
  dirs.push(dir)
  const wal = await openWal({ dir, budgetBytes: 1 << 20 })
  await new Promise<void>((resolve, reject) => {
    const bytes = Buffer.from(records.map((r) => `${r}\n`).join(''))
    wal.append(bytes, bytes.length, records.length, (e) => (e ? reject(e) : resolve()))
  })
  return wal
}

describe('shipper', () => {
  it('ships readings and dead letters in log order and turns refused lines into dead letters', async () => {
    const letter: DeadLetter = { deviceId: 'aq-x', receivedAt: 1, topic: 't', code: 'invalid-json', reason: 'bad', payload: '{' }
    const wal = await walWith(['Rair-quality,city=pisa,device=aq-1 pm25=1 1000', `D${JSON.stringify(letter)}`, 'Rair-quality,city=pisa,device=aq-2 pm25=oops 1000'])
    const { storage, written, letters } = scriptedStorage([(lines) => ({ rejected: [{ line: lines[1]!, reason: 'invalid field format' }] })])
    const shipper = createShipper({ wal, storage, logger, flushIntervalMs: 10 })
    await expect.poll(() => letters.length, { timeout: 20_000 }).toBe(2)
    expect(written).toEqual(['air-quality,city=pisa,device=aq-1 pm25=1 1000'])
    expect(letters[0]).toEqual(letter)
    expect(letters[1]).toMatchObject({ deviceId: 'aq-2', code: 'storage-rejected', reason: 'invalid field format' })
    expect(shipper.stats()).toMatchObject({ storedReadings: 1, storageRejected: 1, storedDeadLetters: 2 })
    await shipper.close()
    await wal.close()
  })

  it('dead-letters a refused line once when storing the dead letters fails and the batch is retried', async () => {
    const wal = await walWith(['Rair-quality,city=pisa,device=aq-1 pm25=1 1000', 'Rair-quality,city=pisa,device=aq-2 pm25=oops 1000'])
    const refuseSecond = (lines: readonly string[]) => ({ rejected: [{ line: lines[1]!, reason: 'invalid field format' }] })
    const { storage, letters } = scriptedStorage([refuseSecond, refuseSecond, refuseSecond], 2)
    const shipper = createShipper({ wal, storage, logger, flushIntervalMs: 10 })
    await expect.poll(() => shipper.stats().batches, { timeout: 20_000 }).toBe(1)
    expect(letters).toHaveLength(1)
    expect(letters[0]).toMatchObject({ deviceId: 'aq-2', code: 'storage-rejected', reason: 'invalid field format' })
    expect(shipper.stats()).toMatchObject({ storedReadings: 1, storageRejected: 1, storedDeadLetters: 1, failedAttempts: 2 })
    await shipper.close()
    await wal.close()
  })

  it("retries while storage is unavailable, waiting the server's Retry-After, and then stores the batch once", async () => {
    const wal = await walWith(['Rnoise,city=siena,device=n-1 LAeq=50 1000'])
    const { storage, written, attempts } = scriptedStorage([() => new StorageUnavailableError('503 Service Unavailable', 300)])
    const shipper = createShipper({ wal, storage, logger, flushIntervalMs: 10 })
    await expect.poll(() => written.length, { timeout: 20_000 }).toBe(1)
    expect(attempts).toHaveLength(2)
    expect(attempts[1]! - attempts[0]!).toBeGreaterThanOrEqual(290)
    expect(shipper.stats()).toMatchObject({ failedAttempts: 1, storedReadings: 1, storageError: undefined })
    await shipper.close()
    // Confirmed: a reopened log has nothing left to replay.
    const unread = batchLines(wal.readBatch(10).bytes)
    expect(unread).toEqual([])
    await wal.close()
  })

  it('leaves an unstored batch in the log when closed while storage is down', async () => {
    const wal = await walWith(['Rnoise,city=siena,device=n-1 LAeq=50 1000'])
    const down = () => new StorageUnavailableError('connect ECONNREFUSED')
    const { storage, written } = scriptedStorage(Array.from({ length: 1000 }, () => down))
    const shipper = createShipper({ wal, storage, logger, flushIntervalMs: 10 })
    await shipper.close(200)
    expect(written).toEqual([])
    const dir = dirs.at(-1)!
    await wal.close()
    const reopened = await openWal({ dir, budgetBytes: 1 << 20 })
    expect(batchLines(reopened.readBatch(10).bytes)).toEqual(['Rnoise,city=siena,device=n-1 LAeq=50 1000'])
    await reopened.close()
  })
})

describe('shipper over time', () => {
  it('keeps shipping what is appended after its first batch', async () => {
    const wal = await walWith(['Rair-quality,city=pisa,device=aq-1 pm25=1 1000'])
    const { storage, written } = scriptedStorage([])
    const shipper = createShipper({ wal, storage, logger, flushIntervalMs: 10 })
    await expect.poll(() => written.length, { timeout: 20_000 }).toBe(1)
    for (const [i, line] of ['Rair-quality,city=pisa,device=aq-1 pm25=2 2000', 'Rair-quality,city=pisa,device=aq-1 pm25=3 3000'].entries()) {
      const bytes = Buffer.from(`${line}\n`)
      await new Promise<void>((resolve, reject) => wal.append(bytes, bytes.length, 1, (e) => (e ? reject(e) : resolve())))
      await expect.poll(() => written.length, { timeout: 20_000 }).toBe(i + 2)
    }
    await shipper.close(5_000)
    expect(wal.unreadRecords()).toBe(0)
    await wal.close()
  })
})

describe('shipper when opening files fails', () => {
  it('retries reading the log and writing the checkpoint after EMFILE instead of stopping', async () => {
    const wal = await walWith(['Rair-quality,city=pisa,device=aq-1 pm25=1 1000', 'Rair-quality,city=pisa,device=aq-2 pm25=2 1000'])
    const emfile = () => Object.assign(new Error('EMFILE: too many open files, open'), { code: 'EMFILE' })
    let readFailures = 2
    let confirmFailures = 1
    const flaky: Wal = {
      ...wal,
      readBatch(max, maxBytes) {
        if (readFailures > 0) {
          readFailures -= 1
          throw emfile()
        }
        return wal.readBatch(max, maxBytes)
      },
      confirm(position) {
        if (confirmFailures > 0) {
          confirmFailures -= 1
          throw emfile()
        }
        wal.confirm(position)
      },
    }
    const { storage, written } = scriptedStorage([])
    const shipper = createShipper({ wal: flaky, storage, logger, flushIntervalMs: 10, maxBackoffMs: 50 })
    await expect.poll(() => written.length, { timeout: 20_000 }).toBe(2)
    await expect.poll(() => confirmFailures, { timeout: 20_000 }).toBe(0)
    expect(shipper.stats().failedAttempts).toBeGreaterThanOrEqual(3)
    await shipper.close(5_000)
    expect(wal.unreadRecords()).toBe(0)
    await wal.close()
  })
})
