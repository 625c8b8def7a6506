import fs from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { startDemoFleet } from '../cli/commands/demo.ts'
import { loadConfig } from '../cli/config.ts'
import { cities } from '../devices/region.ts'
import { startServer } from '../platform/platform.ts'
import { planFleet } from '../simulator/fleet.ts'

/**
 * How long the demo's first start takes to back-fill its fleet (README, "A demo with history"):
 *
 *   node --import tsx bench/demo-backfill.ts [devices=400]
 *
 * The platform and the demo fleet in this process, on a fresh data directory, as `npm run demo`
 * runs them. Prints the back-fill's own lines with the seconds since start, then one JSON line:
 * when every city had an air-quality index (indexS), when the fleet went live (liveS: the last
 * 24 hours acknowledged) and when the store first held a live reading (liveStoredS: one stamped
 * after the fleet went live, of one of a sample of devices; liveLagS: from then on until the whole
 * back-fill is stored, the longest the sample's newest stored reading was behind the clock), when the broker had acknowledged
 * the whole back-fill (ackedS: the days before, sent meanwhile) and when the store held all of
 * it (storedS: the write-ahead log drained), and the CPU seconds the process used. Add
 * --cpu-prof to node's options for a profile.
 */

const devices = Number(process.argv[2] ?? 400)
const dataDir = fs.mkdtempSync(join(tmpdir(), 'piazza-bench-backfill-'))
const config = loadConfig({ DATA_DIR: dataDir, HTTP_PORT: '0', MQTT_PORT: '0', MQTT_WS_PORT: '0', ADMIN_PASSWORD: 'bench-admin-password' })
const logger = pino({ level: 'warn' })
const seconds = (since: number) => Math.round((Date.now() - since) / 100) / 10
const started = Date.now()
const server = await startServer(config, logger)
let indexS: number | undefined
const poll = setInterval(async () => {
  if (indexS !== undefined) return
  const air = (await server.web.app.inject({ url: '/api/public/air-quality' })).json() as { items: { city: string; index: { value: number | null } | null }[] }
  if (cities.every((c) => air.items.find((i) => i.city === c.id)?.index?.value != null)) indexS = seconds(started)
}, 500)
const { fleet, backfill: whole } = await startDemoFleet(config, server, { devices, rate: 6 }, logger, (line) => console.log(`${seconds(started)} s  ${line}`))
const liveAt = Date.now()
const liveS = seconds(started)
const sample = planFleet({ devices, seed: 1 }).filter((_, i) => i % 20 === 0)
let liveStoredS: number | undefined
let liveLagS = 0
let probing = true
const probe = (async () => {
  while (probing || liveStoredS === undefined) {
    let newest = 0
    for (const d of sample) newest = Math.max(newest, (await server.storage.latest({ deviceId: d.id, type: d.type }))?.time ?? 0)
    if (newest > liveAt) liveStoredS ??= seconds(started)
    if (liveStoredS !== undefined) liveLagS = Math.max(liveLagS, seconds(newest))
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
})()
const backfill = await whole
const ackedS = seconds(started)
while (server.ingest.wal.unreadRecords() > 0) await new Promise((resolve) => setTimeout(resolve, 100))
const storedS = seconds(started)
probing = false
await probe
while (indexS === undefined) await new Promise((resolve) => setTimeout(resolve, 100))
clearInterval(poll)
const cpu = process.cpuUsage()
console.log(JSON.stringify({ devices, readings: backfill.readings, messages: backfill.messages, indexS, liveS, liveStoredS, liveLagS, ackedS, storedS, cpuS: Math.round((cpu.user + cpu.system) / 1e5) / 10 }))
await fleet.close()
await server.close()
fs.rmSync(dataDir, { recursive: true, force: true })
