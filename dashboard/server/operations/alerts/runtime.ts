import { DEVICE_TYPES, type DeviceType } from '../../../../devices/kinds.ts'
import type { Registry } from '../../../../devices/registry.ts'
import type { ConditionState, RollingWindow } from './evaluator.ts'
import type { Rule } from './rules.ts'
import type { Alert } from './store.ts'

/**
 * The rules in memory: per rule, its state per device (condition, rolling window, the alert it
 * keeps open), and indexes by device type (threshold rules) and of silent rules, rebuilt when a
 * rule changes. Bounded: at most `maxKeys` (rule, device) states in all; a new pair beyond it is
 * not judged (counted as droppedKeys), and keys that hold nothing are forgotten.
 */

/** One (rule, device) pair's state. */
export interface KeyState extends ConditionState {
  window?: RollingWindow
  alert?: Alert
}

/** One rule and its per-device states. */
export interface Runtime {
  rule: Rule
  keys: Map<string, KeyState>
}

export interface RuntimeOptions {
  registry: Pick<Registry, 'get'>
  maxKeys: number
  stats: { droppedKeys: number }
}

export function createRuntimes(options: RuntimeOptions) {
  const { registry, maxKeys, stats } = options
  const runtimes = new Map<number, Runtime>()
  let byType = new Map<DeviceType, Runtime[]>()
  let silentRules: Runtime[] = []
  let keyCount = 0

  /** Rebuilds the indexes after a rule was added, changed or removed. */
  function reindex(): void {
    byType = new Map()
    silentRules = []
    for (const rt of runtimes.values()) {
      if (!rt.rule.enabled) continue
      if (rt.rule.kind === 'silent') {
        silentRules.push(rt)
        continue
      }
      const scoped = rt.rule.type ?? (rt.rule.deviceId ? registry.get(rt.rule.deviceId)?.type : undefined)
      for (const t of scoped ? [scoped] : DEVICE_TYPES) {
        const list = byType.get(t) ?? []
        list.push(rt)
        byType.set(t, list)
      }
    }
  }

  return {
    get: (id: number) => runtimes.get(id),
    all: () => runtimes.values(),
    get size() {
      return runtimes.size
    },
    get keyCount() {
      return keyCount
    },
    /** Enabled threshold rules that may judge this type's readings. */
    forType: (type: DeviceType): readonly Runtime[] | undefined => byType.get(type),
    /** Enabled silent rules. */
    silent: (): readonly Runtime[] => silentRules,
    reindex,

    /** Adds a rule (or replaces one with the same id); call reindex() after. */
    add(rule: Rule): Runtime {
      const rt: Runtime = { rule, keys: new Map() }
      runtimes.set(rule.id, rt)
      return rt
    },

    /** Removes a rule and its keys; call reindex() after. */
    remove(rt: Runtime): void {
      keyCount -= rt.keys.size
      rt.keys.clear()
      runtimes.delete(rt.rule.id)
    },

    /** Forgets every key of a rule. */
    dropKeys(rt: Runtime): void {
      keyCount -= rt.keys.size
      rt.keys.clear()
    },

    /** The pair's state, created when there is room; undefined (counted) when there is not. */
    keyFor(rt: Runtime, deviceId: string): KeyState | undefined {
      let key = rt.keys.get(deviceId)
      if (!key) {
        if (keyCount >= maxKeys) {
          stats.droppedKeys += 1
          return undefined
        }
        key = { phase: 'ok', since: null }
        rt.keys.set(deviceId, key)
        keyCount += 1
      }
      return key
    },

    /** Sets a pair's state as it was stored (an alert still active at start), room or not. */
    restore(rt: Runtime, deviceId: string, key: KeyState): void {
      if (!rt.keys.has(deviceId)) keyCount += 1
      rt.keys.set(deviceId, key)
    },

    /** Drops a key that holds nothing (condition ok, no window, no alert). */
    forget(rt: Runtime, deviceId: string, key: KeyState): void {
      if (key.phase === 'ok' && !key.window && !key.alert && rt.keys.delete(deviceId)) keyCount -= 1
    },

    /** Drops a pair's key whatever it holds. */
    drop(rt: Runtime, deviceId: string): void {
      if (rt.keys.delete(deviceId)) keyCount -= 1
    },
  }
}

export type Runtimes = ReturnType<typeof createRuntimes>
