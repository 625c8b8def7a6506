import pg from 'pg'
import { afterEach, beforeEach, describe, expect, inject, it, vi } from 'vitest'
import { createDatabase } from '../testkit/postgres.ts'
import { createLeadership, type Leadership } from './leader.ts'

/** Nodes are leaderships over their own sessions to one real PostgreSQL database. */

const KEY = 4_242
const WAIT = { timeout: 20_000, interval: 50 }

describe('leadership by advisory lock', () => {
  let url: string
  let admin: pg.Client
  const nodes: { name: string; leadership: Leadership; changes: boolean[] }[] = []

  beforeEach(async () => {
    url = await createDatabase(inject('postgresUrl'))
    admin = new pg.Client({ connectionString: url })
    await admin.connect()
  })
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.leadership.close()
    await admin.end()
  })

  function node(name: string, key = KEY) {
    const changes: boolean[] = []
    const leadership = createLeadership({
      key,
      retryMs: 100,
      async connect() {
        const client = new pg.Client({ connectionString: url, application_name: `leader-${name}` })
        await client.connect()
        return client
      },
      onChange: (leading) => changes.push(leading),
    })
    const n = { name, leadership, changes }
    nodes.push(n)
    return n
  }
  const leaders = () => nodes.filter((n) => n.leadership.isLeader()).map((n) => n.name)

  it('gives the lead to exactly one node, and moves it when the leader’s session ends or it stops', async () => {
    const a = node('a')
    await a.leadership.ready()
    const b = node('b')
    const c = node('c')
    await Promise.all([b.leadership.ready(), c.leadership.ready()])
    expect(leaders()).toEqual(['a'])
    expect(a.changes).toEqual([true])

    // The leader's session ends under it (as when its node dies): it steps down, and one node
    // leads again — any of the three, the old one too once back on a new session.
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'leader-a'")
    await vi.waitFor(() => expect(a.changes.slice(0, 2)).toEqual([true, false]), WAIT)
    await vi.waitFor(() => expect(leaders()).toHaveLength(1), WAIT)
    const second = leaders()[0]!
    await Promise.all(nodes.map((n) => n.leadership.ready()))
    expect(leaders()).toEqual([second])

    // The leader stops: it unlocks, and one of the others leads.
    const stopping = nodes.find((n) => n.name === second)!
    await stopping.leadership.close()
    expect(stopping.changes.at(-1)).toBe(false)
    await vi.waitFor(() => expect(leaders()).toHaveLength(1), WAIT)
    expect(leaders()[0]).not.toBe(second)
  })

  it('keeps separate keys apart', async () => {
    const a = node('a', 1)
    const b = node('b', 2)
    await Promise.all([a.leadership.ready(), b.leadership.ready()])
    expect(leaders().sort()).toEqual(['a', 'b'])
  })
})
