import { useEffect, useState } from 'react'
import type { ConnectionSheet, SheetDevice } from './sheet.ts'
import { CopyButton, downloadText, QrCode } from './ui.tsx'

/**
 * The secret, shown once, with everything a device needs: host, ports, credentials, topic, an
 * example reading, a mosquitto_pub line and a QR code. It can be downloaded once; after leaving
 * this view the secret is gone (rotate it to get a new one).
 */
export function ConnectionSheetView({ sheet, device, onDone, doneLabel, rotated }: { sheet: ConnectionSheet; device: SheetDevice; onDone: () => void; doneLabel: string; rotated?: boolean }) {
  const [downloaded, setDownloaded] = useState(false)
  // The form above was scrolled to its submit button: start the sheet at its top.
  useEffect(() => {
    // Braces: scrollTo returns a Promise in recent browsers, which must not become the cleanup.
    window.scrollTo(0, 0)
  }, [])
  const rows: [string, string, string][] = [
    ['Broker host', sheet.host, 'host'],
    ['MQTT port', String(sheet.port), 'port'],
    ...(sheet.wsUrl ? ([['WebSocket', sheet.wsUrl, 'ws']] as [string, string, string][]) : []),
    ...(sheet.tlsPort ? ([['MQTT/TLS port', String(sheet.tlsPort), 'tls-port']] as [string, string, string][]) : []),
    ...(sheet.wssUrl ? ([['Secure WebSocket', sheet.wssUrl, 'wss']] as [string, string, string][]) : []),
    ['Client id', sheet.clientId, 'client-id'],
    ['Username', sheet.username, 'username'],
    ['Password', sheet.password, 'password'],
    ['Topic', sheet.topic, 'topic'],
  ]
  return (
    <section className="inst-card inst-sheet" data-testid="connection-sheet" data-device-id={device.id} aria-labelledby="sheet-title">
      <h2 id="sheet-title">{rotated ? 'New secret' : 'Registered'}: {device.name}</h2>
      <p className="inst-warning" role="note">
        <strong>Save these settings now.</strong> The password is shown only this once and cannot be shown again; if it is lost, rotate the secret.
      </p>
      {sheet.unreachable && (
        <p className="inst-warning" role="note" data-testid="sheet-host-warning">
          <strong>{sheet.host} is this server itself:</strong> a device elsewhere cannot connect to it. Ask the administrator to set <code>PUBLIC_HOST</code> to the name or address
          devices reach the broker at, then open this sheet again.
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
      <p className="inst-hint">MQTT 3.1.1, QoS 1, not retained. Refusals are explained on {sheet.errorsTopic}.</p>

      <div className="inst-block">
        <div className="inst-block-head">
          <h3>Example reading</h3>
          <CopyButton text={sheet.payload} label="example reading" testid="copy-payload" />
        </div>
        <pre data-testid="sheet-payload">{sheet.payload}</pre>
      </div>

      <div className="inst-block">
        <div className="inst-block-head">
          <h3>Test from a shell</h3>
          <CopyButton text={sheet.command} label="mosquitto_pub command" testid="copy-command" />
        </div>
        <pre className="inst-wrap" data-testid="sheet-command">{sheet.command}</pre>
      </div>

      <div className="inst-qr-box">
        <QrCode text={sheet.qrText} label={`QR code with the connection settings of ${device.id}`} testid="sheet-qr" />
        <p className="inst-hint">Scan with the provisioning app: host, port, client id, username, password and topic as JSON.</p>
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
          {downloaded ? 'Downloaded ✓' : 'Download sheet (once)'}
        </button>
        <button type="button" onClick={onDone} data-testid="sheet-continue">
          {doneLabel}
        </button>
      </div>
    </section>
  )
}
