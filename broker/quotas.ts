import type { Device } from '../devices/registry.ts'

/**
 * Per-device quotas: token buckets for messages, readings and bytes, refilled at a rate derived
 * from the device's reporting interval, with a burst allowance so a device coming back online
 * can send its backlog at once.
 *
 * A bucket may go into debt (a payload's readings are only known once ingest has parsed it). The
 * broker uses the debt two ways:
 *  - slow down: the PUBACK is delayed by the time the deepest bucket needs to refill, at most
 *    `maxDelayMs`; aedes reads nothing more from that connection meanwhile, so only that device
 *    waits;
 *  - refuse: a message arriving while a bucket needs more than `hardLimitMs` to refill, or after
 *    every message for `sustainedLimitMs` was slowed (a device leaning on the backpressure instead
 *    of keeping to its rate), is not recorded and the connection is closed (refusal 'over-quota').
 *    A device keeping to its rate, or sending a backlog within its burst, never gets there.
 *
 * Defaults (nominal rate = 1 / interval): messages 10× nominal, burst 100; readings 10× nominal,
 * burst 8 days of readings at the interval (at least 1,000, at most 100,000: a week's backlog goes
 * through at once); bytes 10× nominal × 2 KiB, burst 128 bytes per burst reading (at least 512 KiB). Per type: TYPE_QUOTAS
 * below. Per device: metadata keys `quota.messagesPerSecond`, `quota.messagesBurst`,
 * `quota.readingsPerSecond`, `quota.readingsBurst`, `quota.bytesPerSecond`, `quota.bytesBurst`
 * (numbers) override the rest. Dead letters per hour are capped in ingest/pipeline.ts (metadata
 * key `quota.deadLettersPerHour`).
 *
 * Memory is bounded: at most `maxDevices` devices' buckets are kept; past that the tenth used
 * longest ago is dropped (such a device starts again with full buckets).
 */

export interface QuotaPolicy {
  messagesPerSecond: number
  messagesBurst: number
  readingsPerSecond: number
  readingsBurst: number
  bytesPerSecond: number
  bytesBurst: number
}

export interface QuotaSettings {
  /** Longest a PUBACK is delayed for being over quota. */
  maxDelayMs: number
  /** Refill time past which a message is refused. */
  hardLimitMs: number
  /** How long a device may stay slowed without a break before it is refused. */
  sustainedLimitMs: number
  maxDevices: number
  /** How often an over-quota device is logged again. */
  logIntervalMs: number
}

export const DEFAULT_QUOTA_SETTINGS: QuotaSettings = { maxDelayMs: 5_000, hardLimitMs: 30_000, sustainedLimitMs: 60_000, maxDevices: 100_000, logIntervalMs: 60_000 }

/** Per-type overrides of the interval-derived policy (none yet; a configuration file may fill this later). */
export const TYPE_QUOTAS: Partial<Record<Device['type'], Partial<QuotaPolicy>>> = {}

/** The backlog a device may send at once: 8 days of readings at its interval (a week offline, and a day's slack). */
const BACKLOG_SECONDS = 8 * 24 * 3600
const MAX_READINGS_BURST = 100_000
/** Room per backlog reading in the bytes burst (a JSON reading with a few fields is 60–120 bytes). */
const BACKLOG_BYTES_PER_READING = 128

const KEYS = ['messagesPerSecond', 'messagesBurst', 'readingsPerSecond', 'readingsBurst', 'bytesPerSecond', 'bytesBurst'] as const

export function quotaPolicy(device: Pick<Device, 'type' | 'interval' | 'metadata'>): QuotaPolicy {
  const interval = Math.max(1, device.interval)
  const nominal = 1 / interval
  // A device back from days offline sends its backlog at once; that must go through.
  const readingsBurst = Math.min(MAX_READINGS_BURST, Math.max(1000, Math.ceil(BACKLOG_SECONDS / interval)))
  const policy: QuotaPolicy = {
    messagesPerSecond: 10 * nominal,
    messagesBurst: 100,
    readingsPerSecond: 10 * nominal,
    readingsBurst,
    bytesPerSecond: 10 * nominal * 2048,
    bytesBurst: Math.max(512 * 1024, readingsBurst * BACKLOG_BYTES_PER_READING),
    ...TYPE_QUOTAS[device.type],
  }
  const metadata = device.metadata as Record<string, unknown> | undefined
  for (const key of KEYS) {
    const value = metadata?.[`quota.${key}`]
    if (typeof value === 'number' && Number.isFinite(value) && value > 0) policy[key] = value
  }
  return policy
}

interface Buckets {
  at: number
  messages: number
  readings: number
  bytes: number
  lastLogged: number
  /** Since when every message has been slowed (undefined while the device keeps to its quota). */
  slowedSince?: number
}

export type QuotaCheck = { ok: true } | { ok: false; reason: string }
const ADMITTED: QuotaCheck = Object.freeze({ ok: true })

export function createQuotas(settings: Partial<QuotaSettings> = {}, clock: () => number = Date.now) {
  const { maxDelayMs, hardLimitMs, sustainedLimitMs, maxDevices, logIntervalMs } = { ...DEFAULT_QUOTA_SETTINGS, ...settings }
  const buckets = new Map<string, Buckets>()
  // A connection keeps one Device object for its life (a change in the registry reaches the
  // broker as a new object at the next login), so the policy is derived once per connection,
  // not once per message.
  const policies = new WeakMap<Pick<Device, 'type' | 'interval' | 'metadata'>, QuotaPolicy>()
  const policyOf = (device: Device): QuotaPolicy => {
    let policy = policies.get(device)
    if (!policy) policies.set(device, (policy = quotaPolicy(device)))
    return policy
  }
  let slowed = 0

  /** The device's buckets (new and full for a device not seen), refilled for the time since their last use. */
  function refilled(device: Device, policy: QuotaPolicy, now: number, b: Buckets | undefined = buckets.get(device.id)): Buckets {
    if (!b) {
      if (buckets.size >= maxDevices) dropLeastRecent()
      b = { at: now, messages: policy.messagesBurst, readings: policy.readingsBurst, bytes: policy.bytesBurst, lastLogged: Number.NEGATIVE_INFINITY }
      buckets.set(device.id, b)
      return b
    }
    const seconds = Math.max(0, now - b.at) / 1000
    b.at = now
    b.messages = Math.min(policy.messagesBurst, b.messages + seconds * policy.messagesPerSecond)
    b.readings = Math.min(policy.readingsBurst, b.readings + seconds * policy.readingsPerSecond)
    b.bytes = Math.min(policy.bytesBurst, b.bytes + seconds * policy.bytesPerSecond)
    return b
  }

  /**
   * Past maxDevices: the tenth of the buckets used longest ago go (at least one). Done in bulk and
   * only then, so a message costs one lookup rather than keeping the map in order of use.
   */
  function dropLeastRecent() {
    const byAge = [...buckets].sort((a, b) => a[1].at - b[1].at)
    for (const [id] of byAge.slice(0, Math.max(1, Math.ceil(buckets.size / 10)))) buckets.delete(id)
  }

  /** How long one bucket takes to refill to zero, ms (0 when it is not in debt). */
  const refillMs = (level: number, perSecond: number) => (level < 0 ? (-level / perSecond) * 1000 : 0)

  /** How long the device's deepest bucket takes to refill to zero, ms (0 when none is in debt). */
  function owedMs(b: Buckets, policy: QuotaPolicy): number {
    return Math.max(refillMs(b.messages, policy.messagesPerSecond), refillMs(b.readings, policy.readingsPerSecond), refillMs(b.bytes, policy.bytesPerSecond))
  }

  /** Which bucket is deepest in debt (for the refusal's reason). */
  function deepest(b: Buckets, policy: QuotaPolicy): 'messages' | 'readings' | 'bytes' {
    const m = refillMs(b.messages, policy.messagesPerSecond)
    const r = refillMs(b.readings, policy.readingsPerSecond)
    const y = refillMs(b.bytes, policy.bytesPerSecond)
    if (m >= r && m >= y) return 'messages'
    return r >= y ? 'readings' : 'bytes'
  }

  return {
    /** Before recording a message: refuses it past the hard limit, else charges one message and its bytes. */
    admit(device: Device, bytes: number): QuotaCheck {
      const policy = policyOf(device)
      const now = clock()
      const known = buckets.get(device.id)
      const previous = known?.at
      const b = refilled(device, policy, now, known)
      const owed = owedMs(b, policy)
      // A pause longer than any PUBACK hold ends a slowed streak: the device was not being held.
      if (owed === 0 && (previous === undefined || now - previous > maxDelayMs)) b.slowedSince = undefined
      // Held back on every PUBACK, a device sending as fast as they let it never owes much: a
      // device that keeps that up without a break is refused too.
      const sustained = b.slowedSince !== undefined && now - b.slowedSince > sustainedLimitMs
      if (owed > hardLimitMs || sustained) {
        const rates = { messages: policy.messagesPerSecond, readings: policy.readingsPerSecond, bytes: policy.bytesPerSecond }
        const bucket = deepest(b, policy)
        const why = sustained ? `over quota for ${Math.round(sustainedLimitMs / 1000)} s without a break` : 'over quota'
        return { ok: false, reason: `${why}: ${bucket} (${+rates[bucket].toPrecision(3)}/s); slow down and retry in ${Math.ceil(Math.max(owed, sustained ? maxDelayMs + 1000 : 0) / 1000)} s` }
      }
      b.messages -= 1
      b.bytes -= bytes
      return ADMITTED
    },

    /** After recording: charges the payload's readings and answers how long to hold its PUBACK. */
    recorded(device: Device, readings: number): number {
      const policy = policyOf(device)
      const now = clock()
      const b = refilled(device, policy, now)
      b.readings -= readings
      const ms = Math.min(maxDelayMs, owedMs(b, policy))
      if (ms > 0) {
        slowed += 1
        b.slowedSince ??= now
      } else {
        b.slowedSince = undefined
      }
      return ms
    },

    /** Whether to log this device's refusal now (once per logIntervalMs per device). */
    shouldLog(deviceId: string): boolean {
      const b = buckets.get(deviceId)
      const now = clock()
      if (!b || now - b.lastLogged < logIntervalMs) return false
      b.lastLogged = now
      return true
    },

    stats: () => ({ devices: buckets.size, slowed }),
  }
}

export type Quotas = ReturnType<typeof createQuotas>
