import { describe, expect, it } from 'vitest'
import { parseCsv } from '../server/http/csv.ts'
import { csvLine, toCsv } from './csv.ts'

describe('shared CSV writer', () => {
  it('writes RFC 4180: commas, CRLF after every record, plain fields unquoted', () => {
    expect(toCsv([['id', 'name'], ['aq-1', 'Viale Gramsci']])).toBe('id,name\r\naq-1,Viale Gramsci\r\n')
    expect(toCsv([])).toBe('')
    expect(csvLine(['a', 'b'])).toBe('a,b\r\n')
  })

  it('quotes a field holding a comma, a quote (doubled) or a line break', () => {
    expect(csvLine(['x,y', 'say "hi"', 'two\nlines', 'cr\rlf\r\n'])).toBe('"x,y","say ""hi""","two\nlines","cr\rlf\r\n"\r\n')
    expect(csvLine(['"'])).toBe('""""\r\n')
  })

  it('quotes a semicolon and white space at either end, for spreadsheets and trimming readers', () => {
    expect(csvLine(['a;b', ' lead', 'trail ', 'in side'])).toBe('"a;b"," lead","trail ",in side\r\n')
  })

  it('writes empty, number, boolean and date cells', () => {
    expect(csvLine([null, undefined, '', 0, 1.5, -0.25, 12n, Number.NaN, Number.POSITIVE_INFINITY, true, false, new Date(0)])).toBe(
      ',,,0,1.5,-0.25,12,,,true,false,1970-01-01T00:00:00.000Z\r\n',
    )
  })

  it.each([
    ['=', '=SUM(A1:A2)', "'=SUM(A1:A2)"],
    ['+', '+39 055 123', "'+39 055 123"],
    ['-', '-2+3', "'-2+3"],
    ['@', '@SUM(1)', "'@SUM(1)"],
    ['tab', '\t=1', "\"'\t=1\""],
    ['carriage return', '\r=1', "\"'\r=1\""],
  ])('guards a text cell starting with %s by a leading apostrophe', (_, cell, written) => {
    expect(csvLine([cell, 'ok'])).toBe(`${written},ok\r\n`)
  })

  it('quotes a guarded cell that needs quoting, and reads back as the guarded text', () => {
    const line = csvLine(['=HYPERLINK("http://x","y")'])
    expect(line).toBe(`"'=HYPERLINK(""http://x"",""y"")"\r\n`)
    expect(parseCsv(line)[0]!.fields).toEqual([`'=HYPERLINK("http://x","y")`])
  })

  it('leaves numbers alone, negative ones included; only text is guarded', () => {
    expect(csvLine([-3.5, -1e-7, -42n])).toBe('-3.5,-1e-7,-42\r\n')
    expect(csvLine(['-3.5'])).toBe("'-3.5\r\n")
    // A device secret is text and may start with '-'.
    expect(csvLine(['aq-1', '-Xk9_secret'])).toBe("aq-1,'-Xk9_secret\r\n")
    // Only the first character counts.
    expect(csvLine(['a=b', 'x-1', 'me@example.org'])).toBe('a=b,x-1,me@example.org\r\n')
  })

  it('writes the same record whole or line by line', () => {
    const rows = [
      ['time', 'pm25'],
      ['2026-01-01T00:00:00Z', 12.5],
      ['2026-01-01T01:00:00Z', null],
    ]
    expect(rows.map(csvLine).join('')).toBe(toCsv(rows))
    expect(parseCsv(toCsv(rows)).map((r) => r.fields)).toEqual([
      ['time', 'pm25'],
      ['2026-01-01T00:00:00Z', '12.5'],
      ['2026-01-01T01:00:00Z', ''],
    ])
  })
})
