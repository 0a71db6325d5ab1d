/**
 * Screenshots of the web client as a visitor sees it, in headless Chromium (playwright-core, the same launcher as
 * the e2e tests), served by `vite preview` from dist/:
 *
 *   npm run build && node scripts/screenshots.mjs [--out DIR]      (DIR defaults to ../docs/screenshots)
 *
 *   web-desktop.png        the first 1280x900 screen after one Generate (breed pictures drawn)
 *   web-desktop-photo.png  the whole page at 1280 px after the generated Siamese is uploaded as a photo,
 *                          classified and restyled into a Persian
 *   web-phone.png          the whole page at 390 px after Generate and a real cat photo (an unfamiliar one to
 *                          the SynthCats weights) classified and restyled
 *
 * Every wait is on a condition in the page, with a timeout. (The Gradio demo's screenshots: scripts/screenshots.py.)
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { launchBrowser, ROOT, startPreview } from './browser.mjs';

const { values: opts } = parseArgs({ options: { out: { type: 'string' } }, strict: true });
const dir = resolve(opts.out ?? join(ROOT, '..', 'docs', 'screenshots'));
mkdirSync(dir, { recursive: true });

const BREEDS = JSON.parse(readFileSync(join(ROOT, 'public', 'models', 'manifest.json'), 'utf8')).breeds;

async function shot(page, name, fullPage) {
  await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
  const path = join(dir, name);
  await page.screenshot({ path, fullPage });
  console.log(`wrote ${path} (${statSync(path).size.toLocaleString('en')} bytes)`);
}

async function open(browser, url, width, height) {
  const context = await browser.newContext({ viewport: { width, height }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.on('pageerror', (e) => { throw e; });
  await page.goto(url);
  await page.waitForSelector('[data-testid="generate"]:not([disabled])', { timeout: 200_000 });
  return page;
}

async function generate(page) {
  await page.getByTestId('generate').click();
  await page.waitForSelector('[data-testid="download-1"]', { timeout: 200_000 });
}

/** Every breed's picture drawn (they are made in the background, one breed at a time). */
async function thumbnails(page) {
  await page.waitForFunction((n) => [...document.querySelectorAll('.thumb img')].filter((i) => i.complete).length === n,
    BREEDS.length, { timeout: 400_000, polling: 500 });
}

async function uploadAndRestyle(page, png) {
  await page.getByTestId('upload').setInputFiles({ name: 'cat.png', mimeType: 'image/png', buffer: png });
  await page.waitForSelector('[data-testid="verdict"]', { timeout: 200_000 });
  await page.getByTestId('restyle').click();
  await page.waitForSelector('[data-testid="restyle-download"]', { timeout: 200_000 });
}

const pickBreed = (page, breed) => page.getByRole('radio', { name: breed, exact: true }).check();

/** tests/fixtures/photo.json (a real cat photo as RGBA) as PNG bytes, encoded by the page's canvas. */
async function photoPng(page) {
  const photo = JSON.parse(readFileSync(join(ROOT, 'tests', 'fixtures', 'photo.json'), 'utf8'));
  const base64 = await page.evaluate((p) => {
    const c = document.createElement('canvas');
    c.width = p.width;
    c.height = p.height;
    c.getContext('2d').putImageData(new ImageData(Uint8ClampedArray.from(p.rgba), p.width, p.height), 0, 0);
    return c.toDataURL('image/png').split(',')[1];
  }, photo);
  return Buffer.from(base64, 'base64');
}

const server = await startPreview();
const chrome = await launchBrowser({ extraArgs: ['--hide-scrollbars'] });
try {
  const desk = await open(chrome.browser, server.url, 1280, 900);
  await pickBreed(desk, 'Siamese');
  await generate(desk);
  await thumbnails(desk);
  await shot(desk, 'web-desktop.png', false);
  const href = await desk.getByTestId('download-1').getAttribute('href'); // the generated Siamese, as a visitor's file
  await pickBreed(desk, 'Persian');
  await uploadAndRestyle(desk, Buffer.from(href.split(',')[1], 'base64'));
  await shot(desk, 'web-desktop-photo.png', true);

  const phone = await open(chrome.browser, server.url, 390, 844);
  await generate(phone);
  await thumbnails(phone);
  await uploadAndRestyle(phone, await photoPng(phone));
  await shot(phone, 'web-phone.png', true);
} finally {
  await chrome.close();
  await server.close();
}
