/**
 * The browser half of `python scripts/screenshots.py`: one tour of a running Gradio demo in headless Chromium
 * (playwright-core, the same launcher as the e2e tests), one full-page PNG per tab.
 *
 *   node scripts/screenshots.mjs --url http://127.0.0.1:PORT/ --photo CAT.png --out DIR
 *
 * The Python script starts the app and draws the photo (a Siamese the app itself generated); this script runs
 * each tab once — generate; classify the photo; blend, then restyle the photo; compare backends — and writes
 * generate.png, classify.png, design.png and compare.png into DIR. Every wait is on a condition in the page,
 * with a timeout.
 *
 *   node scripts/screenshots.mjs --web [--out DIR]     (after `npm run build`; DIR defaults to docs/screenshots)
 *
 * tours the web client instead, served by `vite preview` from dist/: web-desktop.png is the first 1280x900 screen
 * after one Generate, web-desktop-photo.png the whole page after a photo of a generated cat is classified and
 * restyled, web-phone.png the whole page at 390 px after Generate and a real photo (an unfamiliar one).
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { launchBrowser, ROOT, startPreview } from './browser.mjs';

const WIDTH = 1280;
const HEIGHT = 900;

const { values: opts } = parseArgs({
  options: { url: { type: 'string' }, photo: { type: 'string' }, out: { type: 'string' }, web: { type: 'boolean' } },
  strict: true,
});
if (opts.web) {
  await webTour(resolve(opts.out ?? join(ROOT, '..', 'docs', 'screenshots')));
  process.exit(0);
}
for (const name of ['url', 'photo', 'out']) {
  if (!opts[name]) throw new Error(`--${name} is required: node scripts/screenshots.mjs --url URL --photo PNG --out DIR`);
}
const out = resolve(opts.out);
const photo = resolve(opts.photo);
mkdirSync(out, { recursive: true });

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The visible button (or, with `tab`, the tab) whose whole text is `text`; the last one when Gradio keeps copies. */
async function click(page, text, { tab = false } = {}) {
  const selector = tab ? 'button[role=tab]:visible' : 'button:not([role=tab]):visible';
  await page.locator(selector).filter({ hasText: new RegExp(`^\\s*${escape(text)}\\s*$`) }).last().click();
}

/** Set a file on the index-th file input of the tab that is showing. */
async function upload(page, path, index = 0) {
  const inputs = page.locator("[role=tabpanel]:not([style*='display: none']) input[type=file]");
  await inputs.nth(index).setInputFiles(path);
}

/** Wait until a visible Markdown block of the app contains `text`. */
async function waitForText(page, text, what, timeout = 120_000) {
  await page.waitForFunction(
    (t) => [...document.querySelectorAll('.prose, .md')].some((e) => e.offsetParent !== null && e.textContent.includes(t)),
    text, { timeout, polling: 200 },
  ).catch((err) => { throw new Error(`timed out after ${timeout / 1000} s waiting for ${what}: ${err.message}`); });
}

async function screenshot(page, name) {
  await page.waitForFunction(() => [...document.images].every((i) => i.complete && (i.naturalWidth > 0 || !i.src)),
    undefined, { timeout: 30_000, polling: 200 });
  await page.waitForTimeout(500); // let the layout settle
  const path = join(out, name);
  await page.screenshot({ path, fullPage: true });
  console.log(`wrote ${path} (${statSync(path).size.toLocaleString('en')} bytes)`);
}

const chrome = await launchBrowser({ extraArgs: ['--hide-scrollbars'] });
try {
  const context = await chrome.browser.newContext({ viewport: { width: WIDTH, height: HEIGHT }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  await page.goto(opts.url);
  await page.waitForSelector('#weights-note', { state: 'attached', timeout: 60_000 });
  await page.waitForFunction(() => document.querySelectorAll('#breed-picker img').length >= 12, undefined,
    { timeout: 60_000, polling: 200 });

  await click(page, 'Generate');
  await waitForText(page, 'Done', 'the generation to finish');
  await screenshot(page, 'generate.png');

  await click(page, 'Classify', { tab: true });
  await upload(page, photo);
  await page.waitForFunction(() => [...document.querySelectorAll('[role=tabpanel] img')].some((e) => e.offsetParent),
    undefined, { timeout: 120_000, polling: 200 });
  await click(page, 'Classify');
  await waitForText(page, 'Top 3', 'the classification');
  await screenshot(page, 'classify.png');

  await click(page, 'Design', { tab: true });
  await click(page, 'Blend');
  await waitForText(page, 'steps in', 'the blend');
  await upload(page, photo);
  await page.waitForTimeout(1000); // the upload's preview appears before the restyle uses it
  await click(page, 'Restyle');
  await waitForText(page, 'at strength', 'the restyle');
  await screenshot(page, 'design.png');

  await click(page, 'Compare backends', { tab: true });
  await click(page, 'Compare');
  await waitForText(page, 'ms/step', 'the backend comparison', 300_000);
  await screenshot(page, 'compare.png');
} finally {
  await chrome.close();
}

/** The web client's tour (--web): see the header. */
async function webTour(dir) {
  mkdirSync(dir, { recursive: true });
  const server = await startPreview();
  const chrome = await launchBrowser({ extraArgs: ['--hide-scrollbars'] });
  const shot = async (page, name, fullPage) => {
    await page.waitForTimeout(300); // let the layout settle
    const path = join(dir, name);
    await page.screenshot({ path, fullPage });
    console.log(`wrote ${path} (${statSync(path).size.toLocaleString('en')} bytes)`);
  };
  const open = async (width, height) => {
    const context = await chrome.browser.newContext({ viewport: { width, height }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    page.on('pageerror', (e) => { throw e; });
    await page.goto(server.url);
    await page.waitForSelector('[data-testid="generate"]:not([disabled])', { timeout: 200_000 });
    return page;
  };
  const generate = async (page) => {
    await page.getByTestId('generate').click();
    await page.waitForSelector('[data-testid="download-1"]', { timeout: 200_000 });
  };
  const thumbnails = (page) => page.waitForFunction(() => document.querySelectorAll('.thumb img').length === 12
    && [...document.querySelectorAll('.thumb img')].every((i) => i.complete), undefined, { timeout: 400_000, polling: 500 });
  const uploadAndRestyle = async (page, png) => {
    await page.getByTestId('upload').setInputFiles({ name: 'cat.png', mimeType: 'image/png', buffer: png });
    await page.waitForSelector('[data-testid="verdict"]', { timeout: 200_000 });
    await page.getByTestId('restyle').click();
    await page.waitForSelector('[data-testid="restyle-download"]', { timeout: 200_000 });
  };
  try {
    const desk = await open(1280, 900);
    await pickBreed(desk, 'Siamese');
    await generate(desk);
    await thumbnails(desk);
    await shot(desk, 'web-desktop.png', false);
    // The generated Siamese as a visitor's file, restyled into a Persian.
    const href = await desk.getByTestId('download-1').getAttribute('href');
    await pickBreed(desk, 'Persian');
    await uploadAndRestyle(desk, Buffer.from(href.split(',')[1], 'base64'));
    await shot(desk, 'web-desktop-photo.png', true);

    const phone = await open(390, 844);
    await generate(phone);
    await thumbnails(phone);
    const photo = JSON.parse(readFileSync(join(ROOT, 'tests', 'fixtures', 'photo.json'), 'utf8'));
    const png = await phone.evaluate((p) => {
      const c = document.createElement('canvas');
      c.width = p.width;
      c.height = p.height;
      c.getContext('2d').putImageData(new ImageData(Uint8ClampedArray.from(p.rgba), p.width, p.height), 0, 0);
      return c.toDataURL('image/png').split(',')[1];
    }, photo);
    await uploadAndRestyle(phone, Buffer.from(png, 'base64'));
    await shot(phone, 'web-phone.png', true);
  } finally {
    await chrome.close();
    await server.close();
  }
}

async function pickBreed(page, breed) {
  await page.getByRole('radio', { name: breed, exact: true }).check();
}
