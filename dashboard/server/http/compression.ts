import fastifyCompress from '@fastify/compress'
import type { FastifyInstance } from 'fastify'

/**
 * Brotli or gzip, as the client asks, for every text answer: HTML, the bundles (JS, CSS, SVG),
 * JSON, CSV, GeoJSON and the GTFS-RT protobuf (its repeated ids and strings shrink several-fold).
 * A phone's first visit was 2.4 MB uncompressed. Never compressed: octet-stream and other binary
 * types (often compressed already: images, archives), answers under 1 KiB, a client that does
 * not ask. Socket.IO does not pass through Fastify (engine.io answers on the raw server).
 * Registered once, before any route, so every route's onSend gets it.
 */
const TEXT = /^text\/(?!event-stream)|[+/](?:json|xml|text)(?:;|$)|^application\/(?:javascript|x-protobuf)(?:;|$)|^image\/svg\+xml(?:;|$)/

export async function registerCompression(app: FastifyInstance): Promise<void> {
  await app.register(fastifyCompress, {
    global: true,
    encodings: ['br', 'gzip'],
    threshold: 1024,
    customTypes: TEXT,
  })
}
