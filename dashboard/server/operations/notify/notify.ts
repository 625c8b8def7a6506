import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { ContactPointPatch, NewContactPoint, Notification } from '../../../shared/notify.ts'
import type { AlertEvent, AlertView } from '../alerts/engine.ts'
import { createDeliveries } from './deliveries.ts'
import { createMailer, type Mailer } from './email.ts'
import { createGrouping, summaries, type Scheduler } from './grouping.ts'
import type { ContactPoint, ContactPointFields, NotifyStoreAsync } from './store.ts'
import { createUrlPolicy, UrlPolicyError, type AllowEntry } from './url-policy.ts'
import { words, type Words } from '../../../shared/words.ts'

/**
 * Alert notifications through contact points, wired in one place: the alert engine's events
 * (engine.onAlert, subscribed in app.ts) → grouping.ts (per rule and city, group window, minimum interval,
 * silences) → deliveries.ts (every enabled contact point: webhook.ts, email.ts; retries; the
 * delivery log in store.ts, or store-postgres.ts shared by several nodes). Settings from
 * cli/config.ts (NOTIFY_*, SMTP_*). In cluster mode only the leader's alert engine tells it
 * anything, so each message goes out once.
 */

export interface NotifyOptions {
  /** smtp:// or smtps:// URL; unset: e-mail contact points cannot deliver (and cannot be created). */
  smtpUrl?: string
  smtpFrom?: string
  /** Signs webhooks that have no secret of their own. */
  webhookSecret?: string
  /** NOTIFY_WEBHOOK_ALLOW: internal webhook targets let through the URL policy (url-policy.ts). */
  webhookAllow?: readonly AllowEntry[]
  /** Default 30 s. */
  groupWindowMs?: number
  /** Default 5 min. */
  repeatIntervalMs?: number
  /** Default 6 attempts, 1 s doubling, at most 60 s apart. */
  retry?: { maxAttempts?: number; baseMs?: number; maxMs?: number }
  /** Per attempt (webhook request, SMTP conversation step). Default 10 s. */
  timeoutMs?: number
  /** Deliveries kept per contact point (given to the store). Default 100. */
  deliveryLog?: number
}

export interface NotificationsDeps extends NotifyOptions {
  /** Contact points and the delivery log. */
  store: NotifyStoreAsync
  logger?: Pick<Logger, 'warn' | 'info'>
  clock?: () => number
  scheduler?: Scheduler
  /** Whether a silence mutes an alert now (asked again before a message). Default: never. */
  isSilenced?: (alert: AlertView) => boolean
}

/** A contact point that does not hold together (the API answers 400). */
export class ContactPointError extends Error {
  constructor(
    message: string,
    /** What the message says, for a page to word in its language. */
    readonly words?: Words,
  ) {
    super(message)
  }
}

export function createNotifications(deps: NotificationsDeps) {
  const clock = deps.clock ?? Date.now
  const { store } = deps
  const urlPolicy = createUrlPolicy({ allow: deps.webhookAllow })
  const timeoutMs = deps.timeoutMs ?? 10_000
  const mailer: Mailer | undefined = deps.smtpUrl ? createMailer({ smtpUrl: deps.smtpUrl, from: deps.smtpFrom ?? 'piazza@localhost', timeoutMs }) : undefined
  const deliveries = createDeliveries({
    store,
    mailer,
    defaultSecret: deps.webhookSecret,
    urlPolicy,
    retry: { maxAttempts: deps.retry?.maxAttempts ?? 6, baseMs: deps.retry?.baseMs ?? 1000, maxMs: deps.retry?.maxMs ?? 60_000 },
    timeoutMs,
    clock,
    logger: deps.logger,
  })
  const grouping = createGrouping({
    groupWindowMs: deps.groupWindowMs ?? 30_000,
    repeatIntervalMs: deps.repeatIntervalMs ?? 300_000,
    clock,
    scheduler: deps.scheduler,
    isSilenced: deps.isSilenced,
    send: (n) => deliveries.send(n),
  })

  async function check(f: ContactPointFields): Promise<ContactPointFields> {
    if (f.kind === 'webhook') {
      let url: URL
      try {
        url = new URL(f.url ?? '')
      } catch {
        throw new ContactPointError(`url must be an http(s) URL, got '${f.url}'`, words('webhook-url', { url: String(f.url) }))
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ContactPointError(`url must be an http(s) URL, got '${f.url}'`, words('webhook-url', { url: String(f.url) }))
      if (url.username || url.password) throw new ContactPointError('url must not hold a user name or password: the signature authenticates Piazza', words('webhook-url-credentials'))
      if (f.secret === null && !deps.webhookSecret) throw new ContactPointError('a webhook needs a secret to sign with: give one (16 characters or more) or set NOTIFY_WEBHOOK_SECRET', words('webhook-needs-secret'))
      try {
        await urlPolicy.check(url.href)
      } catch (err) {
        if (err instanceof UrlPolicyError) throw new ContactPointError(err.message, err.words)
        throw err
      }
    } else if (!mailer) {
      throw new ContactPointError('e-mail is not configured on this server: set SMTP_URL (and SMTP_FROM)', words('email-not-configured'))
    }
    return f
  }

  const contactPoints = {
    list: store.list,
    get: store.get,
    deliveries: store.deliveries,
    remove: (id: number) => store.remove(id),
    async create(input: NewContactPoint, by: string): Promise<ContactPoint> {
      const fields: ContactPointFields =
        input.kind === 'webhook'
          ? { kind: 'webhook', name: input.name, url: input.url, addresses: [], secret: input.secret ?? null, enabled: input.enabled ?? true }
          : { kind: 'email', name: input.name, url: null, addresses: input.addresses, secret: null, enabled: input.enabled ?? true }
      return store.create(await check(fields), by, new Date(clock()).toISOString())
    },
    async update(id: number, patch: ContactPointPatch): Promise<ContactPoint> {
      const cp = (await store.get(id))!
      if (cp.kind === 'webhook' && patch.addresses !== undefined) throw new ContactPointError('addresses apply to e-mail contact points; this one is a webhook', words('webhook-no-addresses'))
      if (cp.kind === 'email' && (patch.url !== undefined || patch.secret !== undefined)) throw new ContactPointError('url and secret apply to webhooks; this one sends e-mail', words('email-no-url'))
      const fields: ContactPointFields = {
        kind: cp.kind,
        name: patch.name ?? cp.name,
        url: patch.url ?? cp.url,
        addresses: patch.addresses ?? cp.addresses,
        secret: patch.secret === undefined ? cp.secret : patch.secret,
        enabled: patch.enabled ?? cp.enabled,
      }
      // E-mail settings are checked when a contact point is made; an existing one stays editable.
      return store.update(id, cp.kind === 'webhook' ? await check(fields) : fields, new Date(clock()).toISOString())
    },
  }

  return {
    contactPoints,
    emailConfigured: mailer !== undefined,
    defaultSecret: deps.webhookSecret !== undefined,

    /** The alert engine's listener (engine.onAlert): synchronous, cheap, never throws. */
    alertEvent(event: AlertEvent): void {
      try {
        grouping.alertEvent(event)
      } catch (err) {
        deps.logger?.warn({ err, alert: event.alert.id }, 'notify: could not follow an alert change')
      }
    },

    /** A test message to one contact point, one attempt; resolves with its delivery log entry. */
    test(cp: ContactPoint) {
      const group = { key: 'test', ruleId: 0, ruleName: 'Test', city: '-', severity: 'info' }
      const n: Notification = { version: 1, id: randomUUID(), status: 'test', group, count: 0, newAlerts: 0, devices: [], more: 0, ...summaries('test', group, 0, 0), sentAt: new Date(clock()).toISOString() }
      return deliveries.test(cp, n)
    },

    /** Sends every group's pending message now (tests). */
    flush: () => grouping.flush(),
    /** Resolves when the deliveries under way have finished (tests). */
    idle: () => deliveries.idle(),
    stats: () => ({ ...grouping.stats(), ...deliveries.stats() }),

    /** Drops pending groups (nothing more is sent), stops retries, waits for attempts under way. */
    async close(): Promise<void> {
      grouping.close()
      await deliveries.close()
      mailer?.close()
    },
  }
}

export type Notifications = ReturnType<typeof createNotifications>
