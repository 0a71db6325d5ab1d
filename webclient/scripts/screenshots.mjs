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
 */
import { mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { launchBrowser } from './browser.mjs';

const WIDTH = 1280;
const HEIGHT = 900;

const { values: opts } = parseArgs({
  options: { url: { type: 'string' }, photo: { type: 'string' }, out: { type: 'string' } },
  strict: true,
});
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
