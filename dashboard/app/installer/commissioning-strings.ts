import type { Check } from '../../shared/commissioning.ts'

/** Numbers and durations in the page's language, for the checks' words. */
export interface CheckFormat {
  n(value: string | number): string
  /** Kilometres with one decimal, as the server's message gives them. */
  km(value: string | number): string
  /** Seconds as "45 s" or, from two minutes, "2.5 min". */
  secs(value: string | number): string
}

type CheckWords = Record<string, (p: Check['params'], f: CheckFormat) => string>

const plural = (count: string | number, one: string, many: string) => (Number(count) === 1 ? one : many)

/** What a commissioning check found (its code from the server), in English. */
const enChecks: CheckWords = {
  'not-active': (p) => `the device is ${p.status}: the broker refuses it`,
  connected: () => 'connected to the broker',
  'login-refused': (p) => `login refused: ${p.message}`,
  'was-connected': () => 'not connected now (it was connected before)',
  'waiting-connection': (p) => `waiting for the device to connect with client id and username '${p.id}'`,
  accepted: (p, f) => `${f.n(p.count!)} ${plural(p.count!, 'reading', 'readings')} accepted`,
  'waiting-reading': (p) => `waiting for the first reading on ${p.topic}`,
  'payload-refused': (p) => `the last payload was refused: ${p.reason}`,
  'in-range': (p, f) => `${f.n(p.count!)} ${plural(p.count!, 'field', 'fields')} within range: ${p.fields}`,
  'waiting-values': () => 'waiting for a reading',
  'unknown-city': (p) => `unknown city '${p.city}'`,
  'near-city': (p, f) => `${f.km(p.km!)} km from the centre of ${p.city}`,
  'far-from-city': (p, f) => `${f.km(p.km!)} km from the centre of ${p.city}, more than ${f.n(p.max!)} km: correct the location or the city`,
  'bus-away': (p, f) => `the bus reports a position ${f.km(p.km!)} km from the centre of ${p.city}`,
  'waiting-two-readings': (p, f) => `waiting for two readings to measure the interval (expected every ${f.secs(p.expected!)})`,
  'waiting-second-reading': (p, f) => `waiting for a second reading to measure the interval (expected every ${f.secs(p.expected!)})`,
  'interval-ok': (p, f) => `about every ${f.secs(p.measured!)} (expected ${f.secs(p.expected!)})`,
  'interval-off': (p, f) => `readings come every ${f.secs(p.measured!)}, expected every ${f.secs(p.expected!)}: fix the device's reporting interval or the expected interval`,
}

const IT_REFUSALS: Record<string, string> = {
  'bad-secret': 'password sbagliata',
  'unknown-device': 'il nome utente non è un dispositivo registrato',
  'client-id-mismatch': 'il client id deve essere l’id del dispositivo',
  'client-cert-mismatch': 'il certificato TLS nomina un altro dispositivo',
  'no-credentials': 'mancano nome utente o password',
  'will-not-allowed': '“last will” non consentito',
  'too-many-failures': 'troppi accessi falliti, il broker fa attendere',
  'auth-unavailable': 'il broker non ha potuto verificare la password',
  revoked: 'dispositivo revocato',
  decommissioned: 'dispositivo dismesso',
}

const itChecks: CheckWords = {
  'not-active': (p) => `il dispositivo è ${p.status === 'revoked' ? 'revocato' : p.status === 'decommissioned' ? 'dismesso' : p.status}: il broker lo rifiuta`,
  connected: () => 'connesso al broker',
  'login-refused': (p) => `accesso rifiutato: ${IT_REFUSALS[String(p.reason)] ?? p.message}`,
  'was-connected': () => 'non connesso ora (era connesso prima)',
  'waiting-connection': (p) => `in attesa che il dispositivo si connetta con client id e nome utente '${p.id}'`,
  accepted: (p, f) => `${f.n(p.count!)} ${plural(p.count!, 'lettura accettata', 'letture accettate')}`,
  'waiting-reading': (p) => `in attesa della prima lettura su ${p.topic}`,
  'payload-refused': (p) => `l’ultimo messaggio è stato rifiutato: ${p.reason}`,
  'in-range': (p, f) => `${f.n(p.count!)} ${plural(p.count!, 'campo', 'campi')} nei limiti: ${p.fields}`,
  'waiting-values': () => 'in attesa di una lettura',
  'unknown-city': (p) => `città sconosciuta '${p.city}'`,
  'near-city': (p, f) => `${f.km(p.km!)} km dal centro di ${p.city}`,
  'far-from-city': (p, f) => `${f.km(p.km!)} km dal centro di ${p.city}, più di ${f.n(p.max!)} km: correggi la posizione o la città`,
  'bus-away': (p, f) => `l’autobus segnala una posizione a ${f.km(p.km!)} km dal centro di ${p.city}`,
  'waiting-two-readings': (p, f) => `in attesa di due letture per misurare l’intervallo (previsto ogni ${f.secs(p.expected!)})`,
  'waiting-second-reading': (p, f) => `in attesa di una seconda lettura per misurare l’intervallo (previsto ogni ${f.secs(p.expected!)})`,
  'interval-ok': (p, f) => `circa ogni ${f.secs(p.measured!)} (previsto ${f.secs(p.expected!)})`,
  'interval-off': (p, f) =>
    `le letture arrivano ogni ${f.secs(p.measured!)}, previsto ogni ${f.secs(p.expected!)}: correggi l’intervallo di trasmissione del dispositivo o quello previsto`,
}

const en = {
  checkText: enChecks,
  steps: { waiting: 'Registered', connected: 'Connected', receiving: 'First reading', plausible: 'Plausible' } as Record<string, string>,
  checks: { connection: 'Connection', reading: 'Readings', values: 'Values', location: 'Location', interval: 'Reporting interval' },
  notYours: 'This device is not one of yours. ',
  noSuch: 'There is no such device. ',
  back: 'Back to the devices',
  loading: 'Loading the commissioning view…',
  every: (s: number) => `every ${s} s`,
  live: 'Live',
  connecting: 'Connecting…',
  polling: (s: number) => `Refreshing every ${s} s`,
  deviceConnected: 'device connected',
  deviceDisconnected: (ago: string) => `device disconnected ${ago}`,
  deviceNotConnected: 'device not connected',
  refused: 'Refused payloads',
  noneSoFar: 'None so far.',
  readingOfBatch: (n: number) => ` · reading #${n} of the batch`,
  latest: 'Latest reading',
  deviceTime: (time: string, ago: string, accepted: number) => `Device time ${time}, received ${ago} · ${accepted} accepted`,
  noReading: 'No reading yet.',
  checksTitle: 'Checks',
  device: 'Device',
  edit: 'Edit',
  rotate: 'Rotate secret',
  rotateConfirm: 'Rotate',
  rotateQuestion: 'The current secret stops working at once.',
  revoke: 'Revoke',
  revokeConfirm: 'Revoke',
  revokeQuestion: 'The device is disconnected and refused from now on.',
  decommission: 'Decommission',
  decommissionConfirm: 'Decommission',
  decommissionQuestion: 'Out of service for good; its history stays.',
  allDevices: '← All devices',
  mqttError: 'Could not load the broker settings:',
  loadingShort: 'Loading…',
  backToCommissioning: 'I saved it — back to commissioning',
  metaFormat: (line: string) => `Write metadata as name=value, one per line; "${line}" has no '='.`,
  name: 'Name',
  latitude: 'Latitude',
  longitude: 'Longitude',
  interval: 'Reports every (seconds)',
  metadata: 'Metadata (name=value, one per line)',
  fixed: (city: string) => `Type and city (${city}) do not change: register a new device instead.`,
  cancel: 'Cancel',
  saving: 'Saving…',
  save: 'Save',
}

const it: typeof en = {
  checkText: itChecks,
  steps: { waiting: 'Registrato', connected: 'Connesso', receiving: 'Prima lettura', plausible: 'Plausibile' },
  checks: { connection: 'Connessione', reading: 'Letture', values: 'Valori', location: 'Posizione', interval: 'Intervallo di trasmissione' },
  notYours: 'Questo dispositivo non è tra i tuoi. ',
  noSuch: 'Questo dispositivo non esiste. ',
  back: 'Torna ai dispositivi',
  loading: 'Caricamento della messa in servizio…',
  every: (s: number) => `ogni ${s} s`,
  live: 'In tempo reale',
  connecting: 'Connessione…',
  polling: (s: number) => `Aggiornamento ogni ${s} s`,
  deviceConnected: 'dispositivo connesso',
  deviceDisconnected: (ago: string) => `dispositivo disconnesso ${ago}`,
  deviceNotConnected: 'dispositivo non connesso',
  refused: 'Messaggi rifiutati',
  noneSoFar: 'Nessuno finora.',
  readingOfBatch: (n: number) => ` · lettura n. ${n} del lotto`,
  latest: 'Ultima lettura',
  deviceTime: (time: string, ago: string, accepted: number) => `Ora del dispositivo ${time}, ricevuta ${ago} · ${accepted} accettate`,
  noReading: 'Ancora nessuna lettura.',
  checksTitle: 'Verifiche',
  device: 'Dispositivo',
  edit: 'Modifica',
  rotate: 'Rigenera il segreto',
  rotateConfirm: 'Rigenera',
  rotateQuestion: 'Il segreto attuale smette subito di funzionare.',
  revoke: 'Revoca',
  revokeConfirm: 'Revoca',
  revokeQuestion: 'Il dispositivo viene disconnesso e rifiutato d’ora in poi.',
  decommission: 'Dismetti',
  decommissionConfirm: 'Dismetti',
  decommissionQuestion: 'Fuori servizio per sempre; lo storico resta.',
  allDevices: '← Tutti i dispositivi',
  mqttError: 'Impossibile caricare le impostazioni del broker:',
  loadingShort: 'Caricamento…',
  backToCommissioning: 'L’ho salvato — torna alla messa in servizio',
  metaFormat: (line: string) => `Scrivi i metadati come nome=valore, uno per riga; in "${line}" manca '='.`,
  name: 'Nome',
  latitude: 'Latitudine',
  longitude: 'Longitudine',
  interval: 'Trasmette ogni (secondi)',
  metadata: 'Metadati (nome=valore, uno per riga)',
  fixed: (city: string) => `Tipo e città (${city}) non cambiano: registra invece un nuovo dispositivo.`,
  cancel: 'Annulla',
  saving: 'Salvataggio…',
  save: 'Salva',
}

/** The commissioning page. The checks are worded here from what the server found (code and figures); a code this page does not know shows the server's English message. */
export const COMMISSIONING_STRINGS = { en, it }
