import { INSTALLERS_ROOM, STAFF_ROOM, userRoom } from '../dashboard/server/realtime/rooms.ts'
import type { RealtimeServer } from '../dashboard/server/realtime/types.ts'

/**
 * A stand-in Socket.IO server for the operations tests: logged-in sockets in the rooms app.ts puts
 * them in (their user's room, and staff or installers), recording what reaches them. It has only
 * room emits and fetchSockets, so a push that loops over sockets fails here.
 */

export interface FakeSocket {
  data: { user: { username: string; role: string } }
  rooms: Set<string>
  sent: [string, any][]
}

export function fakeIo(users: { username: string; role: string }[] = [{ username: 'u0', role: 'operator' }]) {
  const sockets: FakeSocket[] = users.map((user) => ({
    data: { user },
    rooms: new Set([userRoom(user.username), user.role === 'installer' ? INSTALLERS_ROOM : STAFF_ROOM]),
    sent: [],
  }))
  const fetches = { count: 0 }
  let gate: Promise<void> | undefined
  const select = (rooms: string[], except: string[]) => sockets.filter((s) => rooms.some((r) => s.rooms.has(r)) && !except.some((r) => s.rooms.has(r)))
  const operator = (rooms: string[], except: string[] = []): unknown => ({
    except: (room: string | string[]) => operator(rooms, [...except, ...[room].flat()]),
    emit(event: string, payload: unknown) {
      for (const s of select(rooms, except)) s.sent.push([event, payload])
      return true
    },
  })
  const io = {
    to: (room: string | string[]) => operator([room].flat()),
    in: (room: string | string[]) => ({
      async fetchSockets() {
        fetches.count += 1
        await gate
        return select([room].flat(), []).map((s) => ({ id: s.data.user.username, data: s.data, rooms: s.rooms }))
      },
    }),
  }
  /** What one socket received of one event. */
  const received = (socket: FakeSocket, event: string) => socket.sent.filter(([e]) => e === event).map(([, p]) => p)
  /** Holds every fetchSockets until the returned function is called (a slow adapter). */
  const hold = () => {
    let release!: () => void
    gate = new Promise<void>((resolve) => (release = resolve))
    return () => {
      gate = undefined
      release()
    }
  }
  return { io: io as unknown as RealtimeServer, sockets, fetches, received, hold }
}
