import { existsSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { startChildServer, tempDir } from './child-server.ts'

describe('a test server’s first start', () => {
  it('removes the server’s temp dir when it fails, since the caller gets nothing to close', async () => {
    const dir = tempDir('failing')
    await expect(startChildServer({ name: 'failing', command: '/bin/sh', args: ['-c', 'echo no such config; exit 3'], dir, ready: { what: 'never', probe: async () => false } })).rejects.toThrow(/failing exited \(3\) before never/)
    expect(existsSync(dir)).toBe(false)
  })

  it('leaves a started server to its caller', async () => {
    const dir = tempDir('sleeper')
    const server = await startChildServer({ name: 'sleeper', command: '/bin/sleep', args: ['60'], dir })
    expect(existsSync(dir)).toBe(true)
    await server.close()
    expect(existsSync(dir)).toBe(false)
  })
})
