import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from './config.ts'

describe('TRUST_PROXY', () => {
  it('is off by default and takes addresses and networks, IPv4 and IPv6', () => {
    expect(loadConfig({}).trustProxy).toBeUndefined()
    expect(loadConfig({ TRUST_PROXY: '10.0.0.5, 10.0.1.0/24,::1,fd00::/8' }).trustProxy).toEqual(['10.0.0.5', '10.0.1.0/24', '::1', 'fd00::/8'])
  })

  it('refuses what is not an address or a network, naming the variable', () => {
    for (const bad of ['true', 'haproxy.internal', '10.0.0.5/33', '10.0.0.0/8/1', '10.0.0.5,', '::1/129']) {
      expect(() => loadConfig({ TRUST_PROXY: bad }), bad).toThrow(ConfigError)
      expect(() => loadConfig({ TRUST_PROXY: bad }), bad).toThrow(/^TRUST_PROXY must list proxy addresses/)
    }
  })
})
