import type { ReactNode } from 'react'

const s = (n: number) => (n === 1 ? '' : 's')

const en = {
  chooseFirst: 'Choose a CSV file or paste its contents first.',
  title: 'Import devices from CSV',
  columns: (code: (c: string) => ReactNode) => (
    <>
      One device per row. Columns: {code('type')}, {code('city')}, {code('name')} (required), {code('id')}, {code('lat')}, {code('lon')}, {code('interval')} and any {code('meta.<name>')} (optional).
    </>
  ),
  howMatched: 'How rows are matched',
  matching: (code: (c: string) => ReactNode) => (
    <>
      A row whose device exists already — the same {code('id')}, or without an id the same city, type and name — creates nothing, so the same file can be imported again safely. Rows without {code('lat')}/
      {code('lon')} stand at the city centre. Semicolon-separated files with decimal commas (Italian spreadsheets) are read too.
    </>
  ),
  template: 'Download the template',
  chooseFile: 'Choose a CSV file',
  file: (name: string) => `File: ${name}`,
  contents: 'Contents (you can also paste or fix it here)',
  checking: 'Checking…',
  check: 'Check the file',
  importing: 'Importing…',
  importN: (n: number) => `Import ${n} device${s(n)}`,
  import: 'Import',
  changed: 'The contents changed since the check: check again before importing.',
  created: (n: number) => `${n} device${s(n)} created`,
  alsoExisting: (n: number) => `, ${n} already registered`,
  secretsNow: 'Download the secrets now.',
  secretsOnce: ' They are shown only once; a lost one can only be rotated.',
  secretsDownloaded: 'Secrets downloaded ✓',
  secretsDownload: 'Download the secrets (CSV, once)',
  statuses: { create: 'will be created', created: 'created', exists: 'already registered', error: 'error' } as Record<string, string>,
  good: 'The file is good',
  toFix: (n: number) => `${n} row${s(n)} to fix`,
  summary: (rows: number, create: number, exists: number, errors: number) => `${rows} row${s(rows)}: ${create} to create, ${exists} already registered, ${errors} with errors.`,
  nothingYet: ' Nothing is created until you import.',
  nothingCreated: ' Nothing was created. Fix these rows and check again.',
  line: (n: number) => `Line ${n}`,
  noName: '(no name)',
}

const it: typeof en = {
  chooseFirst: 'Scegli prima un file CSV o incollane il contenuto.',
  title: 'Importa dispositivi da CSV',
  columns: (code: (c: string) => ReactNode) => (
    <>
      Un dispositivo per riga. Colonne: {code('type')}, {code('city')}, {code('name')} (obbligatorie), {code('id')}, {code('lat')}, {code('lon')}, {code('interval')} e qualsiasi {code('meta.<name>')} (facoltative).
    </>
  ),
  howMatched: 'Come vengono abbinate le righe',
  matching: (code: (c: string) => ReactNode) => (
    <>
      Una riga il cui dispositivo esiste già — stesso {code('id')}, o senza id stessa città, tipo e nome — non crea nulla, quindi lo stesso file si può importare di nuovo senza rischi. Le righe senza {code('lat')}/
      {code('lon')} vengono poste al centro della città. Si leggono anche i file separati da punto e virgola con la virgola decimale (fogli di calcolo italiani).
    </>
  ),
  template: 'Scarica il modello',
  chooseFile: 'Scegli un file CSV',
  file: (name: string) => `File: ${name}`,
  contents: 'Contenuto (puoi anche incollarlo o correggerlo qui)',
  checking: 'Verifica…',
  check: 'Verifica il file',
  importing: 'Importazione…',
  importN: (n: number) => (n === 1 ? 'Importa 1 dispositivo' : `Importa ${n} dispositivi`),
  import: 'Importa',
  changed: 'Il contenuto è cambiato dopo la verifica: verificalo di nuovo prima di importare.',
  created: (n: number) => (n === 1 ? '1 dispositivo creato' : `${n} dispositivi creati`),
  alsoExisting: (n: number) => `, ${n} già ${n === 1 ? 'registrato' : 'registrati'}`,
  secretsNow: 'Scarica subito i segreti.',
  secretsOnce: ' Sono mostrati una sola volta; uno perso si può solo rigenerare.',
  secretsDownloaded: 'Segreti scaricati ✓',
  secretsDownload: 'Scarica i segreti (CSV, una volta)',
  statuses: { create: 'sarà creato', created: 'creato', exists: 'già registrato', error: 'errore' },
  good: 'Il file è corretto',
  toFix: (n: number) => (n === 1 ? '1 riga da correggere' : `${n} righe da correggere`),
  summary: (rows: number, create: number, exists: number, errors: number) => `${rows} ${rows === 1 ? 'riga' : 'righe'}: ${create} da creare, ${exists} già registrati, ${errors} con errori.`,
  nothingYet: ' Nulla viene creato finché non importi.',
  nothingCreated: ' Non è stato creato nulla. Correggi queste righe e verifica di nuovo.',
  line: (n: number) => `Riga ${n}`,
  noName: '(senza nome)',
}

/** The CSV import page. Row errors and warnings come from the server, worded by api/error-text.ts rowText. */
export const IMPORT_STRINGS = { en, it }
