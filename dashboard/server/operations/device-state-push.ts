import { STAFF_ROOM } from '../realtime/rooms.ts'
import type { DeviceStatesMessage, DeviceStateView } from '../../shared/operations.ts'
import { stateView, type TrackedDevice } from './device-health.ts'
import { createInstallerQueue, LOGGED_IN_ROOMS, toInstaller, type PushServer, type UserVisibility } from './push.ts'

/**
 * The `device_states` push: the devices whose state changed since the last push, newest state
 * per device, at most `maxPerMessage` per push (`more`: how many wait for the next). Staff get
 * every change in one message to their room; each installer online gets the changes of the
 * devices they may see in their own room, nothing when none is theirs.
 */

interface InstallerBatch {
  /** By device id, the newest view of each. */
  items: Map<string, { view: DeviceStateView; city: string }>
  more: number
}

export function createDeviceStatePush(options: { maxPerMessage: number }) {
  const { maxPerMessage } = options
  /** Changes not yet pushed, newest per device. */
  let unpushed = new Map<string, TrackedDevice>()
  let io: PushServer | undefined
  let visibility: UserVisibility | undefined

  const installers = createInstallerQueue<InstallerBatch>({
    merge(pending, next) {
      for (const [id, item] of next.items) pending.items.set(id, item)
      pending.more = next.more
      return pending
    },
    send(server, username, batch) {
      const visible = visibility?.(username)
      const items: DeviceStateView[] = []
      for (const { view, city } of batch.items.values()) if (!visible || visible({ id: view.id, city })) items.push(view)
      if (items.length > 0) toInstaller(server, username).emit('device_states', { items, more: batch.more } satisfies DeviceStatesMessage)
    },
    onError() {
      // fetchSockets failed (an adapter timing out): the installers miss this batch; staff got it.
    },
  })

  return {
    changed(d: TrackedDevice): void {
      unpushed.set(d.id, d)
    },

    /** Sends what changed; resolves when the installers' messages have gone out too. */
    push(): Promise<void> {
      if (!io || unpushed.size === 0) return Promise.resolve()
      const all = [...unpushed.values()]
      const batch = all.slice(0, maxPerMessage)
      unpushed = new Map(all.slice(maxPerMessage).map((d) => [d.id, d]))
      const more = unpushed.size
      const items = batch.map(stateView)
      const message: DeviceStatesMessage = { items, more }
      if (!visibility) {
        // No one to cut for: every logged-in socket sees every device.
        io.to(LOGGED_IN_ROOMS).emit('device_states', message)
        return Promise.resolve()
      }
      io.to(STAFF_ROOM).emit('device_states', message)
      return installers.add({ items: new Map(items.map((view, i) => [view.id, { view, city: batch[i]!.city }])), more })
    },

    attach(server: PushServer | undefined, visible?: UserVisibility): void {
      io = server
      visibility = visible
      installers.attach(server)
    },

    /** Resolves when no installer message is being sent. */
    idle: () => installers.idle(),
  }
}
