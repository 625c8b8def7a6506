import { execFile } from 'node:child_process'
import fs from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import { promisify } from 'node:util'
import mqtt from 'mqtt'
import { pino } from 'pino'
import { afterAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../cli/config.ts'
import { createPlatform, type Platform } from '../platform/platform.ts'

/**
 * MQTT over TLS and secure WebSocket with a throwaway CA made by openssl: mosquitto_pub with the
 * CA gets in, without it the server certificate is refused; replacing the files on disk changes
 * the certificate new connections see, without a restart.
 */

const run = promisify(execFile)
const dir = fs.mkdtempSync(join(tmpdir(), 'piazza-tls-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const openssl = (...args: string[]) => run('openssl', args, { cwd: dir, timeout: 30_000 })

async function makeCa() {
  await openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Piazza test CA')
}

/** A server certificate for localhost and 127.0.0.1, signed by the CA, with the given serial (hex). */
async function makeServerCert(name: string, serial: string) {
  fs.writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n')
  await openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=localhost')
  await openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', `0x${serial}`, '-days', '2', '-out', `${name}.pem`, '-extfile', 'san.ext')
}

function peerSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: fs.readFileSync(join(dir, 'ca.pem')) }, () => {
      const serial = socket.getPeerCertificate().serialNumber
      socket.destroy()
      resolve(serial.toUpperCase())
    })
    socket.once('error', reject)
  })
}

async function mosquittoPub(args: string[]) {
  try {
    const { stdout, stderr } = await run('mosquitto_pub', args, { timeout: 15_000 })
    return { code: 0, output: stdout + stderr }
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string }
    return { code: e.code ?? 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` }
  }
}

describe('MQTT over TLS', () => {
  let platform: Platform
  let tlsPort: number
  let wssPort: number

  it('starts with the certificate files configured', async () => {
    await makeCa()
    await makeServerCert('server', '1001')
    fs.copyFileSync(join(dir, 'server.pem'), join(dir, 'cert.pem'))
    fs.copyFileSync(join(dir, 'server.key'), join(dir, 'key.pem'))
    const dataDir = join(dir, 'data')
    const config = loadConfig({ DATA_DIR: dataDir, INGEST_FLUSH_MS: '100', TLS_CERT_FILE: join(dir, 'cert.pem'), TLS_KEY_FILE: join(dir, 'key.pem') })
    platform = await createPlatform(config, pino({ level: 'silent' }), { tlsPollMs: 100 })
    const ports = await platform.listen({ host: '127.0.0.1', mqttPort: 0, tlsPort: 0, wssPort: 0 })
    tlsPort = ports.tlsPort!
    wssPort = ports.wssPort!
    expect(tlsPort).toBeGreaterThan(0)
    expect(wssPort).toBeGreaterThan(0)
  })

  afterAll(async () => {
    await platform?.close()
  })

  it('stores a reading published by mosquitto_pub over TLS with the CA', async () => {
    const { device, secret } = await platform.registry.add({ type: 'air-quality', city: 'Pisa', name: 'TLS' })
    const ts = Date.now() - 1000
    const result = await mosquittoPub(['--cafile', join(dir, 'ca.pem'), '-h', 'localhost', '-p', String(tlsPort), '-i', device.id, '-u', device.id, '-P', secret, '-t', `devices/${device.id}/telemetry`, '-q', '1', '-m', JSON.stringify({ ts, pm25: 11 })])
    expect(result).toEqual({ code: 0, output: '' })
    await expect.poll(() => platform.storage.latest({ deviceId: device.id, type: device.type }), { timeout: 30_000 }).toEqual({ time: ts, values: { pm25: 11 } })
  })

  it('is refused by a client that does not trust the CA', async () => {
    const { device, secret } = await platform.registry.add({ type: 'air-quality', city: 'Pisa', name: 'No CA' })
    const other = fs.mkdtempSync(join(tmpdir(), 'piazza-tls-empty-'))
    try {
      const result = await mosquittoPub(['--capath', other, '-h', 'localhost', '-p', String(tlsPort), '-i', device.id, '-u', device.id, '-P', secret, '-t', `devices/${device.id}/telemetry`, '-q', '1', '-m', '{}'])
      expect(result.code).not.toBe(0)
      expect(result.output).toMatch(/certificate|tls|ssl|verify|protocol/i)
    } finally {
      fs.rmSync(other, { recursive: true, force: true })
    }
  })

  it('accepts MQTT over secure WebSocket with mqtt.js', async () => {
    const { device, secret } = await platform.registry.add({ type: 'air-quality', city: 'Pisa', name: 'WSS' })
    const client = await mqtt.connectAsync(`wss://localhost:${wssPort}/mqtt`, {
      ca: fs.readFileSync(join(dir, 'ca.pem')),
      clientId: device.id,
      username: device.id,
      password: secret,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 15_000,
    })
    try {
      const ts = Date.now() - 500
      await client.publishAsync(`devices/${device.id}/telemetry`, JSON.stringify({ ts, pm25: 22 }), { qos: 1 })
      await expect.poll(() => platform.storage.latest({ deviceId: device.id, type: device.type }), { timeout: 30_000 }).toEqual({ time: ts, values: { pm25: 22 } })
    } finally {
      await client.endAsync()
    }
  })

  it('serves a renewed certificate from the files, without a restart', async () => {
    expect(await peerSerial(tlsPort)).toBe('1001')
    await makeServerCert('renewed', '2002')
    // As certbot and editors do: write aside, then rename over the old files.
    fs.copyFileSync(join(dir, 'renewed.key'), join(dir, 'key.new'))
    fs.copyFileSync(join(dir, 'renewed.pem'), join(dir, 'cert.new'))
    fs.renameSync(join(dir, 'key.new'), join(dir, 'key.pem'))
    fs.renameSync(join(dir, 'cert.new'), join(dir, 'cert.pem'))
    await expect.poll(() => peerSerial(tlsPort), { timeout: 30_000, interval: 200 }).toBe('2002')
    await expect.poll(() => peerSerial(wssPort), { timeout: 30_000, interval: 200 }).toBe('2002')
  })

  it('keeps the current certificate when the new files do not load', async () => {
    fs.writeFileSync(join(dir, 'cert.pem'), 'not a certificate\n')
    // Give the poller a few rounds; the old certificate must still be served.
    await new Promise((r) => setTimeout(r, 500))
    expect(await peerSerial(tlsPort)).toBe('2002')
  })
})

describe('TLS client certificates (TLS_CA_FILE)', () => {
  let platform: Platform
  let tlsPort: number

  async function makeClientCert(name: string, cn: string) {
    await openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`)
    await openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '0x3003', '-days', '2', '-out', `${name}.pem`)
  }

  it('starts asking for client certificates', async () => {
    if (!fs.existsSync(join(dir, 'ca.pem'))) await makeCa()
    await makeServerCert('server2', '1002')
    const config = loadConfig({ DATA_DIR: join(dir, 'data2'), INGEST_FLUSH_MS: '100', TLS_CERT_FILE: join(dir, 'server2.pem'), TLS_KEY_FILE: join(dir, 'server2.key'), TLS_CA_FILE: join(dir, 'ca.pem') })
    platform = await createPlatform(config, pino({ level: 'silent' }))
    tlsPort = (await platform.listen({ host: '127.0.0.1', mqttPort: 0, tlsPort: 0 })).tlsPort!
  })

  afterAll(async () => {
    await platform?.close()
  })

  const pub = (id: string, secret: string, extra: string[]) =>
    mosquittoPub(['--cafile', join(dir, 'ca.pem'), '-h', 'localhost', '-p', String(tlsPort), '-i', id, '-u', id, '-P', secret, '-t', `devices/${id}/telemetry`, '-q', '1', '-m', JSON.stringify({ ts: Date.now(), pm25: 3 }), ...extra])

  it('lets a device in with a certificate naming it, or with none; refuses a certificate naming another client', async () => {
    const { device, secret } = await platform.registry.add({ type: 'air-quality', city: 'Pisa', name: 'Cert' })
    await makeClientCert('mine', device.id)
    await makeClientCert('theirs', 'someone-else')
    expect(await pub(device.id, secret, ['--cert', join(dir, 'mine.pem'), '--key', join(dir, 'mine.key')])).toEqual({ code: 0, output: '' })
    expect(await pub(device.id, secret, [])).toEqual({ code: 0, output: '' })
    const refused = await pub(device.id, secret, ['--cert', join(dir, 'theirs.pem'), '--key', join(dir, 'theirs.key')])
    expect(refused.code).not.toBe(0)
    expect(platform.broker.stats().refused['client-cert-mismatch']).toBe(1)
  })
})

describe('certificate-only device login', () => {
  let platform: Platform | undefined
  afterAll(async () => {
    await platform?.close()
  })

  async function makeClientCert(name: string, cn: string, serial: string) {
    await openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`)
    await openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', `0x${serial}`, '-days', '2', '-out', `${name}.pem`)
  }

  /** mosquitto_pub with a client certificate and no password (-u only). */
  const pubWithCert = (port: number, id: string, cert: string) =>
    mosquittoPub(['--cafile', join(dir, 'ca.pem'), '-h', 'localhost', '-p', String(port), '-i', id, '-u', id, '--cert', join(dir, `${cert}.pem`), '--key', join(dir, `${cert}.key`), '-t', `devices/${id}/telemetry`, '-q', '1', '-m', JSON.stringify({ ts: Date.now(), pm25: 4 })])

  it('lets a device whose metadata allows it in on its certificate alone; others need their secret; revoked ones stay out', async () => {
    if (!fs.existsSync(join(dir, 'ca.pem'))) await makeCa()
    await makeServerCert('server3', '1003')
    const config = loadConfig({ DATA_DIR: join(dir, 'data3'), INGEST_FLUSH_MS: '100', TLS_CERT_FILE: join(dir, 'server3.pem'), TLS_KEY_FILE: join(dir, 'server3.key'), TLS_CA_FILE: join(dir, 'ca.pem') })
    expect(config.mqtt.tls?.certificateLogin).toBe(false)
    platform = await createPlatform(config, pino({ level: 'silent' }))
    const port = (await platform.listen({ host: '127.0.0.1', mqttPort: 0, tlsPort: 0 })).tlsPort!
    const { device: allowed } = await platform.registry.add({ type: 'air-quality', city: 'Pisa', name: 'Cert only', metadata: { 'auth.certificate': true } })
    const { device: plain, secret: plainSecret } = await platform.registry.add({ type: 'air-quality', city: 'Pisa', name: 'Cert and secret' })
    await makeClientCert('only', allowed.id, '4004')
    await makeClientCert('plain', plain.id, '4005')

    expect(await pubWithCert(port, allowed.id, 'only')).toEqual({ code: 0, output: '' })
    expect(platform.broker.stats().refused['no-credentials'] ?? 0).toBe(0)
    await expect.poll(() => platform!.ingest.stats().shipper?.storedReadings ?? 0, { timeout: 20_000 }).toBe(1)

    // Without the metadata switch the certificate alone is not enough; with the secret it is.
    expect((await pubWithCert(port, plain.id, 'plain')).code).not.toBe(0)
    expect(platform.broker.stats().refused['no-credentials']).toBe(1)
    expect(await mosquittoPub(['--cafile', join(dir, 'ca.pem'), '-h', 'localhost', '-p', String(port), '-i', plain.id, '-u', plain.id, '-P', plainSecret, '--cert', join(dir, 'plain.pem'), '--key', join(dir, 'plain.key'), '-t', `devices/${plain.id}/telemetry`, '-q', '1', '-m', JSON.stringify({ ts: Date.now(), pm25: 5 })])).toEqual({ code: 0, output: '' })

    // Another device's certificate does not log in as this one.
    expect((await pubWithCert(port, allowed.id, 'plain')).code).not.toBe(0)
    expect(platform.broker.stats().refused['client-cert-mismatch']).toBe(1)

    platform.registry.setStatus(allowed.id, 'revoked')
    expect((await pubWithCert(port, allowed.id, 'only')).code).not.toBe(0)
    expect(platform.broker.stats().refused.revoked).toBe(1)
  })

  it('MQTT_CERT_LOGIN=true turns it on for every device, and needs TLS_CA_FILE', () => {
    const files = { TLS_CERT_FILE: join(dir, 'server3.pem'), TLS_KEY_FILE: join(dir, 'server3.key') }
    expect(loadConfig({ ...files, TLS_CA_FILE: join(dir, 'ca.pem'), MQTT_CERT_LOGIN: 'true' }).mqtt.tls?.certificateLogin).toBe(true)
    expect(() => loadConfig({ ...files, MQTT_CERT_LOGIN: 'true' })).toThrow(/MQTT_CERT_LOGIN needs TLS_CA_FILE/)
  })
})

describe('TLS configuration', () => {
  it('refuses a certificate without its key, and unreadable files', () => {
    const cert = join(dir, 'ca.pem')
    expect(() => loadConfig({ TLS_CERT_FILE: cert })).toThrow(/TLS_CERT_FILE and TLS_KEY_FILE go together/)
    expect(() => loadConfig({ TLS_CERT_FILE: cert, TLS_KEY_FILE: join(dir, 'missing.key') })).toThrow(/TLS_KEY_FILE must name a readable PEM file/)
    expect(loadConfig({}).mqtt.tls).toBeUndefined()
  })
})
