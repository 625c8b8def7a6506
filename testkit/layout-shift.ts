import type { Page } from 'playwright-core'

/**
 * Layout shifts as Chromium reports them (PerformanceObserver 'layout-shift', the entries CLS sums),
 * each with the elements that moved, for the public page's bench and its browser test. Install
 * with `page.addInitScript(LAYOUT_SHIFT_OBSERVER)` before `goto`: it must run before the page's
 * own scripts. Shifts right after input do not count (as in CLS); scrolling is not input.
 */
export const LAYOUT_SHIFT_OBSERVER = `
  window.__shifts = [];
  window.__lcp = 0;
  new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__lcp = e.renderTime || e.startTime }).observe({ type: 'largest-contentful-paint', buffered: true });
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.hadRecentInput) continue;
      const describe = (n) => {
        if (!n || !n.tagName) return String(n && n.nodeName);
        const section = n.closest('[data-testid$="-section"]');
        return n.tagName.toLowerCase() + (n.className && typeof n.className === 'string' ? '.' + n.className.trim().split(/\\s+/).join('.') : '') + (n.dataset && n.dataset.testid ? '[' + n.dataset.testid + ']' : '') + (section && section !== n ? ' in ' + section.dataset.testid : '');
      };
      window.__shifts.push({ value: e.value, at: e.startTime, scrollY: window.scrollY, sources: (e.sources || []).map((s) => describe(s.node) + ' ' + Math.round(s.previousRect.y) + '→' + Math.round(s.currentRect.y) + ' h' + Math.round(s.previousRect.height) + '→' + Math.round(s.currentRect.height)) });
    }
  }).observe({ type: 'layout-shift', buffered: true });
`

export interface LayoutShift {
  value: number
  /** ms since navigation start */
  at: number
  scrollY: number
  /** The elements that moved and how (top and height in the viewport, before → after), e.g. `section.card.year in year-section 620→700 h300→300`. */
  sources: string[]
}

export async function layoutShifts(page: Page): Promise<LayoutShift[]> {
  return (await page.evaluate('window.__shifts')) as LayoutShift[]
}

export async function largestContentfulPaint(page: Page): Promise<number> {
  return (await page.evaluate('window.__lcp')) as number
}

export const sumShifts = (shifts: readonly LayoutShift[]) => shifts.reduce((n, s) => n + s.value, 0)

/**
 * Down the page a step at a time, as a visitor's thumb does, letting what comes near load
 * (`settle`, e.g. a wait for the network to go idle) before the next step, until the bottom.
 */
export async function scrollToBottom(page: Page, settle: () => Promise<void>, step = 600): Promise<void> {
  for (let i = 0; i < 60; i++) {
    await page.evaluate((dy) => window.scrollBy(0, dy), step)
    await settle()
    const atEnd = await page.evaluate(() => window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 2)
    if (atEnd) return
  }
}

/**
 * The public page's lazy sections that have come near are drawn, with their data: the charts and
 * the station map ready, the year's table, the cities' map, the buses live. What a visitor who
 * pauses on the way down sees, and the moment after which a section must not change height.
 */
export async function publicSectionsDrawn(page: Page, timeout = 30_000): Promise<void> {
  // The observers report on the next frames: let them, before asking which sections came near.
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))))
  await page.waitForFunction(
    () =>
      [...document.querySelectorAll<HTMLElement>('.deferred[data-loaded="true"]')].every((el) => {
        const done: Record<string, string> = {
          'charts-section': '[data-testid="charts"][data-ready="true"]',
          'map-section': '[data-testid="map"][data-ready="true"]',
          'year-section': '[data-testid="year-table"]',
          'overview-section': '[data-testid="cities-map"][data-ready="true"]',
          'mobility-section': '[data-testid="mobility"]:not([data-state="connecting"])',
        }
        const selector = done[el.dataset.testid ?? '']
        return selector === undefined || el.querySelector(selector) !== null
      }),
    null,
    { timeout },
  )
}

/** Switches the lazy sections' reserved heights off (the page as it was before them): the bench's baseline. */
export const NO_RESERVED_HEIGHTS_CSS = `
  .deferred { min-height: 0 !important; display: block !important; }
  .mobility-box { height: auto !important; overflow: visible !important; }
  .map-placeholder { display: none !important; }
`
