import { PassThrough } from 'node:stream'
import mqttPacket from 'mqtt-packet'
import { describe, expect, it } from 'vitest'
import { createAddressCounter, createConnectionCounter, guardPacketSize } from './limits.ts'

function publishPacket(payloadBytes: number): Buffer {
  return mqttPacket.generate({ cmd: 'publish', topic: 'devices/aq-1/telemetry', payload: Buffer.alloc(payloadBytes, 0x61), qos: 0, dup: false, retain: false })
}

/** Feeds the bytes to a guarded stream in the given chunk sizes; returns the sizes it reported as too large. */
function feed(bytes: Buffer, chunkSize: number, maxPacketSize: number): number[] {
  const stream = new PassThrough()
  const tooLarge: number[] = []
  guardPacketSize(stream, maxPacketSize, (size) => tooLarge.push(size))
  for (let i = 0; i < bytes.length; i += chunkSize) stream.write(bytes.subarray(i, i + chunkSize))
  return tooLarge
}

describe('guardPacketSize', () => {
  const small = publishPacket(100)
  const exact = publishPacket(973) // exactly 1000 bytes: 1 type byte, 2 length bytes, 24 topic bytes, 973 payload bytes
  const large = publishPacket(5000)

  it('lets packets up to the limit through, however the bytes are split', () => {
    expect(exact.length).toBe(1000)
    const stream = Buffer.concat([small, exact, small, exact])
    for (const chunkSize of [1, 2, 3, 7, 64, 1000, stream.length]) {
      expect(feed(stream, chunkSize, 1000)).toEqual([])
    }
  })

  it('reports a packet over the limit as soon as its length is known, once', () => {
    const stream = Buffer.concat([small, large, small])
    for (const chunkSize of [1, 2, 5, 100, stream.length]) {
      expect(feed(stream, chunkSize, 1000)).toEqual([large.length])
    }
  })

  it('reads a limit given as a function at each fixed header, so it can grow after login', () => {
    const stream = new PassThrough()
    let limit = 200
    const tooLarge: [number, number][] = []
    guardPacketSize(stream, () => limit, (size, at) => tooLarge.push([size, at]))
    stream.write(small)
    limit = 1000
    stream.write(exact)
    limit = 200
    stream.write(exact)
    expect(tooLarge).toEqual([[1000, 200]])
  })

  it('treats a malformed five-byte remaining length as too large', () => {
    expect(feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), 1, 256 * 1024)).toEqual([Infinity])
  })
})

describe('createAddressCounter', () => {
  it('allows up to the maximum per address and frees slots on release', () => {
    const counter = createAddressCounter(2)
    expect(counter.acquire('10.0.0.1')).toBe(true)
    expect(counter.acquire('10.0.0.1')).toBe(true)
    expect(counter.acquire('10.0.0.1')).toBe(false)
    expect(counter.acquire('10.0.0.2')).toBe(true)
    counter.release('10.0.0.1')
    expect(counter.acquire('10.0.0.1')).toBe(true)
  })
})

describe('createConnectionCounter', () => {
  it('caps all connections, pending ones and per address; logging in frees a pending slot; release is idempotent', () => {
    const counter = createConnectionCounter({ maxConnections: 3, maxPendingConnections: 2, maxConnectionsPerAddress: 2 })
    const a = counter.acquire('10.0.0.1')
    const b = counter.acquire('10.0.0.2')
    if (!('slot' in a) || !('slot' in b)) throw new Error('expected slots')
    expect(counter.acquire('10.0.0.3')).toMatchObject({ refusal: 'too-many-pending', limit: 2 })
    a.slot.loggedIn()
    a.slot.loggedIn()
    expect(counter.pending).toBe(1)
    const c = counter.acquire('10.0.0.1')
    expect('slot' in c).toBe(true)
    expect(counter.acquire('10.0.0.4')).toMatchObject({ refusal: 'too-many-connections', limit: 3, scope: 'all' })
    b.slot.release()
    b.slot.release()
    expect(counter.open).toBe(2)
    expect(counter.acquire('10.0.0.1')).toMatchObject({ refusal: 'too-many-connections', limit: 2, scope: 'address' })
    a.slot.release()
    expect({ open: counter.open, pending: counter.pending }).toEqual({ open: 1, pending: 1 })
  })
})
