import type { Server, Socket } from 'socket.io'
import type { ClientToServerEvents, ServerToClientEvents } from '../../shared/events.ts'

/** What the server keeps on each socket: who it is (absent for anonymous visitors) and the credential to recheck. */
export interface SocketUser {
  username: string
  role: string
}

export interface SocketData {
  user?: SocketUser
  credential?: string
}

/** Between nodes (the adapter's serverSideEmit): nothing yet. */
type InterServerEvents = Record<string, never>

export type RealtimeServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>
export type RealtimeSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>
