import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['{broker,ingest,devices,feed,platform,dashboard,simulator,bench,testkit,test,cli}/**/*.test.{ts,tsx}'],
    exclude: ['**/node_modules/**', 'dashboard/dist/**'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
})
