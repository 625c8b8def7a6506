import { describe, expect, it } from 'vitest'
import { createMetrics, type IngestStatsSource } from './metrics.ts'

const ingest: IngestStatsSource = {
  counters: { messages: 0, readingsAccepted: 0, readingsRejected: 0, rejectedByCode: {}, walErrors: 0, deadLettersOverQuota: 0 },
  stats: () => ({ wal: { unconfirmedBytes: 0, overBudget: false } }),
}

describe('diagnostics timing metrics', () => {
  it('are absent when timing is off', async () => {
    const text = await createMetrics({ ingest, socketClients: () => 0 }).text()
    expect(text).not.toContain('piazza_ingest_seconds_total')
    expect(text).not.toContain('piazza_feed_listener_seconds_total')
    expect(text).toContain('process_cpu_seconds_total')
  })

  it('expose ingest seconds and seconds per feed listener when on', async () => {
    const text = await createMetrics({
      ingest,
      socketClients: () => 0,
      timing: { ingestSeconds: () => 1.5, listenerSeconds: () => ({ live: 0.25, 'public-snapshots': 2 }) },
    }).text()
    expect(text).toMatch(/^piazza_ingest_seconds_total 1\.5$/m)
    expect(text).toMatch(/^piazza_feed_listener_seconds_total\{listener="live"\} 0\.25$/m)
    expect(text).toMatch(/^piazza_feed_listener_seconds_total\{listener="public-snapshots"\} 2$/m)
  })
})

describe('broker intake metrics', () => {
  it('expose the messages in flight, the connections waiting and the waits so far', async () => {
    const text = await createMetrics({ ingest, socketClients: () => 0, brokerIntake: () => ({ inFlight: 2000, waiting: 37, waits: 1234 }) }).text()
    expect(text).toMatch(/^piazza_mqtt_messages_in_flight 2000$/m)
    expect(text).toMatch(/^piazza_mqtt_connections_waiting 37$/m)
    expect(text).toMatch(/^piazza_mqtt_intake_waits_total 1234$/m)
  })
})
