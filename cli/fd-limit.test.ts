import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { readFdLimits } from './fd-limit.ts'

describe('readFdLimits', () => {
  it('reads the soft and hard open-file limits from /proc/self/limits text', () => {
    const text = 'Limit                     Soft Limit           Hard Limit           Units     \nMax processes             127741               127741               processes \nMax open files            1024                 524288               files     \n'
    expect(readFdLimits(text)).toEqual({ soft: 1024, hard: 524288 })
    expect(readFdLimits('Max open files            unlimited            unlimited            files\n')).toEqual({ soft: Infinity, hard: Infinity })
    expect(readFdLimits('nothing here')).toBeUndefined()
  })

  it.skipIf(process.platform !== 'linux')('reads this process’s limits on Linux', () => {
    const limits = readFdLimits()
    expect(limits!.soft).toBeGreaterThan(0)
    expect(limits!.hard).toBeGreaterThanOrEqual(limits!.soft)
  })

  it.skipIf(process.platform !== 'linux' || !['/usr/bin/prlimit', '/bin/prlimit'].some((p) => existsSync(p)))(
    'relies on node raising its soft limit to the hard one at start-up (why Piazza does not try itself)',
    () => {
      const script = "process.stdout.write(JSON.stringify(require('fs').readFileSync('/proc/self/limits','utf8').match(/Max open files\\s+(\\d+)\\s+(\\d+)/).slice(1)))"
      const out = execFileSync('prlimit', ['--nofile=256:1024', process.execPath, '-e', script], { encoding: 'utf8' })
      expect(JSON.parse(out)).toEqual(['1024', '1024'])
    },
  )
})
