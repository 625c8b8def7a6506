import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import Type, { type Static } from 'typebox'
import { DEVICE_TYPES, isDeviceType, type DeviceType } from '../../../devices/kinds.ts'
import { cityIds, findCity, isInRegion } from '../../../devices/region.ts'
import { DEVICE_ID_PATTERN, RegistryError, type Device, type NewDevice, type Registry } from '../../../devices/registry.ts'
import { created, type AuditLog } from '../identity/audit.ts'
import { SECURED, type Auth } from '../identity/auth.ts'
import { distanceKm, CITY_RADIUS_KM } from '../../../devices/region.ts'
import { toCsv } from '../../shared/csv.ts'
import { CsvError, detectSeparator, parseCsv } from '../http/csv.ts'
import { ApiError, badRequest, errorResponses, forbidden } from '../http/errors.ts'
import { actorOf, registerRefusal, type Actor, type Refusal } from '../identity/permissions.ts'
import { words, WordsSchema, type Words } from '../../shared/words.ts'
import type { Api } from '../http/types.ts'
import { NoQuerySchema } from '../http/validation.ts'
import { AUDITED_DEVICE_FIELDS } from './routes.ts'

/**
 * Bulk registration from a CSV file (Content-Type: text/csv), documented in README.md
 * ("Installers and roles"):
 *
 *   id,type,city,name,lat,lon,interval,meta.serial,meta.mounting_height_m
 *   ,air-quality,firenze,Firenze Gramsci,43.7781,11.2656,60,SN-1001,3.5
 *
 * - `type`, `city` and `name` are required; `id`, `lat`+`lon`, `interval` optional (as in
 *   POST /api/devices); every `meta.<key>` column becomes a metadata entry (empty cells are left
 *   out; whole or decimal numbers and true/false become numbers and booleans, anything else, such
 *   as a serial number with leading zeros, stays text).
 * - A device's identity is its `id` when the row gives one, otherwise (city, type, name), the
 *   name compared without regard to case or surrounding spaces. A row whose device exists already
 *   is reported as `exists` and creates nothing, so importing the same file twice creates every
 *   device once.
 * - `?dryRun=true` checks every row and creates nothing; `?dryRun=false` creates the devices only
 *   when no row has an error (otherwise 400 and nothing is created). Both answer the per-row
 *   report; an import also answers `secretsCsv`, the new devices' MQTT credentials, shown once.
 */

export const MAX_IMPORT_ROWS = 1000
const CORE_COLUMNS = ['id', 'type', 'city', 'name', 'lat', 'lon', 'interval'] as const
const REQUIRED_COLUMNS = ['type', 'city', 'name'] as const
const META_PREFIX = 'meta.'
const DEVICE_ID = new RegExp(DEVICE_ID_PATTERN)
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)$/
const META_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?$/

export const IMPORT_TEMPLATE = toCsv([
  ['id', 'type', 'city', 'name', 'lat', 'lon', 'interval', 'meta.serial', 'meta.mounting_height_m'],
  ['', 'air-quality', 'firenze', 'Firenze Viale Gramsci', 43.7781, 11.2656, 60, 'SN-0001', 3.5],
  ['noise-pisa-lungarno', 'noise', 'pisa', 'Pisa Lungarno Pacinotti', 43.7175, 10.3985, 60, 'SN-0002', 4],
])

const RowReportSchema = Type.Object({
  line: Type.Integer({ description: 'Line in the file (the header is line 1).' }),
  status: Type.Union([Type.Literal('create'), Type.Literal('created'), Type.Literal('exists'), Type.Literal('error')], {
    description: 'create: would be created (dry run); created: was created; exists: already registered, nothing done; error: see errors.',
  }),
  id: Type.Optional(Type.String({ description: 'The id given, the existing device, or the one created.' })),
  type: Type.Optional(Type.String()),
  city: Type.Optional(Type.String()),
  name: Type.Optional(Type.String()),
  errors: Type.Array(Type.String()),
  warnings: Type.Array(Type.String()),
  errorWords: Type.Array(Type.Union([WordsSchema, Type.Null()]), {
    description: 'What each of errors says, in the same order, for a page to word it in its language (shared/words.ts): its code and figures, `column` the column it is about; null when there are none.',
  }),
  warningWords: Type.Array(WordsSchema, { description: 'What each of warnings says, in the same order.' }),
})
type RowReport = Static<typeof RowReportSchema>

export const ImportReportSchema = Type.Object({
  dryRun: Type.Boolean(),
  /** No row has an error. */
  ok: Type.Boolean(),
  summary: Type.Object({ rows: Type.Integer(), create: Type.Integer(), created: Type.Integer(), exists: Type.Integer(), errors: Type.Integer() }),
  rows: Type.Array(RowReportSchema),
  secretsCsv: Type.Optional(
    Type.String({ description: 'After an import: id,type,city,name,username,password,client_id,topic of every device created, CSV (a text cell starting with = + - @ gets a leading \' against spreadsheet formulas, so a password may read \'-…). Shown only this once.' }),
  ),
})
type ImportReport = Static<typeof ImportReportSchema>

const ImportQuerySchema = Type.Object(
  { dryRun: Type.Boolean({ description: 'true: check every row and create nothing; false: create the devices when no row has an error.' }) },
  { additionalProperties: false },
)

interface Plan {
  line: number
  input: NewDevice
  identity: string
}

const identityOf = (city: string, type: string, name: string) => `${city}\n${type}\n${name.trim().toLowerCase()}`

function parseMetaValue(raw: string): string | number | boolean {
  if (META_NUMBER.test(raw)) return Number(raw)
  if (raw === 'true' || raw === 'false') return raw === 'true'
  return raw
}

/** Reads the file and checks every row against the registry and the actor's rights. */
export function checkImport(text: string, actor: Actor, registry: Pick<Registry, 'list' | 'get'>): { rows: RowReport[]; plans: Plan[]; notAllowed: { line: number; refusal: Refusal }[] } {
  /** Rows this user may not register (another city than theirs): the import is refused with 403, not 400. */
  const notAllowed: { line: number; refusal: Refusal }[] = []
  const separator = detectSeparator(text)
  let records
  try {
    records = parseCsv(text, separator)
  } catch (err) {
    if (err instanceof CsvError) throw badRequest(`the CSV cannot be read: ${err.message}`, words(err.problem === 'unclosed-quote' ? 'csv-quote-unclosed' : 'csv-after-quote', { line: err.line }))
    throw err
  }
  records = records.filter((r) => !(r.fields.length === 1 && r.fields[0]!.trim() === ''))
  const header = records.shift()
  if (!header) throw badRequest(`the file is empty: the first line must name the columns, e.g. ${CORE_COLUMNS.join(',')}`, words('csv-empty', { columns: CORE_COLUMNS.join(',') }))
  const columns = header.fields.map((c) => c.trim().toLowerCase().replace(/^meta\./, META_PREFIX))
  // The header's problems by kind, each a list of the columns at fault, said in this order.
  const badMeta: string[] = []
  const unknown: string[] = []
  const twice: string[] = []
  columns.forEach((c, i) => {
    const raw = header.fields[i]!
    if (c.startsWith(META_PREFIX)) {
      const key = raw.trim().slice(META_PREFIX.length)
      if (key.length === 0 || key.length > 64) badMeta.push(raw)
    } else if (!(CORE_COLUMNS as readonly string[]).includes(c)) unknown.push(raw)
    if (columns.indexOf(c) !== i) twice.push(raw)
  })
  const missing = REQUIRED_COLUMNS.filter((c) => !columns.includes(c))
  if (badMeta.length || unknown.length || twice.length || missing.length) {
    const problems = [
      ...badMeta.map((c) => `column '${c}': a metadata key has 1 to 64 characters`),
      ...unknown.map((c) => `unknown column '${c}' (columns: ${CORE_COLUMNS.join(', ')}, and meta.<key> for metadata)`),
      ...twice.map((c) => `column '${c}' appears twice`),
      ...missing.map((c) => `missing column '${c}'`),
    ]
    // Lists of columns go in one param each, a line break between names (a column name has none that matters).
    const list = (names: readonly string[]) => (names.length ? names.join('\n') : undefined)
    throw badRequest(
      `the header (line ${header.line}) is wrong: ${problems.join('; ')}`,
      words('csv-header', { line: header.line, badMeta: list(badMeta), unknown: list(unknown), columns: unknown.length ? CORE_COLUMNS.join(', ') : undefined, twice: list(twice), missing: list(missing) }),
    )
  }
  if (records.length === 0) throw badRequest('the file has a header but no device rows', words('csv-no-rows'))
  if (records.length > MAX_IMPORT_ROWS) {
    throw badRequest(`the file has ${records.length} rows; import at most ${MAX_IMPORT_ROWS} at a time`, words('csv-too-many-rows', { count: records.length, max: MAX_IMPORT_ROWS }))
  }

  const existing = registry.list().items
  const byIdentity = new Map<string, Device>()
  for (const d of existing) if (!byIdentity.has(identityOf(d.city, d.type, d.name))) byIdentity.set(identityOf(d.city, d.type, d.name), d)
  const seenIds = new Map<string, number>()
  const seenIdentities = new Map<string, number>()
  const rows: RowReport[] = []
  const plans: Plan[] = []
  const decimal = (raw: string) => (separator === ';' ? raw.replace(/^([+-]?\d+),(\d+)$/, '$1.$2') : raw)

  for (const record of records) {
    const errors: string[] = []
    const warnings: string[] = []
    const errorWords: (Words | null)[] = []
    const warningWords: Words[] = []
    /** A row error: the column it is about leads the sentence ("city: …") and goes in its words. */
    const fail = (column: string | undefined, message: string, said: Words) => {
      errors.push(column ? `${column}: ${message}` : message)
      errorWords.push(column ? { code: said.code, params: { ...said.params, column } } : said)
    }
    const cell = (name: string) => {
      const i = columns.indexOf(name)
      return i < 0 ? '' : (record.fields[i] ?? '').trim()
    }
    if (record.fields.length !== columns.length) {
      const n = record.fields.length
      fail(undefined, `has ${n} field${n === 1 ? '' : 's'}, the header has ${columns.length}`, words('row-field-count', { fields: n, columns: columns.length }))
    }
    const id = cell('id')
    const typeRaw = cell('type')
    const cityRaw = cell('city')
    const name = cell('name')
    const report: RowReport = { line: record.line, status: 'error', errors, warnings, errorWords, warningWords }
    if (id) report.id = id
    if (name) report.name = name

    if (id && !DEVICE_ID.test(id)) fail('id', `'${id}' must be 3–63 characters of a–z, 0–9 and '-', starting with a letter or digit`, words('row-bad-id', { id }))
    let type: DeviceType | undefined
    const types = DEVICE_TYPES.join(', ')
    if (!typeRaw) fail('type', `missing (one of ${types})`, words('row-missing', { allowed: types }))
    else if (!isDeviceType(typeRaw.toLowerCase())) fail('type', `'${typeRaw}' is not a device type; types: ${types}`, words('row-bad-type', { type: typeRaw, types }))
    else type = typeRaw.toLowerCase() as DeviceType
    if (type) report.type = type
    const city = cityRaw ? findCity(cityRaw) : undefined
    const cities = cityIds.join(', ')
    if (!cityRaw) fail('city', `missing (one of ${cities})`, words('row-missing', { allowed: cities }))
    else if (!city) fail('city', `'${cityRaw}' is not one of ${cities}`, words('row-bad-city', { city: cityRaw, cities }))
    else {
      report.city = city.id
      const refusal = registerRefusal(actor, city.id)
      if (refusal) {
        fail('city', refusal.message, refusal.words)
        notAllowed.push({ line: report.line, refusal })
      }
    }
    if (!name) fail('name', 'missing', words('row-missing'))
    else if (name.length > 120) fail('name', `${name.length} characters, at most 120`, words('row-too-long', { length: name.length, max: 120 }))

    const latRaw = decimal(cell('lat'))
    const lonRaw = decimal(cell('lon'))
    let lat: number | undefined
    let lon: number | undefined
    if (latRaw && !NUMBER.test(latRaw)) fail('lat', `'${latRaw}' is not a number`, words('row-not-a-number', { value: latRaw }))
    else if (latRaw) lat = Number(latRaw)
    if (lonRaw && !NUMBER.test(lonRaw)) fail('lon', `'${lonRaw}' is not a number`, words('row-not-a-number', { value: lonRaw }))
    else if (lonRaw) lon = Number(lonRaw)
    if ((latRaw === '') !== (lonRaw === '')) fail(undefined, 'lat and lon: give both, or neither (the device then stands at the city centre)', words('row-lat-lon-both'))
    else if (lat !== undefined && lon !== undefined) {
      if (!isInRegion(lat, lon)) fail(undefined, `location ${lat}, ${lon} is outside the region`, words('outside-region', { lat, lon }))
      else if (city) {
        const km = distanceKm(lat, lon, city.lat, city.lon)
        if (km > CITY_RADIUS_KM) {
          warnings.push(`location is ${km.toFixed(1)} km from the centre of ${city.name} (more than ${CITY_RADIUS_KM} km)`)
          warningWords.push(words('row-far-from-centre', { km: Number(km.toFixed(1)), city: city.name, radius: CITY_RADIUS_KM }))
        }
      }
    }
    const intervalRaw = cell('interval')
    let interval: number | undefined
    if (intervalRaw) {
      const n = Number(intervalRaw)
      if (!/^\d+$/.test(intervalRaw) || n < 1 || n > 86400) fail('interval', `'${intervalRaw}' must be a whole number of seconds from 1 to 86400`, words('row-bad-interval', { value: intervalRaw }))
      else interval = n
    }
    const metadata: Record<string, string | number | boolean> = {}
    columns.forEach((c, i) => {
      if (!c.startsWith(META_PREFIX)) return
      const raw = (record.fields[i] ?? '').trim()
      if (!raw) return
      const key = header.fields[i]!.trim().slice(META_PREFIX.length)
      if (raw.length > 256) fail(header.fields[i]!.trim(), `${raw.length} characters, at most 256`, words('row-too-long', { length: raw.length, max: 256 }))
      else metadata[key] = parseMetaValue(raw)
    })

    // Identity: the id when given, otherwise (city, type, name).
    const identity = id ? `id\n${id}` : city && type && name ? identityOf(city.id, type, name) : undefined
    if (identity) {
      const earlier = seenIdentities.get(identity)
      if (earlier !== undefined) fail(undefined, `the same device as line ${earlier}`, words('row-same-device', { earlier }))
      else seenIdentities.set(identity, record.line)
    }
    if (id && DEVICE_ID.test(id)) {
      const earlier = seenIds.get(id)
      if (earlier !== undefined && seenIdentities.get(identity!) !== earlier) fail('id', `'${id}' is also on line ${earlier}`, words('row-id-repeated', { id, earlier }))
      seenIds.set(id, record.line)
    }
    let exists: Device | undefined
    if (errors.length === 0 && city && type) {
      if (id) {
        const same = registry.get(id)
        if (same) {
          if (same.type === type && same.city === city.id && same.name.trim().toLowerCase() === name.toLowerCase()) exists = same
          else fail('id', `'${id}' is already used by another device (${same.type} in ${same.city}, '${same.name}')`, words('row-id-taken', { id, type: same.type, city: same.city, name: same.name }))
        }
      } else exists = byIdentity.get(identityOf(city.id, type, name))
    }

    if (errors.length > 0) report.status = 'error'
    else if (exists) {
      report.status = 'exists'
      report.id = exists.id
    } else {
      report.status = 'create'
      const input: NewDevice = { type: type!, city: city!.id, name }
      if (id) input.id = id
      if (lat !== undefined && lon !== undefined) Object.assign(input, { lat, lon })
      if (interval !== undefined) input.interval = interval
      if (Object.keys(metadata).length) input.metadata = metadata
      plans.push({ line: record.line, input, identity: identity! })
    }
    rows.push(report)
  }
  return { rows, plans, notAllowed }
}

function summarise(dryRun: boolean, rows: RowReport[], secretsCsv?: string): ImportReport {
  const count = (status: RowReport['status']) => rows.filter((r) => r.status === status).length
  const summary = { rows: rows.length, create: count('create'), created: count('created'), exists: count('exists'), errors: count('error') }
  const report: ImportReport = { dryRun, ok: summary.errors === 0, summary, rows }
  if (secretsCsv !== undefined) report.secretsCsv = secretsCsv
  return report
}

export interface DeviceImportDeps {
  registry: Registry
  auth: Auth
  audit: AuditLog
  /** The largest CSV accepted, bytes (the API's body limit). */
  bodyLimitBytes: number
}

export function registerDeviceImportRoutes(app: Api, deps: DeviceImportDeps): void {
  const { registry, auth, audit } = deps
  // One import at a time, so two uploads of the same file cannot both create its devices.
  let queue: Promise<unknown> = Promise.resolve()
  const serialised = <T>(work: () => Promise<T>): Promise<T> => {
    const next = queue.then(work, work)
    queue = next.catch(() => {})
    return next
  }

  app.get(
    '/api/devices/import/template',
    {
      onRequest: auth.requireRole('installer', 'admin'),
      schema: {
        tags: ['devices'],
        summary: 'The CSV template for bulk import (installer or admin)',
        security: SECURED,
        querystring: NoQuerySchema,
        produces: ['text/csv'],
        response: { 200: Type.String({ description: 'CSV with the header and two example rows.' }), ...errorResponses(400, 401, 403) },
      },
    },
    async (_request, reply) =>
      reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="piazza-devices-template.csv"').send(IMPORT_TEMPLATE),
  )

  const requireCsv = async (request: FastifyRequest, _reply: FastifyReply) => {
    const type = String(request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
    if (type !== 'text/csv') {
      throw new ApiError(415, 'unsupported-media-type', `send the file as CSV with Content-Type: text/csv${type ? `; got ${type}` : ''}`)
    }
  }

  // The text/csv parser lives in this plugin only: elsewhere the API still takes JSON alone.
  void app.register(async (plugin) => {
    const scope = plugin.withTypeProvider<TypeBoxTypeProvider>()
    scope.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: deps.bodyLimitBytes }, (_request, body, done) => done(null, body))
    scope.post(
      '/api/devices/import',
      {
        onRequest: [auth.requireRole('installer', 'admin'), requireCsv],
        schema: {
          tags: ['devices'],
          summary: 'Register devices from a CSV file, with a dry run (installer or admin)',
          description:
            'Body: CSV (Content-Type: text/csv) with the columns id, type, city, name, lat, lon, interval and meta.<key> (template: GET /api/devices/import/template). A row whose device exists already (same id, or same city, type and name) creates nothing, so the same file can be imported again safely. With dryRun=true nothing is created; with dryRun=false the devices are created only when no row has an error, and their secrets come back once as secretsCsv.',
          security: SECURED,
          consumes: ['text/csv'],
          querystring: ImportQuerySchema,
          body: Type.String({ description: 'The CSV file.' }),
          response: { 200: ImportReportSchema, ...errorResponses(400, 401, 403, 413, 415) },
        },
      },
      async (request) => {
        const actor = actorOf(request)
        const { dryRun } = request.query
        if (dryRun) return summarise(true, checkImport(request.body, actor, registry).rows)
        return serialised(async () => {
          const { rows, plans, notAllowed } = checkImport(request.body, actor, registry)
          const bad = rows.filter((r) => r.status === 'error')
          // Only a matter of permission (the file is otherwise fine): 403, as for one device.
          if (notAllowed.length > 0 && bad.every((r) => r.errors.length === 1 && notAllowed.some((n) => n.line === r.line))) {
            const { line, refusal } = notAllowed[0]!
            throw forbidden(
              `${notAllowed.length} of ${rows.length} rows are in cities you may not register devices in, so nothing was imported (line ${line}: ${refusal.message})`,
              words('import-not-allowed', { ...refusal.words.params, reason: refusal.words.code, count: notAllowed.length, rows: rows.length, line }),
            )
          }
          if (bad.length > 0) {
            const first = bad[0]!
            // Every error of a checked row has words; the first one's go in this one's params.
            const said = first.errorWords[0]
            throw badRequest(
              `${bad.length} of ${rows.length} rows have errors, so nothing was imported (line ${first.line}: ${first.errors[0]}); run with dryRun=true for the full report`,
              said ? words('import-rows-bad', { ...said.params, reason: said.code, count: bad.length, rows: rows.length, line: first.line }) : undefined,
            )
          }
          const secrets: (string | number)[][] = [['id', 'type', 'city', 'name', 'username', 'password', 'client_id', 'topic']]
          const byLine = new Map(rows.map((r) => [r.line, r]))
          for (const plan of plans) {
            const report = byLine.get(plan.line)!
            try {
              const { device, secret } = await registry.add(plan.input, actor.username)
              await audit.record({ actor: actor.username, action: 'device.create', targetType: 'device', target: device.id, changes: created(device, AUDITED_DEVICE_FIELDS), details: { via: 'import', line: plan.line } })
              report.status = 'created'
              report.id = device.id
              secrets.push([device.id, device.type, device.city, device.name, device.id, secret, device.id, `devices/${device.id}/telemetry`])
            } catch (err) {
              if (!(err instanceof RegistryError)) throw err
              report.status = 'error'
              report.errors.push(err.message)
              report.errorWords.push(err.words ?? null)
            }
          }
          request.log.info({ created: secrets.length - 1, rows: rows.length }, 'devices imported')
          return summarise(false, rows, toCsv(secrets))
        })
      },
    )
  })
}
