import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { buildSheet, isLocalOnlyHost, shellQuote } from './sheet.ts'
import type { MqttInfo } from './api.ts'

const mqtt: MqttInfo = {
  host: 'mqtt.piazza.example',
  port: 1883,
  wsPort: 8083,
  wsPath: '/mqtt',
  protocol: 'MQTT 3.1.1',
  topics: { telemetry: 'devices/{id}/telemetry', status: 'devices/{id}/status', errors: 'devices/{id}/errors' },
  examples: { 'air-quality': { ts: '2026-11-26T08:00:00Z', pm25: 12.5, pm10: 21 }, bus: { ts: '2026-11-26T08:00:00Z', route: "1'4%", lat: 43.77, lon: 11.25 } },
}
const device = { id: 'aq-firenze-1a2b3c', type: 'air-quality', name: 'Viale Gramsci', city: 'firenze' }

describe('connection sheet', () => {
  it('flags a host only the server itself can reach', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '::1', '[::1]', '0.0.0.0', 'box.localhost']) expect(isLocalOnlyHost(host), host).toBe(true)
    for (const host of ['mqtt.piazza.example', '192.168.1.10', '10.0.0.1', '128.0.0.1', 'localhost.example.com']) expect(isLocalOnlyHost(host), host).toBe(false)
    expect(buildSheet({ device, secret: 'x', mqtt: { ...mqtt, host: '127.0.0.1' }, fallbackHost: 'x' }).unreachable).toBe(true)
    expect(buildSheet({ device, secret: 'x', mqtt, fallbackHost: 'x' }).unreachable).toBe(false)
  })

  it('with TLS on, shows the TLS ports and tests over TLS with --cafile', () => {
    const sheet = buildSheet({ device, secret: 'S3cr-et_x', mqtt: { ...mqtt, tlsPort: 8883, wssPort: 8084 }, fallbackHost: 'ignored' })
    expect(sheet).toMatchObject({ port: 1883, tlsPort: 8883, wssUrl: 'wss://mqtt.piazza.example:8084/mqtt' })
    expect(sheet.command).toContain('-p 8883 --cafile ca.pem')
    expect(sheet.command).not.toContain('-p 1883')
    expect(sheet.fileText).toContain('MQTT/TLS port: 8883')
    const plain = buildSheet({ device, secret: 'S3cr-et_x', mqtt: { ...mqtt, tlsPort: null, wssPort: null }, fallbackHost: 'ignored' })
    expect(plain.tlsPort).toBeUndefined()
    expect(plain.command).toContain('-p 1883')
    expect(plain.command).not.toContain('--cafile')
  })

  it('has every setting, username = client id = device id', () => {
    const sheet = buildSheet({ device, secret: 'S3cr-et_x', mqtt, fallbackHost: 'ignored' })
    expect(sheet).toMatchObject({
      host: 'mqtt.piazza.example',
      port: 1883,
      wsUrl: 'ws://mqtt.piazza.example:8083/mqtt',
      clientId: device.id,
      username: device.id,
      password: 'S3cr-et_x',
      topic: `devices/${device.id}/telemetry`,
      errorsTopic: `devices/${device.id}/errors`,
      fileName: `piazza-${device.id}-connection.txt`,
    })
    expect(JSON.parse(sheet.qrText)).toEqual({ v: 1, host: 'mqtt.piazza.example', port: 1883, clientId: device.id, username: device.id, password: 'S3cr-et_x', topic: `devices/${device.id}/telemetry` })
    expect(sheet.fileText).toContain('Password:      S3cr-et_x')
    expect(sheet.fileText).toContain(sheet.command)
    expect(JSON.parse(sheet.payload)).toEqual(mqtt.examples['air-quality'])
  })

  it('falls back to the page host when the server does not know its public host', () => {
    const sheet = buildSheet({ device, secret: 'x', mqtt: { ...mqtt, host: null, port: null, wsPort: null }, fallbackHost: 'piazza.local' })
    expect(sheet).toMatchObject({ host: 'piazza.local', port: 1883 })
    expect(sheet.wsUrl).toBeUndefined()
  })

  it("quotes for the shell, and the command's message is valid JSON with the current time", () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`)
    expect(shellQuote('devices/a-b/telemetry')).toBe('devices/a-b/telemetry')
    for (const [type, id] of [['air-quality', device.id], ['bus', 'bus-firenze-000001']] as const) {
      const sheet = buildSheet({ device: { ...device, type, id }, secret: "we'ird$secret", mqtt, fallbackHost: 'x' })
      // A stand-in mosquitto_pub that prints its arguments one per line.
      const script = `mosquitto_pub() { for a in "$@"; do printf '%s\\n--\\n' "$a"; done; }; ${sheet.command}`
      const args = execFileSync('bash', ['-c', script], { encoding: 'utf8' }).split('\n--\n')
      expect(args[args.indexOf('-P') + 1]).toBe("we'ird$secret")
      expect(args[args.indexOf('-t') + 1]).toBe(`devices/${id}/telemetry`)
      const message = JSON.parse(args[args.indexOf('-m') + 1]!) as Record<string, unknown>
      expect(Math.abs(Date.parse(message.ts as string) - Date.now())).toBeLessThan(60_000)
      expect({ ...message, ts: 'x' }).toEqual({ ...mqtt.examples[type], ts: 'x' })
    }
  })
})
