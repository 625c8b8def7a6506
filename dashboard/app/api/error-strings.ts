import { NON_PUBLIC_RANGE_NAMES } from '../../shared/notify.ts'
import type { Words } from '../../shared/words.ts'

/** Figures and times in the page's language, for the server's error sentences (error-text.ts makes them). */
export interface ErrorFormat {
  n(value: string | number | undefined): string
  /** An ISO time as the page shows times (English keeps the server's ISO text). */
  time(iso: string | number | undefined): string
}

type ErrorWords = Record<string, (p: Words['params'], f: ErrorFormat) => string>

/** A column named in the params leads a CSV import row's sentence ("city: …"), in both languages. */
export const columnFirst = (p: Words['params']) => (p.column !== undefined ? `${p.column}: ` : '')
/** The sentence an import refusal quotes (its code in `reason`, its figures beside the refusal's own). */
const quoted = (dictionary: () => ErrorWords) => (p: Words['params'], f: ErrorFormat) => {
  const sentence = dictionary()[String(p.reason)]
  return sentence ? `${columnFirst(p)}${sentence(p, f)}` : String(p.reason)
}
/** The header's column lists (one param per kind of problem, the names a line break apart). */
const names = (value: string | number | undefined) => (value === undefined ? [] : String(value).split('\n'))

// ---------------------------------------------------------------- English: the server's own sentences

const EN_NOUN: Record<string, string> = { querystring: 'query parameter', params: 'path parameter', headers: 'header', body: 'field' }
const enNoun = (p: Words['params']) => EN_NOUN[String(p.context)] ?? 'field'
const enLabel = (context: unknown, path: unknown) =>
  !path ? (context === 'body' ? 'the body' : `the ${context}`) : `${EN_NOUN[String(context)] ?? context} '${path}'`
const enWhere = (p: Words['params']) => enLabel(p.context, p.path)
const article = (noun: string) => (/^[aeiou]/.test(noun) ? `an ${noun}` : `a ${noun}`)
const enGot = (p: Words['params']) => `; got ${p.got}`
const enLimit = (p: Words['params']) => `${enWhere(p)} ${p.message}${enGot(p)}`

const enErrors: ErrorWords = {
  // the request validator (http/errors.ts explainValidation)
  'unknown-field': (p) => `unknown ${enNoun(p)} '${p.name}'${p.inside !== undefined ? ` in ${enLabel(p.context, p.inside)}` : ''}${p.allowed !== undefined ? ` (allowed: ${p.allowed})` : ''}`,
  required: (p) => `missing required ${enNoun(p)} '${p.path}'`,
  'one-of': (p) => `${enWhere(p)} must be one of ${p.allowed}${enGot(p)}`,
  type: (p) => `${enWhere(p)} must be ${String(p.types).split(',').map(article).join(' or ')}${enGot(p)}`,
  const: (p) => `${enWhere(p)} must be ${p.value}${enGot(p)}`,
  pattern: (p) => `${enWhere(p)} must match ${p.pattern}${enGot(p)}`,
  format: (p) => `${enWhere(p)} ${p.message}${enGot(p)}`,
  invalid: (p) => `${enWhere(p)} ${p.message}${enGot(p)}`,
  'invalid-request': (p) => `the ${p.context} is invalid`,
  minLength: enLimit,
  maxLength: enLimit,
  minimum: enLimit,
  maximum: enLimit,
  exclusiveMinimum: enLimit,
  exclusiveMaximum: enLimit,
  minItems: enLimit,
  maxItems: enLimit,
  // alert rules
  'duration-format': (p) => `${p.name} must be seconds or a duration such as 90s, 10m, 1h; got "${p.value}"`,
  'duration-max': (p) => `${p.name} must be at most 30 days; got "${p.value}"`,
  'unknown-city': (p) => `unknown city '${p.city}'${p.cities !== undefined ? `; cities: ${p.cities}` : ''}`,
  'no-device': (p) => `no device with id '${p.id}'`,
  'device-type-mismatch': (p) => `device '${p.id}' is a ${p.type}, not a ${p.expected}`,
  'device-city-mismatch': (p) => `device '${p.id}' is in ${p.city}, not in ${p.expected}`,
  'silent-window': () => 'a silent rule has no window (use minDuration for how long the device must be silent)',
  'rule-needs-field': () => "missing required field 'field' (a threshold rule watches a field)",
  'rule-needs-op': (p) => `missing required field 'op' (one of ${p.ops})`,
  'rule-needs-threshold': () => "missing required field 'threshold'",
  'no-such-field': (p) => `no device type has a field '${p.field}'; fields: ${p.fields}`,
  'type-lacks-field': (p) => `${p.type} devices have no field '${p.field}'; fields: ${p.fields}`,
  'aggregate-needs-window': () => "'aggregate' needs 'window' (the time to aggregate over)",
  'scope-disagrees': (p) => `'${p.key}' and 'scope.${p.key}' disagree`,
  // alerts, comments, silences
  'bad-time': (p) => `'${p.name}' must be an ISO 8601 time with a time zone (e.g. 2026-12-04T18:00:00Z); got "${p.value}"`,
  'no-alert': (p) => `no alert with id ${p.id}`,
  'resolved-no-ack': (p, f) => `alert ${p.id} was resolved at ${f.time(p.at)}; only open alerts can be acknowledged`,
  'resolved-no-assign': (p, f) => `alert ${p.id} was resolved at ${f.time(p.at)}; only active alerts can be assigned`,
  'empty-comment': () => 'the comment is empty',
  'not-assignable': (p) => `'${p.name}' is not an enabled operator or admin; alerts are assigned to staff (GET /api/alert-assignees)`,
  'silence-needs-matcher': () => 'a silence needs at least one of ruleId, deviceId, city',
  'no-rule': (p) => `no alert rule with id ${p.id}`,
  'silence-needs-reason': () => 'give the reason for the silence',
  'silence-needs-end': () => 'give the end of the silence: endsAt or duration (one of them)',
  'silence-ends-past': (p, f) => `the silence ends in the past (${f.time(p.endsAt)})`,
  'silence-ends-before-start': () => 'the silence must end after it starts',
  'silence-too-long': () => 'a silence lasts at most 30 days',
  'no-silence': (p) => `no silence with id ${p.id}`,
  // the audit log's filter
  'from-after-to': (p, f) => `'from' (${f.time(p.from)}) must be before 'to' (${f.time(p.to)})`,
  'bad-query-time': (p) => `query parameter '${p.name}' must be an ISO 8601 time with a time zone (e.g. 2026-11-26T08:00:00Z) or epoch milliseconds; got "${p.value}"`,
  // contact points and the webhook URL policy
  'webhook-url': (p) => `url must be an http(s) URL, got '${p.url}'`,
  'webhook-url-credentials': () => 'url must not hold a user name or password: the signature authenticates Piazza',
  'webhook-needs-secret': () => 'a webhook needs a secret to sign with: give one (16 characters or more) or set NOTIFY_WEBHOOK_SECRET',
  'email-not-configured': () => 'e-mail is not configured on this server: set SMTP_URL (and SMTP_FROM)',
  'webhook-no-addresses': () => 'addresses apply to e-mail contact points; this one is a webhook',
  'email-no-url': () => 'url and secret apply to webhooks; this one sends e-mail',
  'no-contact-point': (p) => `no contact point with id ${p.id}`,
  'url-refused': (p) => `webhook URL refused: ${p.named} is ${NON_PUBLIC_RANGE_NAMES[String(p.range)] ?? `a reserved address (${p.range})`}; add it to NOTIFY_WEBHOOK_ALLOW to permit it`,
  'url-unresolved': (p) => `webhook URL refused: its host ${p.host} could not be resolved (${p.cause})`,
  // users and logins
  'password-short': (p) => `a password needs at least ${p.min} characters`,
  'password-long': (p) => `a password has at most ${p.max} characters`,
  'bad-username': (p) => `username '${p.username}' must be 2–64 characters of a–z, 0–9, '.', '_' or '-'`,
  'unknown-role': (p) => `unknown role '${p.role}'; roles: ${p.roles}`,
  'user-exists': (p) => `a user '${p.username}' already exists`,
  'no-user': (p) => `no user '${p.name}'`,
  'user-patch-empty': () => 'give at least one of role, cities, disabled, password',
  'disable-self': () => 'you cannot disable your own account',
  'blank-password': () => 'the password cannot be blank',
  'login-busy': () => 'too many logins at once; try again in a few seconds',
  'login-failed': () => 'wrong username or password',
  'login-locked': (p) => {
    const s = Number(p.seconds)
    const minutes = Math.ceil(s / 60)
    const wait = s >= 60 ? `${minutes} minute${minutes === 1 ? '' : 's'}` : `${s} second${s === 1 ? '' : 's'}`
    const who = p.scope === 'user-address' ? `for '${p.name}' from this address` : p.scope === 'address' ? 'from this address' : `for '${p.name}'`
    return `too many failed logins ${who}; try again in ${wait}`
  },
  // devices
  'outside-region': (p) => `location ${p.lat}, ${p.lon} is outside the region`,
  'unknown-type': (p) => `unknown device type '${p.type}'`,
  'lat-lon-both': () => 'give both lat and lon, or neither',
  'device-exists': (p) => `a device with id '${p.id}' already exists`,
  'cannot-rotate': (p) => `device '${p.id}' is ${p.status}: it cannot get a new secret; register a new device instead`,
  'decommissioned-already': (p) => `device '${p.id}' is decommissioned already`,
  'device-patch-empty': () => 'give at least one of name, lat, lon, interval, metadata',
  'decommissioned-frozen': (p) => `device '${p.id}' is decommissioned: it no longer changes`,
  // sessions and roles (identity/auth.ts)
  'bearer-header': () => 'the Authorization header must be "Bearer <token>"',
  'log-in-first': () => 'log in first: POST /api/auth/login, then send the session cookie or Authorization: Bearer <token>',
  'session-ended': () => 'the session has expired or was ended; log in again',
  // the live stream's handshake (realtime/server.ts)
  'live-too-many': (p) => `at most ${p.max} live connections from one address`,
  'live-sessions-unavailable': () => 'sessions cannot be checked right now; try again',
  'live-token-ended': () => 'the token is unknown or expired; log in again',
  'needs-role': (p) => `this needs the role ${String(p.roles).split(',').join(' or ')}; user '${p.username}' is ${p.role}`,
  // who may touch which device (identity/permissions.ts)
  'register-needs-role': (p) => `registering devices needs the role installer or admin; user '${p.username}' is ${p.role}`,
  'installer-other-city': (p) => `installer '${p.username}' works in ${p.cities}, not in ${p.city}`,
  'operator-read-only': (p) => `operators see devices but do not change them; user '${p.username}' is operator`,
  'not-your-device': (p) =>
    `device '${p.id}' (${p.city}) is not one of yours: installer '${p.username}' manages ${p.cities !== undefined ? `the devices they registered and those of ${p.cities}` : 'only the devices they registered'}`,
  // the CSV device import: the file (devices/import-routes.ts)
  'csv-after-quote': (p) => `the CSV cannot be read: line ${p.line}: unexpected character after a closing quote`,
  'csv-quote-unclosed': (p) => `the CSV cannot be read: line ${p.line}: a quoted field is not closed`,
  'csv-empty': (p) => `the file is empty: the first line must name the columns, e.g. ${p.columns}`,
  'csv-header': (p) => {
    const problems = [
      ...names(p.badMeta).map((c) => `column '${c}': a metadata key has 1 to 64 characters`),
      ...names(p.unknown).map((c) => `unknown column '${c}' (columns: ${p.columns}, and meta.<key> for metadata)`),
      ...names(p.twice).map((c) => `column '${c}' appears twice`),
      ...names(p.missing).map((c) => `missing column '${c}'`),
    ]
    return `the header (line ${p.line}) is wrong: ${problems.join('; ')}`
  },
  'csv-no-rows': () => 'the file has a header but no device rows',
  'csv-too-many-rows': (p) => `the file has ${p.count} rows; import at most ${p.max} at a time`,
  'import-not-allowed': (p, f) => `${p.count} of ${p.rows} rows are in cities you may not register devices in, so nothing was imported (line ${p.line}: ${quoted(() => enErrors)(p, f)})`,
  'import-rows-bad': (p, f) => `${p.count} of ${p.rows} rows have errors, so nothing was imported (line ${p.line}: ${quoted(() => enErrors)(p, f)}); run with dryRun=true for the full report`,
  // the CSV device import: a row (after its column, which the page puts first: error-text.ts rowText)
  'row-field-count': (p) => `has ${p.fields} field${p.fields === 1 ? '' : 's'}, the header has ${p.columns}`,
  'row-bad-id': (p) => `'${p.id}' must be 3–63 characters of a–z, 0–9 and '-', starting with a letter or digit`,
  'row-missing': (p) => `missing${p.allowed !== undefined ? ` (one of ${p.allowed})` : ''}`,
  'row-bad-type': (p) => `'${p.type}' is not a device type; types: ${p.types}`,
  'row-bad-city': (p) => `'${p.city}' is not one of ${p.cities}`,
  'row-too-long': (p) => `${p.length} characters, at most ${p.max}`,
  'row-not-a-number': (p) => `'${p.value}' is not a number`,
  'row-lat-lon-both': () => 'lat and lon: give both, or neither (the device then stands at the city centre)',
  'row-bad-interval': (p) => `'${p.value}' must be a whole number of seconds from 1 to 86400`,
  'row-same-device': (p) => `the same device as line ${p.earlier}`,
  'row-id-repeated': (p) => `'${p.id}' is also on line ${p.earlier}`,
  'row-id-taken': (p) => `'${p.id}' is already used by another device (${p.type} in ${p.city}, '${p.name}')`,
  'row-far-from-centre': (p) => `location is ${Number(p.km).toFixed(1)} km from the centre of ${p.city} (more than ${p.radius} km)`,
}

// ---------------------------------------------------------------- Italian

const IT_NOUN: Record<string, string> = { querystring: 'parametro', params: 'parametro del percorso', headers: 'intestazione', body: 'campo' }
const itNoun = (p: Words['params']) => IT_NOUN[String(p.context)] ?? 'campo'
const itLabel = (context: unknown, path: unknown) => (!path ? (context === 'body' ? 'il corpo della richiesta' : 'la richiesta') : `${IT_NOUN[String(context)] ?? 'campo'} '${path}'`)
const itWhere = (p: Words['params']) => itLabel(p.context, p.path)
const IT_TYPES: Record<string, string> = {
  string: 'un testo',
  number: 'un numero',
  integer: 'un numero intero',
  boolean: 'vero o falso',
  object: 'un oggetto',
  array: 'un elenco',
  null: 'null',
}
const IT_RANGES: Record<string, string> = {
  loopback: 'un indirizzo di loopback',
  linkLocal: 'un indirizzo link-local (compresi i servizi di metadati cloud come 169.254.169.254)',
  private: 'un indirizzo privato',
  uniqueLocal: 'un indirizzo privato (unique local)',
  unspecified: 'l’indirizzo non specificato',
  carrierGradeNat: 'un indirizzo NAT di operatore (carrier-grade)',
  multicast: 'un indirizzo multicast',
  broadcast: 'l’indirizzo di broadcast',
}
const IT_FORMATS: Record<string, string> = { email: 'di un indirizzo e-mail', uri: 'di un URL', url: 'di un URL', 'date-time': 'di data e ora ISO 8601', date: 'di una data' }
const IT_STATUS: Record<string, string> = { active: 'attivo', revoked: 'revocato', decommissioned: 'dismesso' }
const itRows = (n: string | number | undefined) => (n === 1 ? '1 riga' : `${n} righe`)
const IT_ROLE: Record<string, string> = { admin: 'amministratore', operator: 'operatore', installer: 'installatore' }
/** The one feminine noun of IT_NOUN ('intestazione'): its adjectives agree. */
const itAgree = (p: Words['params'], masculine: string, feminine: string) => (p.context === 'headers' ? feminine : masculine)
const itGot = (p: Words['params']) => `; ricevuto ${p.got}`
const itLimit = (what: (limit: string) => string) => (p: Words['params'], f: ErrorFormat) => `${itWhere(p)} ${what(f.n(p.limit))}${itGot(p)}`

const itErrors: ErrorWords = {
  'unknown-field': (p) => `${itNoun(p)} '${p.name}' ${itAgree(p, 'non previsto', 'non prevista')}${p.inside !== undefined ? ` in ${itLabel(p.context, p.inside)}` : ''}${p.allowed !== undefined ? ` (ammessi: ${p.allowed})` : ''}`,
  required: (p) => `manca ${itAgree(p, `il ${itNoun(p)} obbligatorio`, 'l’intestazione obbligatoria')} '${p.path}'`,
  'one-of': (p) => `${itWhere(p)} deve essere uno tra ${p.allowed}${itGot(p)}`,
  type: (p) => `${itWhere(p)} deve essere ${String(p.types).split(',').map((t) => IT_TYPES[t] ?? t).join(' o ')}${itGot(p)}`,
  const: (p) => `${itWhere(p)} deve essere ${p.value}${itGot(p)}`,
  pattern: (p) => `${itWhere(p)} non ha la forma attesa (${p.pattern})${itGot(p)}`,
  format: (p) => `${itWhere(p)} non ha il formato ${IT_FORMATS[String(p.format)] ?? p.format}${itGot(p)}`,
  // A rule the validator names in English only (multipleOf, minProperties…): said in general terms.
  invalid: (p) => `${itWhere(p)} non è valido${itGot(p)}`,
  'invalid-request': () => 'la richiesta non è valida',
  minLength: itLimit((n) => `deve avere almeno ${n} caratteri`),
  maxLength: itLimit((n) => `deve avere al massimo ${n} caratteri`),
  minimum: itLimit((n) => `deve essere almeno ${n}`),
  maximum: itLimit((n) => `deve essere al massimo ${n}`),
  exclusiveMinimum: itLimit((n) => `deve essere maggiore di ${n}`),
  exclusiveMaximum: itLimit((n) => `deve essere minore di ${n}`),
  minItems: itLimit((n) => `deve avere almeno ${n} elementi`),
  maxItems: itLimit((n) => `deve avere al massimo ${n} elementi`),
  'duration-format': (p) => `${p.name} deve essere in secondi o una durata come 90s, 10m, 1h; ricevuto "${p.value}"`,
  'duration-max': (p) => `${p.name} può essere al massimo 30 giorni; ricevuto "${p.value}"`,
  'unknown-city': (p) => `città sconosciuta '${p.city}'${p.cities !== undefined ? `; città: ${p.cities}` : ''}`,
  'no-device': (p) => `nessun dispositivo con id '${p.id}'`,
  'device-type-mismatch': (p) => `il dispositivo '${p.id}' è di tipo ${p.type}, non ${p.expected}`,
  'device-city-mismatch': (p) => `il dispositivo '${p.id}' è a ${p.city}, non a ${p.expected}`,
  'silent-window': () => 'una regola di silenzio non ha finestra (la durata minima dice quanto a lungo il dispositivo deve tacere)',
  'rule-needs-field': () => 'manca la grandezza (una regola a soglia osserva una grandezza)',
  'rule-needs-op': (p) => `manca il confronto (uno tra ${p.ops})`,
  'rule-needs-threshold': () => 'manca la soglia',
  'no-such-field': (p) => `nessun tipo di dispositivo ha la grandezza '${p.field}'; grandezze: ${p.fields}`,
  'type-lacks-field': (p) => `i dispositivi di tipo ${p.type} non hanno la grandezza '${p.field}'; grandezze: ${p.fields}`,
  'aggregate-needs-window': () => 'l’aggregazione richiede una finestra (il tempo su cui aggregare)',
  'scope-disagrees': (p) => `'${p.key}' e 'scope.${p.key}' non coincidono`,
  'bad-time': (p) => `'${p.name}' deve essere un orario ISO 8601 con fuso orario (per esempio 2026-12-04T18:00:00Z); ricevuto "${p.value}"`,
  'no-alert': (p) => `nessun allarme con id ${p.id}`,
  'resolved-no-ack': (p, f) => `l’allarme ${p.id} è stato risolto il ${f.time(p.at)}; si riconoscono solo gli allarmi aperti`,
  'resolved-no-assign': (p, f) => `l’allarme ${p.id} è stato risolto il ${f.time(p.at)}; si assegnano solo gli allarmi attivi`,
  'empty-comment': () => 'il commento è vuoto',
  'not-assignable': (p) => `'${p.name}' non è un operatore o un amministratore attivo; gli allarmi si assegnano al personale`,
  'silence-needs-matcher': () => 'un silenziamento richiede almeno uno tra regola, dispositivo e città',
  'no-rule': (p) => `nessuna regola di allarme con id ${p.id}`,
  'silence-needs-reason': () => 'indica il motivo del silenziamento',
  'silence-needs-end': () => 'indica la fine del silenziamento: l’ora di fine o la durata (una delle due)',
  'silence-ends-past': (p, f) => `il silenziamento finisce nel passato (${f.time(p.endsAt)})`,
  'silence-ends-before-start': () => 'il silenziamento deve finire dopo l’inizio',
  'silence-too-long': () => 'un silenziamento dura al massimo 30 giorni',
  'no-silence': (p) => `nessun silenziamento con id ${p.id}`,
  'from-after-to': (p, f) => `l’inizio (${f.time(p.from)}) deve precedere la fine (${f.time(p.to)})`,
  'bad-query-time': (p) => `il parametro '${p.name}' deve essere un orario ISO 8601 con fuso orario (per esempio 2026-11-26T08:00:00Z) o in millisecondi dall’epoca; ricevuto "${p.value}"`,
  'webhook-url': (p) => `l’URL deve essere un indirizzo http(s); ricevuto '${p.url}'`,
  'webhook-url-credentials': () => 'l’URL non deve contenere nome utente o password: è la firma ad autenticare Piazza',
  'webhook-needs-secret': () => 'un webhook richiede un segreto con cui firmare: indicane uno (almeno 16 caratteri) o imposta NOTIFY_WEBHOOK_SECRET',
  'email-not-configured': () => 'l’e-mail non è configurata su questo server: imposta SMTP_URL (e SMTP_FROM)',
  'webhook-no-addresses': () => 'gli indirizzi valgono per i punti di contatto e-mail; questo è un webhook',
  'email-no-url': () => 'URL e segreto valgono per i webhook; questo invia e-mail',
  'no-contact-point': (p) => `nessun punto di contatto con id ${p.id}`,
  'url-refused': (p) => `URL del webhook rifiutato: ${p.named} è ${IT_RANGES[String(p.range)] ?? `un indirizzo riservato (${p.range})`}; aggiungilo a NOTIFY_WEBHOOK_ALLOW per consentirlo`,
  'url-unresolved': (p) => `URL del webhook rifiutato: impossibile risolvere l’host ${p.host} (${p.cause})`,
  'password-short': (p, f) => `una password richiede almeno ${f.n(p.min)} caratteri`,
  'password-long': (p, f) => `una password ha al massimo ${f.n(p.max)} caratteri`,
  'bad-username': (p) => `il nome utente '${p.username}' deve avere da 2 a 64 caratteri tra a–z, 0–9, '.', '_' e '-'`,
  'unknown-role': (p) => `ruolo sconosciuto '${p.role}'; ruoli: ${p.roles}`,
  'user-exists': (p) => `l’utente '${p.username}' esiste già`,
  'no-user': (p) => `nessun utente '${p.name}'`,
  'user-patch-empty': () => 'indica almeno uno tra ruolo, città, disattivato e password',
  'disable-self': () => 'non puoi disattivare il tuo account',
  'blank-password': () => 'la password non può essere vuota',
  'login-busy': () => 'troppi accessi contemporanei; riprova tra qualche secondo',
  'login-failed': () => 'nome utente o password errati',
  'login-locked': (p, f) => {
    const s = Number(p.seconds)
    const minutes = Math.ceil(s / 60)
    const wait = s >= 60 ? `${f.n(minutes)} ${minutes === 1 ? 'minuto' : 'minuti'}` : `${f.n(s)} ${s === 1 ? 'secondo' : 'secondi'}`
    const who = p.scope === 'user-address' ? `per '${p.name}' da questo indirizzo` : p.scope === 'address' ? 'da questo indirizzo' : `per '${p.name}'`
    return `troppi accessi falliti ${who}; riprova tra ${wait}`
  },
  'outside-region': (p, f) => `la posizione (${f.n(p.lat)}; ${f.n(p.lon)}) è fuori dalla regione`,
  'unknown-type': (p) => `tipo di dispositivo sconosciuto '${p.type}'`,
  'lat-lon-both': () => 'indica sia la latitudine sia la longitudine, o nessuna delle due',
  'device-exists': (p) => `esiste già un dispositivo con id '${p.id}'`,
  'cannot-rotate': (p) => `il dispositivo '${p.id}' è ${IT_STATUS[String(p.status)] ?? p.status}: non può avere un nuovo segreto; registra invece un nuovo dispositivo`,
  'decommissioned-already': (p) => `il dispositivo '${p.id}' è già dismesso`,
  'device-patch-empty': () => 'indica almeno uno tra nome, latitudine, longitudine, intervallo e metadati',
  'decommissioned-frozen': (p) => `il dispositivo '${p.id}' è dismesso: non cambia più`,
  'bearer-header': () => 'l’intestazione Authorization deve essere "Bearer <token>"',
  'log-in-first': () => 'accedi prima: POST /api/auth/login, poi invia il cookie di sessione o Authorization: Bearer <token>',
  'session-ended': () => 'la sessione è scaduta o è stata chiusa; accedi di nuovo',
  'live-too-many': (p, f) => `al massimo ${f.n(p.max)} connessioni in tempo reale da un indirizzo`,
  'live-sessions-unavailable': () => 'al momento le sessioni non si possono verificare; riprova',
  'live-token-ended': () => 'il token è sconosciuto o scaduto; accedi di nuovo',
  'needs-role': (p) => `serve il ruolo ${String(p.roles).split(',').map((r) => IT_ROLE[r] ?? r).join(' o ')}; l’utente '${p.username}' è ${IT_ROLE[String(p.role)] ?? p.role}`,
  'register-needs-role': (p) => `per registrare dispositivi serve il ruolo installatore o amministratore; l’utente '${p.username}' è ${IT_ROLE[String(p.role)] ?? p.role}`,
  'installer-other-city': (p) => `l’installatore '${p.username}' lavora a ${p.cities}, non a ${p.city}`,
  'operator-read-only': (p) => `gli operatori vedono i dispositivi ma non li modificano; l’utente '${p.username}' è operatore`,
  'not-your-device': (p) =>
    `il dispositivo '${p.id}' (${p.city}) non è tuo: l’installatore '${p.username}' gestisce ${p.cities !== undefined ? `i dispositivi che ha registrato e quelli di ${p.cities}` : 'solo i dispositivi che ha registrato'}`,
  'csv-after-quote': (p) => `il CSV non si può leggere: riga ${p.line}: carattere inatteso dopo le virgolette di chiusura`,
  'csv-quote-unclosed': (p) => `il CSV non si può leggere: riga ${p.line}: un campo tra virgolette non è chiuso`,
  'csv-empty': (p) => `il file è vuoto: la prima riga deve nominare le colonne, per esempio ${p.columns}`,
  'csv-header': (p) => {
    const problems = [
      ...names(p.badMeta).map((c) => `colonna '${c}': una chiave di metadati ha da 1 a 64 caratteri`),
      ...names(p.unknown).map((c) => `colonna sconosciuta '${c}' (colonne: ${p.columns} e meta.<chiave> per i metadati)`),
      ...names(p.twice).map((c) => `la colonna '${c}' compare due volte`),
      ...names(p.missing).map((c) => `manca la colonna '${c}'`),
    ]
    return `l’intestazione (riga ${p.line}) è errata: ${problems.join('; ')}`
  },
  'csv-no-rows': () => 'il file ha l’intestazione ma nessuna riga di dispositivi',
  'csv-too-many-rows': (p, f) => `il file ha ${f.n(p.count)} righe; importane al massimo ${f.n(p.max)} alla volta`,
  'import-not-allowed': (p, f) =>
    `${itRows(p.count)} su ${p.rows} ${p.count === 1 ? 'è' : 'sono'} in città dove non puoi registrare dispositivi, quindi non è stato importato nulla (riga ${p.line}: ${quoted(() => itErrors)(p, f)})`,
  'import-rows-bad': (p, f) =>
    `${itRows(p.count)} su ${p.rows} ${p.count === 1 ? 'ha' : 'hanno'} errori, quindi non è stato importato nulla (riga ${p.line}: ${quoted(() => itErrors)(p, f)}); esegui con dryRun=true per il rapporto completo`,
  'row-field-count': (p) => `ha ${p.fields} ${p.fields === 1 ? 'campo' : 'campi'}, l’intestazione ne ha ${p.columns}`,
  'row-bad-id': (p) => `'${p.id}' deve avere da 3 a 63 caratteri tra a–z, 0–9 e '-', e iniziare con una lettera o una cifra`,
  'row-missing': (p) => `mancante${p.allowed !== undefined ? ` (uno tra ${p.allowed})` : ''}`,
  'row-bad-type': (p) => `'${p.type}' non è un tipo di dispositivo; tipi: ${p.types}`,
  'row-bad-city': (p) => `'${p.city}' non è tra ${p.cities}`,
  'row-too-long': (p, f) => `${f.n(p.length)} caratteri, al massimo ${f.n(p.max)}`,
  'row-not-a-number': (p) => `'${p.value}' non è un numero`,
  'row-lat-lon-both': () => 'lat e lon: indicale entrambe o nessuna delle due (il dispositivo sta allora al centro della città)',
  'row-bad-interval': (p) => `'${p.value}' deve essere un numero intero di secondi da 1 a 86400`,
  'row-same-device': (p) => `lo stesso dispositivo della riga ${p.earlier}`,
  'row-id-repeated': (p) => `'${p.id}' è anche alla riga ${p.earlier}`,
  'row-id-taken': (p) => `'${p.id}' è già usato da un altro dispositivo (${p.type} a ${p.city}, '${p.name}')`,
  'row-far-from-centre': (p) => `la posizione è a ${Number(p.km).toFixed(1).replace('.', ',')} km dal centro di ${p.city} (più di ${p.radius} km)`,
}

const en = {
  errorText: enErrors,
  network: 'Cannot reach the Piazza server. Check your connection and try again.',
}

const it: typeof en = {
  errorText: itErrors,
  network: 'Impossibile raggiungere il server di Piazza. Controlla la connessione e riprova.',
}

/**
 * The API's error sentences (its `error.message`), worded from `error.words` (code and figures) in
 * the page's language. A code this page does not know shows the server's English message.
 */
export const ERROR_STRINGS = { en, it }
