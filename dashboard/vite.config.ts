import react from '@vitejs/plugin-react'
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

/**
 * The operators' dashboard. Run from the repository root:
 *   npx vite --config dashboard/vite.config.ts          (dev, proxies to the API)
 *   npx vite build --config dashboard/vite.config.ts    (→ dashboard/dist, served by the API)
 * PIAZZA_API overrides the API origin the dev/preview server proxies to (default :8080, where a
 * running `npm run demo` or `piazza start` listens).
 */
const api = process.env.PIAZZA_API ?? 'http://127.0.0.1:8080'
// No changeOrigin: the server accepts a Socket.IO handshake only when Origin matches Host,
// so the browser's Host must pass through unchanged.
const proxy = {
  '/api': { target: api },
  '/socket.io': { target: api, ws: true },
  '/metrics': { target: api },
}

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react()],
  server: { proxy },
  preview: { proxy },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // maplibre-gl alone is ~1 MB minified; it sits in its own cached chunk, loaded after login.
    chunkSizeWarningLimit: 1100,
    rolldownOptions: {
      output: {
        codeSplitting: {
          groups: [{ name: 'maplibre', test: /node_modules[\\/]maplibre-gl/ }],
        },
      },
    },
  },
})
