import fs from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openWal, type Wal } from './wal.ts'
import { batchLines } from '../devices/line-protocol.ts'

const dirs: string[] = []
const tempDir = () => {
  const dir = fs.mkdtempSync(join(tmpdir(), 'piazza-wal-'))
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

const append = (wal: Wal, text: string, records = 1) => {
  const bytes = Buffer.from(text)
  return new Promise<void>((resolve, reject) => wal.append(bytes, bytes.length, records, (err) => (err ? reject(err) : resolve())))
}

describe('write-ahead log', () => {
  it('acknowledges appends once durable and reads them back in order', async () => {
    const wal = await openWal({ dir: tempDir(), budgetBytes: 1 << 20 })
    await Promise.all(Array.from({ length: 100 }, (_, i) => append(wal, `Rline ${i}\n`)))
    expect(wal.unreadRecords()).toBe(100)
    const first = wal.readBatch(60)
    expect(batchLines(first.bytes)).toHaveLength(60)
    expect(batchLines(first.bytes)[0]).toBe('Rline 0')
    const second = wal.readBatch(60)
    expect(batchLines(second.bytes).map((r) => r.slice(6))).toEqual(Array.from({ length: 40 }, (_, i) => String(60 + i)))
    expect(wal.unreadRecords()).toBe(0)
    expect(batchLines(wal.readBatch(10).bytes)).toEqual([])
    await wal.close()
  })

  it('takes the given length of a buffer, copied, so the caller may reuse it at once', async () => {
    const wal = await openWal({ dir: tempDir(), budgetBytes: 1 << 20 })
    const scratch = Buffer.alloc(64, 'z')
    const waits: Promise<void>[] = []
    for (let i = 0; i < 50; i++) {
      const length = scratch.write(`Rbytes ${i}\nRmore ${i}\n`)
      waits.push(new Promise<void>((resolve, reject) => wal.append(scratch, length, 2, (err) => (err ? reject(err) : resolve()))))
      scratch.fill('z')
    }
    await Promise.all(waits)
    expect(wal.unreadRecords()).toBe(100)
    expect(batchLines(wal.readBatch(100).bytes)).toEqual(Array.from({ length: 50 }, (_, i) => [`Rbytes ${i}`, `Rmore ${i}`]).flat())
    await wal.close()
  })

  it('reads a record longer than its usual read size, and a backlog a few records at a time', async () => {
    const wal = await openWal({ dir: tempDir(), budgetBytes: 1 << 24 })
    const long = `R${'x'.repeat(200_000)}`
    await append(wal, 'Rfirst\n')
    await append(wal, `${long}\n`)
    for (let i = 0; i < 3000; i++) await append(wal, `Rline ${i}\n`)
    expect(batchLines(wal.readBatch(1).bytes)).toEqual(['Rfirst'])
    expect(batchLines(wal.readBatch(2).bytes)).toEqual([long, 'Rline 0'])
    const rest: string[] = []
    for (let batch = wal.readBatch(700); batch.count; batch = wal.readBatch(700)) rest.push(...batchLines(batch.bytes))
    expect(rest).toEqual(Array.from({ length: 2999 }, (_, i) => `Rline ${i + 1}`))
    await wal.close()
  })

  it('keeps every byte of appends made while a write is in flight: multi-byte text, records past the first buffer, group after group', async () => {
    const wal = await openWal({ dir: tempDir(), budgetBytes: 1 << 26 })
    const expected: string[] = []
    const waits: Promise<void>[] = []
    for (let group = 0; group < 5; group++) {
      // Appended in one turn: the first starts a write, the rest wait for it as one group.
      for (let i = 0; i < 400; i++) {
        const record = i % 100 === 7 ? `D{"reason":"${'µg/m³ — 🌫 '.repeat(2000)}${group}-${i}"}` : `Rair-quality,city=firenze pm25=${group}.${i} ${i}`
        expected.push(record)
        waits.push(append(wal, `${record}\n`))
      }
      await Promise.all(waits)
    }
    const read: string[] = []
    for (let batch = wal.readBatch(500); batch.count; batch = wal.readBatch(500)) read.push(...batchLines(batch.bytes))
    expect(read).toEqual(expected)
    // Nothing to write is still acknowledged.
    await append(wal, '', 0)
    await wal.close()
  })

  it('replays exactly what was not confirmed after a restart', async () => {
    const dir = tempDir()
    let wal = await openWal({ dir, budgetBytes: 1 << 20, segmentBytes: 64 })
    for (let i = 0; i < 20; i++) await append(wal, `Rrecord-${String(i).padStart(2, '0')}\n`)
    const batch = wal.readBatch(12)
    wal.confirm(batch.end)
    wal.readBatch(5) // read but never confirmed: must come back
    await wal.close()

    wal = await openWal({ dir, budgetBytes: 1 << 20, segmentBytes: 64 })
    const replay = wal.readBatch(100)
    expect(batchLines(replay.bytes)).toEqual(Array.from({ length: 8 }, (_, i) => `Rrecord-${String(12 + i).padStart(2, '0')}`))
    wal.confirm(replay.end)
    await wal.close()
    // Confirmed segments are deleted: only the segment being appended to and at most one old one remain.
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.wal')).length).toBeLessThanOrEqual(2)
  })

  it('cuts a torn record left by a crash and keeps the whole ones', async () => {
    const dir = tempDir()
    fs.writeFileSync(join(dir, '000000000001.wal'), 'Rwhole one\nRwhole two\nRtorn rec')
    const wal = await openWal({ dir, budgetBytes: 1 << 20 })
    expect(batchLines(wal.readBatch(10).bytes)).toEqual(['Rwhole one', 'Rwhole two'])
    await wal.close()
  })

  it('holds appends while over the disk budget and releases them when storage confirms', async () => {
    const wal = await openWal({ dir: tempDir(), budgetBytes: 100 })
    await append(wal, `R${'x'.repeat(120)}\n`)
    let released = false
    const held = append(wal, 'Rnext\n').then(() => {
      released = true
    })
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(released).toBe(false)
    expect(wal.stats().overBudget).toBe(true)
    const batch = wal.readBatch(10)
    expect(batchLines(batch.bytes)).toHaveLength(1)
    wal.confirm(batch.end)
    await held
    expect(released).toBe(true)
    expect(batchLines(wal.readBatch(10).bytes)).toEqual(['Rnext'])
    await wal.close()
  })
})
