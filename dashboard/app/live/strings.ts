import type { HealthState } from '../../shared/operations.ts'

const en = {
  health: {
    live: { label: 'Live', description: 'reporting on schedule' },
    late: { label: 'Late', description: 'missed 2 or more reporting intervals' },
    silent: { label: 'Silent', description: 'nothing for 5 or more reporting intervals' },
    pending: { label: 'No data yet', description: 'has not reported since the server started' },
    inactive: { label: 'Inactive', description: 'revoked or decommissioned; not expected to report' },
  } as Record<HealthState, { label: string; description: string }>,
  /** Age units: seconds, minutes, hours, days. */
  units: { s: 's', min: 'min', h: 'h', d: 'd' },
  ago: (age: string) => `${age} ago`,
  noDataLong: 'No live data yet',
  dataAgeLong: (age: string) => `Data shown is ${age} old`,
  noDataShort: 'no live data yet',
  dataAgeShort: (age: string) => `data ${age} old`,
  live: 'Live',
  liveDetail: 'Connected: values update as devices report.',
  connecting: 'Connecting…',
  connectingDetail: 'Opening the live connection to the server.',
  reconnecting: 'Connection lost, reconnecting',
  reconnectingDetail: (age: string) => `The live connection dropped; trying again. ${age}.`,
  unreachable: 'Cannot reach the server, retrying',
  unreachableDetail: (age: string) => `The server does not answer (network down, or the server is restarting); trying again. ${age}.`,
  refused: 'The server refused live data',
  refusedDetail: (message: string, age: string) => `The server refused the live connection: ${message}. ${age}.`,
  expired: 'Session ended: sign in again',
  expiredDetail: 'Your session has ended; live data stopped.',
  offline: 'Offline',
  offlineDetail: (age: string) => `Not connected to live data. ${age}.`,
}

const it: typeof en = {
  health: {
    live: { label: 'Attivo', description: 'trasmette regolarmente' },
    late: { label: 'In ritardo', description: 'ha saltato 2 o più intervalli di trasmissione' },
    silent: { label: 'Silente', description: 'nulla da 5 o più intervalli di trasmissione' },
    pending: { label: 'Nessun dato', description: 'non ha trasmesso dall’avvio del server' },
    inactive: { label: 'Non attivo', description: 'revocato o dismesso; non deve trasmettere' },
  },
  units: { s: 's', min: 'min', h: 'h', d: 'g' },
  ago: (age: string) => `${age} fa`,
  noDataLong: 'Ancora nessun dato in tempo reale',
  dataAgeLong: (age: string) => `I dati mostrati risalgono a ${age} fa`,
  noDataShort: 'ancora nessun dato',
  dataAgeShort: (age: string) => `dati di ${age} fa`,
  live: 'In tempo reale',
  liveDetail: 'Connesso: i valori si aggiornano appena i dispositivi trasmettono.',
  connecting: 'Connessione…',
  connectingDetail: 'Apertura della connessione in tempo reale con il server.',
  reconnecting: 'Connessione persa, riconnessione',
  reconnectingDetail: (age: string) => `La connessione in tempo reale si è interrotta; nuovo tentativo in corso. ${age}.`,
  unreachable: 'Server irraggiungibile, nuovo tentativo',
  unreachableDetail: (age: string) => `Il server non risponde (rete assente o server in riavvio); nuovo tentativo in corso. ${age}.`,
  refused: 'Il server ha rifiutato i dati in tempo reale',
  refusedDetail: (message: string, age: string) => `Il server ha rifiutato la connessione in tempo reale: ${message}. ${age}.`,
  expired: 'Sessione scaduta: accedi di nuovo',
  expiredDetail: 'La sessione è scaduta; i dati in tempo reale si sono fermati.',
  offline: 'Non connesso',
  offlineDetail: (age: string) => `Non connesso ai dati in tempo reale. ${age}.`,
}

/** Device health and the live connection in words. Server refusal reasons stay as sent (English). */
export const LIVE_STRINGS = { en, it }
