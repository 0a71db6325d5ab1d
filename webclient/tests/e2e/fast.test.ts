/**
 * End to end, the few-step graph: the fast/quality switch against the Python golden images, Live mode under a
 * quick slider drag (read back through window.__cats: request ids and the live scheduler's counts, never timing),
 * and an export without a few-step graph. Every wait is on a condition, never a fixed sleep.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { launchBrowser, startPreview } from '../../scripts/browser.mjs';
import { classWeights } from '../../src/lib/conditioning';
import { fastGeneratorStep, imageLength } from '../../src/lib/engine';
import { fastSigmas, type Manifest } from '../../src/lib/manifest';
import { gaussianNoise } from '../../src/lib/rng';
import { initialSample, runSampler } from '../../src/lib/sampler';
import { tensorToPixels } from '../../src/lib/tensor';
import { decodeArray, loadBundle, maxAbsDiff, nodeSession, ort, type EncodedArray } from '../helpers/bundle';
import { fastGolden, type FastGolden } from '../helpers/fast';
import { canvasPixels, openAdvanced, openApp, state } from './page';

let manifest: Manifest;
let golden: FastGolden;
let server: Awaited<ReturnType<typeof startPreview>>;
let chrome: Awaited<ReturnType<typeof launchBrowser>>;
const pageErrors: string[] = [];

beforeAll(async () => {
  const bundle = loadBundle();
  manifest = bundle.manifest;
  golden = fastGolden(manifest, bundle.golden);
  server = await startPreview();
  chrome = await launchBrowser();
});

afterAll(async () => {
  await chrome?.close();
  await server?.close();
  expect(pageErrors, 'uncaught errors in the page').toEqual([]);
});

const live = (page: Page) => page.evaluate(() => (window.__cats as NonNullable<Window['__cats']>).live());

/** Wait until Live has nothing in flight and nothing pending. */
async function liveIdle(page: Page): Promise<void> {
  await page.waitForFunction(() => {
    const l = window.__cats?.live();
    return l !== undefined && l.inFlight === null && !l.pending && l.generationsInFlight === 0;
  }, null, { timeout: 100_000 });
}

/** Click Generate and wait for a result with a new request id. */
async function generateAndWait(page: Page): Promise<number[]> {
  const before = await page.evaluate(() => window.__cats?.lastRequestId() ?? null);
  await page.getByTestId('generate').click();
  await page.waitForFunction((b) => {
    const c = window.__cats;
    return c !== undefined && (c.lastRequestId() !== b || c.state().runError !== null) && c.state().busy === null;
  }, before, { timeout: 100_000 });
  expect((await state(page)).runError).toBeNull();
  return (await page.evaluate(() => window.__cats?.lastImage())) as number[];
}

/** The few-step image of `weights` from `noise`, by onnxruntime-node on the same graph variant the page runs. */
async function nodeFast(weights: Float32Array, noise: Float32Array, steps: number): Promise<Float32Array> {
  const session = await nodeSession(manifest, 'generator_fast', golden.variant);
  const sigmas = fastSigmas(manifest, steps);
  const { image } = await runSampler({ init: initialSample(noise, sigmas), sigmas, step: fastGeneratorStep(ort, session, manifest, weights) });
  await session.release();
  return image;
}

function expectCanvasShows(pixels: number[], image: ArrayLike<number>, label: string): void {
  const s = manifest.generator.image_size;
  expect(maxAbsDiff(pixels, tensorToPixels(Float32Array.from(image), s, s).data), label).toBeLessThanOrEqual(1);
}

/** Blend on or off; the blend panel (a <details>, closed while the blend is off) is opened first. */
async function setBlend(page: Page, on: boolean): Promise<void> {
  if (!(await page.locator('details.blend').evaluate((d) => (d as HTMLDetailsElement).open))) await page.getByText('Blend breeds').click();
  if (on) await page.getByTestId('blend-toggle').check();
  else await page.getByTestId('blend-toggle').uncheck();
}

const blendValues = (page: Page) => page.locator('input[type="range"][data-testid^="blend-"]')
  .evaluateAll((inputs) => inputs.map((i) => Number((i as HTMLInputElement).value)));

describe('fast mode in Chromium', () => {
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    context = await chrome.newContext();
    // the fast golden images are the fp32 graph's; ?variant= picks the few-step graph's variant too
    page = await openApp(context, server.url, `&thumbs=0&variant=${golden.variant}`, pageErrors);
  });

  afterAll(async () => { await context?.close(); });

  it('switches to the few-step graph (guidance off, and why), loads it on first use, and gives the golden 1- and 2-step images', async () => {
    expect((await state(page)).hasFast).toBe(true);
    expect(await page.getByTestId('dash-fast-load').textContent()).toBe('on first fast run');
    await page.getByTestId('mode-fast').check();
    await openAdvanced(page);
    expect(await page.getByTestId('guidance').isDisabled()).toBe(true);
    if (manifest.generator.guide) { // the guide is the quality graph's: fast mode has its guidance built in
      expect(await page.getByTestId('guide').isDisabled()).toBe(true);
      expect(await page.getByTestId('guide-value').textContent()).toBe('built in');
      expect(await page.getByTestId('guide-note').count()).toBe(0);
    }
    const f = manifest.generator_fast;
    if (!f) throw new Error('no generator_fast');
    expect(await page.getByTestId('guidance-note').textContent()).toMatch(
      new RegExp(`takes no guidance setting: .*guidance ${f.guidance.baked_in.toFixed(1)} is built in`));
    expect(await page.getByTestId('fast-steps-value').textContent()).toBe(String(f.defaults.num_inference_steps));
    expect((await state(page)).fastVariant).toBeNull(); // not loaded before it is needed

    await page.evaluate((n) => window.__cats?.setNoise(n), Array.from(decodeArray(golden.noise)));
    for (const c of golden.cases) {
      const blend = Object.keys(c.breeds).length > 1;
      await setBlend(page, blend);
      if (blend) {
        for (let i = 0; i < manifest.breeds.length; i++) {
          await page.getByTestId(`blend-${i}`).fill(String(c.breeds[manifest.breeds[i] as string] ?? 0));
        }
      } else {
        await page.getByRole('radio', { name: Object.keys(c.breeds)[0], exact: true }).check();
      }
      for (const n of Object.keys(c.final)) {
        await page.getByTestId(`fast-steps-${n}`).check();
        const image = await generateAndWait(page);
        const want = decodeArray(c.final[n] as EncodedArray);
        expect(maxAbsDiff(image, want), `${c.name} ${n}-step`).toBeLessThan(golden.tolerance.final);
        expectCanvasShows(await canvasPixels(page, 'result-0'), want, `${c.name} ${n}-step canvas`);
        const stats = await page.evaluate(() => window.__cats?.lastStats());
        expect(stats).toMatchObject({ graph: 'fast', steps: Number(n) });
      }
    }
    await setBlend(page, false);
    expect((await state(page)).fastVariant).toBe(golden.variant);
    expect(await page.getByTestId('dash-fast-load').textContent()).toMatch(new RegExp(`ms \\(${golden.variant}`));
    expect(await page.getByTestId('dash-fast-last').textContent()).toMatch(/ms$/);
    const runs = golden.cases.reduce((a, c) => a + Object.keys(c.final).length, 0);
    expect(await page.evaluate(() => window.__cats?.fastMs().length)).toBe(runs);
    expect(await page.getByTestId('dash-fast-median').textContent()).toMatch(new RegExp(`ms \\(${runs} runs\\)$`));
  });

  it('Live follows a quick blend-slider drag: never two runs in flight, no pile-up, the newest settings win', async () => {
    await page.evaluate((n) => window.__cats?.setNoise(n), Array.from(decodeArray(golden.noise)));
    const steps = manifest.generator_fast?.defaults.num_inference_steps as number;
    await page.getByTestId(`fast-steps-${steps}`).check();
    await setBlend(page, true);
    await page.getByTestId('live-toggle').check();
    expect(await page.getByTestId('generate').isDisabled()).toBe(true); // Live generates by itself
    await liveIdle(page);
    const first = await live(page);
    expect(first.shown).toBe(1); // switching Live on drew the current settings
    const startImage = (await page.evaluate(() => window.__cats?.lastImage())) as number[];

    // Drag Birman's weight from 0 to 1 with the mouse, one move per animation frame.
    const slider = page.getByTestId('blend-2');
    const box = await slider.boundingBox();
    if (!box) throw new Error('the blend slider is not on screen');
    const y = box.y + box.height / 2;
    const at = (v: number) => box.x + 8 + v * (box.width - 16);
    const moves = 16;
    const t0 = Date.now();
    await page.mouse.move(at(0), y);
    await page.mouse.down();
    for (let k = 1; k <= moves; k++) {
      await page.mouse.move(at(k / moves), y);
      await page.evaluate(() => new Promise<void>((done) => requestAnimationFrame(() => done())));
    }
    await page.mouse.up();
    const seconds = (Date.now() - t0) / 1000;
    const during = await live(page);
    await liveIdle(page);
    const end = await live(page);

    const changes = end.changes - first.changes;
    expect(changes, 'slider positions the drag went through').toBeGreaterThanOrEqual(10);
    expect(changes / seconds, 'changes per second').toBeGreaterThanOrEqual(5);
    expect(during.maxInFlight).toBeLessThanOrEqual(1);
    expect(end.maxInFlight).toBe(1);
    expect(end.maxGenerationsInFlight, 'generation requests the page ever had in flight').toBe(1);
    const started = end.started - first.started;
    expect(started).toBeGreaterThanOrEqual(1);
    expect(started, 'runs started <= changes (changes coalesce, nothing queues)').toBeLessThanOrEqual(changes);
    expect(end.shown - first.shown, 'runs completed and shown <= changes').toBeLessThanOrEqual(changes);
    expect(end.shown + end.dropped + end.failed, 'every run started has ended').toBe(end.started);
    expect(end.failed).toBe(0);
    expect(end.shownId, 'the canvas ends on the last request').toBe(end.lastStartedId);
    expect(await page.evaluate(() => window.__cats?.lastRequestId())).toBe(end.lastStartedId);

    // The canvas shows the final settings' image, as a fresh few-step generation of them computes it.
    const weights = await blendValues(page);
    expect(weights[2]).toBe(1);
    const want = await nodeFast(classWeights(manifest, { kind: 'blend', weights }), decodeArray(golden.noise), steps);
    const image = (await page.evaluate(() => window.__cats?.lastImage())) as number[];
    expect(maxAbsDiff(image, want), 'live image vs a fresh generation of the final settings').toBeLessThan(golden.tolerance.final);
    expect(maxAbsDiff(image, startImage), 'the canvas changed').toBeGreaterThan(0.05);
    expectCanvasShows(await canvasPixels(page, 'result-0'), want, 'live canvas');
    expect(await page.getByTestId('dash-live').textContent()).toContain(`${end.changes} changes`);
    expect(await page.getByTestId('run-progress').textContent()).toBe('Live: up to date');
  });

  it('Live follows the seed and the breed, and stops when switched off', async () => {
    await page.evaluate(() => window.__cats?.setNoise(null)); // the seed's own noise from here on
    const before = await live(page);
    await page.getByTestId('seed').fill('1234');
    await page.waitForFunction((n) => (window.__cats?.live().changes ?? 0) > n, before.changes);
    await liveIdle(page);
    const weights = await blendValues(page);
    const steps = manifest.generator_fast?.defaults.num_inference_steps as number;
    const seeded = gaussianNoise(imageLength(manifest.generator), 1234);
    const want = await nodeFast(classWeights(manifest, { kind: 'blend', weights }), seeded, steps);
    expect(maxAbsDiff((await page.evaluate(() => window.__cats?.lastImage())) as number[], want)).toBeLessThan(golden.tolerance.final);

    await setBlend(page, false);
    const breedChange = await live(page);
    const breed = manifest.breeds.findIndex((_, i) => !golden.cases.some((c) => manifest.breeds[i] as string in c.breeds));
    await page.getByRole('radio', { name: manifest.breeds[breed], exact: true }).check(); // not the breed already picked
    await page.waitForFunction((n) => (window.__cats?.live().changes ?? 0) > n, breedChange.changes);
    await liveIdle(page);
    const oneBreed = await nodeFast(classWeights(manifest, { kind: 'breed', breed }), seeded, steps);
    expect(maxAbsDiff((await page.evaluate(() => window.__cats?.lastImage())) as number[], oneBreed)).toBeLessThan(golden.tolerance.final);

    await page.getByTestId('mode-quality').check(); // Live runs the fast graph only: quality switches it off
    expect(await page.getByTestId('live-toggle').isChecked()).toBe(false);
    const off = await live(page);
    await page.getByRole('radio', { name: manifest.breeds[breed + 1], exact: true }).check();
    await page.evaluate(() => new Promise<void>((done) => requestAnimationFrame(() => requestAnimationFrame(() => done()))));
    expect(await live(page)).toMatchObject({ changes: off.changes, started: off.started, pending: false });
    expect(pageErrors).toEqual([]);
  });
});

describe('an export without a few-step graph', () => {
  it('says fast mode is not in these weights, and the quality graph still works', async () => {
    const context = await chrome.newContext();
    await context.route('**/models/manifest.json', async (route) => {
      const res = await route.fetch();
      const json = (await res.json()) as Record<string, unknown>;
      json.generator_fast = null;
      await route.fulfill({ response: res, json });
    });
    const page = await openApp(context, server.url, '&thumbs=0', pageErrors);
    await openAdvanced(page);
    expect((await state(page)).status).toBe('ready');
    expect((await state(page)).hasFast).toBe(false);
    expect(await page.getByTestId('mode-fast').isDisabled()).toBe(true);
    expect(await page.getByTestId('live-toggle').isDisabled()).toBe(true);
    expect(await page.getByTestId('fast-missing').textContent()).toMatch(/not in these weights/);
    expect(await page.getByTestId('dash-fast-load').textContent()).toBe('not in these weights');
    await page.getByTestId('steps').fill('2');
    const image = await generateAndWait(page);
    expect(image).toHaveLength(imageLength(manifest.generator));
    expect(await page.evaluate(() => window.__cats?.lastStats()?.graph)).toBe('quality');
    await context.close();
  });
});
