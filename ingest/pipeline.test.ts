import fs from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { createPipeline } from './pipeline.ts'
import { openWal } from './wal.ts'
import { batchLines } from '../devices/line-protocol.ts'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

describe('ingest pipeline', () => {
  it('writes the series of the device as it is now: a device moved to another city gets its new city', async () => {
    const dir = fs.mkdtempSync(join(tmpdir(), 'piazza-pipeline-'))
    dirs.push(dir)
    const wal = await openWal({ dir, budgetBytes: 1 << 20 })
    const pipeline = createPipeline({ wal, logger: pino({ level: 'silent' }) })
    const device = { id: 'aq-1', type: 'air-quality' as const, city: 'firenze' }
    const accept = (time: number) =>
      new Promise<void>((resolve, reject) => pipeline.accept(device, Buffer.from(JSON.stringify({ ts: time, pm25: 10 })), Date.now(), (err) => (err ? reject(err) : resolve())))
    const now = Date.now()
    await accept(now - 2000)
    await accept(now - 1000)
    device.city = 'pisa'
    await accept(now)
    const records = batchLines(wal.readBatch(10).bytes)
    expect(records.map((r) => /city=(\w+)/.exec(r)?.[1])).toEqual(['firenze', 'firenze', 'pisa'])
    await wal.close()
  })
})
