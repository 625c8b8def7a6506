import { describe, expect, it } from 'vitest'
import { byName } from './natural-sort.ts'

const s = (name: string, id = name) => ({ name, id })

describe('byName', () => {
  it('puts #2 before #10 and #11 (text order would not)', () => {
    const names = ['Stazione Firenze #10', 'Stazione Firenze #2', 'Stazione Firenze #11', 'Stazione Firenze #1', 'Stazione Firenze #9']
    expect(byName(names.map((n) => s(n)), 'it').map((x) => x.name)).toEqual([
      'Stazione Firenze #1',
      'Stazione Firenze #2',
      'Stazione Firenze #9',
      'Stazione Firenze #10',
      'Stazione Firenze #11',
    ])
    expect([...names].sort()[1]).toBe('Stazione Firenze #10')
  })

  it('folds case and accents, and breaks ties by id', () => {
    expect(byName([s('viale Gramsci', 'b'), s('Àrno', 'c'), s('Viale Gramsci', 'a')], 'it').map((x) => x.id)).toEqual(['c', 'a', 'b'])
  })

  it('leaves its input as it was', () => {
    const input = [s('b'), s('a')]
    byName(input, 'en')
    expect(input.map((x) => x.name)).toEqual(['b', 'a'])
  })
})
