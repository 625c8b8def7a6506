import { parentPort } from 'node:worker_threads'
import { GtfsError, parseGtfs, type GtfsParseAnswer } from './gtfs-static.ts'

/** Worker thread of createGtfsParser: takes one GTFS zip, posts back its index or why it was refused. */

parentPort!.once('message', (zip: Uint8Array) => {
  let answer: GtfsParseAnswer
  try {
    answer = { index: parseGtfs(zip) }
  } catch (err) {
    answer = { gtfs: err instanceof GtfsError, message: (err as Error).message }
  }
  parentPort!.postMessage(answer)
})
