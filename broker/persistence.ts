import memory from 'aedes-persistence'

/**
 * aedes's in-memory persistence without the offline queue's work on every QoS 1 publish.
 *
 * aedes keeps a subscription in persistence only for a session that is not clean, and every
 * session here is clean (auth.preConnect), so no publish has an offline subscriber to queue for.
 * Yet for each QoS 1 publish the default matched the topic against that empty store and queued to
 * nobody: two async calls per message. While nothing was ever stored, both answer at once; once a
 * subscription is stored (were sessions ever kept), everything goes to the default as before.
 */
export function createPersistence() {
  // The package is CommonJS exporting the function itself, which its types declare as an ES default export.
  const persistence = (memory as unknown as () => object)()
  // aedes uses the promise forms (no callback); the published types only describe callbacks.
  const target = persistence as unknown as {
    addSubscriptions(...args: unknown[]): unknown
    subscriptionsByTopic(topic: string, cb?: (err: Error | null, subs: unknown[]) => void): unknown
    outgoingEnqueueCombi(subs: unknown[], packet: unknown, cb?: (err?: Error | null) => void): unknown
  }
  const addSubscriptions = target.addSubscriptions.bind(persistence)
  const subscriptionsByTopic = target.subscriptionsByTopic.bind(persistence)
  const outgoingEnqueueCombi = target.outgoingEnqueueCombi.bind(persistence)
  const NONE: readonly unknown[] = Object.freeze([])
  const noSubscriptions = Promise.resolve(NONE)
  const nothingQueued = Promise.resolve()
  let stored = false

  target.addSubscriptions = (...args) => {
    stored = true
    return addSubscriptions(...args)
  }
  target.subscriptionsByTopic = (topic, cb) => (stored || cb ? subscriptionsByTopic(topic, cb) : noSubscriptions)
  target.outgoingEnqueueCombi = (subs, packet, cb) => (subs.length === 0 && !cb ? nothingQueued : outgoingEnqueueCombi(subs, packet, cb))
  return persistence
}
