import { INSTALLERS_ROOM, STAFF_ROOM, userRoom } from '../realtime/rooms.ts'
import type { RealtimeServer } from '../realtime/types.ts'

/**
 * What the operations pushes (device states, alerts, alert rules) share: every push is an emit to
 * a room (realtime/rooms.ts), never a loop over the sockets.
 *
 * Pushes are made from what the feed told this node, and in cluster mode the feed tells every
 * node about the whole fleet: so each node pushes to its own browsers only (app.ts hands the
 * pushes `io.local`), or a browser would get the same message once per node through the adapter.
 *
 * Staff (admins and operators, the `staff` room) get one shared message. Installers see only
 * some devices: the installers online are found with fetchSockets, and each gets, in their own
 * `user:` room, the part they may see.
 */

/** Whether a device is one the reader may see. */
export type DeviceFilter = (device: { id: string; city: string }) => boolean

/**
 * What a user may see, judged on their current account: a filter, or undefined when they see
 * every device (a role that sees everything).
 */
export type UserVisibility = (username: string) => DeviceFilter | undefined

/** The part of the Socket.IO server a push uses. */
export type PushServer = Pick<RealtimeServer, 'to' | 'in'>

/** Every logged-in socket's room. */
export const LOGGED_IN_ROOMS = [STAFF_ROOM, INSTALLERS_ROOM]

/** The distinct usernames of the installers online, on every node. */
export async function installersOnline(io: PushServer): Promise<string[]> {
  const sockets = await io.in(INSTALLERS_ROOM).fetchSockets()
  const names = new Set<string>()
  for (const socket of sockets) {
    const username = socket.data.user?.username
    if (username !== undefined) names.add(username)
  }
  return [...names]
}

/**
 * An installer's own sockets: their `user:` room, less any of their sockets in the staff room (a
 * socket opened after their role changed), which got the shared message already.
 */
export const toInstaller = (io: PushServer, username: string) => io.to(userRoom(username)).except(STAFF_ROOM)

/**
 * The installers' part of a push, which needs fetchSockets (async): staff messages go out at once,
 * each installer's follows once the installers online are known. These run one at a time and in
 * order, so a timer never overlaps them; batches that arrive meanwhile are merged into one
 * (`merge`) and sent next, so a slow fetch never piles batches up. `send` is called per installer
 * online. Failures go to `onError` and drop that batch (the next push carries newer changes).
 */
export function createInstallerQueue<B>(options: {
  merge(pending: B, next: B): B
  send(io: PushServer, username: string, batch: B): void
  onError(err: unknown): void
}) {
  let io: PushServer | undefined
  let pending: B | undefined
  let draining: Promise<void> | undefined

  async function drain(): Promise<void> {
    // Starts on the next microtask, so `draining` is set before it can be cleared.
    await null
    try {
      while (pending !== undefined && io) {
        const server = io
        const batch = pending
        pending = undefined
        try {
          const users = await installersOnline(server)
          // Detached (closing) while fetching: nothing more goes out.
          if (io !== server) break
          for (const username of users) options.send(server, username, batch)
        } catch (err) {
          options.onError(err)
        }
      }
    } finally {
      draining = undefined
    }
  }

  return {
    attach(server: PushServer | undefined): void {
      io = server
      if (!server) pending = undefined
    },
    /** Queues a batch for the installers online; resolves when it has gone out (or was dropped). */
    add(batch: B): Promise<void> {
      if (!io) return Promise.resolve()
      pending = pending === undefined ? batch : options.merge(pending, batch)
      draining ??= drain()
      return draining
    },
    /** Resolves when nothing is being sent or waits to be. */
    async idle(): Promise<void> {
      while (draining) await draining
    },
  }
}

export type InstallerQueue<B> = ReturnType<typeof createInstallerQueue<B>>
