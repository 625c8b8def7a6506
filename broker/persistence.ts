import { Readable } from 'node:stream'
import memory from 'aedes-persistence'

/**
 * aedes's in-memory persistence without the offline queue's work on every QoS 1 publish.
 *
 * aedes keeps a subscription in persistence only for a session that is not clean, and every
 * session here is clean (auth.preConnect), so no publish has an offline subscriber to queue for.
 * Yet for each QoS 1 publish the default matched the topic against that empty store and queued to
 * nobody: two async calls per message. While nothing was ever stored, both answer at once (not even
 * a promise); once a subscription is stored (were sessions ever kept), everything goes to the
 * default as before.
 *
 * The same holds at every login: aedes reads the client's offline queue through a pipeline, even
 * for a clean session. The default's queue stream (Readable.from over a copy of the queue) ends
 * only after a few turns of its async iterator, so in a burst of logins the whole pipeline outlived
 * the young generation: 10,000 logins left 92 MB of it in the old generation, garbage that V8 gives
 * back only when its memory reducer runs, up to a minute or two later (sampled heap profile, 4 KB
 * interval, the bench's 10,000 idle connections). While nothing can have been queued (no
 * subscription stored, no session kept), the queue is a plain stream that ends as it is first
 * read: the same 10,000 logins then leave 12 MB.
 */
export function createPersistence() {
  // The package is CommonJS exporting the function itself, which its types declare as an ES default export.
  const persistence = (memory as unknown as () => object)()
  // aedes uses the promise forms (no callback); the published types only describe callbacks.
  const target = persistence as unknown as {
    addSubscriptions(...args: unknown[]): unknown
    subscriptionsByTopic(topic: string, cb?: (err: Error | null, subs: unknown[]) => void): unknown
    outgoingEnqueueCombi(subs: unknown[], packet: unknown, cb?: (err?: Error | null) => void): unknown
    outgoingEnqueue(...args: unknown[]): unknown
    outgoingStream(client: unknown): Readable
  }
  const addSubscriptions = target.addSubscriptions.bind(persistence)
  const subscriptionsByTopic = target.subscriptionsByTopic.bind(persistence)
  const outgoingEnqueueCombi = target.outgoingEnqueueCombi.bind(persistence)
  const outgoingEnqueue = target.outgoingEnqueue.bind(persistence)
  const outgoingStream = target.outgoingStream.bind(persistence)
  const noSubscriptions = answered(Object.freeze([]) as readonly unknown[])
  const nothingQueued = answered(undefined)
  let stored = false

  target.addSubscriptions = (...args) => {
    stored = true
    return addSubscriptions(...args)
  }
  target.subscriptionsByTopic = (topic, cb) => (stored || cb ? subscriptionsByTopic(topic, cb) : noSubscriptions)
  target.outgoingEnqueueCombi = (subs, packet, cb) => (subs.length === 0 && !cb ? nothingQueued : outgoingEnqueueCombi(subs, packet, cb))
  // aedes queues for a kept session's own client too (Client.publish), without any subscription.
  target.outgoingEnqueue = (...args) => {
    stored = true
    return outgoingEnqueue(...args)
  }
  target.outgoingStream = (client) => (stored ? outgoingStream(client) : new Readable({ objectMode: true, read: endAtOnce }))
  return persistence
}

/**
 * An answer known at once, as a thenable that calls back at once. aedes only ever `.then`s these
 * two answers and never chains on them (aedes.js, enqueueOffline); as resolved promises each cost,
 * per QoS 1 publish, the promise `.then` makes, its reaction and a turn of the microtask queue.
 * `await` takes it too.
 */
function answered<T>(value: T): { then(onFulfilled?: (value: T) => unknown): void } {
  return {
    then(onFulfilled) {
      onFulfilled?.(value)
    },
  }
}

function endAtOnce(this: Readable) {
  this.push(null)
}
