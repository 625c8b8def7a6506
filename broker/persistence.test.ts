import { describe, expect, it } from 'vitest'
import { createPersistence } from './persistence.ts'

type Promised = {
  addSubscriptions(client: unknown, subs: unknown[]): Promise<void>
  subscriptionsByTopic(topic: string): Promise<{ clientId: string; topic: string }[]>
  outgoingEnqueueCombi(subs: unknown[], packet: unknown): Promise<void>
  outgoingEnqueue(sub: { clientId: string }, packet: unknown): Promise<void>
  outgoingStream(client: unknown): AsyncIterable<{ topic: string }>
  setup(broker: unknown): Promise<void>
}

describe('broker persistence', () => {
  it('answers at once that nobody is offline while no session is kept, and behaves as the default once one is', async () => {
    const persistence = createPersistence() as unknown as Promised
    await persistence.setup({ id: 'test', brokers: {} })
    expect(await persistence.subscriptionsByTopic('devices/a/telemetry')).toEqual([])
    await persistence.outgoingEnqueueCombi([], { topic: 'devices/a/telemetry' })
    // At once: in the same turn, as aedes's enqueueOffline takes them, not a microtask later.
    const answers: unknown[] = []
    void persistence.subscriptionsByTopic('devices/a/telemetry').then((subs) => answers.push(subs))
    void persistence.outgoingEnqueueCombi([], { topic: 'devices/a/telemetry' }).then(() => answers.push('queued'))
    expect(answers).toEqual([[], 'queued'])
    expect(await topicsQueued(persistence, { id: 'kept' })).toEqual([])

    const client = { id: 'kept' }
    await persistence.addSubscriptions(client, [{ topic: 'devices/#', qos: 1 }])
    const subs = await persistence.subscriptionsByTopic('devices/a/telemetry')
    expect(subs.map((s) => s.clientId)).toEqual(['kept'])
    await persistence.outgoingEnqueueCombi(subs, { cmd: 'publish', topic: 'devices/a/telemetry', payload: Buffer.from('x'), qos: 1, brokerId: 'test', brokerCounter: 1 })
    expect(await topicsQueued(persistence, client)).toEqual(['devices/a/telemetry'])
  })

  it("reads a kept session's queue once aedes queues for that session's own client, with no subscription stored", async () => {
    const persistence = createPersistence() as unknown as Promised
    await persistence.setup({ id: 'test', brokers: {} })
    await persistence.outgoingEnqueue({ clientId: 'kept' }, { cmd: 'publish', topic: 'devices/kept/commands', payload: Buffer.from('x'), qos: 1, brokerId: 'test', brokerCounter: 1 })
    expect(await topicsQueued(persistence, { id: 'kept' })).toEqual(['devices/kept/commands'])
  })
})

async function topicsQueued(persistence: Promised, client: { id: string }): Promise<string[]> {
  const queued: string[] = []
  for await (const packet of persistence.outgoingStream(client)) queued.push(packet.topic)
  return queued
}
