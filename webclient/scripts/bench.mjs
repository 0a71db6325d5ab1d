/**
 * Browser benchmark: the built site in headless Chromium (vite preview, cross-origin isolated), onnxruntime-web
 * on WASM, for each generator precision variant at 1 and 2 threads. Prints model load time (first visit: download,
 * sha256, session creation), per-step ms (median of the timed run), and the total time of a complete generation
 * after one warm-up generation, at the manifest's default guidance (and autoguidance, when the step graph holds a
 * guide network: its cost is part of every step). When the export has a few-step graph (manifest.generator_fast),
 * the page of its default variant also times a complete few-step image at each step count the manifest lists: the
 * median of FAST_RUNS generations after one warm-up (which also loads the graph), beside that page's quality image.
 *
 *   npm run bench                  every variant, 1 and 2 threads, the manifest's default step count
 *   npm run bench -- --quick       the default variant only, 4 steps (the few-step graph still at every count)
 *   npm run bench -- --json        one JSON object on stdout (for the project's benchmark table)
 *
 * Needs dist/ (npm run build; `npm run bench` builds first) and public/models (python export.py ... --out
 * webclient/public/models).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { launchBrowser, ROOT, startPreview } from './browser.mjs';

const args = process.argv.slice(2);
for (const a of args) {
  if (!['--quick', '--json'].includes(a)) throw new Error(`unknown option ${a}: use --quick and/or --json`);
}
const quick = args.includes('--quick');
const json = args.includes('--json');
const log = json ? () => {} : (...m) => console.log(...m);

const manifest = JSON.parse(readFileSync(join(ROOT, 'dist', 'models', 'manifest.json'), 'utf8'));
const g = manifest.generator;
const variants = quick ? [g.default_variant] : Object.keys(g.variants);
const steps = quick ? 4 : g.defaults.num_inference_steps;
const guidance = g.defaults.guidance_scale;
// The default (guided) settings, as the page's sliders start: the guide network's scale too when the graph has one
// (null: no guide, the 5-input graph).
const autoguidance = g.guide ? g.defaults.autoguidance_scale : null;
const THREADS = [1, 2];
const fast = manifest.generator_fast ?? null;
const fastCounts = fast ? Object.keys(fast.scheduler.sigmas).map(Number).sort((a, b) => a - b) : [];
const FAST_RUNS = quick ? 3 : 7;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Median image ms of the few-step graph per step count, after one warm-up (which also loads the graph). */
async function measureFast(page) {
  const out = { variant: null, runs: FAST_RUNS, image_ms: {} };
  for (const n of fastCounts) {
    const run = (seed) => page.evaluate((o) => window.__cats.generate(o), { graph: 'fast', breed: 0, steps: n, seed });
    const times = [];
    for (let i = 0; i <= FAST_RUNS; i++) {
      const r = await run(100 + i);
      if (!r) throw new Error(`few-step generation failed: ${(await page.evaluate(() => window.__cats.state())).runError}`);
      if (i > 0) times.push(r.stats.totalMs); // run 0 is the warm-up
    }
    out.image_ms[n] = median(times);
  }
  out.variant = (await page.evaluate(() => window.__cats.state())).fastVariant;
  return out;
}

async function measure(chrome, url, variant, threads) {
  const context = await chrome.newContext(); // empty Cache Storage: a first visit
  try {
    const page = await context.newPage();
    await page.goto(`${url}?testhook=1&thumbs=0&provider=wasm&threads=${threads}&variant=${variant}`);
    await page.waitForFunction(() => window.__cats && window.__cats.state().status !== 'loading', null, { timeout: 300_000 });
    const state = await page.evaluate(() => window.__cats.state());
    if (state.status !== 'ready') throw new Error(`${variant} @ ${threads} threads did not load: ${state.loadError}`);
    const run = (seed) => page.evaluate((o) => window.__cats.generate(o),
      { breed: 0, steps, guidance, autoguidance: autoguidance ?? 1, seed });
    const warm = await run(1); // first run pays for kernel set-up; reported as first_step_ms
    const timed = await run(2);
    if (!warm || !timed) throw new Error(`${variant} generation failed: ${(await page.evaluate(() => window.__cats.state())).runError}`);
    return {
      fast: fast && variant === fast.default_variant ? await measureFast(page) : null,
      variant, threads: state.threads, provider: state.provider, bytes: g.variants[variant].bytes,
      load_ms: state.loadMs, fetch_ms: state.downloadMs, session_ms: state.sessionMs, first_step_ms: warm.stats.stepMs[0], step_ms: median(timed.stats.stepMs),
      total_ms: timed.stats.totalMs, steps, steps_per_s: steps / (timed.stats.stepMs.reduce((a, b) => a + b, 0) / 1000),
    };
  } finally {
    await context.close();
  }
}

const server = await startPreview();
const chrome = await launchBrowser();
const version = chrome.browser.version();
const results = [];
try {
  log(`tiny-cats browser benchmark: Chromium ${version}, ${os.cpus().length} cores, weights "${manifest.weights.name}", `
    + `${g.image_size}px, ${steps} steps, guidance ${guidance}`
    + (autoguidance === null ? ' (CFG inside each step)' : `, autoguidance ${autoguidance} (CFG and the guide network inside each step)`));
  log('variant  threads  size MB  load ms (fetch+sha / sessions)  1st step ms  step ms  total ms  steps/s');
  for (const variant of variants) {
    for (const threads of THREADS) {
      const r = await measure(chrome, server.url, variant, threads);
      results.push(r);
      log(`${variant.padEnd(7)}  ${String(r.threads).padStart(7)}  ${(r.bytes / 1e6).toFixed(1).padStart(7)}  `
        + `${r.load_ms.toFixed(0).padStart(7)} (${r.fetch_ms.toFixed(0).padStart(5)} / ${r.session_ms.toFixed(0).padStart(5)})`
        + `          ${r.first_step_ms.toFixed(1).padStart(11)}  ${r.step_ms.toFixed(1).padStart(7)}  `
        + `${r.total_ms.toFixed(0).padStart(8)}  ${r.steps_per_s.toFixed(1).padStart(7)}`);
    }
  }
  const withFast = results.filter((r) => r.fast);
  if (withFast.length) {
    log(`\nfew-step graph (generator_fast, guidance baked in): image ms, median of ${FAST_RUNS} after one warm-up, `
      + `beside the quality image (${steps} guided steps) of the same page`);
    log(`variant  threads  ${fastCounts.map((n) => `${n} step${n === 1 ? '' : 's'}`.padStart(8)).join('  ')}  quality ${steps} steps`);
    for (const r of withFast) {
      log(`${r.fast.variant.padEnd(7)}  ${String(r.threads).padStart(7)}  `
        + `${fastCounts.map((n) => r.fast.image_ms[n].toFixed(1).padStart(8)).join('  ')}  ${r.total_ms.toFixed(0).padStart(9)} ms`);
    }
  } else if (!fast) {
    log('\nno few-step graph in this export (manifest.generator_fast): fast mode not benchmarked');
  }
} finally {
  await chrome.close();
  await server.close();
}
if (json) {
  console.log(JSON.stringify({ benchmark: 'webclient', browser: `Chromium ${version}`, provider: 'wasm', cores: os.cpus().length,
    weights: manifest.weights.name, image_size: g.image_size, steps, guidance, autoguidance, quick, results }, null, 2));
}
