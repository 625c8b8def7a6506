import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from './config.ts'

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
