import fs from 'node:fs'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { createByteSink, writeBytes } from '../devices/byte-sink.ts'
import { RECORD_END } from './records.ts'

/**
 * The write-ahead log: what ingest has acknowledged lives here until storage confirms it.
 *
 * Records are text lines appended to numbered segment files. Appends are group-committed: all
 * appends that arrive while one write+fdatasync is in flight go out together in the next one,
 * and each append's callback fires only once its bytes are on disk. That callback is what lets
 * the broker send PUBACK, so "acknowledged" means "durable".
 *
 * A reader (the shipper) reads durable records from a cursor and confirms positions once storage
 * has them; confirmed segments are deleted and the position is checkpointed, so a restart
 * replays exactly what storage has not confirmed (a record may be replayed twice: harmless, the
 * stores overwrite the same series and time).
 *
 * When the unconfirmed bytes exceed the disk budget, appends wait (their callbacks are held),
 * which stalls the publishers through TCP backpressure instead of growing memory or disk.
 */

export interface WalOptions {
  dir: string
  /** Unconfirmed bytes allowed on disk before appends wait. */
  budgetBytes: number
  segmentBytes?: number
  /** fdatasync before acknowledging; off only trades power-loss safety for speed. */
  fsync?: boolean
  logger?: Logger
}

export interface WalPosition {
  segment: number
  offset: number
}

export interface WalBatch {
  /**
   * The records read, each followed by '\n', as the log holds them (bytes: a batch's records go
   * on to storage without a string each). A fresh buffer per read, the caller's to change.
   */
  bytes: Buffer
  /** How many records `bytes` holds. */
  count: number
  /** Where the next read starts; pass to confirm() once the records are stored. */
  end: WalPosition
}

type Done = (err?: Error) => void

const SEGMENT_SUFFIX = '.wal'
const segmentName = (n: number) => `${String(n).padStart(12, '0')}${SEGMENT_SUFFIX}`
/** Reads of the log are sized to the records wanted, at this many bytes each (records average ~100-150)… */
const CHUNK_BYTES_PER_RECORD = 256
/** …and never smaller than this. */
const MIN_CHUNK_BYTES = 64 * 1024
/** The pending bytes' first buffer; it doubles as needed. One up to SPARE_MAX_BYTES is kept for reuse. */
const PENDING_START_BYTES = 64 * 1024
const SPARE_MAX_BYTES = 4 * 1024 * 1024

export async function openWal(options: WalOptions) {
  const { dir, budgetBytes, segmentBytes = 64 * 1024 * 1024, fsync = true, logger } = options
  fs.mkdirSync(dir, { recursive: true })
  const checkpointFile = join(dir, 'checkpoint.json')

  const existing = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(SEGMENT_SUFFIX))
    .map((f) => Number.parseInt(f, 10))
    .filter(Number.isSafeInteger)
    .sort((a, b) => a - b)

  let confirmed: WalPosition = readCheckpoint(checkpointFile) ?? { segment: existing[0] ?? 1, offset: 0 }
  /** Sizes of live segments: from the confirmed one to the one being appended. */
  const sizes = new Map<number, number>()
  for (const n of existing) {
    if (n < confirmed.segment) {
      fs.rmSync(join(dir, segmentName(n)), { force: true })
      continue
    }
    const size = repairTail(join(dir, segmentName(n)), logger)
    if (size === 0) fs.rmSync(join(dir, segmentName(n)), { force: true })
    else sizes.set(n, size)
  }
  if (!sizes.has(confirmed.segment)) confirmed = { segment: existing.find((n) => n >= confirmed.segment) ?? confirmed.segment, offset: 0 }
  if (confirmed.offset > (sizes.get(confirmed.segment) ?? 0)) confirmed = { segment: confirmed.segment, offset: 0 }

  // Always append to a fresh segment: older ones are immutable, which keeps recovery simple.
  let current = Math.max(confirmed.segment, ...existing, 0) + 1
  let fd = fs.openSync(join(dir, segmentName(current)), 'a')
  sizes.set(current, 0)

  let read: WalPosition = { ...confirmed }
  let readFd: number | undefined
  let readFdSegment = -1

  // Appended records wait for the disk as bytes copied into this buffer at append: nothing of the
  // caller's outlives the call, where an object per message in flight would survive young-generation
  // collections, which under load made most of their cost.
  const pending = createByteSink(PENDING_START_BYTES)
  /** The buffer of the last write, reused for the next appends. */
  let spare: Buffer | undefined
  let pendingDones: Done[] = []
  let pendingRecords = 0
  let writing = false
  let flushScheduled = false
  let closed = false
  let failure: Error | undefined
  const durableListeners = new Set<() => void>()
  const drainWaiters: (() => void)[] = []
  const settleWaiters: (() => void)[] = []
  /** No write in flight, and nothing pending that could be written now (nothing at all, or over budget). */
  const settled = () => !writing && (pendingDones.length === 0 || unconfirmedBytes >= budgetBytes)
  const wakeSettled = () => {
    if (settled()) for (const resolve of settleWaiters.splice(0)) resolve()
  }

  let unreadRecords = existing.length > 0 ? Number.POSITIVE_INFINITY : 0 // unknown after a restart: read until empty
  let totalAppended = 0

  const liveBytes = () => {
    let bytes = -confirmed.offset
    for (const [n, size] of sizes) if (n >= confirmed.segment) bytes += size
    return bytes
  }
  let unconfirmedBytes = liveBytes()

  function scheduleFlush() {
    if (flushScheduled || writing) return
    flushScheduled = true
    setImmediate(flush)
  }

  function flush() {
    flushScheduled = false
    if (writing || pendingDones.length === 0) return
    if (unconfirmedBytes >= budgetBytes) return // resumed by confirm()
    writing = true
    const written = pending.bytes
    const buffer = written.subarray(0, pending.length)
    const dones = pendingDones
    const records = pendingRecords
    pending.bytes = spare ?? Buffer.allocUnsafe(PENDING_START_BYTES)
    pending.length = 0
    spare = undefined
    pendingDones = []
    pendingRecords = 0
    if (sizes.get(current)! > 0 && sizes.get(current)! + buffer.length > segmentBytes) rotate()
    const segment = current
    const segmentFd = fd
    writeAll(segmentFd, buffer, (err) => {
      const finish = (err?: Error | null) => {
        writing = false
        if (written.length <= SPARE_MAX_BYTES) spare = written
        if (err) {
          // Undo a partial write so the next group does not glue onto a torn record.
          try {
            fs.ftruncateSync(segmentFd, sizes.get(segment)!)
          } catch {}
          failure = err
          logger?.error({ err }, 'write-ahead log write failed; the publishers were not acknowledged')
          for (const done of dones) done(err)
        } else {
          sizes.set(segment, sizes.get(segment)! + buffer.length)
          unconfirmedBytes += buffer.length
          unreadRecords += records
          totalAppended += records
          failure = undefined
          for (const done of dones) done()
          for (const listener of durableListeners) listener()
        }
        if (pendingDones.length) flush()
        else for (const resolve of drainWaiters.splice(0)) resolve()
        wakeSettled()
      }
      if (err || !fsync) finish(err)
      else fs.fdatasync(segmentFd, finish)
    })
  }

  function rotate() {
    // Open the next segment before letting go of this one: when opening fails (EMFILE, ENFILE,
    // a full directory) the writer keeps appending to the current segment and tries again at
    // the next flush, instead of throwing out of a setImmediate and taking the process down.
    let next: number
    try {
      next = fs.openSync(join(dir, segmentName(current + 1)), 'a')
    } catch (err) {
      logger?.error({ err, segment: current + 1 }, 'write-ahead log: cannot open the next segment; appending to the current one for now')
      return
    }
    fs.closeSync(fd)
    fd = next
    current += 1
    sizes.set(current, 0)
  }

  function readFdFor(segment: number): number {
    if (readFdSegment !== segment) {
      if (readFd !== undefined) fs.closeSync(readFd)
      // Forget the closed descriptor first: if the open below fails (EMFILE), the next call retries it.
      readFd = undefined
      readFdSegment = -1
      readFd = fs.openSync(join(dir, segmentName(segment)), 'r')
      readFdSegment = segment
    }
    return readFd!
  }

  return {
    /**
     * Appends `records` records, `bytes[0, length)`, each ending in '\n' and containing no other
     * newline; the bytes are copied before it returns, so the caller may reuse its buffer.
     * `done` fires once they are durable, or with an error when the disk refused them.
     */
    append(bytes: Buffer, length: number, records: number, done: Done): void {
      if (closed) return done(new Error('write-ahead log is closed'))
      writeBytes(pending, bytes, length)
      pendingDones.push(done)
      pendingRecords += records
      scheduleFlush()
    },

    /**
     * Reads up to `max` durable, unread records (fewer, or none, when that is all there is).
     * Reads the segment in chunks sized to what is wanted (a backlog of a million records is
     * not read 8 MB at a time for 5,000 of them), never smaller than MIN_CHUNK_BYTES; a record
     * longer than its chunk is read again with up to `maxBytes`, and one longer than that cannot
     * be one of ours and is skipped.
     */
    readBatch(max: number, maxBytes = 8 * 1024 * 1024): WalBatch {
      const parts: Buffer[] = []
      let count = 0
      let pos = read
      // Raised to maxBytes for the next read when a record did not fit in a chunk.
      let floor = MIN_CHUNK_BYTES
      while (count < max) {
        const size = sizes.get(pos.segment)
        if (size === undefined || pos.offset >= size) {
          if (pos.segment >= current) break
          pos = { segment: pos.segment + 1, offset: 0 }
          continue
        }
        const allowed = Math.min(size - pos.offset, maxBytes)
        const length = Math.min(allowed, Math.max(floor, (max - count) * CHUNK_BYTES_PER_RECORD))
        const chunk = Buffer.allocUnsafe(length)
        const got = fs.readSync(readFdFor(pos.segment), chunk, 0, length, pos.offset)
        let start = 0
        for (;;) {
          if (count >= max) break
          const nl = chunk.indexOf(RECORD_END, start)
          if (nl < 0 || nl >= got) break
          if (nl > start) count += 1
          start = nl + 1
        }
        if (start > 0) parts.push(chunk.subarray(0, start))
        if (start === 0 && length < allowed) {
          // A record longer than this chunk: read it again, as much as allowed.
          floor = maxBytes
          continue
        }
        if (start === 0) {
          // A single record longer than maxBytes: cannot be one of ours; skip the segment tail.
          logger?.error({ segment: pos.segment, offset: pos.offset }, 'write-ahead log record too long; skipping it')
          pos = { segment: pos.segment, offset: size }
          continue
        }
        pos = { segment: pos.segment, offset: pos.offset + start }
        floor = MIN_CHUNK_BYTES
      }
      read = pos
      unreadRecords = count < max ? 0 : Math.max(0, unreadRecords - count)
      return { bytes: parts.length === 1 ? parts[0]! : Buffer.concat(parts), count, end: pos }
    },

    /** Marks everything before `position` as stored: checkpoint it and delete finished segments. */
    confirm(position: WalPosition): void {
      confirmed = position
      const tmp = `${checkpointFile}.tmp`
      fs.writeFileSync(tmp, JSON.stringify(position))
      fs.renameSync(tmp, checkpointFile)
      for (const n of [...sizes.keys()]) {
        if (n < position.segment) {
          sizes.delete(n)
          if (readFdSegment === n) {
            fs.closeSync(readFd!)
            readFd = undefined
            readFdSegment = -1
          }
          fs.rmSync(join(dir, segmentName(n)), { force: true })
        }
      }
      unconfirmedBytes = liveBytes()
      if (pendingDones.length && unconfirmedBytes < budgetBytes) scheduleFlush()
    },

    /** Durable records not yet read (Infinity right after a restart, until the backlog is read). */
    unreadRecords: () => unreadRecords,
    stats: () => ({
      unconfirmedBytes,
      budgetBytes,
      overBudget: unconfirmedBytes >= budgetBytes,
      waitingAppends: pendingDones.length,
      segments: sizes.size,
      appended: totalAppended,
      failing: failure?.message,
    }),

    /** Called after each group commit. */
    onDurable(listener: () => void): () => void {
      durableListeners.add(listener)
      return () => durableListeners.delete(listener)
    },

    /** Resolves once every append made so far is durable (or failed); not while over budget. */
    drained(): Promise<void> {
      if (!writing && pendingDones.length === 0) return Promise.resolve()
      return new Promise((resolve) => drainWaiters.push(resolve))
    },

    /**
     * Resolves once no write is in flight and nothing pending can be written now: everything is
     * durable, or what is left waits for a budget that only the shipper can free (shutting down
     * with storage down). What is left was never acknowledged; close() refuses it.
     */
    settled(): Promise<void> {
      if (settled()) return Promise.resolve()
      return new Promise((resolve) => settleWaiters.push(resolve))
    },

    async close(): Promise<void> {
      closed = true
      if (writing || (pendingDones.length && unconfirmedBytes < budgetBytes)) {
        await new Promise<void>((resolve) => drainWaiters.push(resolve))
      }
      for (const done of pendingDones.splice(0)) done(new Error('write-ahead log closed while over its disk budget'))
      pending.length = 0
      durableListeners.clear()
      fs.closeSync(fd)
      if (readFd !== undefined) fs.closeSync(readFd)
    },
  }
}

export type Wal = Awaited<ReturnType<typeof openWal>>

function writeAll(fd: number, buffer: Buffer, cb: (err: Error | null) => void, offset = 0): void {
  fs.write(fd, buffer, offset, buffer.length - offset, null, (err, written) => {
    if (err) return cb(err)
    if (offset + written < buffer.length) return writeAll(fd, buffer, cb, offset + written)
    cb(null)
  })
}

function readCheckpoint(file: string): WalPosition | undefined {
  try {
    const value = JSON.parse(fs.readFileSync(file, 'utf8')) as WalPosition
    if (Number.isSafeInteger(value.segment) && Number.isSafeInteger(value.offset) && value.offset >= 0) return value
  } catch {}
  return undefined
}

/** Cuts a torn last record (a crash mid-write) so the segment ends on a record boundary. */
function repairTail(file: string, logger?: Logger): number {
  const size = fs.statSync(file).size
  if (size === 0) return 0
  const fd = fs.openSync(file, 'r+')
  try {
    const tailLength = Math.min(size, 1024 * 1024)
    const tail = Buffer.allocUnsafe(tailLength)
    fs.readSync(fd, tail, 0, tailLength, size - tailLength)
    if (tail[tailLength - 1] === RECORD_END) return size
    const lastNewline = tail.lastIndexOf(RECORD_END)
    const keep = lastNewline < 0 ? size - tailLength : size - tailLength + lastNewline + 1
    fs.ftruncateSync(fd, keep)
    logger?.warn({ file, dropped: size - keep }, 'write-ahead log: cut a torn record left by a crash (it was never acknowledged)')
    return keep
  } finally {
    fs.closeSync(fd)
  }
}
