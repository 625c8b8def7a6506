import { describe, expect, it } from 'vitest'
import { createLoginOrder } from './login-order.ts'

const A = '$SYS/node-a/new/clients'
const B = '$SYS/node-b/new/clients'

describe('the order of two logins with one client id on two nodes (node A is this one)', () => {
  it("holds back the other node's announcement heard before ours came back from Redis: ours is newer", () => {
    const order = createLoginOrder()
    order.announced(A, 'dev-1')
    expect(order.heard(B, 'dev-1')).toBe(false)
    expect(order.heard(A, 'dev-1')).toBe(true)
  })

  it("acts on the other node's announcement heard after ours: theirs is newer", () => {
    const order = createLoginOrder()
    order.announced(A, 'dev-1')
    expect(order.heard(A, 'dev-1')).toBe(true)
    expect(order.heard(B, 'dev-1')).toBe(true)
  })

  it('acts on announcements for client ids it holds no login for, and keeps logins apart by id', () => {
    const order = createLoginOrder()
    order.announced(A, 'dev-1')
    expect(order.heard(B, 'dev-2')).toBe(true)
    expect(order.heard(B, 'dev-1')).toBe(false)
  })

  it('forgets a login once its client has gone, and one whose announcement never reached Redis', () => {
    const order = createLoginOrder()
    order.announced(A, 'dev-1')
    order.announced(A, 'dev-2')
    order.left('dev-1')
    order.notAnnounced(A, 'dev-2')
    expect(order.size()).toBe(0)
    expect(order.heard(B, 'dev-1')).toBe(true)
    expect(order.heard(B, 'dev-2')).toBe(true)
  })

  it('treats its logins as heard once it has subscribed again after losing Redis (their echo may be lost)', () => {
    const order = createLoginOrder()
    order.announced(A, 'dev-1')
    order.resubscribed()
    expect(order.heard(B, 'dev-1')).toBe(true)
  })

  it('keeps a login announced again after a local takeover (gone, then announced)', () => {
    const order = createLoginOrder()
    order.announced(A, 'dev-1')
    order.heard(A, 'dev-1')
    order.left('dev-1')
    order.announced(A, 'dev-1')
    expect(order.heard(B, 'dev-1')).toBe(false)
  })
})
