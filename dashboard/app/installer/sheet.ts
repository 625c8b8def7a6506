import type { MqttInfo } from './api.ts'

/**
 * The connection sheet of a device: everything its firmware needs to reach the broker, as text
 * (pure functions, unit-tested in sheet.test.ts). Built in the browser from the secret the server
 * answered once, so the secret never travels again.
 */

export interface SheetDevice {
  id: string
  type: string
  name: string
  city: string
}

export interface ConnectionSheet {
  host: string
  port: number
  /** MQTT over WebSocket, when the broker offers it. */
  wsUrl?: string
  /** MQTT over TLS, when the broker offers it (the command line then uses it, with --cafile). */
  tlsPort?: number
  /** MQTT over secure WebSocket, when the broker offers it. */
  wssUrl?: string
  /** The host answers only on the machine itself (127.x, ::1, localhost) or nowhere (0.0.0.0): no device elsewhere can reach it. */
  unreachable: boolean
  clientId: string
  username: string
  password: string
  topic: string
  statusTopic: string
  errorsTopic: string
  /** The example reading, pretty-printed. */
  payload: string
  /** A mosquitto_pub command line that sends the example with the current time. */
  command: string
  /** What the QR code holds: the connection settings as compact JSON. */
  qrText: string
  fileName: string
  fileText: string
}

/** Single-quotes a word for a POSIX shell. */
export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:@=-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`
}

/** The example with its timestamp as a printf placeholder, so the command sends the current time. */
function payloadTemplate(example: Record<string, number | string>): string {
  const withPlaceholder = { ...example, ts: '%s' }
  return JSON.stringify(withPlaceholder).replace(/%(?!s")/g, '%%')
}

/** Loopback or unspecified addresses: a device in the street cannot connect to them. */
export function isLocalOnlyHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '')
  return h === 'localhost' || h.endsWith('.localhost') || /^127(\.\d{1,3}){3}$/.test(h) || h === '::1' || h === '0.0.0.0' || h === '::' || h === '0:0:0:0:0:0:0:1'
}

export function buildSheet(input: { device: SheetDevice; secret: string; mqtt: MqttInfo; fallbackHost: string }): ConnectionSheet {
  const { device, secret, mqtt } = input
  const host = mqtt.host ?? input.fallbackHost
  const port = mqtt.port ?? 1883
  const topic = mqtt.topics.telemetry.replace('{id}', device.id)
  const example = mqtt.examples[device.type] ?? { ts: new Date().toISOString() }
  const payload = JSON.stringify(example, null, 2)
  const tlsPort = mqtt.tlsPort ?? undefined
  const command = [
    'mosquitto_pub',
    `-h ${shellQuote(host)}`,
    ...(tlsPort ? [`-p ${tlsPort}`, '--cafile ca.pem'] : [`-p ${port}`]),
    '-V mqttv311',
    '-q 1',
    `-i ${shellQuote(device.id)}`,
    `-u ${shellQuote(device.id)}`,
    `-P ${shellQuote(secret)}`,
    `-t ${shellQuote(topic)}`,
    `-m "$(printf ${shellQuote(payloadTemplate(example))} "$(date -u +%Y-%m-%dT%H:%M:%SZ)")"`,
  ].join(' ')
  const wsUrl = mqtt.wsPort ? `ws://${host}:${mqtt.wsPort}${mqtt.wsPath}` : undefined
  const qrText = JSON.stringify({ v: 1, host, port, clientId: device.id, username: device.id, password: secret, topic })
  const sheet: ConnectionSheet = {
    host,
    port,
    unreachable: isLocalOnlyHost(host),
    clientId: device.id,
    username: device.id,
    password: secret,
    topic,
    statusTopic: mqtt.topics.status.replace('{id}', device.id),
    errorsTopic: mqtt.topics.errors.replace('{id}', device.id),
    payload,
    command,
    qrText,
    fileName: `piazza-${device.id}-connection.txt`,
    fileText: '',
  }
  if (wsUrl) sheet.wsUrl = wsUrl
  const wssUrl = mqtt.wssPort ? `wss://${host}:${mqtt.wssPort}${mqtt.wsPath}` : undefined
  if (tlsPort) sheet.tlsPort = tlsPort
  if (wssUrl) sheet.wssUrl = wssUrl
  sheet.fileText = [
    `Piazza connection sheet — ${device.name} (${device.id})`,
    `Type: ${device.type}   City: ${device.city}`,
    '',
    `Broker host:   ${host}`,
    `MQTT port:     ${port} (MQTT 3.1.1, TCP)`,
    ...(wsUrl ? [`WebSocket:     ${wsUrl}`] : []),
    ...(tlsPort ? [`MQTT/TLS port: ${tlsPort} (MQTT 3.1.1 over TLS; ca.pem: the CA that signed the broker certificate)`] : []),
    ...(wssUrl ? [`Secure WS:     ${wssUrl}`] : []),
    `Client id:     ${device.id}`,
    `Username:      ${device.id}`,
    `Password:      ${secret}`,
    `Publish to:    ${topic} (QoS 1, not retained)`,
    `Status topic:  ${sheet.statusTopic} (also the only allowed last will)`,
    `Errors topic:  ${sheet.errorsTopic} (subscribe: why readings were refused)`,
    '',
    'Example reading (ts: ISO 8601 with time zone, or epoch milliseconds):',
    payload,
    '',
    'Test from a shell:',
    command,
    '',
    'The password is shown only once. If it is lost, rotate the secret in Piazza.',
    '',
  ].join('\n')
  return sheet
}
