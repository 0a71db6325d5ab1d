/**
 * Shared by the end-to-end tests and the benchmark: serve the built site with `vite preview` (COOP/COEP on)
 * and drive Debian Chromium through playwright-core (no browser download: CHROMIUM_PATH or /usr/bin/chromium).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { preview } from 'vite';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export function chromiumPath() {
  const path = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  if (!existsSync(path)) {
    throw new Error(`no Chromium at ${path}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`);
  }
  return path;
}

/**
 * Chromium with a fresh temporary profile (playwright-core creates and deletes it); each `newContext()` is an
 * isolated session with its own Cache Storage, so one test's cached models never leak into another's.
 * @param {{ extraArgs?: string[] }} [options]
 */
export async function launchBrowser(options = {}) {
  const browser = await chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [...CHROMIUM_ARGS, ...(options.extraArgs ?? [])],
  });
  return {
    browser,
    newContext: () => browser.newContext({ viewport: { width: 1200, height: 900 } }),
    close: () => browser.close(),
  };
}

/** `vite preview` of dist/ on a free port; throws if the site was not built. */
export async function startPreview() {
  if (!existsSync(join(ROOT, 'dist', 'index.html'))) throw new Error('dist/ is missing: run `npm run build` first');
  const server = await preview({ root: ROOT, logLevel: 'warn', preview: { port: 0, strictPort: false, host: '127.0.0.1' } });
  const url = server.resolvedUrls?.local[0];
  if (!url) throw new Error('vite preview did not report a URL');
  return { url, close: () => new Promise((resolve) => server.httpServer.close(() => resolve(undefined))) };
}
