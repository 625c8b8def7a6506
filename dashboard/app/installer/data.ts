import { useEffect, useState } from 'react'
import { installerApi, type MqttInfo, type RawConfig } from './api.ts'

/** Configuration and broker settings, fetched once per page load and shared by the installer pages. */

function once<T>(get: () => Promise<T>, cache: { p?: Promise<T> }): Promise<T> {
  if (!cache.p) {
    cache.p = get()
    cache.p.catch(() => {
      cache.p = undefined
    })
  }
  return cache.p
}

const configCache: { p?: Promise<RawConfig> } = {}
const mqttCache: { p?: Promise<MqttInfo> } = {}

export const loadConfig = () => once(installerApi.config, configCache)
export const loadMqtt = () => once(installerApi.mqtt, mqttCache)

export type Loaded<T> = { state: 'loading' } | { state: 'error'; message: string } | { state: 'ready'; value: T }

/** Loads a value once on mount (and again when `key` changes). */
export function useLoad<T>(load: () => Promise<T>, key: unknown = null): [Loaded<T>, () => void] {
  const [state, setState] = useState<Loaded<T>>({ state: 'loading' })
  const [attempt, setAttempt] = useState(0)
  useEffect(() => {
    let cancelled = false
    setState((s) => (s.state === 'ready' ? s : { state: 'loading' }))
    load().then(
      (value) => !cancelled && setState({ state: 'ready', value }),
      (e: unknown) => !cancelled && setState({ state: 'error', message: e instanceof Error ? e.message : String(e) }),
    )
    return () => {
      cancelled = true
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, attempt])
  return [state, () => setAttempt((n) => n + 1)]
}
