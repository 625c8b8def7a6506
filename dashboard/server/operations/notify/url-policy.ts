import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import type { LookupFunction } from 'node:net'
import ipaddr from 'ipaddr.js'
import { NON_PUBLIC_RANGE_NAMES } from '../../../shared/notify.ts'
import { words, type Words } from '../../../shared/words.ts'

/**
 * Where webhooks may go (server-side request forgery): a webhook URL is http(s) and its host must
 * resolve to public unicast addresses only — never loopback, link-local (169.254.0.0/16 with the
 * cloud metadata service 169.254.169.254, fe80::/10), private (10/8, 172.16/12, 192.168/16,
 * fc00::/7), carrier-grade NAT, unspecified, multicast or reserved. NOTIFY_WEBHOOK_ALLOW lets
 * chosen internal targets through: `host[:port]` entries (a name or an address, as in the URL)
 * and CIDR ranges (`10.20.0.0/16`, or a bare address).
 *
 * Checked when a contact point is made or changed, and again at every delivery through the HTTP
 * request's `lookup` hook: the address checked is the address connected to, so a name that
 * resolves elsewhere later (DNS rebinding) is refused at the moment it would be used.
 */

export interface AllowEntry {
  /** Lower-case host name or canonical address, as it appears in a URL (without brackets). */
  host?: string
  port?: number
  range?: [ipaddr.IPv4 | ipaddr.IPv6, number]
  /** As configured, for messages. */
  text: string
}

/** Thrown when an allow-list entry cannot be read (cli/config.ts turns it into a ConfigError). */
export class AllowListError extends Error {}

/** Reads NOTIFY_WEBHOOK_ALLOW: comma-separated `host[:port]`, `[v6]:port`, addresses and CIDR ranges. */
export function parseAllowList(raw: string | undefined): AllowEntry[] {
  if (!raw) return []
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((text) => {
      if (text.includes('/')) {
        try {
          return { range: ipaddr.parseCIDR(text), text }
        } catch {
          throw new AllowListError(`'${text}' is not a CIDR range such as 10.20.0.0/16`)
        }
      }
      if (ipaddr.isValid(text)) {
        const address = ipaddr.parse(text)
        return { range: [address, address.kind() === 'ipv4' ? 32 : 128] as AllowEntry['range'], text }
      }
      let url: URL
      try {
        url = new URL(`http://${text}`)
      } catch {
        throw new AllowListError(`'${text}' is not a host[:port] or CIDR range`)
      }
      if (url.pathname !== '/' || url.username || url.search || url.hash) throw new AllowListError(`'${text}' is not a host[:port] or CIDR range`)
      return { host: bare(url.hostname), ...(url.port !== '' && { port: Number(url.port) }), text }
    })
}

const bare = (hostname: string) => hostname.replace(/^\[|\]$/g, '').toLowerCase()
const defaultPort = (url: URL) => (url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80)

/** Why an address is not a public one, or undefined when it is. */
export function nonPublicReason(address: string): string | undefined {
  const range = nonPublicRange(address)
  if (range === undefined) return undefined
  return NON_PUBLIC_RANGE_NAMES[range] ?? `a reserved address (${range})`
}

/** The ipaddr.js range of an address that is not a public one (loopback, private, linkLocal…), or undefined. */
function nonPublicRange(address: string): string | undefined {
  let ip = ipaddr.parse(address)
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address()
  const range = ip.range()
  return range === 'unicast' ? undefined : range
}

/** A webhook target that the policy refuses (the API answers 400 with the message). */
export class UrlPolicyError extends Error {
  constructor(
    message: string,
    /** What the message says, for a page to word in its language. */
    readonly words?: Words,
  ) {
    super(message)
  }
}

export interface UrlPolicyOptions {
  allow?: readonly AllowEntry[]
  /** Tests: stands in for DNS. */
  lookup?: typeof dnsLookup
}

export function createUrlPolicy(options: UrlPolicyOptions = {}) {
  const allow = options.allow ?? []
  const resolve = options.lookup ?? dnsLookup

  const hostAllowed = (host: string, port: number) => allow.some((e) => e.host === host && (e.port === undefined || e.port === port))

  /** Why connecting to `address` for a URL naming host:port is refused, or undefined. */
  function refusal(host: string, port: number, address: string): UrlPolicyError | undefined {
    if (hostAllowed(host, port)) return undefined
    const ip = ipaddr.parse(address)
    if (allow.some((e) => e.range && e.range[0].kind() === ip.kind() && ip.match(e.range))) return undefined
    // An IPv4-mapped IPv6 address is checked (and allowed) as the IPv4 address it is.
    if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) {
      const v4 = (ip as ipaddr.IPv6).toIPv4Address()
      if (allow.some((e) => e.range && e.range[0].kind() === 'ipv4' && v4.match(e.range))) return undefined
    }
    const reason = nonPublicReason(address)
    if (!reason) return undefined
    const named = host === address ? address : `${host} (${address})`
    return new UrlPolicyError(`webhook URL refused: ${named} is ${reason}; add it to NOTIFY_WEBHOOK_ALLOW to permit it`, words('url-refused', { named, range: nonPublicRange(address) }))
  }

  function parse(raw: string): URL {
    let url: URL
    try {
      url = new URL(raw)
    } catch {
      throw new UrlPolicyError(`url must be an http(s) URL, got '${raw}'`, words('webhook-url', { url: raw }))
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UrlPolicyError(`url must be an http(s) URL, got '${raw}'`, words('webhook-url', { url: raw }))
    return url
  }

  function resolveAll(host: string): Promise<LookupAddress[]> {
    return new Promise((done, fail) => resolve(host, { all: true, verbatim: true }, (err, addresses) => (err ? fail(err) : done(addresses))))
  }

  return {
    /** For a contact point being made or changed: every address the host resolves to now must pass. */
    async check(raw: string): Promise<void> {
      const url = parse(raw)
      const host = bare(url.hostname)
      const port = defaultPort(url)
      if (hostAllowed(host, port)) return
      let addresses: LookupAddress[]
      if (ipaddr.isValid(host)) addresses = [{ address: host, family: ipaddr.parse(host).kind() === 'ipv4' ? 4 : 6 }]
      else {
        try {
          addresses = await resolveAll(host)
        } catch (err) {
          const cause = (err as NodeJS.ErrnoException).code ?? (err as Error).message
          throw new UrlPolicyError(`webhook URL refused: its host ${host} could not be resolved (${cause})`, words('url-unresolved', { host, cause }))
        }
      }
      for (const { address } of addresses) {
        const why = refusal(host, port, address)
        if (why) throw why
      }
    },

    /**
     * For one delivery: throws when the URL names a refused address itself; otherwise answers the
     * `lookup` for http.request, which refuses (ERR_WEBHOOK_REFUSED) any resolved address that
     * does not pass, so the connection only ever goes to an address that was checked.
     */
    forRequest(raw: string): { url: URL; lookup: LookupFunction } {
      const url = parse(raw)
      const host = bare(url.hostname)
      const port = defaultPort(url)
      // Node connects to an address literal without calling lookup: check it here.
      if (ipaddr.isValid(host)) {
        const why = refusal(host, port, host)
        if (why) throw why
      }
      const lookup = ((hostname: string, opts: { all?: boolean; family?: number }, callback: (...args: unknown[]) => void) => {
        resolve(hostname, { ...opts, all: true, verbatim: true } as never, (err, addresses: LookupAddress[]) => {
          if (err) return callback(err)
          if (addresses.length === 0) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }))
          for (const { address } of addresses) {
            const why = refusal(host, port, address)
            if (why) return callback(Object.assign(why, { code: 'ERR_WEBHOOK_REFUSED' }))
          }
          if (opts.all) callback(null, addresses)
          else callback(null, addresses[0]!.address, addresses[0]!.family)
        })
      }) as unknown as LookupFunction
      return { url, lookup }
    },
  }
}

export type UrlPolicy = ReturnType<typeof createUrlPolicy>
