import type { MqttClient } from 'mqtt'
import { PassThrough } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { publish, startBroker, type TestBroker, type Telemetry } from '../testkit/test-broker.ts'
import { createIntake, type Intake } from './intake.ts'

/**
 * The intake bound: behaviour asserted by what was read and what waits, never by elapsed time.
 */

const turn = () => new Promise((resolve) => setImmediate(resolve))

/** Reads like aedes: one chunk per 'readable', each byte a message begun at once, ended by the test. */
function reader(intake: Intake, name: string, log: string[]) {
  const stream = new PassThrough()
  intake.hold(stream)
  stream.on('readable', () => {
    const chunk: Buffer | null = stream.read()
    if (chunk === null) return
    log.push(`${name}:${chunk.toString('utf8')}`)
    for (let i = 0; i < chunk.length; i++) intake.begin()
  })
  return stream
}

/** A bound of one message, which reader a's first byte takes; readers b and c have read nothing yet. */
async function boundTakenByA() {
  const intake = createIntake({ maxInFlight: 1 })
  const log: string[] = []
  const [a, b, c] = [reader(intake, 'a', log), reader(intake, 'b', log), reader(intake, 'c', log)]
  a.write('1')
  await turn()
  return { intake, log, b, c }
}

describe('intake bound', () => {
  it('reads straight through below the bound', async () => {
    const intake = createIntake({ maxInFlight: 10 })
    const log: string[] = []
    const a = reader(intake, 'a', log)
    a.write('xyz')
    await turn()
    expect(log).toEqual(['a:xyz'])
    expect(intake.stats()).toEqual({ inFlight: 3, waiting: 0, waits: 0 })
  })

  it('makes connections wait at the bound and lets them read in the order they came', async () => {
    const intake = createIntake({ maxInFlight: 2 })
    const log: string[] = []
    const [a, b, c, d] = [reader(intake, 'a', log), reader(intake, 'b', log), reader(intake, 'c', log), reader(intake, 'd', log)]
    a.write('1')
    await turn()
    b.write('22') // read: one in flight, under the bound
    await turn()
    c.write('3')
    await turn()
    d.write('4')
    await turn()
    expect(log).toEqual(['a:1', 'b:22'])
    expect(intake.stats()).toEqual({ inFlight: 3, waiting: 2, waits: 2 })

    // A read that only refills the stream's buffer is never held.
    expect(c.read(0)).toBeNull()
    expect(intake.stats().waiting).toBe(2)

    intake.end()
    await turn()
    expect(log).toHaveLength(2) // 2 in flight: still at the bound
    intake.end()
    await turn()
    expect(log).toEqual(['a:1', 'b:22', 'c:3']) // c waited first; it brings the count back to the bound
    expect(intake.stats()).toMatchObject({ inFlight: 2, waiting: 1 })

    // A connection with data that was not waiting yet queues behind d.
    a.write('5')
    await turn()
    expect(log).toHaveLength(3)
    intake.end()
    await turn()
    expect(log).toEqual(['a:1', 'b:22', 'c:3', 'd:4'])
    intake.end()
    intake.end()
    await turn()
    expect(log).toEqual(['a:1', 'b:22', 'c:3', 'd:4', 'a:5'])
    expect(intake.stats()).toEqual({ inFlight: 1, waiting: 0, waits: 3 })
  })

  it('does not queue a connection that asks to read with nothing buffered; it queues when its data comes', async () => {
    const { intake, log, b, c } = await boundTakenByA()
    b.write('2')
    await turn()
    expect(intake.stats()).toEqual({ inFlight: 1, waiting: 1, waits: 1 })

    // As aedes does after every batch: asks for more while the bound is reached and nothing came yet.
    expect(c.read()).toBeNull()
    expect(intake.stats()).toEqual({ inFlight: 1, waiting: 1, waits: 1 })

    // Its data comes: now it waits, behind b, whose data came first.
    c.write('3')
    await turn()
    expect(intake.stats()).toEqual({ inFlight: 1, waiting: 2, waits: 2 })
    for (let i = 0; i < 3; i++) {
      intake.end()
      await turn()
    }
    expect(log).toEqual(['a:1', 'b:2', 'c:3'])
    expect(intake.stats()).toEqual({ inFlight: 0, waiting: 0, waits: 2 })
  })

  it('keeps first-come order with hundreds waiting, round after round, skipping those that closed', async () => {
    const intake = createIntake({ maxInFlight: 1 })
    const log: string[] = []
    const streams = Array.from({ length: 300 }, (_, i) => reader(intake, `s${i}`, log))
    const closed = new Set<number>()
    for (let round = 0; round < 3; round++) {
      log.length = 0
      // One reader takes the only place; all the others then queue, each round in another order.
      const first = round * 11
      streams[first]!.write('x')
      await turn()
      // More each round, so the queue grows while its head is mid-way.
      const order = streams
        .map((_, i) => (first + 1 + i * 7) % streams.length)
        .filter((i) => i !== first && !(round > 0 && closed.has(i)))
        .slice(0, [120, 200, 299][round])
      expect(new Set(order).size).toBe(order.length)
      for (const i of order) streams[i]!.write('x')
      await turn()
      if (round === 0) {
        for (const i of [order[10]!, order[50]!, order[100]!]) closed.add(i)
        for (const i of closed) streams[i]!.destroy()
      }
      await turn()
      expect(intake.stats().waiting).toBe(order.filter((i) => !closed.has(i)).length)
      while (intake.stats().inFlight > 0) {
        intake.end()
        await turn()
      }
      expect(log).toEqual([first, ...order.filter((i) => !closed.has(i))].map((i) => `s${i}:x`))
    }
  })

  it('forgets a connection that closes while it waits, and lets everything read once closed', async () => {
    const { intake, log, b, c } = await boundTakenByA()
    b.write('2')
    c.write('3')
    await turn()
    expect(intake.stats().waiting).toBe(2)
    b.destroy()
    await turn()
    expect(intake.stats().waiting).toBe(1)
    intake.close()
    expect(intake.stats().waiting).toBe(0)
    c.write('4')
    await turn()
    expect(log).toEqual(['a:1', 'c:34'])
  })
})

describe('intake bound over TCP', () => {
  let t: TestBroker
  beforeAll(async () => {
    t = await startBroker({ maxMessagesInFlight: 4 }, { quotas: false })
  })
  afterAll(() => t.stop())

  it('holds at most the bound (plus one read) while storage is slow, then records every message once', async () => {
    const held: Telemetry[] = []
    t.hooks.onTelemetry = (m) => held.push(m)
    const devices = await Promise.all(Array.from({ length: 6 }, (_, i) => t.addDevice(`aq-intake-${i}`)))
    const clients: MqttClient[] = await Promise.all(devices.map((d) => t.deviceConnect(d)))
    const acked = clients.flatMap((client, i) =>
      [0, 1, 2].map((n) => publish(client, `devices/${devices[i]!.id}/telemetry`, JSON.stringify({ ts: Date.now(), pm25: n }))),
    )

    // Every device's messages reach the broker: each device either got some in or waits its turn.
    await vi.waitFor(() => {
      const inside = new Set(t.telemetry.map((m) => m.device.id)).size
      expect(inside + t.broker.stats().intake.waiting).toBe(6)
    })
    const stats = t.broker.stats().intake
    expect(stats.waiting).toBeGreaterThan(0)
    expect(stats.inFlight).toBe(t.telemetry.length)
    // A device sends its three messages in one read at most: the bound, plus the rest of the read
    // that reached it.
    expect(t.telemetry.length).toBeGreaterThanOrEqual(4)
    expect(t.telemetry.length).toBeLessThanOrEqual(4 + 2)

    // Storage catches up: each recorded message lets a waiting device read.
    let released = 0
    while (released < 18) {
      await vi.waitFor(() => expect(held.length).toBeGreaterThan(0))
      for (const m of held.splice(0)) {
        m.done()
        released += 1
      }
    }
    await Promise.all(acked)
    expect(t.telemetry).toHaveLength(18)
    expect(new Set(t.telemetry.map((m) => `${m.device.id} ${JSON.parse(m.payload).pm25}`)).size).toBe(18)
    // Nothing is left waiting: a connection that asks to read with nothing buffered does not queue.
    await vi.waitFor(() => expect(t.broker.stats().intake).toMatchObject({ inFlight: 0, waiting: 0 }))
    expect(t.broker.stats().intake.waits).toBeGreaterThanOrEqual(stats.waiting)
    await Promise.all(clients.map((c) => c.endAsync()))
  })
})
