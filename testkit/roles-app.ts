import { expect } from 'vitest'
import type { Device, NewDevice } from '../devices/registry.ts'
import { startTestApp, type TestApp, type TestAppOptions } from './test-app.ts'

/**
 * Fixtures for the installer, user-admin and role tests: the test platform (whose feed the tests
 * publish MQTT-side events on) and one user per role, logged in.
 */

export type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

export const USERS = {
  operator: { username: 'olga', password: 'operator-password', role: 'operator' as const },
  /** Works in Firenze. */
  installer: { username: 'ivan', password: 'installer-password', role: 'installer' as const, cities: ['firenze'] },
  /** No city assignment: only the devices he registered. */
  freelancer: { username: 'fred', password: 'freelancer-password', role: 'installer' as const },
}

export function expectError(response: { statusCode: number; json(): unknown; body?: string }, status: number, code: string, message?: RegExp): Json {
  expect(response.statusCode, response.body).toBe(status)
  const body = response.json() as Json
  expect(Object.keys(body)).toEqual(['error'])
  expect(body.error.status).toBe(status)
  expect(body.error.code).toBe(code)
  if (message) expect(body.error.message).toMatch(message)
  return body
}

/** Registers each device as the admin; answers the registered devices under the same keys. */
export async function registerDevices<K extends string>(app: Pick<TestApp, 'registry'>, inputs: Record<K, NewDevice>): Promise<Record<K, Device>> {
  const devices = {} as Record<K, Device>
  for (const [key, input] of Object.entries(inputs) as [K, NewDevice][]) devices[key] = (await app.registry.add({ ...input }, 'admin')).device
  return devices
}

export interface RolesApp extends TestApp {
  tokens: { admin: string; operator: string; installer: string; freelancer: string }
  as(token: string): { authorization: string }
}

export async function startRolesApp(options: TestAppOptions = {}): Promise<RolesApp> {
  const t = await startTestApp(options)
  for (const user of Object.values(USERS)) await t.accounts.create(user)
  const { ADMIN_PASSWORD } = await import('./test-app.ts')
  const tokens = {
    admin: await t.login('admin', ADMIN_PASSWORD),
    operator: await t.login(USERS.operator.username, USERS.operator.password),
    installer: await t.login(USERS.installer.username, USERS.installer.password),
    freelancer: await t.login(USERS.freelancer.username, USERS.freelancer.password),
  }
  return { ...t, tokens, as: (token: string) => ({ authorization: `Bearer ${token}` }) }
}
