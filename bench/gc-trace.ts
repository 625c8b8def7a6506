/**
 * V8's --trace-gc-nvp, read from a child's stdout as it comes: what its collector did, in bytes.
 * Bytes allocated and promoted per reading move far less with the collector's state (when it
 * chooses to collect, how far it lets the heap grow) than its CPU does, so a change in what the
 * code allocates shows in them on a run where the CPU figures swing. V8 prints the trace through
 * C's stdio, which passes a pipe's output on a few KB (two or three collections) at a time, so a
 * round's count can be off by its last few collections: noise next to the hundreds in a round.
 */

export interface GcTally {
  /** Bytes allocated, summed over collections (each line's allocated: since the collection before). */
  allocated: number
  /** Bytes promoted from the young generation to the old. */
  promoted: number
  /** Young-generation collections. */
  scavenges: number
  /** Full (mark-compact) collections. */
  markCompacts: number
}

/** One collection's line: `[pid:isolate]   1234 ms: pause=3.3 mutator=30.1 gc=s … allocated=… promoted=… …`. */
const NVP_LINE = /^\[\d+:0x[0-9a-f]+\]\s+\d+ ms: pause=.*\bgc=(\w+)\b/
const FIELD = (name: string) => new RegExp(`\\b${name}=(\\d+)\\b`)
const ALLOCATED = FIELD('allocated')
const PROMOTED = FIELD('promoted')

export function createGcTrace() {
  const tally: GcTally = { allocated: 0, promoted: 0, scavenges: 0, markCompacts: 0 }
  let partial = ''

  /** Counts the line when it is the trace's; false for any other line. */
  function count(line: string): boolean {
    const kind = NVP_LINE.exec(line)?.[1]
    if (kind === undefined) return false
    tally.allocated += Number(ALLOCATED.exec(line)?.[1] ?? 0)
    tally.promoted += Number(PROMOTED.exec(line)?.[1] ?? 0)
    // s: scavenge; mmc: minor mark-compact (also the young generation); ms, mc: full collections.
    if (kind === 's' || kind === 'mmc') tally.scavenges += 1
    else tally.markCompacts += 1
    return true
  }

  return {
    /** Takes a chunk of stdout and returns its other lines (whole lines only; a partial one waits for the rest). */
    take(chunk: string): string {
      const lines = (partial + chunk).split('\n')
      partial = lines.pop()!
      let rest = ''
      for (const line of lines) if (!count(line)) rest += `${line}\n`
      return rest
    },
    /** The counts so far. */
    tally: (): GcTally => ({ ...tally }),
  }
}

export function gcDelta(before: GcTally | undefined, after: GcTally | undefined): GcTally | undefined {
  if (!before || !after) return undefined
  return {
    allocated: after.allocated - before.allocated,
    promoted: after.promoted - before.promoted,
    scavenges: after.scavenges - before.scavenges,
    markCompacts: after.markCompacts - before.markCompacts,
  }
}
