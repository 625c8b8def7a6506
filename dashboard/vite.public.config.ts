import react from '@vitejs/plugin-react'
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

/**
 * The citizens' pages (public.html → `/`, widget.html → `/widget/<city>`), a build separate from
 * the operators' and kept small: the first paint needs only React and the page; the charts
 * (Recharts) and the map (maplibre-gl) are lazy chunks. Run from the repository root:
 *   npx vite build --config dashboard/vite.public.config.ts   (→ dashboard/dist/public, served at /public/)
 *   npx vite --config dashboard/vite.public.config.ts         (dev: open /public/public.html; proxies the API)
 * The manifest (dist/public/.vite/manifest.json) says which chunks the first paint loads.
 */
const api = process.env.PIAZZA_API ?? 'http://127.0.0.1:8080'
const proxy = { '/api': { target: api, changeOrigin: false } }

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/public/',
  plugins: [react()],
  server: { proxy },
  preview: { proxy },
  build: {
    outDir: 'dist/public',
    emptyOutDir: true,
    manifest: true,
    // maplibre-gl alone is ~1 MB minified: its own chunk, loaded only when the map comes into view.
    chunkSizeWarningLimit: 1100,
    rolldownOptions: {
      input: {
        public: fileURLToPath(new URL('./public.html', import.meta.url)),
        widget: fileURLToPath(new URL('./widget.html', import.meta.url)),
      },
      output: {
        codeSplitting: {
          groups: [
            { name: 'maplibre', test: /node_modules[\\/]maplibre-gl/ },
            // React, shared by the page and the widget, cached across both.
            { name: 'react', test: /node_modules[\\/](react|react-dom|scheduler)[\\/]/ },
          ],
        },
      },
    },
  },
})
