/**
 * A synchronous store (SQLite, better-sqlite3) in the asynchronous shape its PostgreSQL twin has:
 * the same calls, each answering a promise. The type is derived from the SQLite store, so the two
 * implementations cannot drift apart without the compiler saying so.
 */

export type Async<T> = { [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never }

/** Wraps every call of `store` (each still runs at once; a throw becomes a rejection). */
export function asAsync<T extends object>(store: T): Async<T> {
  const out: Record<string, unknown> = {}
  for (const [name, fn] of Object.entries(store) as [string, (...args: unknown[]) => unknown][]) {
    out[name] = async (...args: unknown[]) => fn(...args)
  }
  return out as Async<T>
}
