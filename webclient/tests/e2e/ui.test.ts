/**
 * End to end, what a visitor sees: the whole result on the first 1280x900 screen, nothing off-screen sideways at
 * 390 px, background thumbnails that never hold up a click, share links that redraw the same cat (pixel for pixel)
 * and that drop bad values with a notice, the Guide slider, several images from one seed, and a failed upload that
 * clears the last answer. Every wait is on a condition, never a fixed sleep.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, startPreview } from '../../scripts/browser.mjs';
import { type Manifest } from '../../src/lib/manifest';
import { loadBundle } from '../helpers/bundle';
import { encodePng } from '../helpers/png';
import { canvasPixels, openAdvanced, openApp, state } from './page';

let manifest: Manifest;
let server: Awaited<ReturnType<typeof startPreview>>;
let chrome: Awaited<ReturnType<typeof launchBrowser>>;
let browser: Browser;
const pageErrors: string[] = [];

beforeAll(async () => {
  ({ manifest } = loadBundle());
  server = await startPreview();
  chrome = await launchBrowser();
  browser = chrome.browser;
});

afterAll(async () => {
  await chrome?.close();
  await server?.close();
  expect(pageErrors, 'uncaught errors in the page').toEqual([]);
});

const context = (width: number, height: number) => browser.newContext({ viewport: { width, height } });

/** Click Generate; wait for the run to end; the first image's pixels. */
async function generate(page: Page): Promise<number[]> {
  const before = await page.evaluate(() => window.__cats?.runs() ?? 0);
  await page.getByTestId('generate').click();
  await page.waitForFunction((n) => {
    const c = window.__cats;
    return c !== undefined && (c.runs() > n || c.state().runError !== null) && c.state().busy === null;
  }, before, { timeout: 100_000 });
  expect((await state(page)).runError).toBeNull();
  return canvasPixels(page, 'result-0');
}

/** Elements of `selector` outside 0..width (and 0..height when given: the first screen, scrolled to the top). */
async function outside(page: Page, selector: string, width: number, height: number | null = null): Promise<string[]> {
  return page.locator(selector).evaluateAll((els, [w, h]) => els.flatMap((e) => {
    const r = e.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) return []; // not rendered (a closed panel's content)
    const ok = r.left >= 0 && r.right <= (w as number) + 0.5 && (h === null || (r.top >= 0 && r.bottom <= h + 0.5));
    return ok ? [] : [`${e.tagName.toLowerCase()}[${e.getAttribute('data-testid') ?? e.textContent?.trim().slice(0, 20)}] at `
      + `${r.left.toFixed(0)}..${r.right.toFixed(0)} x ${r.top.toFixed(0)}..${r.bottom.toFixed(0)}`];
  }), [width, height] as const);
}

describe('the first screen at 1280x900', () => {
  it('holds the breed choice, Generate and the whole result; thumbnails are drawn without holding up Generate', async () => {
    const ctx = await context(1280, 900);
    const page = await openApp(ctx, server.url, '', pageErrors); // thumbnails on (the export ships none)
    expect(manifest.thumbnails).toBeUndefined();
    // Generate while the thumbnails are still being drawn: the click runs first, the rest of them after it.
    const drawingWhenDone = await (async () => {
      const before = await page.evaluate(() => window.__cats?.runs() ?? 0);
      await page.getByTestId('generate').click();
      const handle = await page.waitForFunction((n) => {
        const c = window.__cats;
        if (!c || c.runs() <= n) return false;
        return document.querySelectorAll('.thumb[data-status="drawing"]').length + 1; // truthy: the count + 1
      }, before, { timeout: 100_000 });
      return (await handle.jsonValue()) as number - 1;
    })();
    expect(drawingWhenDone, 'thumbnails still drawing when the first image landed').toBeGreaterThan(0);
    await page.waitForFunction((n) => document.querySelectorAll('.thumb img').length === n, manifest.breeds.length, { timeout: 300_000 });

    await page.evaluate(() => window.scrollTo(0, 0));
    expect(await outside(page, '[data-testid="generate"], [data-testid="result-0"], .breed', 1280, 900)).toEqual([]);
    const box = await page.getByTestId('result-0').boundingBox();
    expect(box?.width, 'the result is drawn large').toBeGreaterThanOrEqual(256);
    // the run's words, and the denoising preview gone once the run ended
    expect(await page.getByTestId('run-progress').textContent()).toMatch(new RegExp(`^${manifest.breeds[0]}, seed 0, quality, 20 steps`));
    expect(await page.getByTestId('load-status').count()).toBe(0); // the download bar went away
    await ctx.close();
  });
});

describe('a phone at 390 px', () => {
  it('has every breed and every control inside the width, with no sideways scrolling', async () => {
    const ctx = await context(390, 844);
    const page = await openApp(ctx, server.url, '&thumbs=0', pageErrors);
    await page.getByText('Blend breeds').click();
    await openAdvanced(page);
    await page.getByTestId('about').locator('summary').click();
    await generate(page);
    const controls = '.breed, button, input, select, summary, a.button, .segmented label, canvas';
    expect(await outside(page, controls, 390)).toEqual([]);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await ctx.close();
  });
});

describe('share links', () => {
  it('carry breed, seed, mode, steps and guidance, and redraw the same pixels when opened', async () => {
    const ctx = await context(1280, 900);
    const page = await openApp(ctx, server.url, '&thumbs=0', pageErrors);
    await page.getByRole('radio', { name: 'British Shorthair', exact: true }).check();
    await openAdvanced(page);
    await page.getByTestId('steps').fill('4');
    await page.getByTestId('guidance').fill('2.5');
    await page.getByTestId('seed').fill('1234');
    const made = await generate(page);
    const url = (await page.getByTestId('copy-link').getAttribute('data-url')) as string;
    const q = new URL(url).searchParams;
    expect(Object.fromEntries(['breed', 'seed', 'mode', 'steps', 'guidance'].map((k) => [k, q.get(k)])))
      .toEqual({ breed: 'British Shorthair', seed: '1234', mode: 'quality', steps: '4', guidance: '2.5' });
    // the guide's default scale, or no guide key when the weights have no guide
    const guide = manifest.generator.guide ? manifest.generator.defaults.autoguidance_scale : undefined;
    expect(q.get('guide')).toBe(guide === undefined ? null : String(guide));
    await page.waitForFunction((u) => window.location.href === u, url); // the address bar names the cat on screen
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(url).origin });
    await page.getByTestId('copy-link').click();
    await page.getByText('Link copied').waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(url);
    expect(await page.getByTestId('download-1').getAttribute('download')).toBe('tiny-cats_British-Shorthair_seed1234_quality.png');

    const opened = await ctx.newPage();
    opened.on('pageerror', (e) => pageErrors.push(e.message));
    await opened.goto(url);
    await opened.waitForFunction(() => (window.__cats?.runs() ?? 0) > 0 && window.__cats?.state().busy === null, null, { timeout: 100_000 });
    expect(await canvasPixels(opened, 'result-0')).toEqual(made);
    expect(await opened.getByRole('radio', { name: 'British Shorthair', exact: true }).isChecked()).toBe(true);
    expect(await opened.getByTestId('share-notice').count()).toBe(0);
    await ctx.close();
  });

  it('redraw a fast-mode blend the same way', async () => {
    const ctx = await context(1280, 900);
    const page = await openApp(ctx, server.url, '&thumbs=0', pageErrors);
    const fast = manifest.generator_fast;
    if (!fast) throw new Error('the export has no few-step graph');
    const steps = Object.keys(fast.scheduler.sigmas)[0] as string;
    await page.goto(`${server.url}?testhook=1&thumbs=0&blend=Siamese:0.5,Persian:0.5&seed=99&mode=fast&steps=${steps}`);
    await page.waitForFunction(() => (window.__cats?.runs() ?? 0) > 0 && window.__cats?.state().busy === null, null, { timeout: 100_000 });
    const fromLink = await canvasPixels(page, 'result-0');
    expect(await page.evaluate(() => window.__cats?.lastStats())).toMatchObject({ graph: 'fast', steps: Number(steps) });
    expect(await page.getByTestId('download-1').getAttribute('download')).toBe('tiny-cats_Persian50-Siamese50_seed99_fast.png');
    // the same settings by hand, through the test hook's generate (what the buttons call)
    const byHand = await page.evaluate((o) => window.__cats?.generate(o), {
      graph: 'fast' as const, blend: manifest.breeds.map((b) => (b === 'Siamese' || b === 'Persian' ? 0.5 : 0)), steps: Number(steps), seed: 99,
    });
    expect(byHand).not.toBeNull();
    expect(await canvasPixels(page, 'result-0')).toEqual(fromLink);
    await ctx.close();
  });

  it('set the Guide slider from &guide=1.5, and redraw with it', async () => {
    if (!manifest.generator.guide) throw new Error('the export has no guide network (manifest.generator.guide)');
    const ctx = await context(1280, 900);
    const page = await openApp(ctx, server.url, '&thumbs=0&breed=Siamese&seed=3&steps=2&guide=1.5', pageErrors);
    await page.waitForFunction(() => (window.__cats?.runs() ?? 0) > 0 && window.__cats?.state().busy === null, null, { timeout: 100_000 });
    await openAdvanced(page);
    expect(await page.getByTestId('guide').inputValue()).toBe('1.5');
    expect(await page.getByTestId('guide-value').textContent()).toBe('1.5');
    expect(await page.getByTestId('share-notice').count()).toBe(0);
    const url = (await page.getByTestId('copy-link').getAttribute('data-url')) as string;
    expect(new URL(url).searchParams.get('guide')).toBe('1.5'); // the cat on screen was drawn with it
    await ctx.close();
  });

  it('drop bad values with a plain notice and keep the good ones', async () => {
    const ctx = await context(1280, 900);
    const page = await openApp(ctx, server.url, '&thumbs=0&breed=Tiger&seed=12&steps=abc', pageErrors);
    const notice = await page.getByTestId('share-notice').textContent();
    expect(notice).toContain('The link\'s breed was ignored: "Tiger" is not one of');
    expect(notice).toContain('The link\'s steps was ignored: "abc" should be a whole number');
    await openAdvanced(page);
    await expect.poll(() => page.getByTestId('seed').inputValue()).toBe('12');
    expect(await page.getByTestId('steps-value').textContent()).toBe(String(manifest.generator.defaults.num_inference_steps));
    await ctx.close();
  });
});

describe('the Guide slider (autoguidance)', () => {
  it('starts at the weights\' default, says "off" at 1, and 1 draws another picture than the default', async () => {
    const g = manifest.generator;
    if (!g.guide) throw new Error('the export has no guide network (manifest.generator.guide)');
    const ctx = await context(1280, 900);
    const page = await openApp(ctx, server.url, '&thumbs=0', pageErrors);
    await openAdvanced(page);
    const w = g.defaults.autoguidance_scale as number;
    expect(w).toBeGreaterThan(1); // else the default is already off and the comparison below proves nothing
    expect(Number(await page.getByTestId('guide').inputValue())).toBe(w);
    expect(await page.getByTestId('guide-value').textContent()).toBe(w.toFixed(1));
    expect(await page.getByTestId('guide-note').textContent()).toMatch(/autoguidance by a weaker copy of the model; 1 = classifier-free guidance only/);
    await page.getByTestId('steps').fill('4');
    const guided = await generate(page);
    await page.getByTestId('guide').fill('1');
    expect(await page.getByTestId('guide-value').textContent()).toBe('off');
    const off = await generate(page);
    expect(off).not.toEqual(guided);
    const url = (await page.getByTestId('copy-link').getAttribute('data-url')) as string;
    expect(new URL(url).searchParams.get('guide')).toBe('1');
    await page.getByTestId('guide').fill(String(w));
    expect(await generate(page)).toEqual(guided); // the same settings, the same cat
    await ctx.close();
  });
});

describe('several images and a failed upload', () => {
  it('draws several images from one seed (the first is the one-image picture) and names each download', async () => {
    const ctx = await context(1280, 900);
    const page = await openApp(ctx, server.url, '&thumbs=0', pageErrors);
    await openAdvanced(page);
    await page.getByTestId('steps').fill('2');
    await page.getByTestId('seed').fill('5');
    const one = await generate(page);
    await page.getByTestId('count').fill('3');
    await generate(page);
    const names = await page.locator('[data-testid^="download-"]').evaluateAll((as) => as.map((a) => a.getAttribute('download')));
    expect(names).toEqual([1, 2, 3].map((k) => `tiny-cats_${manifest.breeds[0]}_seed5_quality_${k}.png`));
    expect(await canvasPixels(page, 'result-0')).toEqual(one);
    expect(await canvasPixels(page, 'result-1')).not.toEqual(one);
    await ctx.close();
  });

  it('clears the previous verdict and restyle when a new upload fails', async () => {
    const ctx = await context(1280, 900);
    const page = await openApp(ctx, server.url, '&thumbs=0', pageErrors);
    await openAdvanced(page);
    await page.getByTestId('steps').fill('2');
    const s = manifest.generator.image_size;
    const rgba = new Uint8ClampedArray(s * s * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 7) % 256));
    await page.getByTestId('upload').setInputFiles({ name: 'cat.png', mimeType: 'image/png', buffer: encodePng(rgba, s, s) });
    await page.getByTestId('verdict').waitFor({ timeout: 60_000 });
    await page.getByTestId('restyle').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="restyle-result"]')?.getAttribute('data-ready') === 'true'
      && window.__cats?.state().busy === null, null, { timeout: 100_000 });

    await page.getByTestId('upload').setInputFiles({ name: 'broken.png', mimeType: 'image/png', buffer: Buffer.from('not a png') });
    await page.getByTestId('classify-error').waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('verdict').count()).toBe(0);
    expect(await page.getByTestId('topk').count()).toBe(0);
    expect(await page.getByTestId('restyle-result').getAttribute('data-ready')).toBe('false');
    await expect.poll(() => page.getByTestId('upload-preview').isVisible()).toBe(false); // the broken picture is not shown
    await ctx.close();
  });
});
