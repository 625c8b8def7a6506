import { useState } from 'react'
import { installerApi, type ImportReport } from './api.ts'
import { ROUTES } from './router.ts'
import { useStrings } from '../../i18n/react.tsx'
import { IMPORT_STRINGS } from './import-strings.tsx'

const code = (c: string) => <code>{c}</code>
import { downloadText, Link } from './ui.tsx'
import { useErrorText, useRowText } from '../api/error-text.ts'

/**
 * Bulk registration from CSV: check the file first (a dry run lists every row's problems), fix,
 * then import. Importing the same file again creates nothing twice; the new secrets come back once
 * as a CSV to download.
 */
export function ImportPage() {
  const errorText = useErrorText()
  const t = useStrings(IMPORT_STRINGS)
  const [text, setText] = useState('')
  const [fileName, setFileName] = useState('')
  const [report, setReport] = useState<ImportReport | null>(null)
  const [checkedText, setCheckedText] = useState<string | null>(null)
  const [result, setResult] = useState<ImportReport | null>(null)
  const [secretsSaved, setSecretsSaved] = useState(false)
  const [error, setError] = useState('')
  const [busy, setBusy] = useState<'check' | 'import' | null>(null)

  const reset = () => {
    setReport(null)
    setCheckedText(null)
    setResult(null)
    setSecretsSaved(false)
    setError('')
  }

  const check = async () => {
    if (!text.trim()) return setError(t.chooseFirst)
    setBusy('check')
    setError('')
    setResult(null)
    try {
      setReport(await installerApi.importCsv(text, true))
      setCheckedText(text)
    } catch (e) {
      setReport(null)
      setError(errorText(e))
    } finally {
      setBusy(null)
    }
  }

  const runImport = async () => {
    setBusy('import')
    setError('')
    try {
      const r = await installerApi.importCsv(text, false)
      setResult(r)
      setReport(null)
    } catch (e) {
      setError(errorText(e))
    } finally {
      setBusy(null)
    }
  }

  const current = report && checkedText === text
  const canImport = current && report.ok && report.summary.create > 0

  return (
    <div className="inst-stack">
      <section className="inst-card" aria-labelledby="import-title">
        <h1 id="import-title">{t.title}</h1>
        <p className="inst-sub">{t.columns(code)}</p>
        <details className="inst-details">
          <summary>{t.howMatched}</summary>
          <p>{t.matching(code)}</p>
        </details>
        <div className="inst-actions inst-actions-wrap">
          <button
            type="button"
            className="inst-secondary"
            data-testid="import-template"
            onClick={async () => {
              try {
                downloadText('piazza-devices-template.csv', await installerApi.importTemplate(), 'text/csv')
              } catch (e) {
                setError(errorText(e))
              }
            }}
          >
            {t.template}
          </button>
          <label className="inst-file">
            <input
              type="file"
              accept=".csv,text/csv"
              data-testid="import-file"
              onChange={async (e) => {
                const file = e.target.files?.[0]
                if (!file) return
                setFileName(file.name)
                setText(await file.text())
                reset()
              }}
            />
            <span>{t.chooseFile}</span>
          </label>
        </div>
        {fileName && <p className="inst-hint">{t.file(fileName)}</p>}
        <label htmlFor="import-text">{t.contents}</label>
        <textarea
          id="import-text"
          className="inst-csv"
          rows={7}
          spellCheck={false}
          value={text}
          onChange={(e) => {
            setText(e.target.value)
            setResult(null)
          }}
          placeholder={'type,city,name,lat,lon,interval,meta.serial\nair-quality,firenze,Viale Gramsci,43.7781,11.2656,60,SN-0001'}
          data-testid="import-text"
        />
        <p className="error" role="alert" data-testid="import-error">
          {error}
        </p>
        <div className="inst-actions">
          <button type="button" className="inst-secondary" onClick={check} aria-disabled={busy !== null} data-testid="import-check">
            {busy === 'check' ? t.checking : t.check}
          </button>
          <button type="button" onClick={runImport} disabled={!canImport || busy !== null} data-testid="import-submit">
            {busy === 'import' ? t.importing : canImport ? t.importN(report.summary.create) : t.import}
          </button>
        </div>
        {report && !current && <p className="inst-hint">{t.changed}</p>}
      </section>

      {report && <Report report={report} />}

      {result && (
        <section className="inst-card" data-testid="import-result" aria-labelledby="result-title">
          <h2 id="result-title">
            {t.created(result.summary.created)}
            {result.summary.exists ? t.alsoExisting(result.summary.exists) : ''}
          </h2>
          {result.summary.created > 0 && (
            <>
              <p className="inst-warning" role="note">
                <strong>{t.secretsNow}</strong>
                {t.secretsOnce}
              </p>
              <button
                type="button"
                disabled={secretsSaved}
                data-testid="import-secrets-download"
                onClick={() => {
                  downloadText(`piazza-secrets-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')}.csv`, result.secretsCsv ?? '', 'text/csv')
                  setSecretsSaved(true)
                }}
              >
                {secretsSaved ? t.secretsDownloaded : t.secretsDownload}
              </button>
            </>
          )}
          <Report report={result} compact />
        </section>
      )}
    </div>
  )
}

function Report({ report, compact }: { report: ImportReport; compact?: boolean }) {
  const s = report.summary
  const t = useStrings(IMPORT_STRINGS)
  const rowText = useRowText()
  return (
    <section className={compact ? 'inst-report' : 'inst-card inst-report'} data-testid="import-report" data-ok={String(report.ok)} aria-labelledby={compact ? undefined : 'report-title'}>
      {!compact && (
        <>
          <h2 id="report-title">{report.ok ? t.good : t.toFix(s.errors)}</h2>
          <p className={report.ok ? 'inst-ok' : 'inst-bad'} data-testid="import-summary">
            {t.summary(s.rows, s.create, s.exists, s.errors)}
            {report.ok ? t.nothingYet : t.nothingCreated}
          </p>
        </>
      )}
      <ul className="inst-report-rows">
        {report.rows.map((row) => (
          <li key={row.line} className={`inst-report-row inst-report-${row.status}`} data-testid="import-row" data-line={row.line} data-status={row.status}>
            <div className="inst-report-head">
              <span className="inst-report-line">{t.line(row.line)}</span>
              <span className="inst-report-name">{row.name ?? t.noName}</span>
              <span className="inst-report-status">{t.statuses[row.status] ?? row.status}</span>
            </div>
            {(row.type || row.city || row.id) && (
              <div className="inst-report-meta">
                {[row.type, row.city].filter(Boolean).join(' · ')}
                {row.id && (row.status === 'created' || row.status === 'exists') ? (
                  <>
                    {' · '}
                    <Link to={ROUTES.device(row.id)}>{row.id}</Link>
                  </>
                ) : row.id ? (
                  ` · ${row.id}`
                ) : null}
              </div>
            )}
            {row.errors.length > 0 && (
              <ul className="inst-report-errors">
                {row.errors.map((e, i) => (
                  <li key={i} data-testid="import-row-error">
                    {rowText(e, row.errorWords[i])}
                  </li>
                ))}
              </ul>
            )}
            {row.warnings.length > 0 && (
              <ul className="inst-report-warnings">
                {row.warnings.map((w, i) => (
                  <li key={i} data-testid="import-row-warning">
                    {rowText(w, row.warningWords[i])}
                  </li>
                ))}
              </ul>
            )}
          </li>
        ))}
      </ul>
    </section>
  )
}
