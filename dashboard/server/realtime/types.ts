import type { DefaultEventsMap, Server, Socket } from 'socket.io'

/** What the server keeps on each socket: who it is (absent for anonymous visitors) and the credential to recheck. */
export interface SocketUser {
  username: string
  role: string
}

export interface SocketData {
  user?: SocketUser
  credential?: string
}

export type RealtimeServer = Server<DefaultEventsMap, DefaultEventsMap, DefaultEventsMap, SocketData>
export type RealtimeSocket = Socket<DefaultEventsMap, DefaultEventsMap, DefaultEventsMap, SocketData>
