/**
 * A small RFC 4180 CSV reader (the writer is dashboard/shared/csv.ts): quoted fields (with "" for a quote, and line breaks
 * inside quotes), CRLF or LF, a UTF-8 byte-order mark ignored. The separator is a comma, or a
 * semicolon when the header line has semicolons and no commas (what spreadsheets set to Italian
 * write). Every record keeps the line number it started on, for error reports.
 */

export interface CsvRecord {
  /** 1-based line number in the file where the record starts. */
  line: number
  fields: string[]
}

export class CsvError extends Error {
  constructor(
    message: string,
    readonly line: number,
    /** Which of the reader's two refusals, for the import's words. */
    readonly problem: 'after-quote' | 'unclosed-quote',
  ) {
    super(message)
    this.name = 'CsvError'
  }
}

export function detectSeparator(text: string): ',' | ';' {
  const firstLine = text.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0] ?? ''
  return firstLine.includes(';') && !firstLine.includes(',') ? ';' : ','
}

export function parseCsv(input: string, separator: ',' | ';' = detectSeparator(input)): CsvRecord[] {
  const text = input.replace(/^\uFEFF/, '')
  const records: CsvRecord[] = []
  let fields: string[] = []
  let field = ''
  let line = 1
  let recordLine = 1
  let i = 0
  let quoted = false
  let fieldStarted = false
  const endField = () => {
    fields.push(field)
    field = ''
    fieldStarted = false
  }
  const endRecord = () => {
    endField()
    records.push({ line: recordLine, fields })
    fields = []
  }
  while (i < text.length) {
    const c = text[i]!
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"'
          i += 2
          continue
        }
        quoted = false
        i += 1
        // Only a separator or the end of the line may follow a closing quote.
        const next = text[i]
        if (next !== undefined && next !== separator && next !== '\n' && next !== '\r') {
          throw new CsvError(`line ${line}: unexpected character after a closing quote`, line, 'after-quote')
        }
        continue
      }
      if (c === '\n') line += 1
      field += c
      i += 1
      continue
    }
    if (c === '"' && !fieldStarted && field === '') {
      quoted = true
      fieldStarted = true
      i += 1
      continue
    }
    if (c === separator) {
      endField()
      i += 1
      continue
    }
    if (c === '\r' || c === '\n') {
      endRecord()
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1
      line += 1
      recordLine = line
      continue
    }
    field += c
    fieldStarted = true
    i += 1
  }
  if (quoted) throw new CsvError(`line ${recordLine}: a quoted field is not closed`, recordLine, 'unclosed-quote')
  if (field !== '' || fields.length > 0 || fieldStarted) endRecord()
  return records
}

/** Writing CSV is the shared writer's job (RFC 4180 and the formula guard); kept here for existing importers. */
export { toCsv } from '../../shared/csv.ts'
