import { describe, expect, it } from 'vitest'
import { dictionaryProblems } from './dictionary-check.ts'

describe('dictionary check', () => {
  it('finds keys missing in a language and empty strings, also from functions', () => {
    expect(dictionaryProblems({ en: { a: 'A', b: { c: 'C' }, f: (n: number) => `${n}` }, it: { a: 'A', b: { c: 'C' }, f: (n: number) => `${n}` } })).toEqual([])
    expect(dictionaryProblems({ en: { a: 'A', b: 'B' }, it: { a: ' ' } })).toEqual(['a [it]: empty', 'b: missing in it'])
    expect(dictionaryProblems({ en: { f: () => 'x' }, it: { f: () => '' } })).toEqual(['f(…) [it]: empty'])
  })
})
