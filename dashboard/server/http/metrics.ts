import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { PipelineCounters } from '../../../ingest/pipeline.ts'

/**
 * Prometheus metrics on a Registry of our own (never prom-client's global one). Ingest, broker and
 * live-stream figures are read from their counters at scrape time (collect), so the hot path
 * increments nothing extra. Only the HTTP request histogram is observed as requests finish.
 */

/** What the metrics read from ingest: its counters and stats (ingest/ingest.ts createIngest satisfies this). */
export interface IngestStatsSource {
  counters: PipelineCounters
  stats(): {
    wal: { unconfirmedBytes: number; overBudget: boolean }
    shipper?: { storedReadings: number; storedDeadLetters: number; storageRejected: number; batches: number; failedAttempts: number; lastStoredAt?: number }
  }
}

/** Diagnostics timing (PIAZZA_TIMING): where the process's CPU goes, by component. */
export interface TimingSource {
  /** Seconds inside ingest's accept (validation, encoding, log append: the synchronous part). */
  ingestSeconds(): number
  /** Seconds inside each named feed subscriber's listeners. */
  listenerSeconds?(): Record<string, number>
}

export interface MetricsSources {
  ingest: IngestStatsSource
  connectedDevices?: () => number
  socketClients: () => number
  /** The MQTT broker's refusals by reason (broker/refusals.ts), failed logins among them. */
  brokerRefusals?: () => Partial<Record<string, number>>
  /** Telemetry messages being recorded, connections waiting for their turn to read, and how often one had to (broker/intake.ts). */
  brokerIntake?: () => { inFlight: number; waiting: number; waits: number }
  /** HTTP logins: failed, refused by the login limits (throttled), refused because password checks were queued full (busy). */
  httpLogins?: () => { failed: number; throttled: number; busy: number }
  /** 1 while this node's alert engine judges and notifies (always in single-node mode; the leader in cluster mode). */
  alertLeader?: () => number
  /** Only when timing is on: adds piazza_ingest_seconds_total and piazza_feed_listener_seconds_total. */
  timing?: TimingSource
}

/** MQTT refusal reasons that are failed logins (a wrong secret, an unknown name) or their consequence. */
const MQTT_LOGIN_FAILURES = ['bad-secret', 'unknown-device'] as const

export function createMetrics(sources: MetricsSources) {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })

  const { ingest } = sources
  const registers = [registry]
  /** A counter mirroring a total kept elsewhere: reset and set to the source's value at scrape time. */
  const mirror = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset()
        this.inc(read())
      },
    })

  mirror('piazza_ingest_messages_total', 'Telemetry messages received by ingest.', () => ingest.counters.messages)
  mirror('piazza_readings_accepted_total', 'Readings validated and made durable in the write-ahead log.', () => ingest.counters.readingsAccepted)
  new Counter({
    name: 'piazza_readings_rejected_total',
    help: 'Readings refused, by reject code (see devices/readings.ts).',
    labelNames: ['code'],
    registers,
    collect() {
      this.reset()
      for (const [code, n] of Object.entries(ingest.counters.rejectedByCode)) this.inc({ code }, n)
    },
  })
  mirror('piazza_wal_errors_total', 'Appends to the write-ahead log that failed.', () => ingest.counters.walErrors)
  mirror('piazza_readings_stored_total', 'Readings confirmed written by storage.', () => ingest.stats().shipper?.storedReadings ?? 0)
  mirror('piazza_dead_letters_stored_total', 'Dead letters confirmed written by storage.', () => ingest.stats().shipper?.storedDeadLetters ?? 0)
  mirror('piazza_storage_rejected_total', 'Lines storage refused as malformed.', () => ingest.stats().shipper?.storageRejected ?? 0)
  mirror('piazza_storage_batches_total', 'Batches written to storage.', () => ingest.stats().shipper?.batches ?? 0)
  mirror('piazza_storage_failed_attempts_total', 'Storage writes that failed and are retried.', () => ingest.stats().shipper?.failedAttempts ?? 0)

  const { brokerRefusals, httpLogins } = sources
  if (brokerRefusals) {
    new Counter({
      name: 'piazza_mqtt_refused_total',
      help: 'Things the MQTT broker refused, by reason (see broker/refusals.ts).',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset()
        for (const [reason, n] of Object.entries(brokerRefusals())) this.inc({ reason }, n ?? 0)
      },
    })
  }
  new Counter({
    name: 'piazza_login_failures_total',
    help: 'Failed logins (wrong secret or password, unknown name), by protocol: mqtt (devices and service accounts) or http (people).',
    labelNames: ['protocol'],
    registers,
    collect() {
      this.reset()
      const refused = brokerRefusals?.() ?? {}
      this.inc({ protocol: 'mqtt' }, MQTT_LOGIN_FAILURES.reduce((sum, reason) => sum + (refused[reason] ?? 0), 0))
      this.inc({ protocol: 'http' }, httpLogins?.().failed ?? 0)
    },
  })
  new Counter({
    name: 'piazza_login_throttled_total',
    help: 'Login attempts refused unchecked: too many failures from the address or for the name (throttled), or password checks queued full (busy).',
    labelNames: ['protocol', 'cause'],
    registers,
    collect() {
      this.reset()
      const refused = brokerRefusals?.() ?? {}
      this.inc({ protocol: 'mqtt', cause: 'throttled' }, refused['too-many-failures'] ?? 0)
      this.inc({ protocol: 'mqtt', cause: 'busy' }, refused['auth-unavailable'] ?? 0)
      const http = httpLogins?.()
      this.inc({ protocol: 'http', cause: 'throttled' }, http?.throttled ?? 0)
      this.inc({ protocol: 'http', cause: 'busy' }, http?.busy ?? 0)
    },
  })

  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read())
      },
    })
  gauge('piazza_wal_backlog_bytes', 'Bytes durable in the write-ahead log but not yet confirmed by storage (the queue depth).', () => ingest.stats().wal.unconfirmedBytes)
  gauge('piazza_wal_over_budget', '1 while the write-ahead log is over its disk budget (acknowledgements wait).', () => (ingest.stats().wal.overBudget ? 1 : 0))
  gauge('piazza_storage_last_write_timestamp_seconds', 'When storage last confirmed a batch, Unix seconds (0 before the first).', () => (ingest.stats().shipper?.lastStoredAt ?? 0) / 1000)
  const { brokerIntake } = sources
  if (brokerIntake) {
    gauge('piazza_mqtt_messages_in_flight', 'Telemetry messages read from devices and not yet recorded in the write-ahead log.', () => brokerIntake().inFlight)
    gauge('piazza_mqtt_connections_waiting', 'Device connections waiting for their turn to read, the messages in flight being at MQTT_MAX_IN_FLIGHT.', () => brokerIntake().waiting)
    mirror('piazza_mqtt_intake_waits_total', 'Times a device connection with bytes to read had to wait for its turn.', () => brokerIntake().waits)
  }
  if (sources.connectedDevices) gauge('piazza_mqtt_connected_devices', 'Devices logged in to the MQTT broker.', sources.connectedDevices)
  gauge('piazza_socket_clients', 'Browsers connected to the live stream.', sources.socketClients)
  if (sources.alertLeader) gauge('piazza_alert_leader', '1 while this node judges alerts and sends their notifications (cluster mode: the one leader).', sources.alertLeader)

  const { timing } = sources
  if (timing) {
    mirror('piazza_ingest_seconds_total', 'Seconds spent in ingest accept (validation, encoding, write-ahead log append; synchronous part). Diagnostics timing only.', () => timing.ingestSeconds())
    new Counter({
      name: 'piazza_feed_listener_seconds_total',
      help: 'Seconds spent in each feed subscriber\'s listeners, by subscriber. Diagnostics timing only.',
      labelNames: ['listener'],
      registers,
      collect() {
        this.reset()
        for (const [listener, seconds] of Object.entries(timing.listenerSeconds?.() ?? {})) this.inc({ listener }, seconds)
      },
    })
  }

  const httpDuration = new Histogram({
    name: 'piazza_http_request_duration_seconds',
    help: 'HTTP request duration by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  })

  return {
    registry,
    observeRequest(method: string, route: string, status: number, seconds: number): void {
      httpDuration.observe({ method, route, status: String(status) }, seconds)
    },
    async text(): Promise<string> {
      return registry.metrics()
    },
    contentType: registry.contentType,
  }
}

export type Metrics = ReturnType<typeof createMetrics>
