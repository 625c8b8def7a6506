/** Resolves on the first SIGINT or SIGTERM; a second one exits at once, for a stuck shutdown. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      process.once('SIGINT', () => process.exit(130))
      process.once('SIGTERM', () => process.exit(143))
      resolve(signal)
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}

/**
 * Waits for `stopping` at most `timeoutMs`. Past it the process exits with code 1 whatever is
 * still running (a storage that does not answer, a stuck socket): the write-ahead log on disk
 * keeps every acknowledged reading for the next start, so nothing is lost by not waiting.
 */
export async function stopWithin(stopping: Promise<void>, timeoutMs: number, onTimeout: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), timeoutMs)
  })
  const result = await Promise.race([stopping.then(() => 'done' as const), late])
  clearTimeout(timer)
  if (result === 'late') {
    onTimeout()
    process.exit(1)
  }
}
