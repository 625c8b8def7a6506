import Type from 'typebox'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { ALERT_WORD_STRINGS } from '../dashboard/app/alerts/words-strings.ts'
import { alertText, ruleText } from '../dashboard/app/alerts/words.ts'
import { ApiError } from '../dashboard/app/api/client.ts'
import { ERROR_STRINGS } from '../dashboard/app/api/error-strings.ts'
import { errorText, rowText } from '../dashboard/app/api/error-text.ts'
import { loginErrorMessage } from '../dashboard/app/auth/LoginPage.tsx'
import { explainValidation } from '../dashboard/server/http/errors.ts'
import { PASSWORD_MAX_LENGTH } from '../dashboard/server/identity/accounts.ts'
import { deviceRefusal, registerRefusal } from '../dashboard/server/identity/permissions.ts'
import { typeboxValidatorCompiler, type ValidationIssue } from '../dashboard/server/http/validation.ts'
import { parseDuration, RuleError, type Rule } from '../dashboard/server/operations/alerts/rules.ts'
import { alertMessage, alertWords, ruleView } from '../dashboard/server/operations/alerts/views.ts'
import { createUrlPolicy, UrlPolicyError } from '../dashboard/server/operations/notify/url-policy.ts'
import type { Words } from '../dashboard/shared/words.ts'
import { registerDevices, startRolesApp, type Json, type RolesApp } from '../testkit/roles-app.ts'
import { startTestApp, type TestApp } from '../testkit/test-app.ts'
import { io as connect, type Socket as ClientSocket } from 'socket.io-client'

/**
 * What the server writes for people — alert messages, rule descriptions, error messages — carries
 * a code and its figures beside the English sentence, and the staff pages word it in their
 * language. Every shape is covered: English worded by the page equals the server's sentence,
 * Italian is its own, with decimal commas; an unknown code shows the server's English.
 */

const rule = (over: Partial<Rule>): Rule => ({
  id: 1,
  name: 'r',
  kind: 'threshold',
  field: 'pm25',
  op: '>',
  threshold: 10,
  deviceId: null,
  type: null,
  city: null,
  window: null,
  aggregate: null,
  minDuration: 0,
  hysteresis: 0,
  severity: 'warning',
  enabled: true,
  createdBy: 'olga',
  createdAt: '2026-12-04T00:00:00.000Z',
  updatedAt: '2026-12-04T00:00:00.000Z',
  ...over,
})

const station = { name: 'Centralina Firenze #9' }
const alertShapes: [string, Rule, number | null, number | undefined][] = [
  ['each reading', rule({}), 12.345, undefined],
  ['each reading, no value', rule({}), null, undefined],
  ...(['mean', 'min', 'max', 'count', 'last'] as const).map((aggregate): [string, Rule, number | null, number | undefined] => [`1 h ${aggregate}`, rule({ window: 3600, aggregate }), 12.3, undefined]),
  ['10 min mean speed below a threshold', rule({ field: 'averageVehicleSpeed', op: '<', threshold: 10.5, window: 600, aggregate: 'mean' }), 8.25, undefined],
  ['a 0–1 field (no unit shown)', rule({ field: 'occupancy', op: '>=', threshold: 0.9 }), 0.934, undefined],
  ['a counted unit', rule({ field: 'intensity', threshold: 1200, window: 86400, aggregate: 'max' }), 1503, undefined],
  ['a derived field (occupancy %)', rule({ field: 'occupancyPercent', threshold: 95 }), 97.5, undefined],
  ['a derived field (delay min)', rule({ field: 'delayMinutes', threshold: 5 }), 6.5, undefined],
  ['a negative threshold', rule({ field: 'temperature', op: '<=', threshold: -2.5 }), -3.25, undefined],
  ['silent, interval 1 min', rule({ kind: 'silent', field: null, op: null, threshold: null }), null, 60],
  ['silent, interval 30 s', rule({ kind: 'silent', field: null, op: null, threshold: null }), null, 30],
  ['silent, interval 1 h', rule({ kind: 'silent', field: null, op: null, threshold: null }), null, 3600],
  ['silent, interval unknown', rule({ kind: 'silent', field: null, op: null, threshold: null }), null, undefined],
]

describe('alert messages in the page’s language', () => {
  it.each(alertShapes)('%s: English as the server says it, Italian its own', (_, r, value, interval) => {
    const alert = { message: alertMessage(r, station, value, interval), messageWords: alertWords(r, station, value, interval) }
    expect(alertText(alert, 'en')).toBe(alert.message)
    const italian = alertText(alert, 'it')
    expect(italian).not.toBe(alert.message)
    expect(italian).not.toMatch(/\b(at|is silent|nothing received|expected|mean|minimum|maximum|count)\b/)
  })

  it('gives figures with a decimal comma, the aggregate and the field in Italian', () => {
    const words = (r: Rule, value: number | null, interval?: number) => alertText({ message: '', messageWords: alertWords(r, station, value, interval) }, 'it')
    expect(words(rule({ window: 3600, aggregate: 'mean' }), 12.345)).toBe('media su 1 h di PM2,5 12,3 µg/m³ > 10 µg/m³ presso Centralina Firenze #9')
    expect(words(rule({ field: 'intensity', threshold: 1200, window: 86400, aggregate: 'max' }), 1503)).toBe('massimo su 1 g di Veicoli nell’intervallo 1503 veicoli > 1200 veicoli presso Centralina Firenze #9')
    expect(words(rule({ field: 'delayMinutes', threshold: 5 }), 6.5)).toBe('Ritardo 6,5 min > 5 min presso Centralina Firenze #9')
    expect(words(rule({ kind: 'silent' }), null, 60)).toBe('Centralina Firenze #9 è silente: nessuna lettura da più di 5 min (prevista ogni 1 min)')
    expect(words(rule({ kind: 'silent' }), null)).toBe('Centralina Firenze #9 è silente: nessuna lettura da più di 5 intervalli di trasmissione')
  })

  it('shows the server’s English for an alert stored before words were kept, or a code unknown here', () => {
    expect(alertText({ message: 'PM2.5 12 µg/m³ > 10 µg/m³ at X', messageWords: null }, 'it')).toBe('PM2.5 12 µg/m³ > 10 µg/m³ at X')
    expect(alertText({ message: 'PM2.5 12 µg/m³ > 10 µg/m³ at X' }, 'it')).toBe('PM2.5 12 µg/m³ > 10 µg/m³ at X')
    expect(alertText({ message: 'a newer sentence', messageWords: { code: 'something-new', params: {} } }, 'it')).toBe('a newer sentence')
  })
})

const ruleShapes: [string, Rule][] = [
  ['each reading, every device', rule({})],
  ...(['mean', 'min', 'max', 'count', 'last'] as const).map((aggregate): [string, Rule] => [`1 h ${aggregate}`, rule({ window: 3600, aggregate })]),
  ['lasting, type in a city', rule({ field: 'averageVehicleSpeed', op: '<', threshold: 10.5, window: 600, aggregate: 'mean', minDuration: 300, type: 'traffic-counter', city: 'firenze' })],
  ['one device', rule({ deviceId: 'aq-firenze-1', type: 'air-quality' })],
  ['a 0–1 field', rule({ field: 'occupancy', op: '>=', threshold: 0.9 })],
  ['a derived field', rule({ field: 'occupancyPercent', threshold: 95, city: 'pisa' })],
  ['silent, everything', rule({ kind: 'silent', field: null, op: null, threshold: null })],
  ['silent for 10 min, a type in a city', rule({ kind: 'silent', field: null, op: null, threshold: null, minDuration: 600, type: 'bus', city: 'firenze' })],
  ['silent, one device', rule({ kind: 'silent', field: null, op: null, threshold: null, deviceId: 'bus-firenze-1' })],
]

describe('rule descriptions in the page’s language', () => {
  it.each(ruleShapes)('%s: English as the server says it, Italian its own', (_, r) => {
    const view = ruleView(r)
    expect(ruleText(view, 'en')).toBe(view.description)
    const italian = ruleText(view, 'it')
    expect(italian).not.toBe(view.description)
    expect(italian).not.toMatch(/\b(of|for|in|all devices|device|Silent|mean|minimum|maximum|count)\b/)
  })

  it('words the scope, the window and the figures in Italian', () => {
    const [, slow] = ruleShapes.find(([name]) => name.startsWith('lasting'))!
    expect(ruleText(ruleView(slow), 'it')).toBe('media su 10 min di Velocità media < 10,5 km/h per 5 min: contatori di traffico a Firenze')
    const [, silent] = ruleShapes.find(([name]) => name.startsWith('silent for'))!
    expect(ruleText(ruleView(silent), 'it')).toBe('Silente per 10 min: localizzatori autobus a Firenze')
  })

  it('shows the server’s English for a code unknown here', () => {
    expect(ruleText({ description: 'a newer rule', descriptionWords: { code: 'something-new', params: {} } }, 'it')).toBe('a newer rule')
  })
})

// ------------------------------------------------------------------------------------------ errors

/** English worded by the page equals the server's message; Italian is different. Returns the code. */
function expectWorded(error: { message: string; status?: number; code?: string; words?: Words }): string {
  expect(error.words, error.message).toBeDefined()
  const e = new ApiError(error.message, error.status ?? 400, error.code ?? 'validation', undefined, error.words)
  expect(errorText(e, 'en')).toBe(error.message)
  const italian = errorText(e, 'it')
  expect(italian, error.message).not.toBe(error.message)
  expect(italian).not.toMatch(/\b(must|unknown|missing|give|got|cannot|already|refused|needs?)\b/)
  return error.words!.code
}

const reached = new Set<string>()

/** A CSV import row's error or warning: as expectWorded, worded with its column first. Returns the code. */
function expectRowWorded(message: string, words: Words | null | undefined): string {
  expect(words, message).toBeTruthy()
  expect(rowText(message, words, 'en')).toBe(message)
  const italian = rowText(message, words, 'it')
  expect(italian, message).not.toBe(message)
  expect(italian).not.toMatch(/\b(must|unknown|missing|give|got|cannot|already|refused|needs?|not|one of|line|also|location)\b/)
  return words!.code
}

describe('validation errors in the page’s language', () => {
  const Body = Type.Object(
    {
      name: Type.String({ minLength: 2, maxLength: 5 }),
      kind: Type.Optional(Type.Enum(['threshold', 'silent'])),
      threshold: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
      above: Type.Optional(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 10 })),
      count: Type.Optional(Type.Integer()),
      id: Type.Optional(Type.String({ pattern: '^[a-z]+$' })),
      window: Type.Optional(Type.Union([Type.Integer(), Type.String()])),
      mode: Type.Optional(Type.Union([Type.Literal('a'), Type.Literal('b')])),
      exactly: Type.Optional(Type.Literal(7)),
      tags: Type.Optional(Type.Array(Type.String(), { minItems: 1, maxItems: 2 })),
      email: Type.Optional(Type.String({ format: 'email' })),
      scope: Type.Optional(Type.Object({ city: Type.Optional(Type.String()) }, { additionalProperties: false, minProperties: 1 })),
    },
    { additionalProperties: false },
  )
  const check = typeboxValidatorCompiler({ schema: Body, httpPart: 'body', method: 'POST', url: '/' } as never) as (input: unknown) => { error?: unknown }
  const cases: [string, unknown, string][] = [
    ['an unknown field', { name: 'abc', colour: 'red' }, 'unknown-field'],
    ['an unknown field inside', { name: 'abc', scope: { town: 'x' } }, 'unknown-field'],
    ['a missing field', {}, 'required'],
    ['not one of', { name: 'abc', kind: 'loud' }, 'one-of'],
    ['not one of the literals', { name: 'abc', mode: 'c' }, 'one-of'],
    ['the wrong type', { name: 'abc', count: 'x' }, 'type'],
    ['neither type of a union', { name: 'abc', window: true }, 'type'],
    ['not the constant', { name: 'abc', exactly: 8 }, 'const'],
    ['not the pattern', { name: 'abc', id: 'A1' }, 'pattern'],
    ['too short', { name: 'a' }, 'minLength'],
    ['too long', { name: 'abcdefg' }, 'maxLength'],
    ['below the minimum', { name: 'abc', threshold: -1.5 }, 'minimum'],
    ['above the maximum', { name: 'abc', threshold: 100.5 }, 'maximum'],
    ['not above', { name: 'abc', above: 0 }, 'exclusiveMinimum'],
    ['not below', { name: 'abc', above: 10 }, 'exclusiveMaximum'],
    ['too few items', { name: 'abc', tags: [] }, 'minItems'],
    ['too many items', { name: 'abc', tags: ['a', 'b', 'c'] }, 'maxItems'],
    ['not the format', { name: 'abc', email: 'nope' }, 'format'],
    ['another keyword', { name: 'abc', scope: {} }, 'invalid'],
  ]
  it.each(cases)('%s', (_, input, code) => {
    const issues = check(input).error as unknown as ValidationIssue[]
    expect(issues).toBeDefined()
    const { message, words } = explainValidation(issues, 'body')
    expect(expectWorded({ message, words })).toBe(code)
    reached.add(code)
  })

  it('words query parameters and the whole request too', () => {
    const Query = Type.Object({ from: Type.Optional(Type.String({ maxLength: 3 })) }, { additionalProperties: false })
    const query = typeboxValidatorCompiler({ schema: Query, httpPart: 'querystring', method: 'GET', url: '/' } as never) as (input: unknown) => { error?: unknown }
    const extra = explainValidation(query({ to: 'x' }).error as unknown as ValidationIssue[], 'querystring')
    expect(extra.message).toBe("unknown query parameter 'to' (allowed: from)")
    expect(errorText(new ApiError(extra.message, 400, 'validation', undefined, extra.words), 'it')).toBe("parametro 'to' non previsto (ammessi: from)")
    const header = explainValidation([{ keyword: 'additionalProperties', instancePath: '', params: { additionalProperty: 'x-colour', additionalProperties: 'x-colour' }, message: '', data: {} } as never], 'headers')
    expect(header.message).toBe("unknown header 'x-colour'")
    expect(errorText(new ApiError(header.message, 400, 'validation', undefined, header.words), 'it')).toBe("intestazione 'x-colour' non prevista")
    const required = explainValidation([{ keyword: 'required', instancePath: '', params: { missingProperty: 'x-token' }, message: '', data: {} } as never], 'headers')
    expect(errorText(new ApiError(required.message, 400, 'validation', undefined, required.words), 'it')).toBe("manca l’intestazione obbligatoria 'x-token'")
    const nothing = explainValidation([], 'body')
    expect(expectWorded(nothing)).toBe('invalid-request')
    reached.add('invalid-request')
  })

  it('gives limits with a decimal comma in Italian', () => {
    const issues = check({ name: 'abc', threshold: 100.5 }).error as unknown as ValidationIssue[]
    const { message, words } = explainValidation(issues, 'body')
    expect(errorText(new ApiError(message, 400, 'validation', undefined, words), 'it')).toBe("campo 'threshold' deve essere al massimo 100; ricevuto 100.5")
  })
})

describe('the API’s errors in the page’s language', () => {
  let t: RolesApp
  beforeAll(async () => {
    t = await startRolesApp({ deps: { operations: { alerts: { tickMs: 20 }, states: { pushMs: 20, checkMs: 50 } } } })
    const devices = await registerDevices(t, {
      aq: { id: 'aq-firenze-words', type: 'air-quality', city: 'firenze', name: 'Viale Gramsci' },
      gone: { id: 'aq-firenze-gone', type: 'air-quality', city: 'firenze', name: 'Via Dismessa' },
      pisa: { id: 'aq-pisa-words', type: 'air-quality', city: 'pisa', name: 'Piazza dei Miracoli' },
    })
    await t.registry.setStatus(devices.gone.id, 'decommissioned')
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  const send = async (method: 'POST' | 'PATCH' | 'PUT' | 'DELETE' | 'GET', url: string, as: keyof RolesApp['tokens'] | null, payload?: unknown) => {
    const csv = typeof payload === 'string' ? { 'content-type': 'text/csv' } : {}
    const response = await t.app.inject({ method, url, headers: { ...(as ? t.as(t.tokens[as]) : {}), ...csv }, ...(payload === undefined ? {} : { payload: payload as object }) })
    expect(response.statusCode, response.body).toBeGreaterThanOrEqual(400)
    return (response.json() as { error: { status: number; code: string; message: string; words?: Words } }).error
  }

  /** A CSV import by the installer of Firenze. */
  const sendCsv = (csv: string, dryRun: boolean) => send('POST', `/api/devices/import?dryRun=${dryRun}`, 'installer', csv)
  const rule = (over: Json) => ({ name: 'r', field: 'pm25', op: '>', threshold: 10, ...over })
  const cases: [string, () => ReturnType<typeof send>, string][] = [
    ['a rule with a bad duration', () => send('POST', '/api/alert-rules', 'operator', rule({ window: '10x' })), 'type'],
    ['a rule over 30 days', () => send('POST', '/api/alert-rules', 'operator', rule({ window: '31d' })), 'duration-max'],
    ['a rule in an unknown city', () => send('POST', '/api/alert-rules', 'operator', rule({ city: 'atlantis' })), 'unknown-city'],
    ['a rule for no device', () => send('POST', '/api/alert-rules', 'operator', rule({ deviceId: 'aq-nowhere-1' })), 'no-device'],
    ['a rule on a device of another type', () => send('POST', '/api/alert-rules', 'operator', rule({ deviceId: 'aq-firenze-words', type: 'noise' })), 'device-type-mismatch'],
    ['a rule on a device in another city', () => send('POST', '/api/alert-rules', 'operator', rule({ deviceId: 'aq-firenze-words', city: 'pisa' })), 'device-city-mismatch'],
    ['a silent rule with a window', () => send('POST', '/api/alert-rules', 'operator', { name: 's', kind: 'silent', window: 600 }), 'silent-window'],
    ['a threshold rule without a field', () => send('POST', '/api/alert-rules', 'operator', { name: 's', op: '>', threshold: 1 }), 'rule-needs-field'],
    ['a threshold rule without op', () => send('POST', '/api/alert-rules', 'operator', { name: 's', field: 'pm25', threshold: 1 }), 'rule-needs-op'],
    ['a threshold rule without threshold', () => send('POST', '/api/alert-rules', 'operator', { name: 's', field: 'pm25', op: '>' }), 'rule-needs-threshold'],
    ['a field no type has', () => send('POST', '/api/alert-rules', 'operator', rule({ field: 'colour' })), 'no-such-field'],
    ['a field the type lacks', () => send('POST', '/api/alert-rules', 'operator', rule({ type: 'noise' })), 'type-lacks-field'],
    ['an aggregate without window', () => send('POST', '/api/alert-rules', 'operator', rule({ aggregate: 'max' })), 'aggregate-needs-window'],
    ['a scope that disagrees', () => send('POST', '/api/alert-rules', 'operator', rule({ city: 'firenze', scope: { city: 'pisa' } })), 'scope-disagrees'],
    ['alerts of an unknown city', () => send('GET', '/api/alerts?city=atlantis', 'operator'), 'unknown-city'],
    ['no such alert', () => send('GET', '/api/alerts/999999/timeline', 'operator'), 'no-alert'],
    ['acknowledging no such alert', () => send('POST', '/api/alerts/999999/ack', 'operator', {}), 'no-alert'],
    ['changing no such rule', () => send('PATCH', '/api/alert-rules/999999', 'operator', { name: 'x' }), 'no-rule'],
    ['the audit log from after to', () => send('GET', '/api/audit?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z', 'admin'), 'from-after-to'],
    ['the audit log from a bad time', () => send('GET', '/api/audit?from=yesterday', 'admin'), 'bad-query-time'],
    ['a silence with a bad start', () => send('POST', '/api/alert-silences', 'operator', { city: 'firenze', reason: 'works', startsAt: 'tomorrow', duration: '1h' }), 'bad-time'],
    ['a silence matching nothing', () => send('POST', '/api/alert-silences', 'operator', { reason: 'works', duration: '1h' }), 'silence-needs-matcher'],
    ['a silence of no rule', () => send('POST', '/api/alert-silences', 'operator', { ruleId: 999999, reason: 'works', duration: '1h' }), 'no-rule'],
    ['a silence of no device', () => send('POST', '/api/alert-silences', 'operator', { deviceId: 'aq-nowhere-1', reason: 'works', duration: '1h' }), 'no-device'],
    ['a silence of an unknown city', () => send('POST', '/api/alert-silences', 'operator', { city: 'atlantis', reason: 'works', duration: '1h' }), 'unknown-city'],
    ['a silence without reason', () => send('POST', '/api/alert-silences', 'operator', { city: 'firenze', reason: '  ', duration: '1h' }), 'silence-needs-reason'],
    ['a silence without end', () => send('POST', '/api/alert-silences', 'operator', { city: 'firenze', reason: 'works' }), 'silence-needs-end'],
    ['a silence in the past', () => send('POST', '/api/alert-silences', 'operator', { city: 'firenze', reason: 'works', endsAt: '2020-01-01T00:00:00Z' }), 'silence-ends-past'],
    ['a silence ending before it starts', () => send('POST', '/api/alert-silences', 'operator', { city: 'firenze', reason: 'works', startsAt: '2099-01-02T00:00:00Z', endsAt: '2099-01-01T00:00:00Z' }), 'silence-ends-before-start'],
    ['a silence too long', () => send('POST', '/api/alert-silences', 'operator', { city: 'firenze', reason: 'works', startsAt: '2099-01-01T00:00:00Z', endsAt: '2099-03-01T00:00:00Z' }), 'silence-too-long'],
    ['a silence with a bad duration', () => send('POST', '/api/alert-silences', 'operator', { city: 'firenze', reason: 'works', duration: '99999999' }), 'type'],
    ['no such silence', () => send('DELETE', '/api/alert-silences/999999', 'operator'), 'no-silence'],
    ['a webhook with a user in its URL', () => send('POST', '/api/contact-points', 'admin', { kind: 'webhook', name: 'w', url: 'https://me:pw@example.org/hook', secret: 'a-secret-of-16-chars' }), 'webhook-url-credentials'],
    ['a webhook to a loopback address', () => send('POST', '/api/contact-points', 'admin', { kind: 'webhook', name: 'w', url: 'http://127.0.0.1:9/hook', secret: 'a-secret-of-16-chars' }), 'url-refused'],
    ['a webhook to a private address', () => send('POST', '/api/contact-points', 'admin', { kind: 'webhook', name: 'w', url: 'http://10.1.2.3/hook', secret: 'a-secret-of-16-chars' }), 'url-refused'],
    ['a webhook without a secret (none set on the server)', () => send('POST', '/api/contact-points', 'admin', { kind: 'webhook', name: 'w', url: 'https://example.org/hook' }), 'webhook-needs-secret'],
    ['e-mail without SMTP', () => send('POST', '/api/contact-points', 'admin', { kind: 'email', name: 'e', addresses: ['ops@example.org'] }), 'email-not-configured'],
    ['no such contact point', () => send('PATCH', '/api/contact-points/999999', 'admin', { name: 'x' }), 'no-contact-point'],
    ['a short password', () => send('POST', '/api/users', 'admin', { username: 'newbie', password: 'short', role: 'operator' }), 'minLength'],
    ['an unknown user', () => send('PATCH', '/api/users/nobody-here', 'admin', { disabled: true }), 'no-user'],
    ['an empty user change', () => send('PATCH', '/api/users/olga', 'admin', {}), 'user-patch-empty'],
    ['a user that exists', () => send('POST', '/api/users', 'admin', { username: 'olga', password: 'a-long-enough-password', role: 'operator' }), 'user-exists'],
    ['disabling oneself', () => send('PATCH', '/api/users/admin', 'admin', { disabled: true }), 'disable-self'],
    ['a blank password', () => send('PATCH', '/api/users/olga', 'admin', { password: '            ' }), 'blank-password'],
    ['a wrong password', () => send('POST', '/api/auth/login', null, { username: 'olga', password: 'not-her-password' }), 'login-failed'],
    ['a device in an unknown city', () => send('POST', '/api/devices', 'admin', { type: 'air-quality', city: 'atlantis', name: 'x', lat: 43.77, lon: 11.25 }), 'unknown-city'],
    ['a device outside the region', () => send('POST', '/api/devices', 'admin', { type: 'air-quality', city: 'firenze', name: 'x', lat: 45.46, lon: 9.19 }), 'outside-region'],
    ['a device with one coordinate', () => send('PATCH', '/api/devices/aq-firenze-words', 'admin', { lat: 43.78 }), 'lat-lon-both'],
    ['an empty device change', () => send('PATCH', '/api/devices/aq-firenze-words', 'admin', {}), 'device-patch-empty'],
    ['a device that exists', () => send('POST', '/api/devices', 'admin', { id: 'aq-firenze-words', type: 'air-quality', city: 'firenze', name: 'x' }), 'device-exists'],
    ['no such device', () => send('GET', '/api/devices/aq-nowhere-1', 'admin'), 'no-device'],
    ['rotating a decommissioned device', () => send('POST', '/api/devices/aq-firenze-gone/rotate', 'admin'), 'cannot-rotate'],
    ['revoking a decommissioned device', () => send('POST', '/api/devices/aq-firenze-gone/revoke', 'admin'), 'decommissioned-already'],
    ['changing a decommissioned device', () => send('PATCH', '/api/devices/aq-firenze-gone', 'admin', { name: 'y' }), 'decommissioned-frozen'],
    ['no session', () => send('GET', '/api/devices', null), 'log-in-first'],
    ['an operator registering a device', () => send('POST', '/api/devices', 'operator', { type: 'air-quality', city: 'firenze', name: 'x' }), 'needs-role'],
    ['an installer registering in another city', () => send('POST', '/api/devices', 'installer', { type: 'air-quality', city: 'pisa', name: 'x' }), 'installer-other-city'],
    ['an installer’s look at a device of another city', () => send('GET', '/api/devices/aq-pisa-words', 'installer'), 'not-your-device'],
    ['an installer without cities on a device not his', () => send('GET', '/api/devices/aq-pisa-words', 'freelancer'), 'not-your-device'],
    ['an installer changing a device of another city', () => send('PATCH', '/api/devices/aq-pisa-words', 'installer', { name: 'y' }), 'not-your-device'],
    ['an empty CSV', () => sendCsv('\n', true), 'csv-empty'],
    ['a CSV quote not closed', () => sendCsv('type,city,name\nnoise,firenze,"Duomo\n', true), 'csv-quote-unclosed'],
    ['a CSV character after a quote', () => sendCsv('type,city,name\nnoise,firenze,"Duomo"x\n', true), 'csv-after-quote'],
    ['a CSV header with every problem', () => sendCsv('type,city,colour,meta.,type\nnoise,firenze,red,1,noise\n', true), 'csv-header'],
    ['a CSV without rows', () => sendCsv('type,city,name\n', true), 'csv-no-rows'],
    ['a CSV of too many rows', () => sendCsv(`type,city,name\n${'noise,firenze,x\n'.repeat(1001)}`, true), 'csv-too-many-rows'],
    ['an import in another city', () => sendCsv('type,city,name\nnoise,pisa,Torre\n', false), 'import-not-allowed'],
    ['an import with a bad row', () => sendCsv('type,city,name\nrocket,firenze,Duomo\n', false), 'import-rows-bad'],
  ]

  it.each(cases)('%s', async (_, request, code) => {
    const error = await request()
    expect(expectWorded(error)).toBe(code)
    reached.add(code)
  })

  it('a device of an unknown type (the registry refuses it below the schema)', async () => {
    const error = await t.registry.add({ type: 'rocket' as never, city: 'firenze', name: 'x' }, 'admin').then(
      () => undefined,
      (e: unknown) => e as { message: string; words?: Words },
    )
    expect(expectWorded(error!)).toBe('unknown-type')
    reached.add('unknown-type')
  })

  it('a comment that is empty, an assignee who is not staff', async () => {
    await t.app.inject({ method: 'POST', url: '/api/alert-rules', headers: t.as(t.tokens.operator), payload: { name: 'words', field: 'pm25', op: '>', threshold: 10, deviceId: 'aq-firenze-words' } })
    const now = Date.now()
    await t.feed.accepted(t.registry.get('aq-firenze-words')!, [{ time: now, values: { pm25: 50 } }], now)
    let alertId: number | undefined
    await expect
      .poll(async () => {
        const list = (await t.app.inject({ method: 'GET', url: '/api/alerts', headers: t.as(t.tokens.operator) })).json() as { items: Json[] }
        alertId = list.items.find((a) => a.deviceId === 'aq-firenze-words')?.id
        return alertId
      })
      .toBeDefined()
    reached.add(expectWorded(await send('POST', `/api/alerts/${alertId}/comments`, 'operator', { text: '   ' })))
    reached.add(expectWorded(await send('PUT', `/api/alerts/${alertId}/assignee`, 'operator', { assignee: 'ivan' })))
    // The timeline's opened event carries the message's words too.
    const timeline = (await t.app.inject({ method: 'GET', url: `/api/alerts/${alertId}/timeline`, headers: t.as(t.tokens.operator) })).json() as { events: Json[] }
    const opened = timeline.events.find((e) => e.kind === 'opened')!
    expect(alertText({ message: opened.text, messageWords: opened.words }, 'en')).toBe(opened.text)
    expect(alertText({ message: opened.text, messageWords: opened.words }, 'it')).toBe('PM2,5 50 µg/m³ > 10 µg/m³ presso Viale Gramsci')
    // The rule deleted resolves it: acknowledging or assigning it now is refused.
    const rules = (await t.app.inject({ method: 'GET', url: '/api/alert-rules', headers: t.as(t.tokens.operator) })).json() as { items: Json[] }
    await t.app.inject({ method: 'DELETE', url: `/api/alert-rules/${rules.items.find((r) => r.name === 'words')!.id}`, headers: t.as(t.tokens.operator) })
    const refusedAck = await send('POST', `/api/alerts/${alertId}/ack`, 'operator', {})
    expect(refusedAck.status).toBe(409)
    reached.add(expectWorded(refusedAck))
    reached.add(expectWorded(await send('PUT', `/api/alerts/${alertId}/assignee`, 'operator', { assignee: 'olga' })))
  })

  it('an ended session, an Authorization header that is not a bearer token', async () => {
    for (const [authorization, code] of [
      ['Bearer not-a-session', 'session-ended'],
      ['Basic b2xnYTpwdw==', 'bearer-header'],
    ]) {
      const response = await t.app.inject({ url: '/api/devices', headers: { authorization } })
      expect(response.statusCode).toBe(401)
      expect(expectWorded((response.json() as { error: { message: string; words?: Words } }).error)).toBe(code)
      reached.add(code!)
    }
  })

  it('the import’s row errors and warnings, each with its column, in both languages', async () => {
    const long = 'n'.repeat(121)
    const csv = [
      'id,type,city,name,lat,lon,interval,meta.serial',
      'Bad Id!,air-quality,firenze,A,,,,', // 2 row-bad-id
      ',,firenze,B,,,,', // 3 row-missing (type)
      ',rocket,firenze,C,,,,', // 4 row-bad-type
      ',air-quality,,D,,,,', // 5 row-missing (city)
      ',air-quality,atlantis,E,,,,', // 6 row-bad-city
      ',air-quality,pisa,F,,,,', // 7 installer-other-city
      ',air-quality,firenze,,,,,', // 8 row-missing (name)
      `,air-quality,firenze,${long},,,,`, // 9 row-too-long
      ',air-quality,firenze,G,abc,11.25,,', // 10 row-not-a-number
      ',air-quality,firenze,H,43.77,,,', // 11 row-lat-lon-both
      ',air-quality,firenze,I,45.46,9.19,,', // 12 outside-region
      ',air-quality,firenze,J,,,0,', // 13 row-bad-interval
      ',air-quality,firenze,K,,,,', // 14
      ',air-quality,firenze,K,,,,', // 15 row-same-device
      'aq-firenze-thrice,air-quality,firenze,L,,,,', // 16
      'aq-firenze-thrice,air-quality,firenze,L,,,,', // 17 row-same-device
      'aq-firenze-thrice,air-quality,firenze,L,,,,', // 18 row-same-device, row-id-repeated
      'aq-firenze-words,noise,firenze,Other,,,,', // 19 row-id-taken
      ',air-quality,firenze,M,,,,,extra', // 20 row-field-count
      `,air-quality,firenze,N,,,,${'x'.repeat(257)}`, // 21 row-too-long (meta.serial)
      ',air-quality,firenze,Lungarno,43.7228,10.4017,,', // 22 row-far-from-centre (a warning)
      '',
    ].join('\n')
    const response = await t.app.inject({ method: 'POST', url: '/api/devices/import?dryRun=true', headers: { ...t.as(t.tokens.installer), 'content-type': 'text/csv' }, payload: csv })
    expect(response.statusCode, response.body).toBe(200)
    const rows = (response.json() as { rows: { line: number; errors: string[]; errorWords: (Words | null)[]; warnings: string[]; warningWords: Words[] }[] }).rows
    const codes: Record<number, string[]> = {}
    for (const row of rows) {
      expect(row.errorWords).toHaveLength(row.errors.length)
      expect(row.warningWords).toHaveLength(row.warnings.length)
      codes[row.line] = [...row.errors.map((e, i) => expectRowWorded(e, row.errorWords[i])), ...row.warnings.map((w, i) => expectRowWorded(w, row.warningWords[i]))]
    }
    expect(codes).toEqual({
      2: ['row-bad-id'],
      3: ['row-missing'],
      4: ['row-bad-type'],
      5: ['row-missing'],
      6: ['row-bad-city'],
      7: ['installer-other-city'],
      8: ['row-missing'],
      9: ['row-too-long'],
      10: ['row-not-a-number'],
      11: ['row-lat-lon-both'],
      12: ['outside-region'],
      13: ['row-bad-interval'],
      14: [],
      15: ['row-same-device'],
      16: [],
      17: ['row-same-device'],
      18: ['row-same-device', 'row-id-repeated'],
      19: ['row-id-taken'],
      20: ['row-field-count'],
      21: ['row-too-long'],
      22: ['row-far-from-centre'],
    })
    for (const code of Object.values(codes).flat()) reached.add(code)
    const italian = (line: number) => {
      const row = rows.find((r) => r.line === line)!
      return [...row.errors.map((e, i) => rowText(e, row.errorWords[i], 'it')), ...row.warnings.map((w, i) => rowText(w, row.warningWords[i], 'it'))]
    }
    expect(italian(7)).toEqual(["city: l’installatore 'ivan' lavora a firenze, non a pisa"])
    expect(italian(8)).toEqual(['name: mancante'])
    expect(italian(21)).toEqual(['meta.serial: 257 caratteri, al massimo 256'])
    expect(italian(22)[0]).toMatch(/^la posizione è a \d+,\d km dal centro di Firenze \(più di 15 km\)$/)
    // A row error the page does not know shows the server's English.
    expect(rowText('a newer row error', { code: 'something-new', params: { column: 'type' } }, 'it')).toBe('a newer row error')
    expect(rowText('a row error without words', null, 'it')).toBe('a row error without words')
  })

  it('the import’s refusals in Italian quote the row’s sentence', async () => {
    const refused = await sendCsv('type,city,name\nnoise,pisa,Torre\n', false)
    expect(refused.status).toBe(403)
    expect(errorText(new ApiError(refused.message, 403, 'forbidden', undefined, refused.words), 'it')).toBe(
      "1 riga su 1 è in città dove non puoi registrare dispositivi, quindi non è stato importato nulla (riga 2: l’installatore 'ivan' lavora a firenze, non a pisa)",
    )
    const bad = await sendCsv('type,city,name\nrocket,firenze,Duomo\n', false)
    expect(errorText(new ApiError(bad.message, 400, 'validation', undefined, bad.words), 'it')).toMatch(/^1 riga su 1 ha errori, quindi non è stato importato nulla \(riga 2: type: 'rocket' non è un tipo di dispositivo; tipi: air-quality, /)
    const header = await sendCsv('type,city,colour,meta.,type\nnoise,firenze,red,1,noise\n', true)
    expect(errorText(new ApiError(header.message, 400, 'validation', undefined, header.words), 'it')).toBe(
      "l’intestazione (riga 1) è errata: colonna 'meta.': una chiave di metadati ha da 1 a 64 caratteri; colonna sconosciuta 'colour' (colonne: id, type, city, name, lat, lon, interval e meta.<chiave> per i metadati); la colonna 'type' compare due volte; manca la colonna 'name'",
    )
  })

  it('refusals only other callers meet: registering or changing a device as an operator (the routes let only installers and admins in)', () => {
    const operator = { username: 'olga', role: 'operator' }
    reached.add(expectWorded({ ...registerRefusal(operator, 'firenze')!, status: 403, code: 'forbidden' }))
    reached.add(expectWorded({ ...deviceRefusal(operator, { id: 'aq-pisa-words', city: 'pisa', createdBy: 'admin' }, 'manage')!, status: 403, code: 'forbidden' }))
  })

  it('the accounts’ own checks, below the schema that stops these requests first', async () => {
    for (const [input, code] of [
      [{ username: 'Not A Name!', password: 'a-long-enough-password', role: 'operator' }, 'bad-username'],
      [{ username: 'rolf', password: 'a-long-enough-password', role: 'boss' }, 'unknown-role'],
      [{ username: 'sam', password: 'short', role: 'operator' }, 'password-short'],
      [{ username: 'lou', password: 'x'.repeat(PASSWORD_MAX_LENGTH + 1), role: 'operator' }, 'password-long'],
    ] as const) {
      const error = await t.accounts.create(input as never).then(
        () => undefined,
        (e: unknown) => e as { message: string; words?: Words },
      )
      expect(error, code).toBeDefined()
      expect(expectWorded(error!)).toBe(code)
      reached.add(code)
    }
    const roleChange = await t.accounts.update('olga', { role: 'boss' as never }).then(
      () => undefined,
      (e: unknown) => e as { message: string; words?: Words },
    )
    expect(expectWorded(roleChange!)).toBe('unknown-role')
  })

  it('too many failed logins', async () => {
    let error: Awaited<ReturnType<typeof send>> | undefined
    for (let i = 0; i < 8 && error?.status !== 429; i++) error = await send('POST', '/api/auth/login', null, { username: 'fred', password: 'not-his-password' })
    expect(error!.status).toBe(429)
    expect(expectWorded(error!)).toBe('login-locked')
    reached.add('login-locked')
  })
})

describe('errors raised below the routes', () => {
  it('the webhook URL policy: a host that does not resolve, a URL that is not http(s)', async () => {
    const policy = createUrlPolicy({ lookup: ((_host: string, _options: unknown, callback: (err: Error) => void) => callback(Object.assign(new Error('nope'), { code: 'ENOTFOUND' }))) as never })
    for (const url of ['https://hooks.invalid/x', 'ftp://example.org/x']) {
      const error = await policy.check(url).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(UrlPolicyError)
      reached.add(expectWorded(error as UrlPolicyError))
    }
  })

  it('a duration the rules cannot read (the schema lets only numbers and such strings through)', () => {
    let error: RuleError | undefined
    try {
      parseDuration('window', '10 minutes')
    } catch (e) {
      error = e as RuleError
    }
    expect(error).toBeInstanceOf(RuleError)
    reached.add(expectWorded(error!))
  })

  it('login refused while password checks are queued full (the server’s fixed sentence)', () => {
    reached.add(expectWorded({ message: 'too many logins at once; try again in a few seconds', status: 503, code: 'unavailable', words: { code: 'login-busy', params: {} } }))
  })
})

describe('contact point edits of the wrong kind (the forms edit within a kind; the API takes any fields)', () => {
  let t: RolesApp
  beforeAll(async () => {
    // E-mail configured (nothing is sent here) and the closed loopback port allowed, so both kinds can be made.
    t = await startRolesApp({ env: { NOTIFY_WEBHOOK_ALLOW: '127.0.0.1:9', SMTP_URL: 'smtp://127.0.0.1:9', SMTP_FROM: 'piazza@example.org' } })
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  it('addresses for a webhook, a URL for an e-mail contact point', async () => {
    const make = async (payload: Json) => {
      const response = await t.app.inject({ method: 'POST', url: '/api/contact-points', headers: t.as(t.tokens.admin), payload })
      expect(response.statusCode, response.body).toBe(201)
      return (response.json() as Json).id as number
    }
    const hook = await make({ kind: 'webhook', name: 'hook', url: 'http://127.0.0.1:9/hook', secret: 'a-secret-of-16-chars-or-more' })
    const mail = await make({ kind: 'email', name: 'mail', addresses: ['ops@example.org'] })
    for (const [id, patch, code] of [
      [hook, { addresses: ['ops@example.org'] }, 'webhook-no-addresses'],
      [mail, { url: 'http://127.0.0.1:9/hook' }, 'email-no-url'],
    ] as const) {
      const response = await t.app.inject({ method: 'PATCH', url: `/api/contact-points/${id}`, headers: t.as(t.tokens.admin), payload: patch })
      expect(response.statusCode, response.body).toBe(400)
      expect(expectWorded((response.json() as { error: { message: string; words?: Words } }).error)).toBe(code)
      reached.add(code)
    }
  })
})

describe('the live stream refusing a handshake', () => {
  let t: TestApp
  let url: string
  const sockets: ClientSocket[] = []
  beforeAll(async () => {
    t = await startTestApp({ realtime: { maxSocketsPerAddress: 1, recheckSessionsMs: 0 } })
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    url = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`
  })
  afterAll(async () => {
    for (const socket of sockets) socket.disconnect()
    await t?.cleanup()
  })
  const refusal = (auth?: Record<string, string>) => {
    const socket = connect(url, { transports: ['websocket'], forceNew: true, reconnection: false, auth })
    sockets.push(socket)
    return new Promise<{ status: number; code: string; message: string; words?: Words } | undefined>((resolve) => {
      socket.once('connect', () => resolve(undefined))
      socket.once('connect_error', (error: Error & { data?: { status: number; code: string; message: string; words?: Words } }) => resolve(error.data))
    })
  }

  it('an unknown token, and more connections from one address than its share', async () => {
    const first = sockets.length
    expect(await refusal()).toBeUndefined()
    const tooMany = (await refusal())!
    expect(tooMany.status).toBe(429)
    reached.add(expectWorded(tooMany))
    sockets[first]!.disconnect()
    // Once the server has seen the first one go, the address has its share again.
    const unknown = await vi.waitFor(async () => {
      const refused = (await refusal({ token: 'forged-token' }))!
      expect(refused.status).toBe(401)
      return refused
    }, { timeout: 10_000, interval: 50 })
    reached.add(expectWorded(unknown))
  })

  it('sessions that cannot be checked (the server’s fixed sentence)', () => {
    reached.add(expectWorded({ message: 'sessions cannot be checked right now; try again', status: 503, code: 'unavailable', words: { code: 'live-sessions-unavailable', params: {} } }))
  })
})

describe('every error code the page words is reached', () => {
  it('(the cases above cover them all)', () => {
    const missing = Object.keys(ERROR_STRINGS.en.errorText).filter((code) => !reached.has(code))
    expect(missing).toEqual([])
  })
})

describe('errors the page words itself', () => {
  it('an unreachable server, a code unknown here, and the login’s retry hint', () => {
    const network = new ApiError('Cannot reach the Piazza server. Check your connection and try again.', 0, 'network')
    expect(errorText(network, 'en')).toBe(network.message)
    expect(errorText(network, 'it')).toBe(ERROR_STRINGS.it.network)
    expect(errorText(new ApiError('a newer refusal', 400, 'validation', undefined, { code: 'something-new', params: {} }), 'it')).toBe('a newer refusal')
    expect(errorText(new ApiError('no words at all', 400, 'validation'), 'it')).toBe('no words at all')
    const locked = new ApiError("too many failed logins for 'fred'; try again in 2 minutes", 429, 'too-many-requests', 120, { code: 'login-locked', params: { scope: 'user', name: 'fred', seconds: 120 } })
    expect(loginErrorMessage(locked, 'it')).toBe("troppi accessi falliti per 'fred'; riprova tra 2 minuti Riprova tra 120 s.")
  })

  it('the dictionaries word every code in both languages', () => {
    expect(Object.keys(ERROR_STRINGS.it.errorText).sort()).toEqual(Object.keys(ERROR_STRINGS.en.errorText).sort())
    expect(Object.keys(ALERT_WORD_STRINGS.it.alertText).sort()).toEqual(Object.keys(ALERT_WORD_STRINGS.en.alertText).sort())
    expect(Object.keys(ALERT_WORD_STRINGS.it.ruleText).sort()).toEqual(Object.keys(ALERT_WORD_STRINGS.en.ruleText).sort())
  })
})
