import fs from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'

/**
 * Debian's Chromium driven by playwright-core (never a downloaded browser), headless, with the
 * flags this machine's closed network needs. Screenshots go to test/artifacts/screenshots.
 */

export const SCREENSHOTS = join(new URL('..', import.meta.url).pathname, 'test', 'artifacts', 'screenshots')

export interface Browser {
  context: BrowserContext
  newPage(viewport?: { width: number; height: number }): Promise<Page>
  close(): Promise<void>
}

export async function launchBrowser(options: { locale?: string } = {}): Promise<Browser> {
  const profile = fs.mkdtempSync(join(tmpdir(), 'piazza-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    locale: options.locale,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // WebGL through SwiftShader, so maplibre renders without a GPU.
      '--use-gl=angle',
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
    ],
  })
  return {
    context,
    async newPage(viewport = { width: 1400, height: 900 }) {
      const page = await context.newPage()
      await page.setViewportSize(viewport)
      return page
    },
    async close() {
      await context.close()
      fs.rmSync(profile, { recursive: true, force: true })
    },
  }
}

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true })
  const file = join(SCREENSHOTS, `${name}.png`)
  await page.screenshot({ path: file })
  return file
}
