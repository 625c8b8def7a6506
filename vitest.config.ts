import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['{broker,ingest,devices,feed,platform,dashboard,simulator,bench,testkit,test,cli}/**/*.test.{ts,tsx}'],
    exclude: ['**/node_modules/**', 'dashboard/dist/**'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    // Deadlines for a busy machine, not expected times: a test waits for conditions, never for a time.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
})
