/**
 * The Gradio demo as a visitor sees it, in headless Chromium (playwright-core, the web client's launcher).
 *
 *   node scripts/gradio_browser.mjs --url http://127.0.0.1:PORT/ --photo NOT_A_CAT.png --broken BROKEN.png
 *                                   [--shots DIR --cat CAT.png]
 *
 * Run by tests/test_gradio_browser.py (which starts the app) and by scripts/screenshots.py (with --shots).
 * Prints one JSON object of what it measured; the Python test asserts on it:
 *   first_screen   - at 1280 x 900, after one Generate: the button's and each result image's box
 *   phone          - at 390 px: the page's scroll width and every breed picture or control outside the viewport
 *   verdict        - the headline and bar title of the photo's verdict
 *   share          - the control values after opening share links (the guide's too, and whether fast mode greys it
 *                    out), and the notice of a bad one
 *   failed_upload  - the verdict area before and after a broken upload is classified
 * Every wait is on a condition in the page, with a timeout.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { launchBrowser } from '../webclient/scripts/browser.mjs';

const { values: opts } = parseArgs({
  options: { url: { type: 'string' }, photo: { type: 'string' }, broken: { type: 'string' }, shots: { type: 'string' },
    cat: { type: 'string' } },
  strict: true,
});
for (const name of ['url', 'photo', 'broken']) {
  if (!opts[name]) throw new Error(`--${name} is required (see the comment at the top of this file)`);
}
const shots = opts.shots ? resolve(opts.shots) : null;
if (shots) mkdirSync(shots, { recursive: true });

async function waitFor(page, fn, arg, what, timeout = 120_000) {
  await page.waitForFunction(fn, arg, { timeout, polling: 200 })
    .catch((err) => { throw new Error(`timed out after ${timeout / 1000} s waiting for ${what}: ${err.message}`); });
}

async function open(context, query = '') {
  const page = await context.newPage();
  await page.goto(new URL(query, opts.url).href);
  // attached, not visible: a blend link switches to the Blend tab on load, which hides the Generate button
  await page.waitForSelector('#generate-btn', { state: 'attached', timeout: 60_000 });
  await waitFor(page, () => document.querySelectorAll('#breed-picker img').length >= 12, undefined, 'the breed pictures');
  return page;
}

async function shot(page, name, fullPage = false) {
  if (!shots) return;
  await waitFor(page, () => [...document.images].every((i) => i.complete), undefined, 'the images to load', 30_000);
  await page.waitForTimeout(400); // let the layout settle
  await page.screenshot({ path: join(shots, name), fullPage });
}

const box = (el) => { const r = el.getBoundingClientRect(); return { x: r.x, y: r.y, right: r.right, bottom: r.bottom, width: r.width, height: r.height }; };

async function clickTab(page, name) {
  await page.locator('button[role=tab]').filter({ hasText: new RegExp(`^\\s*${name}\\s*$`) }).first().click();
}

async function generateFirstScreen(context) {
  const page = await open(context);
  await page.click('#generate-btn');
  await waitFor(page, () => document.querySelector('#status')?.textContent.includes('Done'), undefined, 'the generation');
  await waitFor(page, () => [...document.querySelectorAll('#result img')].every((i) => i.complete && i.naturalWidth > 0),
    undefined, 'the result image');
  const out = await page.evaluate((b) => {
    const fn = new Function(`return (${b})`)();
    return {
      viewport: { width: innerWidth, height: innerHeight },
      button: fn(document.querySelector('#generate-btn')),
      images: [...document.querySelectorAll('#result img')].map((i) => ({ ...fn(i), natural: i.naturalWidth })),
    };
  }, box.toString());
  await shot(page, 'generate.png');
  await page.close();
  return out;
}

async function phone(context) {
  const page = await open(context);
  await page.click('#generate-btn');
  await waitFor(page, () => document.querySelector('#status')?.textContent.includes('Done'), undefined, 'the generation');
  const out = await page.evaluate(() => {
    // aria-hidden: Gradio's invisible copy of the tab bar, kept to measure which tabs fit
    const visible = (e) => e.offsetParent !== null && e.getBoundingClientRect().width > 0 && !e.closest('[aria-hidden=true]');
    const controls = [...document.querySelectorAll(
      '#breed-picker img, #breed-picker button, button, input, select, textarea, [role=radio], label, #result img')]
      .filter(visible);
    const outside = controls.filter((e) => { const r = e.getBoundingClientRect(); return r.left < -0.5 || r.right > innerWidth + 0.5; })
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''} "${(e.textContent || e.alt || e.value || '').trim().slice(0, 30)}"`);
    return { width: innerWidth, scrollWidth: document.documentElement.scrollWidth, checked: controls.length,
             breeds: document.querySelectorAll('#breed-picker img').length, outside };
  });
  await shot(page, 'generate-phone.png', true);
  await page.close();
  return out;
}

async function verdictAndFailedUpload(context) {
  const page = await open(context);
  await clickTab(page, 'Classify');
  await page.locator('input[type=file]').first().setInputFiles(opts.photo);
  await waitFor(page, () => [...document.querySelectorAll('img')].some((i) => i.offsetParent && i.src.includes('/file=') || i.src.includes('gradio_api/file')),
    undefined, 'the uploaded photo', 60_000);
  await page.click('#classify-btn');
  await waitFor(page, () => document.querySelector('#verdict .verdict'), undefined, 'the verdict');
  const verdict = await page.evaluate(() => ({
    kind: document.querySelector('#verdict .verdict').dataset.verdict,
    headline: document.querySelector('#verdict .verdict-headline').textContent,
    barsTitle: document.querySelector('#verdict .bars-title').textContent,
    barColors: [...document.querySelectorAll('#verdict .bar span')].map((s) => getComputedStyle(s).backgroundColor),
  }));
  await shot(page, 'classify.png');
  // A broken upload: the previous verdict must go, not stay under the error.
  await page.locator('input[type=file]').first().setInputFiles(opts.broken).catch(() => undefined);
  await page.waitForTimeout(1500);
  const before = await page.evaluate(() => Boolean(document.querySelector('#verdict .verdict')));
  await page.click('#classify-btn');
  await waitFor(page, () => document.querySelector('.toast-body, .error, [data-testid=toast-body]')
    || [...document.querySelectorAll('*')].some((e) => e.childElementCount === 0 && /cannot use this upload|no image/.test(e.textContent)),
  undefined, 'the refusal', 60_000);
  const after = await page.evaluate(() => ({
    verdictLeft: Boolean(document.querySelector('#verdict .verdict')),
    message: [...document.querySelectorAll('*')].find((e) => e.childElementCount === 0 && /cannot use this upload|no image/.test(e.textContent))?.textContent ?? '',
  }));
  await page.close();
  return { verdict, failed_upload: { before, ...after } };
}

async function share(context) {
  const read = (page) => page.evaluate(() => ({
    breed: document.querySelector('#breed input')?.value,
    seed: document.querySelector('#seed input')?.value,
    steps: document.querySelector('#steps input[type=number]')?.value,
    guidance: document.querySelector('#guidance input[type=number]')?.value,
    guide: document.querySelector('#guide input[type=number]')?.value,
    guideDisabled: document.querySelector('#guide input[type=number]')?.disabled,
    mode: document.querySelector('#mode input:checked')?.value,
    fastSteps: document.querySelector('#fast-steps input:checked')?.value ?? null,
    notice: document.querySelector('#share-notice')?.offsetParent ? document.querySelector('#share-notice').textContent.trim() : '',
  }));
  const links = {
    quality: '?breed=British%20Shorthair&seed=4294967295&mode=quality&steps=7&guidance=4.5&guide=3.5',
    fast: '?breed=Sphynx&seed=12&mode=fast&steps=4',
    bad: '?breed=Dog&seed=-3&steps=abc&colour=blue&guide=9',
  };
  const out = {};
  // A blend opens the Blend tab with its breeds and weights (its settings are not under Advanced there).
  const page = await open(context, '?blend=Siamese:0.7,Persian:0.3&seed=5');
  await waitFor(page, () => document.querySelector('#blend-breed-a input')?.offsetParent, undefined, 'the Blend tab', 30_000);
  out.blend = await page.evaluate(() => Object.fromEntries(['a', 'b', 'c'].flatMap((k) => [
    [`breed_${k}`, document.querySelector(`#blend-breed-${k} input`)?.value ?? null],
    [`weight_${k}`, document.querySelector(`#blend-weight-${k} input[type=number]`)?.value ?? null]])));
  await page.close();
  for (const [name, query] of Object.entries(links)) {
    const page = await open(context, query);
    await waitFor(page, (n) => n !== 'bad' || document.querySelector('#share-notice')?.offsetParent, name, 'the link to be applied', 30_000);
    await page.locator('button, span').filter({ hasText: /^\s*Advanced\s*$/ }).first().click(); // the settings live there
    await page.waitForSelector('#seed input', { timeout: 10_000 });
    out[name] = await read(page);
    await page.close();
  }
  return out;
}

/** Screenshots only: the Restyle tab with a cat picture, before and after side by side. */
async function restyleShot(context) {
  const page = await open(context);
  await clickTab(page, 'Restyle');
  await page.locator('input[type=file]').first().setInputFiles(opts.cat ?? opts.photo);
  await page.waitForTimeout(1500); // the upload reaches the server before the click uses it
  await page.locator('button').filter({ hasText: /^\s*Restyle\s*$/ }).last().click();
  await waitFor(page, () => [...document.querySelectorAll('.prose, .md')].some((e) => e.offsetParent && e.textContent.includes('restyled as')),
    undefined, 'the restyle');
  await shot(page, 'restyle.png');
  await page.close();
}

const chrome = await launchBrowser({ extraArgs: ['--hide-scrollbars'] });
const result = {};
try {
  const desktop = await chrome.browser.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  result.first_screen = await generateFirstScreen(desktop);
  Object.assign(result, await verdictAndFailedUpload(desktop));
  result.share = await share(desktop);
  const mobile = await chrome.browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true });
  result.phone = await phone(mobile);
  if (shots) await restyleShot(desktop);
} finally {
  await chrome.close();
}
console.log(JSON.stringify(result));
