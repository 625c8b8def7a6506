import type { Readable } from 'node:stream'

/**
 * What one connection may cost the broker. Every value is overridable; the defaults are meant for
 * a public deployment on one machine, with room for simulators and benchmarks that open
 * thousands of device connections from 127.0.0.1.
 */
export interface BrokerLimits {
  /** Largest MQTT packet accepted once logged in, in bytes, fixed header included. */
  maxPacketSize: number
  /**
   * Largest packet accepted before the login succeeds: the CONNECT (client id ≤ 128, user name ≤
   * 128, password ≤ 1 KB, a small will) and anything pipelined behind it in the same read.
   */
  maxConnectPacketSize: number
  /** Longest topic or topic filter, in characters. */
  maxTopicLength: number
  /** Most `/`-separated levels in a topic or filter (aedes clamps this to 1–100). */
  maxTopicLevels: number
  /** Longest client id. Device ids are at most 63 characters. */
  maxClientIdLength: number
  /** Open connections from one source address, loopback included. A raw WebSocket-port socket counts from its first byte. */
  maxConnectionsPerAddress: number
  /** Open connections in all, logged in or not. */
  maxConnections: number
  /** Open connections that have not logged in yet (no CONNECT, or its login still being checked). */
  maxPendingConnections: number
  /** A socket that has not sent CONNECT by then is closed. */
  connectTimeoutMs: number
  /** Largest keepalive a client may ask for, seconds. Keepalive 0 (never) is refused too, so half-open connections always end. */
  keepaliveLimitSeconds: number
  /** A subscriber whose socket stays full this long is disconnected instead of stalling everyone. */
  drainTimeoutMs: number
  /** Messages aedes routes at once (mqemitter concurrency). See DEFAULT_BROKER_LIMITS. */
  concurrency: number
  /** Packets a client may send after CONNECT before its CONNACK; more closes the connection. */
  queueLimit: number
  /**
   * Telemetry messages read from all connections and not yet durably recorded. Past it, a
   * connection waits for its turn to read (broker/intake.ts): a burst from many devices waits in
   * their sockets, not on the heap.
   */
  maxMessagesInFlight: number
}

export const DEFAULT_BROKER_LIMITS: Readonly<BrokerLimits> = Object.freeze({
  maxPacketSize: 256 * 1024,
  maxConnectPacketSize: 4096,
  maxTopicLength: 256,
  // devices/{id}/telemetry is three levels; leave a little room, refuse anything deep.
  maxTopicLevels: 8,
  maxClientIdLength: 128,
  // Simulators and benchmarks that open more from 127.0.0.1 raise it (MQTT_MAX_CONNECTIONS_PER_ADDRESS).
  maxConnectionsPerAddress: 1000,
  maxConnections: 50_000,
  maxPendingConnections: 1000,
  connectTimeoutMs: 10_000,
  keepaliveLimitSeconds: 1200,
  drainTimeoutMs: 10_000,
  // Messages beyond this wait in mqemitter's overflow queue, and that queue drains recursively
  // once their subscriber is gone: the "Maximum call stack size exceeded" crash of the
  // performance anchors. The number of messages in flight is already bounded by TCP
  // backpressure (each connection has at most one read chunk being handled), so the slots are
  // set high enough that the overflow queue practically never forms.
  concurrency: 10_000,
  // The packets pipelined behind CONNECT in the same read chunk; aedes stops reading until the
  // CONNACK, so this only has to cover one chunk of an eager client.
  queueLimit: 100,
  // A few write-ahead-log commits' worth at full speed, so the log always has the next group
  // ready while one is written; far above what a fleet at its own pace keeps in flight.
  maxMessagesInFlight: 2000,
})

/**
 * Closes a connection as soon as it announces a packet larger than `maxPacketSize` (a number,
 * or a function read at each fixed header: the broker allows less before the login), before the
 * MQTT parser buffers it: mqtt-packet's parser has no size limit and would otherwise keep up to
 * 256 MiB per packet in memory.
 *
 * It reads the MQTT fixed headers (one type byte, then the remaining length as a variable byte
 * integer of up to four bytes) and skips packet bodies without copying. It watches 'data'
 * events: aedes consumes the stream with 'readable' + read(), and while a 'readable' listener
 * exists, Node emits 'data' for each chunk read() returns without changing the flow, so the
 * guard sees every chunk just before the parser does and adds no buffering or write-path cost.
 * Must be attached after aedes has attached its 'readable' listener.
 */
export function guardPacketSize(stream: Readable, maxPacketSize: number | (() => number), onTooLarge: (size: number, limit: number) => void): void {
  const limitNow = typeof maxPacketSize === 'number' ? () => maxPacketSize : maxPacketSize
  let inLength = false // reading the remaining-length bytes of a fixed header
  let length = 0
  let multiplier = 1
  let lengthBytes = 0
  let toSkip = 0 // body bytes of the current packet still to come

  const onData = (chunk: Buffer) => {
    let i = 0
    while (i < chunk.length) {
      if (toSkip > 0) {
        const n = Math.min(toSkip, chunk.length - i)
        i += n
        toSkip -= n
        continue
      }
      if (!inLength) {
        i += 1 // packet type and flags
        inLength = true
        length = 0
        multiplier = 1
        lengthBytes = 0
        continue
      }
      const byte = chunk[i++]!
      length += (byte & 0x7f) * multiplier
      multiplier *= 128
      lengthBytes += 1
      if (byte & 0x80) {
        // A fifth length byte is malformed; it would announce more than 256 MiB anyway.
        if (lengthBytes < 4) continue
        length = Infinity
      }
      inLength = false
      const size = 1 + lengthBytes + length
      const limit = limitNow()
      if (size > limit) {
        stream.off('data', onData)
        onTooLarge(size, limit)
        return
      }
      toSkip = length
    }
  }
  stream.on('data', onData)
}

/** Counts open connections per source address. */
export function createAddressCounter(maxPerAddress: number) {
  const counts = new Map<string, number>()
  return {
    /** Takes a slot for the address; false when it already has the maximum. */
    acquire(address: string): boolean {
      const n = counts.get(address) ?? 0
      if (n >= maxPerAddress) return false
      counts.set(address, n + 1)
      return true
    },
    release(address: string): void {
      const n = counts.get(address) ?? 0
      if (n <= 1) counts.delete(address)
      else counts.set(address, n - 1)
    },
  }
}

/** A connection's hold on the counters, taken when its socket is accepted. */
export interface ConnectionSlot {
  readonly address: string
  /** The login succeeded: no longer pending. Idempotent. */
  loggedIn(): void
  /** The socket closed. Idempotent. */
  release(): void
}

export type SlotRefusal = 'too-many-connections' | 'too-many-pending'

/**
 * Counts open connections in all, per address, and those not logged in yet. Every accepted
 * socket takes one slot at once (a WebSocket-port socket before it upgrades), so idle and
 * half-open sockets are capped as well as logged-in ones.
 */
export function createConnectionCounter(limits: Pick<BrokerLimits, 'maxConnections' | 'maxPendingConnections' | 'maxConnectionsPerAddress'>) {
  const perAddress = createAddressCounter(limits.maxConnectionsPerAddress)
  let open = 0
  let pending = 0
  return {
    get open() {
      return open
    },
    get pending() {
      return pending
    },
    /** A slot, or why there is none (with the limit that was hit). */
    acquire(address: string): { slot: ConnectionSlot } | { refusal: SlotRefusal; limit: number; scope: 'all' | 'pending' | 'address' } {
      if (open >= limits.maxConnections) return { refusal: 'too-many-connections', limit: limits.maxConnections, scope: 'all' }
      if (pending >= limits.maxPendingConnections) return { refusal: 'too-many-pending', limit: limits.maxPendingConnections, scope: 'pending' }
      if (!perAddress.acquire(address)) return { refusal: 'too-many-connections', limit: limits.maxConnectionsPerAddress, scope: 'address' }
      open += 1
      pending += 1
      let isPending = true
      let released = false
      return {
        slot: {
          address,
          loggedIn() {
            if (!isPending || released) return
            isPending = false
            pending -= 1
          },
          release() {
            if (released) return
            released = true
            open -= 1
            if (isPending) pending -= 1
            isPending = false
            perAddress.release(address)
          },
        },
      }
    },
  }
}
