/**
 * WebGPU correctness check (not part of `npm test`: on machines without a GPU, Chromium's WebGPU is SwiftShader,
 * correct but ~100x slower than WASM). Generates the same 2-step cat on WebGPU and on WASM and fails unless
 * WebGPU was really used and both agree to 1e-3.
 *
 *   npm run build && node scripts/webgpu-check.mjs
 */
import { launchBrowser, startPreview } from './browser.mjs';

const server = await startPreview();
const chrome = await launchBrowser({ extraArgs: ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-webgpu-adapter=swiftshader'] });
let failed = false;
try {
  const context = await chrome.newContext();
  const run = async (provider) => {
    const page = await context.newPage();
    await page.goto(`${server.url}?testhook=1&thumbs=0&provider=${provider}`);
    await page.waitForFunction(() => window.__cats && window.__cats.state().status !== 'loading', null, { timeout: 300_000 });
    const state = await page.evaluate(() => window.__cats.state());
    if (state.status !== 'ready') throw new Error(`${provider}: ${state.loadError}`);
    const r = await page.evaluate(() => window.__cats.generate({ breed: 1, steps: 2, guidance: 3, seed: 5 }));
    if (!r) throw new Error(`${provider}: ${(await page.evaluate(() => window.__cats.state())).runError}`);
    return { state, r };
  };
  const gpu = await run('webgpu');
  const cpu = await run('wasm');
  const diff = Math.max(...gpu.r.image.map((v, i) => Math.abs(v - cpu.r.image[i])));
  console.log(`provider ${gpu.state.provider}${gpu.state.fallbackReason ? ` (fallback: ${gpu.state.fallbackReason})` : ''}; `
    + `step ms webgpu ${gpu.r.stats.stepMs.map((x) => x.toFixed(0)).join(', ')} vs wasm ${cpu.r.stats.stepMs.map((x) => x.toFixed(0)).join(', ')}; `
    + `max abs difference ${diff.toExponential(2)}`);
  failed = gpu.state.provider !== 'webgpu' || !(diff < 1e-3);
} finally {
  await chrome.close();
  await server.close();
}
if (failed) {
  console.error('WebGPU check FAILED: WebGPU not used, or its image differs from WASM');
  process.exit(1);
}
