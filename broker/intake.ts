import type { Duplex } from 'node:stream'

/**
 * A broker-wide bound on telemetry messages read from connections but not yet durably recorded.
 *
 * aedes reads one chunk from a connection, handles every packet in it at once and reads the next
 * chunk when they are all done. So with many busy connections the process holds a chunk's worth
 * of messages for each of them: 10,000 devices with 20 unacknowledged messages each put 200,000
 * parsed packets, readings and callbacks on the heap, living long enough to be copied by every
 * young-generation collection and then collected again as old objects. Past the bound, a
 * connection whose turn comes to read waits instead, first come first served, with the chunk it
 * had; what it sends meanwhile stays in the kernel (its socket stops reading), where TCP slows
 * the device down, and comes in one read when its turn comes. Left to the socket, a device
 * sending message by message (a backlog after an outage) would have it read a Buffer per TCP
 * segment into the stream, up to its 16 KB high-water mark, each living until the turn comes:
 * 500 such devices with 100 messages each held 49,447 Buffers (4.1 MB) while waiting, against
 * 544 (80 KB) with the socket stopped. Below the bound nobody waits: at a real fleet's rate the
 * bound is never reached.
 *
 * It relies on the stream contract aedes follows: it consumes a connection with 'readable' and
 * `read()`, and a `read()` that returns null means "wait for the next 'readable'"; and on how
 * net.Socket and tls.TLSSocket apply backpressure themselves: a handle with a `reading` flag,
 * `readStop()` and `readStart()`. A WebSocket connection's stream (ws's createWebSocketStream)
 * has no handle: the TCP or TLS socket under it is stopped instead. That socket flows into ws
 * ('data'), so Readable asks it for more after every chunk (`_read()`, which would start it
 * again): while the connection waits those asks are held back too, and the socket started when
 * its turn comes. What ws had already taken off it (a frame in its receiver, the stream's buffer)
 * stays until then.
 */

export interface IntakeStats {
  /** Telemetry messages read and not yet recorded (or refused). */
  inFlight: number
  /** Connections waiting for their turn to read. */
  waiting: number
  /** Times a connection with bytes to read had to wait, since start. */
  waits: number
}

export interface Intake {
  /**
   * From a connection's login on, its reads wait their turn while the bound is reached. `socket`
   * is the TCP or TLS socket the stream's bytes come from, when that is not the stream itself (a
   * WebSocket): it is the one stopped while the connection waits.
   */
  hold(stream: Duplex, socket?: Duplex): void
  /** A telemetry message starts being recorded. */
  begin(): void
  /** It is recorded, or refused. */
  end(): void
  stats(): IntakeStats
  /** Nothing waits any more (the broker is closing its connections). */
  close(): void
}

/**
 * A held connection, whether it is in the queue, and whether its socket was stopped meanwhile (or
 * asked to read and held back) and must be started when its turn comes.
 */
interface Held {
  stream: Duplex
  socket: Duplex
  queued: boolean
  stopped: boolean
}

/** What net.Socket and tls.TLSSocket read the kernel through; a WebSocket stream has none (its raw socket has). */
interface ReadHandle {
  reading: boolean
  readStop(): number
  readStart(): number
}

function readHandle(stream: Duplex): ReadHandle | undefined {
  const handle = (stream as { _handle?: Partial<ReadHandle> | null })._handle
  return typeof handle?.reading === 'boolean' && typeof handle.readStop === 'function' && typeof handle.readStart === 'function' ? (handle as ReadHandle) : undefined
}

/**
 * Leaves a socket's further bytes in the kernel, as net.Socket itself does when its buffer is
 * full. True if it stopped it.
 */
function stopReading(stream: Duplex): boolean {
  const handle = readHandle(stream)
  if (handle?.reading !== true) return false
  handle.reading = false
  if (handle.readStop() !== 0) stream.destroy(new Error('intake: could not stop reading the socket'))
  return true
}

/**
 * Starts it again, as net.Socket's _read() would. Not left to _read(): Readable may believe a read
 * is already under way (it asked before the socket was stopped) and not ask again.
 */
function startReading(stream: Duplex) {
  const handle = readHandle(stream)
  if (stream.destroyed || handle === undefined || handle.reading) return
  handle.reading = true
  if (handle.readStart() !== 0) stream.destroy(new Error('intake: could not read the socket again'))
}

export function createIntake(options: { maxInFlight: number }): Intake {
  const max = options.maxInFlight
  let inFlight = 0
  let waits = 0
  let closed = false
  // First come first served: the connection that waited longest reads first. A ring of slots
  // rather than a Set: under load thousands join and leave it every second, and a Set's table,
  // rebuilt as they churn, was a steady stream of garbage. The ring only grows.
  let ring: (Held | undefined)[] = new Array(64).fill(undefined)
  let head = 0
  /** Slots in use from head, closed connections' included (skipped when their turn comes). */
  let used = 0
  let waiting = 0
  let releasing: Duplex | undefined
  let scheduled: NodeJS.Immediate | undefined

  function enqueue(held: Held) {
    if (used === ring.length) {
      const bigger: (Held | undefined)[] = new Array(ring.length * 2).fill(undefined)
      for (let i = 0; i < used; i++) bigger[i] = ring[(head + i) % ring.length]
      ring = bigger
      head = 0
    }
    ring[(head + used) % ring.length] = held
    used += 1
  }

  function schedule() {
    if (scheduled === undefined && waiting > 0) scheduled = setImmediate(release)
  }

  function release() {
    scheduled = undefined
    while (used > 0 && inFlight < max) {
      const held = ring[head]!
      ring[head] = undefined
      head = (head + 1) % ring.length
      used -= 1
      if (!held.queued) continue // closed while waiting
      held.queued = false
      waiting -= 1
      if (held.stream.destroyed) continue
      if (held.stopped) {
        held.stopped = false
        startReading(held.socket)
      }
      // Its reader (aedes) asks for the next chunk; the packets in it are handled synchronously,
      // so inFlight already counts them when this returns.
      releasing = held.stream
      try {
        held.stream.emit('readable')
      } finally {
        releasing = undefined
      }
    }
  }

  return {
    hold(stream, socket = stream) {
      const read = stream.read
      const held: Held = { stream, socket, queued: false, stopped: false }
      if (socket !== stream) {
        const ask = socket._read
        socket._read = function heldAsk(this: Duplex, size: number) {
          if (!closed && held.queued) {
            held.stopped = true
            return
          }
          ask.call(this, size)
        }
      }
      stream.read = function heldRead(this: Duplex, size?: number) {
        if (closed || this === releasing) return read.call(this, size)
        // While it waits nothing is read, not even into the stream's own buffer (read(0), which
        // Readable itself calls after a chunk): that would start the socket again.
        if (held.queued) {
          if (inFlight < max) schedule()
          return null
        }
        // Otherwise read(0) only refills the stream's buffer, which the bound allows. So does a
        // read with nothing buffered (aedes asks after every batch): it answers null and arms
        // 'readable' for when data comes, and the connection queues then, behind those whose data
        // came first, instead of holding a place it would waste on an empty read.
        if (size === 0 || (inFlight < max && waiting === 0) || this.readableLength === 0) return read.call(this, size)
        held.queued = true
        enqueue(held)
        waiting += 1
        waits += 1
        held.stopped = stopReading(socket) || held.stopped
        if (inFlight < max) schedule()
        return null
      }
      stream.once('close', () => {
        // Left in the queue, skipped when its turn comes.
        if (held.queued) {
          held.queued = false
          waiting -= 1
        }
      })
    },
    begin() {
      inFlight += 1
    },
    end() {
      inFlight -= 1
      if (inFlight < max) schedule()
    },
    stats: () => ({ inFlight, waiting, waits }),
    close() {
      closed = true
      if (scheduled !== undefined) clearImmediate(scheduled)
      scheduled = undefined
      for (let i = 0; i < used; i++) {
        const held = ring[(head + i) % ring.length]!
        // Its socket reads again, so nothing is left unread.
        if (held.queued && held.stopped) startReading(held.socket)
        held.queued = false
        held.stopped = false
      }
      ring.fill(undefined)
      head = 0
      used = 0
      waiting = 0
    },
  }
}
