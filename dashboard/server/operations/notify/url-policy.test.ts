import type { LookupAddress } from 'node:dns'
import { describe, expect, it } from 'vitest'
import { AllowListError, createUrlPolicy, nonPublicReason, parseAllowList, UrlPolicyError, type UrlPolicyOptions } from './url-policy.ts'

/** The webhook URL policy's decisions (what it refuses, what NOTIFY_WEBHOOK_ALLOW lets through); deliveries.test.ts and api.test.ts see it at work over real HTTP. */

const dns = (answers: Record<string, string[]>): UrlPolicyOptions['lookup'] =>
  ((hostname: string, _options: unknown, callback: (err: Error | null, addresses: LookupAddress[]) => void) => {
    const found = answers[hostname]
    if (!found) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), [])
    callback(null, found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })))
  }) as never

describe('addresses', () => {
  it('takes public unicast only', () => {
    expect(nonPublicReason('93.184.216.34')).toBeUndefined()
    expect(nonPublicReason('2606:4700::1')).toBeUndefined()
    expect(nonPublicReason('127.0.0.1')).toBe('a loopback address')
    expect(nonPublicReason('::1')).toBe('a loopback address')
    expect(nonPublicReason('169.254.169.254')).toMatch(/^a link-local address .*169\.254\.169\.254/)
    expect(nonPublicReason('fe80::1')).toMatch(/^a link-local address/)
    expect(nonPublicReason('10.1.2.3')).toBe('a private address')
    expect(nonPublicReason('172.16.0.9')).toBe('a private address')
    expect(nonPublicReason('192.168.1.1')).toBe('a private address')
    expect(nonPublicReason('fd12::1')).toBe('a private (unique local) address')
    expect(nonPublicReason('0.0.0.0')).toBe('the unspecified address')
    expect(nonPublicReason('::')).toBe('the unspecified address')
    expect(nonPublicReason('::ffff:10.0.0.1')).toBe('a private address')
    expect(nonPublicReason('100.64.0.1')).toBe('a carrier-grade NAT address')
    expect(nonPublicReason('224.0.0.1')).toBe('a multicast address')
    expect(nonPublicReason('192.0.2.1')).toBe('a reserved address (reserved)')
  })
})

describe('NOTIFY_WEBHOOK_ALLOW', () => {
  it('reads host[:port], addresses and CIDR ranges; refuses what it cannot read', () => {
    const entries = parseAllowList(' hooks.internal:8443, 10.20.0.0/16 ,127.0.0.1,[::1]:9000,Alerts.Local ')
    expect(entries.map((e) => ({ host: e.host, port: e.port, range: e.range?.map(String) }))).toEqual([
      { host: 'hooks.internal', port: 8443, range: undefined },
      { host: undefined, port: undefined, range: ['10.20.0.0', '16'] },
      { host: undefined, port: undefined, range: ['127.0.0.1', '32'] },
      { host: '::1', port: 9000, range: undefined },
      { host: 'alerts.local', port: undefined, range: undefined },
    ])
    expect(parseAllowList(undefined)).toEqual([])
    expect(() => parseAllowList('10.0.0.0/33')).toThrow(AllowListError)
    expect(() => parseAllowList('hooks.internal/path')).toThrow("'hooks.internal/path' is not a CIDR range")
    expect(() => parseAllowList('http://x:1')).toThrow(AllowListError)
  })
})

describe('checking a URL when a contact point is made', () => {
  const refused = async (policy: ReturnType<typeof createUrlPolicy>, url: string) => {
    const err = await policy.check(url).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err, url).toBeInstanceOf(UrlPolicyError)
    return (err as Error).message
  }

  it('refuses non-public targets by default, naming the host, the address and the reason', async () => {
    const policy = createUrlPolicy({ lookup: dns({ 'metadata.cloud.test': ['169.254.169.254'], 'mixed.city.test': ['93.184.216.34', '10.0.0.5'], 'hooks.city.test': ['93.184.216.34'] }) })
    expect(await refused(policy, 'http://127.0.0.1:8080/hook')).toBe('webhook URL refused: 127.0.0.1 is a loopback address; add it to NOTIFY_WEBHOOK_ALLOW to permit it')
    expect(await refused(policy, 'http://169.254.169.254/latest/meta-data/')).toMatch(/^webhook URL refused: 169\.254\.169\.254 is a link-local address/)
    expect(await refused(policy, 'http://metadata.cloud.test/')).toMatch(/^webhook URL refused: metadata\.cloud\.test \(169\.254\.169\.254\) is a link-local address/)
    // One non-public address among several is enough: the connection could go to any.
    expect(await refused(policy, 'https://mixed.city.test/')).toBe('webhook URL refused: mixed.city.test (10.0.0.5) is a private address; add it to NOTIFY_WEBHOOK_ALLOW to permit it')
    expect(await refused(policy, 'http://[::]/')).toMatch(/^webhook URL refused: :: is the unspecified address/)
    expect(await refused(policy, 'http://[fe80::1]/')).toMatch(/link-local/)
    expect(await refused(policy, 'http://nowhere.city.test/')).toBe('webhook URL refused: its host nowhere.city.test could not be resolved (ENOTFOUND)')
    expect(await refused(policy, 'ftp://hooks.city.test/')).toBe("url must be an http(s) URL, got 'ftp://hooks.city.test/'")
    await expect(policy.check('https://hooks.city.test/piazza')).resolves.toBeUndefined()
  })

  it('lets allowed targets through: a name (on its port only, when one is given) or a range', async () => {
    const policy = createUrlPolicy({
      allow: parseAllowList('hooks.internal:8443,10.20.0.0/16,127.0.0.1'),
      lookup: dns({ 'hooks.internal': ['10.9.9.9'], 'ops.internal': ['10.20.3.4'], 'other.internal': ['10.21.0.1'] }),
    })
    await expect(policy.check('https://hooks.internal:8443/x')).resolves.toBeUndefined()
    expect(await refused(policy, 'https://hooks.internal/x')).toMatch(/hooks\.internal \(10\.9\.9\.9\) is a private address/)
    await expect(policy.check('http://ops.internal/x')).resolves.toBeUndefined()
    expect(await refused(policy, 'http://other.internal/x')).toMatch(/other\.internal \(10\.21\.0\.1\) is a private address/)
    await expect(policy.check('http://127.0.0.1:9/x')).resolves.toBeUndefined()
    await expect(policy.check('http://[::ffff:127.0.0.1]:9/x')).resolves.toBeUndefined()
    expect(await refused(policy, 'http://169.254.169.254/')).toMatch(/link-local/)
  })
})
