/**
 * The GitHub Pages build, served the way Pages serves a project page: `vite build` with TINY_CATS_BASE set (the
 * variable the Pages workflow sets) into a temporary folder, then a plain static server that publishes it only under
 * that sub-path and, like Pages, sends no COOP/COEP headers. The bundled service worker has to make the page
 * cross-origin isolated from the sub-path, and the page has to load its models from there and generate the Python
 * golden image. Every wait is on a condition, never a fixed sleep.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, resolve, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { launchBrowser, ROOT } from '../../scripts/browser.mjs';
import { graphVariant, type Manifest } from '../../src/lib/manifest';
import { decodeArray, loadBundle, maxAbsDiff, type Golden } from '../helpers/bundle';

/** A project page lives at https://OWNER.github.io/REPO/; the name only has to be a sub-path. */
const BASE = '/tiny-cats/';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json; charset=utf-8', '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream', '.png': 'image/png', '.svg': 'image/svg+xml',
};

interface Served { path: string; status: number }

/** Build the site as the Pages workflow does, into `outDir`; rejects with vite's output when the build fails. */
function buildForPages(outDir: string): Promise<void> {
  const vite = join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [vite, 'build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'], {
      cwd: ROOT, env: { ...process.env, TINY_CATS_BASE: BASE }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout.on('data', (d: Buffer) => { log += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { log += d.toString(); });
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? done() : fail(new Error(`vite build for Pages exited with ${code}:\n${log}`))));
  });
}

/**
 * Static files of `dir` under BASE only, with no isolation headers; `/tiny-cats` redirects to `/tiny-cats/` as
 * Pages does. Every request is recorded, so a URL that escapes the sub-path shows up as a 404 outside BASE.
 */
function servePages(dir: string): Promise<{ origin: string; served: Served[]; close: () => Promise<void> }> {
  const served: Served[] = [];
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const reply = (status: number, headers: Record<string, string> = {}, body?: Buffer) => {
      served.push({ path, status });
      res.writeHead(status, headers).end(body);
    };
    if (`${path}/` === BASE) return reply(301, { Location: BASE });
    if (!path.startsWith(BASE)) return reply(404);
    const rel = decodeURIComponent(path.slice(BASE.length));
    const file = resolve(dir, rel === '' || rel.endsWith('/') ? `${rel}index.html` : rel);
    if (!file.startsWith(dir + sep) || !existsSync(file) || !statSync(file).isFile()) return reply(404);
    reply(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' }, readFileSync(file));
  });
  return new Promise((done) => server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    done({
      origin: `http://127.0.0.1:${port}`,
      served,
      close: () => new Promise((closed) => { server.closeAllConnections(); server.close(() => closed()); }),
    });
  }));
}

let manifest: Manifest;
let golden: Golden;
let outDir: string;
let site: Awaited<ReturnType<typeof servePages>>;
let chrome: Awaited<ReturnType<typeof launchBrowser>>;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  ({ manifest, golden } = loadBundle());
  outDir = mkdtempSync(join(tmpdir(), 'tiny-cats-pages-'));
  await buildForPages(outDir);
  site = await servePages(outDir);
  chrome = await launchBrowser();
  context = await chrome.newContext();
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${site.origin}${BASE}?testhook=1&thumbs=0&variant=${golden.variant}`); // golden images: the fp32 graph
  // A script or style URL outside the sub-path has already missed by the load event: fail now, naming it.
  const missed = site.served.filter((r) => r.status === 404);
  if (missed.length > 0) throw new Error(`the page requested missing files: ${missed.map((r) => r.path).join(', ')}`);
  // The service worker reloads the page once to isolate it; wait for the reloaded page to finish loading its models.
  await page.waitForFunction(() => window.crossOriginIsolated && window.__cats !== undefined
    && window.__cats.state().status !== 'loading', null, { timeout: 200_000 });
}, 400_000);

afterAll(async () => {
  await context?.close();
  await chrome?.close();
  await site?.close();
  if (outDir) rmSync(outDir, { recursive: true, force: true });
  expect(pageErrors, 'uncaught errors in the page').toEqual([]);
});

describe('the GitHub Pages build under its sub-path', () => {
  it('is built with the base path from TINY_CATS_BASE', () => {
    const html = readFileSync(join(outDir, 'index.html'), 'utf8');
    expect(html).toMatch(new RegExp(`<script type="module"[^>]* src="${BASE}assets/[^"]+\\.js"`));
    expect(existsSync(join(outDir, 'coi-serviceworker.js'))).toBe(true);
    expect(existsSync(join(outDir, 'models', 'manifest.json'))).toBe(true);
  });

  it('is cross-origin isolated by the bundled service worker, registered for the sub-path', async () => {
    const sw = await page.evaluate(async () => {
      const reg = await navigator.serviceWorker.getRegistration();
      return { scope: reg?.scope ?? null, script: navigator.serviceWorker.controller?.scriptURL ?? null };
    });
    expect(sw.scope).toBe(`${site.origin}${BASE}`);
    expect(sw.script).toBe(`${site.origin}${BASE}coi-serviceworker.js`);
    await expect.poll(() => page.getByTestId('dash-isolated').textContent()).toBe('yes');
  });

  it('loads its models from the sub-path and nothing from outside it', async () => {
    const s = await page.evaluate(() => (window.__cats as NonNullable<Window['__cats']>).state());
    expect(s.loadError).toBeNull();
    expect(s.status).toBe('ready');
    const generator = graphVariant(manifest, 'generator', golden.variant).spec.file; // the variant the page was opened with
    expect(site.served).toContainEqual({ path: `${BASE}models/manifest.json`, status: 200 });
    expect(site.served).toContainEqual({ path: `${BASE}models/${generator}`, status: 200 });
    expect(site.served.filter((r) => r.status === 404 || !r.path.startsWith(BASE)), 'requests that missed').toEqual([]);
  });

  it('generates the Python golden image', async () => {
    const c = golden.cases.find((k) => Object.keys(k.breeds).length === 1);
    if (!c) throw new Error('golden.json has no single-breed case');
    const breed = manifest.breeds.indexOf(Object.keys(c.breeds)[0] as string);
    expect(breed).toBeGreaterThanOrEqual(0);
    await page.evaluate((n) => window.__cats?.setNoise(n), Array.from(decodeArray(golden.noise)));
    const out = await page.evaluate(
      (o) => window.__cats?.generate(o) ?? null,
      { breed, steps: golden.steps, guidance: golden.guidance_scale, autoguidance: golden.autoguidance_scale ?? 1, seed: 0 },
    );
    if (!out) throw new Error('the page returned no image');
    expect(maxAbsDiff(out.image, decodeArray(c.final))).toBeLessThan(golden.tolerance.final);
  });
});
