import mqtt, { type MqttClient } from 'mqtt'

/**
 * Devices publishing unique readings over real MQTT (QoS 1), remembering exactly which ones the
 * broker acknowledged: the set a durability test must find in storage afterwards.
 */

export interface Credentials {
  id: string
  secret: string
}

/**
 * Flat out by default (each device keeps `inflightPerDevice` messages unacknowledged); with
 * `intervalMs`, each device publishes one reading per interval instead (a steady rate), still
 * holding at most `inflightPerDevice` unacknowledged, so a device cut off piles up nothing more.
 */
export function startPublishers(options: { url: string; devices: Credentials[]; inflightPerDevice?: number; startTs?: number; intervalMs?: number }) {
  const inflight = options.inflightPerDevice ?? 20
  const acked = new Map<string, Set<number>>()
  let running = true
  let sent = 0
  const clients: MqttClient[] = []
  const loops: Promise<void>[] = []
  const startTs = options.startTs ?? Date.now() - 60_000

  for (const device of options.devices) {
    const done = new Set<number>()
    acked.set(device.id, done)
    const client = mqtt.connect(options.url, {
      protocolVersion: 4,
      clientId: device.id,
      username: device.id,
      password: device.secret,
      reconnectPeriod: 200,
      connectTimeout: 5000,
    })
    client.on('error', () => {})
    clients.push(client)
    let seq = 0
    let pending = 0
    loops.push(
      new Promise<void>((resolve) => {
        const pump = () => {
          while (running && pending < inflight) {
            const ts = startTs + seq++
            pending += 1
            sent += 1
            client.publish(`devices/${device.id}/telemetry`, JSON.stringify({ ts, pm25: (ts % 500) / 10 }), { qos: 1 }, (err) => {
              pending -= 1
              if (!err) done.add(ts)
              if (running) setImmediate(pump)
              else if (pending === 0) resolve()
            })
          }
          if (!running && pending === 0) resolve()
        }
        if (options.intervalMs === undefined) {
          client.on('connect', pump)
          return
        }
        const timer = setInterval(() => {
          if (!running) {
            clearInterval(timer)
            if (pending === 0) resolve()
            return
          }
          // Only while connected: mqtt.js would otherwise queue the message until it reconnects.
          if (!client.connected || pending >= inflight) return
          const ts = startTs + seq++
          pending += 1
          sent += 1
          client.publish(`devices/${device.id}/telemetry`, JSON.stringify({ ts, pm25: (ts % 500) / 10 }), { qos: 1 }, (err) => {
            pending -= 1
            if (!err) done.add(ts)
            if (!running && pending === 0) resolve()
          })
        }, options.intervalMs)
      }),
    )
  }

  return {
    ackedCount: () => [...acked.values()].reduce((n, s) => n + s.size, 0),
    sent: () => sent,
    acked,
    /** Stops publishing; waits (bounded) for in-flight messages to be acknowledged or given up. */
    async stop(graceMs = 15_000) {
      running = false
      await Promise.race([Promise.all(loops), new Promise((resolve) => setTimeout(resolve, graceMs))])
      await Promise.all(clients.map((c) => c.endAsync(true)))
    },
  }
}
