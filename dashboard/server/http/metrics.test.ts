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
