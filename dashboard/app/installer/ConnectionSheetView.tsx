import { useEffect, useState } from 'react'
import type { ConnectionSheet, SheetDevice } from './sheet.ts'
import { CopyButton, downloadText, QrCode } from './ui.tsx'
import { useStrings } from '../../i18n/react.tsx'
import { INSTALLER_STRINGS } from './strings.ts'

/**
 * The secret, shown once, with everything a device needs: host, ports, credentials, topic, an
 * example reading, a mosquitto_pub line and a QR code. It can be downloaded once; after leaving
 * this view the secret is gone (rotate it to get a new one).
 */
export function ConnectionSheetView({ sheet, device, onDone, doneLabel, rotated }: { sheet: ConnectionSheet; device: SheetDevice; onDone: () => void; doneLabel: string; rotated?: boolean }) {
  const [downloaded, setDownloaded] = useState(false)
  const t = useStrings(INSTALLER_STRINGS).sheet
  // The form above was scrolled to its submit button: start the sheet at its top.
  useEffect(() => {
    // Braces: scrollTo returns a Promise in recent browsers, which must not become the cleanup.
    window.scrollTo(0, 0)
  }, [])
  const rows: [string, string, string][] = [
    [t.brokerHost, sheet.host, 'host'],
    [t.mqttPort, String(sheet.port), 'port'],
    ...(sheet.wsUrl ? ([[t.webSocket, sheet.wsUrl, 'ws']] as [string, string, string][]) : []),
    ...(sheet.tlsPort ? ([[t.tlsPort, String(sheet.tlsPort), 'tls-port']] as [string, string, string][]) : []),
    ...(sheet.wssUrl ? ([[t.secureWebSocket, sheet.wssUrl, 'wss']] as [string, string, string][]) : []),
    [t.clientId, sheet.clientId, 'client-id'],
    [t.username, sheet.username, 'username'],
    [t.password, sheet.password, 'password'],
    [t.topic, sheet.topic, 'topic'],
  ]
  return (
    <section className="inst-card inst-sheet" data-testid="connection-sheet" data-device-id={device.id} aria-labelledby="sheet-title">
      <h2 id="sheet-title">{rotated ? t.newSecret : t.registered}: {device.name}</h2>
      <p className="inst-warning" role="note">
        <strong>{t.saveNow}</strong>
        {t.shownOnce}
      </p>
      {sheet.unreachable && (
        <p className="inst-warning" role="note" data-testid="sheet-host-warning">
          <strong>{t.localHost(sheet.host)}</strong>
          {t.localHostAdvice}
          <code>PUBLIC_HOST</code>
          {t.localHostAdvice2}
        </p>
      )}
      <dl className="inst-settings">
        {rows.map(([label, value, key]) => (
          <div key={key} className="inst-setting">
            <dt>{label}</dt>
            <dd>
              <code data-testid={`sheet-${key}`}>{value}</code>
              <CopyButton text={value} label={label} testid={`copy-${key}`} />
            </dd>
          </div>
        ))}
      </dl>
      <p className="inst-hint">{t.protocol(sheet.errorsTopic)}</p>

      <div className="inst-block">
        <div className="inst-block-head">
          <h3>{t.example}</h3>
          <CopyButton text={sheet.payload} label={t.exampleLabel} testid="copy-payload" />
        </div>
        <pre data-testid="sheet-payload">{sheet.payload}</pre>
      </div>

      <div className="inst-block">
        <div className="inst-block-head">
          <h3>{t.shellTest}</h3>
          <CopyButton text={sheet.command} label={t.commandLabel} testid="copy-command" />
        </div>
        <pre className="inst-wrap" data-testid="sheet-command">{sheet.command}</pre>
      </div>

      <div className="inst-qr-box">
        <QrCode text={sheet.qrText} label={t.qrLabel(device.id)} testid="sheet-qr" />
        <p className="inst-hint">{t.qrHint}</p>
      </div>

      <div className="inst-actions">
        <button
          type="button"
          className="inst-secondary"
          disabled={downloaded}
          data-testid="sheet-download"
          onClick={() => {
            downloadText(sheet.fileName, sheet.fileText)
            setDownloaded(true)
          }}
        >
          {downloaded ? t.downloaded : t.download}
        </button>
        <button type="button" onClick={onDone} data-testid="sheet-continue">
          {doneLabel}
        </button>
      </div>
    </section>
  )
}
