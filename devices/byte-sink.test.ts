import { describe, expect, it } from 'vitest'
import { createByteSink, writeByte, writeBytes, writeText } from './byte-sink.ts'

describe('a byte sink', () => {
  it('grows from a few bytes, keeping what was written, and writes text as UTF-8 and only the given length of bytes', () => {
    const sink = createByteSink(2)
    let expected = ''
    for (let i = 0; i < 100; i++) {
      writeByte(sink, 0x41 + (i % 26))
      writeText(sink, `µg/m³ ${i};`)
      writeBytes(sink, Buffer.from('xyz-ignored'), 3)
      expected += `${String.fromCharCode(0x41 + (i % 26))}µg/m³ ${i};xyz`
    }
    expect(sink.bytes.length).toBeGreaterThan(2)
    expect(sink.bytes.toString('utf8', 0, sink.length)).toBe(expected)
    sink.length = 0
    writeText(sink, 'again')
    expect(sink.bytes.toString('utf8', 0, sink.length)).toBe('again')
  })
})
