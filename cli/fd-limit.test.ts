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
})
