/**
 * Which of two logins with the same client id on two nodes is the newer one.
 *
 * aedes announces each login on `$SYS/<node>/new/clients`, and every other node closes its own
 * connection with that client id when it hears the announcement, without asking which login came
 * first. When a device logs in on two nodes within Redis's delivery time, each node hears the
 * other's announcement after its own login, and both close: the device is left with none.
 *
 * One Redis delivers every node's announcements to every node in the same order, its own
 * included. So "newer" is "announced later in that order": a node whose own announcement has not
 * come back from Redis yet when it hears another node's knows that other login is the older one,
 * and keeps its connection; the other node hears the two the other way round and closes its own.
 * Exactly one survives, whatever the timing, without clocks.
 */

export interface LoginOrder {
  /** This node announced a login (its `$SYS/<node>/new/clients` went to Redis). */
  announced(topic: string, clientId: string): void
  /** This node's announcement never reached Redis: no order is known for that login. */
  notAnnounced(topic: string, clientId: string): void
  /** This node's client with that id has gone (its `…/disconnect/clients`). */
  left(clientId: string): void
  /** An announcement came from Redis: true when aedes should act on it (close its own client). */
  heard(topic: string, clientId: string): boolean
  /** The connection that hears Redis was lost and is back: what was sent meanwhile may never come back. */
  resubscribed(): void
  /** Logins this node holds an order for (bounded by its connected clients). */
  size(): number
}

export function createLoginOrder(): LoginOrder {
  /** Client id → this node's announcement of its login, and whether Redis has delivered it back. */
  const logins = new Map<string, { topic: string; heard: boolean }>()
  return {
    announced(topic, clientId) {
      logins.set(clientId, { topic, heard: false })
    },
    notAnnounced(topic, clientId) {
      if (logins.get(clientId)?.topic === topic) logins.delete(clientId)
    },
    left(clientId) {
      logins.delete(clientId)
    },
    heard(topic, clientId) {
      const login = logins.get(clientId)
      if (!login) return true
      if (login.topic === topic) {
        login.heard = true
        return true
      }
      // Another node's login: newer than ours only if ours came back from Redis before it.
      return login.heard
    },
    resubscribed() {
      // An announcement of ours lost in the gap would keep its login "newest" for good, shielding an
      // old connection from every later login elsewhere; treat them as heard (aedes's own rule).
      for (const login of logins.values()) login.heard = true
    },
    size: () => logins.size,
  }
}
