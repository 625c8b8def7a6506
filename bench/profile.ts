/**
 * Summary of a V8 CPU profile (the .cpuprofile JSON `node --cpu-prof` writes): the functions with
 * the most self time and the share of garbage collection. Self time is counted in samples: each
 * sample names the node that was running; the same function reached along different stacks is
 * one entry (by name, file and line).
 */

export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number } }[]
  samples: number[]
  timeDeltas?: number[]
}

export interface ProfileSummary {
  samples: number
  /** Samples not idle (the "(idle)" node, waiting in the event loop), the base of every share below. */
  busySamples: number
  /** Share of all samples spent idle. */
  idleShare: number
  /** Share of busy samples in "(garbage collector)". */
  gcShare: number
  top: { name: string; location: string; samples: number; share: number }[]
}

export function summariseProfile(profile: CpuProfile, count = 20): ProfileSummary {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n.callFrame]))
  const perFunction = new Map<string, { name: string; location: string; samples: number }>()
  let idle = 0
  let gc = 0
  for (const id of profile.samples) {
    const frame = byNode.get(id)
    if (!frame) continue
    if (frame.functionName === '(idle)') {
      idle++
      continue
    }
    if (frame.functionName === '(garbage collector)') gc++
    const name = frame.functionName || '(anonymous)'
    // V8's lines are 0-based.
    const location = frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : ''
    const key = `${name}\u0000${location}`
    const entry = perFunction.get(key) ?? { name, location, samples: 0 }
    entry.samples++
    perFunction.set(key, entry)
  }
  const samples = profile.samples.length
  const busy = samples - idle
  const top = [...perFunction.values()]
    .sort((a, b) => b.samples - a.samples || a.name.localeCompare(b.name))
    .slice(0, count)
    .map((e) => ({ ...e, share: busy ? e.samples / busy : 0 }))
  return { samples, busySamples: busy, idleShare: samples ? idle / samples : 0, gcShare: busy ? gc / busy : 0, top }
}

/** file:///…/node_modules/aedes/lib/client.js → aedes/lib/client.js; project files relative to the checkout. */
function shortUrl(url: string): string {
  const path = url.replace(/^file:\/\//, '')
  const nm = path.lastIndexOf('/node_modules/')
  if (nm >= 0) return path.slice(nm + '/node_modules/'.length)
  const project = /\/(devices|broker|ingest|feed|platform|dashboard|simulator|cli|bench|testkit)\//.exec(path)
  return project ? path.slice(project.index + 1) : path
}

export function formatProfile(summary: ProfileSummary): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`
  const lines = [
    `${summary.samples} samples, ${pct(summary.idleShare)} idle; shares below are of the ${summary.busySamples} busy samples. Garbage collection: ${pct(summary.gcShare)}.`,
    `${'self'.padStart(7)}  function (file:line)`,
  ]
  for (const t of summary.top) lines.push(`${pct(t.share).padStart(7)}  ${t.name}${t.location ? ` (${t.location})` : ''}`)
  return lines.join('\n')
}
