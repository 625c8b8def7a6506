/**
 * Bytes being filled, in one buffer that grows by doubling: `bytes[0, length)` are written. A
 * writer keeps one sink and reuses it (`length = 0`) instead of allocating per message: the
 * ingest pipeline's message being encoded, the write-ahead log's group waiting for the disk.
 */
export interface ByteSink {
  bytes: Buffer
  length: number
}

export function createByteSink(capacity = 4096): ByteSink {
  return { bytes: Buffer.allocUnsafe(capacity), length: 0 }
}

/** The sink's bytes, with room for `n` more after `sink.length` (the buffer may be a new one). */
export function reserve(sink: ByteSink, n: number): Buffer {
  if (sink.bytes.length - sink.length < n) {
    const grown = Buffer.allocUnsafe(Math.max(sink.bytes.length * 2, sink.length + n))
    sink.bytes.copy(grown, 0, 0, sink.length)
    sink.bytes = grown
  }
  return sink.bytes
}

export function writeByte(sink: ByteSink, byte: number): void {
  reserve(sink, 1)[sink.length++] = byte
}

/** `bytes[0, length)`, copied. */
export function writeBytes(sink: ByteSink, bytes: Buffer, length: number): void {
  sink.length += bytes.copy(reserve(sink, length), sink.length, 0, length)
}

export function writeText(sink: ByteSink, text: string): void {
  // Room for the worst case (3 bytes per UTF-16 unit), so the write never truncates.
  sink.length += reserve(sink, text.length * 3).write(text, sink.length)
}
