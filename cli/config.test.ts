import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError, DEFAULT_MAP_STYLE_URL, loadConfig } from './config.ts'

describe('REDIS_URL', () => {
  it('is unset by default: a single node', () => {
    expect(loadConfig({}).redisUrl).toBeUndefined()
    expect(loadConfig({ REDIS_URL: '  ' }).redisUrl).toBeUndefined()
  })

  it('takes redis:// and rediss:// URLs', () => {
    expect(loadConfig({ REDIS_URL: 'redis://10.0.0.5:6379' }).redisUrl).toBe('redis://10.0.0.5:6379')
    expect(loadConfig({ REDIS_URL: 'rediss://user:pw@redis.example:6380/0' }).redisUrl).toBe('rediss://user:pw@redis.example:6380/0')
  })

  it('refuses anything else, naming the variable and an example', () => {
    expect(() => loadConfig({ REDIS_URL: 'localhost:6379' })).toThrow(ConfigError)
    expect(() => loadConfig({ REDIS_URL: 'redis.local' })).toThrow("REDIS_URL must be a URL such as redis://127.0.0.1:6379, got 'redis.local'")
    expect(() => loadConfig({ REDIS_URL: 'http://127.0.0.1:6379' })).toThrow("REDIS_URL must use redis: or rediss:, got 'http://127.0.0.1:6379'")
  })
})

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

describe('notification settings (SMTP_*, NOTIFY_*)', () => {
  it('has defaults: no e-mail, no default secret, 30 s window, 5 min interval', () => {
    expect(loadConfig({}).notify).toEqual({
      smtpUrl: undefined,
      smtpFrom: 'Piazza <piazza@localhost>',
      webhookSecret: undefined,
      webhookAllow: [],
      groupWindowMs: 30_000,
      repeatIntervalMs: 300_000,
      retry: { maxAttempts: 6 },
      deliveryLog: 100,
    })
  })

  it('takes them from the environment', () => {
    const notify = loadConfig({
      SMTP_URL: 'smtps://alerts:pw@mail.comune.test:465',
      SMTP_FROM: 'Sala operativa <sala@comune.test>',
      NOTIFY_WEBHOOK_SECRET: 'a-secret-of-16-chars',
      NOTIFY_GROUP_WINDOW_S: '10',
      NOTIFY_REPEAT_INTERVAL_S: '600',
      NOTIFY_MAX_ATTEMPTS: '3',
    }).notify
    expect(notify).toMatchObject({ smtpUrl: 'smtps://alerts:pw@mail.comune.test:465', smtpFrom: 'Sala operativa <sala@comune.test>', webhookSecret: 'a-secret-of-16-chars', groupWindowMs: 10_000, repeatIntervalMs: 600_000, retry: { maxAttempts: 3 } })
    expect(loadConfig({ SMTP_FROM: 'alerts@comune.test' }).notify.smtpFrom).toBe('alerts@comune.test')
    const allow = loadConfig({ NOTIFY_WEBHOOK_ALLOW: 'hooks.internal:8443, 10.20.0.0/16' }).notify.webhookAllow
    expect(allow.map((e) => e.text)).toEqual(['hooks.internal:8443', '10.20.0.0/16'])
    expect(allow[0]).toMatchObject({ host: 'hooks.internal', port: 8443 })
  })

  it('refuses bad values, naming the variable', () => {
    expect(() => loadConfig({ SMTP_URL: 'http://mail.test' })).toThrow("SMTP_URL must use smtp: or smtps:, got 'http://mail.test'")
    expect(() => loadConfig({ SMTP_FROM: 'not an address' })).toThrow(/^SMTP_FROM must be an e-mail address/)
    expect(() => loadConfig({ NOTIFY_WEBHOOK_SECRET: 'short' })).toThrow('NOTIFY_WEBHOOK_SECRET must be at least 16 characters long')
    expect(() => loadConfig({ NOTIFY_MAX_ATTEMPTS: '0' })).toThrow(ConfigError)
    expect(() => loadConfig({ NOTIFY_WEBHOOK_ALLOW: '10.0.0.0/40' })).toThrow("NOTIFY_WEBHOOK_ALLOW: '10.0.0.0/40' is not a CIDR range such as 10.20.0.0/16")
  })
})

describe('base map (MAP_STYLE_URL, MAP_PMTILES_FILE, MAP_ATTRIBUTION)', () => {
  it('defaults to the public street style, which browsers that cannot reach it replace by the outline', () => {
    expect(loadConfig({}).map).toEqual({ styleUrl: DEFAULT_MAP_STYLE_URL, pmtilesFile: undefined, attribution: undefined })
  })

  it('takes a style URL and an extra credit line; none turns the remote style off', () => {
    expect(loadConfig({ MAP_STYLE_URL: 'https://api.maptiler.com/maps/streets/style.json?key=k', MAP_ATTRIBUTION: 'Comune di Firenze' }).map).toEqual({
      styleUrl: 'https://api.maptiler.com/maps/streets/style.json?key=k',
      pmtilesFile: undefined,
      attribution: 'Comune di Firenze',
    })
    expect(loadConfig({ MAP_STYLE_URL: 'none' }).map.styleUrl).toBeUndefined()
    expect(() => loadConfig({ MAP_STYLE_URL: 'ftp://tiles.example/style.json' })).toThrow(/MAP_STYLE_URL must use http: or https:/)
  })

  it('a PMTiles archive replaces the default style (a deliberate, self-hosted choice); an explicit style URL stays first', () => {
    const dir = mkdtempSync(join(tmpdir(), 'piazza-config-map-'))
    try {
      const file = join(dir, 'toscana.pmtiles')
      writeFileSync(file, 'PMTiles')
      expect(loadConfig({ MAP_PMTILES_FILE: file }).map).toEqual({ styleUrl: undefined, pmtilesFile: file, attribution: undefined })
      expect(loadConfig({ MAP_PMTILES_FILE: file, MAP_STYLE_URL: 'https://tiles.example/style.json' }).map.styleUrl).toBe('https://tiles.example/style.json')
      expect(() => loadConfig({ MAP_PMTILES_FILE: join(dir, 'missing.pmtiles') })).toThrow(ConfigError)
      expect(() => loadConfig({ MAP_PMTILES_FILE: join(dir, 'missing.pmtiles') })).toThrow(/MAP_PMTILES_FILE must name a readable PMTiles archive/)
      writeFileSync(join(dir, 'toscana.mbtiles'), 'x')
      expect(() => loadConfig({ MAP_PMTILES_FILE: join(dir, 'toscana.mbtiles') })).toThrow(/MAP_PMTILES_FILE must name a \.pmtiles archive/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
