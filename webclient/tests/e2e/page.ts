/**
 * Helpers the end-to-end files share: open the app with its test hook, wait on conditions (never a fixed sleep),
 * read the hook's state and a canvas's pixels.
 */
import type { BrowserContext, Page } from 'playwright-core';

/** Open `url?testhook=1<query>` and wait until the models loaded (or failed); page errors go to `errors`. */
export async function openApp(context: BrowserContext, url: string, query: string, errors: string[]): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${url}?testhook=1${query}`);
  await waitLoaded(page);
  return page;
}

export async function waitLoaded(page: Page): Promise<void> {
  await page.waitForFunction(() => window.__cats !== undefined && window.__cats.state().status !== 'loading', null, { timeout: 100_000 });
}

export const state = (page: Page) => page.evaluate(() => (window.__cats as NonNullable<Window['__cats']>).state());

/** The RGBA bytes a canvas shows. */
export async function canvasPixels(page: Page, testId: string): Promise<number[]> {
  return page.evaluate((id) => {
    const c = document.querySelector(`[data-testid="${id}"]`) as HTMLCanvasElement;
    return Array.from((c.getContext('2d') as CanvasRenderingContext2D).getImageData(0, 0, c.width, c.height).data);
  }, testId);
}

/** Open the folded Advanced settings (steps, guidance, seed, images, precision) if they are closed. */
export async function openAdvanced(page: Page): Promise<void> {
  const open = await page.getByTestId('advanced').evaluate((d) => (d as HTMLDetailsElement).open);
  if (!open) await page.getByTestId('advanced').locator('summary').click();
}
