// The browser build of csv-stringify: `csv-stringify/sync` reads Node's global Buffer when it
// loads, which a Vite bundle does not have; this one carries its own and runs in Node too.
import { stringify, type Options } from 'csv-stringify/browser/esm/sync'

/**
 * The one CSV writer, for the server (open-data exports, device import template and secrets) and
 * the dashboard (chart download). RFC 4180: comma separated, CRLF after every record, a field
 * quoted when it holds a quote (doubled), a comma or a line break; also, for spreadsheets set to
 * Italian (which split on semicolons) and for readers that trim, when it holds a semicolon or
 * starts or ends with white space.
 *
 * Formula guard (OWASP "CSV injection"): a text cell starting with = + - @, a tab or a carriage
 * return (or their full-width forms) gets a leading apostrophe, so a spreadsheet shows it as text
 * instead of running it. Numbers given as numbers are never touched (-3.5 stays -3.5); a text
 * that only looks like one ('-3.5') is guarded like any text.
 *
 * Cells: strings as they are; finite numbers and bigints in their shortest form, NaN and ±Infinity
 * empty; null and undefined empty; booleans true / false; dates as ISO 8601.
 */

export type CsvCell = string | number | bigint | boolean | Date | null | undefined

const OPTIONS: Options = {
  record_delimiter: 'windows',
  // Without this a lone \n or \r in a field would go unquoted once the record delimiter is set.
  quote_record_delimiter: true,
  eof: true,
  escape_formulas: true,
  quoted_match: [';', /^\s|\s$/],
  cast: {
    number: (value) => (Number.isFinite(value) ? String(value) : ''),
    boolean: (value) => String(value),
    date: (value) => value.toISOString(),
  },
}

/** A whole document: one record per row, each ended by CRLF. */
export function toCsv(rows: readonly (readonly CsvCell[])[]): string {
  return stringify(rows as CsvCell[][], OPTIONS)
}

/** One record ended by CRLF, for exports streamed row by row (write the header line once first). */
export function csvLine(cells: readonly CsvCell[]): string {
  return stringify([cells as CsvCell[]], OPTIONS)
}
