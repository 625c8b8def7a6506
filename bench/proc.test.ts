import fs from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { syscalls } from './bench.ts'

describe("the bench's /proc readings", () => {
  it("counts a process's read and write system calls", () => {
    const dir = fs.mkdtempSync(join(tmpdir(), 'piazza-proc-'))
    try {
      const fd = fs.openSync(join(dir, 'f'), 'w+')
      const before = syscalls(process.pid)
      for (let i = 0; i < 20; i++) fs.writeSync(fd, 'x')
      for (let i = 0; i < 10; i++) fs.readSync(fd, Buffer.alloc(1), 0, 1, i)
      const after = syscalls(process.pid)
      fs.closeSync(fd)
      expect(after.writes - before.writes).toBeGreaterThanOrEqual(20)
      expect(after.reads - before.reads).toBeGreaterThanOrEqual(10)
      expect(syscalls(-1)).toEqual({ reads: Number.NaN, writes: Number.NaN })
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
