/**
 * The model worker: owns the manifest, the downloaded graphs and the onnxruntime-web sessions. It answers the
 * requests of src/lib/protocol.ts one at a time (a queue; cancel is handled at once), never leaving a request
 * without a final message. The few-step graph (manifest.generator_fast) is loaded the first time a generateFast
 * request needs it, with the load's provider, and kept for the worker's life.
 */
import type { InferenceSession } from 'onnxruntime-web';
import { classify } from '../lib/classify';
import { classifierOutputs, checkSession, fastGeneratorStep, generatorStep, imageLength } from '../lib/engine';
import { defaultAutoguidance, fastSigmas, graphVariant, parseManifest, ManifestError, type Manifest } from '../lib/manifest';
import { oodStats, type OodStats } from '../lib/ood';
import { fetchVerified } from '../lib/modelStore';
import {
  isWorkerRequest, toErrorResponse, transferables, WorkerError, type WorkerRequest, type WorkerResponse,
} from '../lib/protocol';
import { gaussianNoise } from '../lib/rng';
import { checkSteps, initialSample, runSampler, type StepEvent, type StepFn } from '../lib/sampler';
import { sigmasFor, transferSigmas } from '../lib/schedule';
import { toClassifierTensor, toModelTensor } from '../lib/tensor';
import { checked, checkWeights, guidanceScales } from './checks';
import { decodeImage } from './decode';
import { chooseProvider, wasmThreads } from './providers';

type Ort = typeof import('onnxruntime-web');
interface Sessions { ort: Ort; generator: InferenceSession; classifier: InferenceSession | null }

let manifest: Manifest | null = null;
let sessions: Sessions | null = null;
let familiarity: OodStats | null = null; // decoded once per load from manifest.classifier.ood
let wasmOrt: Promise<Ort> | null = null;
/** Where the few-step graph comes from (set by load) and its session once made. */
let fastSource: { baseUrl: string; variant: string | undefined; provider: 'wasm' | 'webgpu' } | null = null;
let fastSession: InferenceSession | null = null;
const cancelled = new Set<number>();
let queue: Promise<void> = Promise.resolve();

function post(msg: WorkerResponse): void {
  (self as unknown as Worker).postMessage(msg, transferables(msg));
}

/** A fetchVerified progress callback: at most 10 progress messages a second for `file`, and the last one. */
function postProgress(id: number, file: string): (loaded: number, total: number, fromCache: boolean) => void {
  let last = 0;
  return (loaded, total, fromCache) => {
    const now = performance.now();
    if (loaded < total && now - last < 100) return;
    last = now;
    post({ type: 'progress', id, file, loaded, total, fromCache });
  };
}

function ready(): { m: Manifest; s: Sessions } {
  if (!manifest || !sessions) throw new WorkerError('internal', 'the models are not loaded yet');
  return { m: manifest, s: sessions };
}

/** One session on `ep` (the load's provider), or a model error that names the graph. */
async function createSession(ort: Ort, bytes: Uint8Array, label: string, ep: 'wasm' | 'webgpu'): Promise<InferenceSession> {
  try {
    return await ort.InferenceSession.create(bytes, { executionProviders: [ep], graphOptimizationLevel: 'all' });
  } catch (err) {
    throw new WorkerError('model', `the ${label} graph did not load on ${ep}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function createSessions(ort: Ort, bytes: Record<'generator' | 'classifier', Uint8Array | null>, ep: 'wasm' | 'webgpu'): Promise<Sessions> {
  const generator = await createSession(ort, bytes.generator as Uint8Array, 'generator', ep);
  const classifier = bytes.classifier ? await createSession(ort, bytes.classifier, 'classifier', ep) : null;
  return { ort, generator, classifier };
}

async function load(req: Extract<WorkerRequest, { type: 'load' }>): Promise<void> {
  const t0 = performance.now();
  const manifestUrl = new URL('manifest.json', req.baseUrl).href;
  let res: Response;
  try {
    res = await fetch(manifestUrl, { cache: 'no-cache' });
  } catch (err) {
    throw new WorkerError('download', `could not download manifest.json: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!res.ok) {
    throw new WorkerError('manifest', `no model manifest at ${manifestUrl} (HTTP ${res.status}): run python export.py `
      + '--model <pipeline-dir> --out webclient/public/models');
  }
  const m = parseManifest(await res.json().catch(() => { throw new ManifestError('manifest.json is not valid JSON'); }));
  post({ type: 'manifest', id: req.id, manifest: m });

  const gen = graphVariant(m, 'generator', req.generatorVariant);
  const cls = m.classifier ? graphVariant(m, 'classifier', req.classifierVariant) : null;
  let fromCache = true;
  const download = async (file: string, spec: { sha256: string; bytes: number }) => {
    const r = await fetchVerified(new URL(file, req.baseUrl).href, file, spec, postProgress(req.id, file));
    fromCache &&= r.fromCache;
    return r.bytes;
  };
  const bytes = {
    generator: await download(gen.spec.file, gen.spec),
    classifier: cls ? await download(cls.spec.file, cls.spec) : null,
  };

  const t1 = performance.now();
  const isolated = self.crossOriginIsolated;
  const threads = wasmThreads(isolated, navigator.hardwareConcurrency || 1, req.threads);
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  const chosen = await chooseProvider(req.provider, {
    requestAdapter: gpu ? () => gpu.requestAdapter() : null,
    webgpu: async () => createSessions(await import('onnxruntime-web/webgpu'), bytes, 'webgpu'),
    wasm: async () => {
      wasmOrt ??= import('onnxruntime-web/wasm').then((ort) => {
        ort.env.wasm.numThreads = threads; // fixed once per worker: the hook restarts the worker to change it
        return ort;
      });
      return createSessions(await wasmOrt, bytes, 'wasm');
    },
  });
  const s = chosen.value;
  checkSession(s.generator, m.generator.inputs, m.generator.outputs, 'generator');
  if (s.classifier && m.classifier) checkSession(s.classifier, m.classifier.inputs, m.classifier.outputs, 'classifier');
  familiarity = m.classifier?.ood ? oodStats(m.classifier.ood) : null;
  manifest = m;
  sessions = s;
  fastSource = { baseUrl: req.baseUrl, variant: req.fastVariant, provider: chosen.provider };
  fastSession = null;
  const t2 = performance.now();
  post({
    type: 'loaded', id: req.id, provider: chosen.provider, threads: chosen.provider === 'wasm' ? s.ort.env.wasm.numThreads ?? threads : 1,
    crossOriginIsolated: isolated, loadMs: t2 - t0, downloadMs: t1 - t0, sessionMs: t2 - t1, generatorVariant: gen.key,
    classifierVariant: cls?.key ?? null, fallbackReason: chosen.fallbackReason, fromCache,
  });
}

/** The request's noise, or its seed's (as cats/noise.py), checked against the graph's image size. */
function requestNoise(req: { noise?: Float32Array; seed: number }, m: Manifest): Float32Array {
  const n = imageLength(m.generator);
  const noise = req.noise ?? checked(() => gaussianNoise(n, req.seed));
  if (noise.length !== n) throw new WorkerError('input', `noise has ${noise.length} values, expected ${n}`);
  return noise;
}

/**
 * The one sampling run behind generate, restyle and generateFast (cats/sampling.py::generate and restyle): the start
 * (noise, or the restyle mix with `image`), the loop with a step message after each step, the generated message.
 */
async function sampleAndPost(req: { id: number; seed: number }, noise: Float32Array, sigmas: Float32Array, step: StepFn,
  t0: number, image?: Float32Array): Promise<void> {
  const { image: out, stepMs } = await runSampler({
    init: initialSample(noise, sigmas, image),
    sigmas,
    step,
    isCancelled: () => cancelled.has(req.id),
    onStep: (e: StepEvent) => post({
      type: 'step', id: req.id, index: e.index, total: e.total, ms: e.ms, sample: e.sample.slice(), predX0: e.predX0.slice(),
    }),
  });
  post({ type: 'generated', id: req.id, image: out.slice(), stepMs, totalMs: performance.now() - t0, seed: req.seed });
}

/**
 * generate and restyle: the guided graph (CFG, and autoguidance when it has a guide) over the manifest's schedule
 * (restyle: its tail, from the photo), guiding only at steps inside the manifest's guidance interval.
 */
async function generate(req: Extract<WorkerRequest, { type: 'generate' | 'restyle' }>): Promise<void> {
  const t0 = performance.now();
  const { m, s } = ready();
  const noise = requestNoise(req, m);
  const full = sigmasFor(m, checked(() => checkSteps(req.steps)));
  const scales = guidanceScales(m, req);
  let sigmas = full;
  let image: Float32Array | undefined;
  if (req.type === 'restyle') {
    sigmas = checked(() => transferSigmas(full, req.strength));
    image = toModelTensor(await decodeImage(req.image), m.generator.image_size);
  }
  await sampleAndPost(req, noise, sigmas, generatorStep(s.ort, s.generator, m, checkWeights(m, req.weights), scales), t0,
    image);
}

/** The few-step graph's session: made on first use (posting progress and fastLoaded to `id`), then reused. */
async function fast(id: number, m: Manifest, ort: Ort): Promise<InferenceSession> {
  if (fastSession) return fastSession;
  const f = m.generator_fast;
  if (!f || !fastSource) throw new WorkerError('model', 'this export has no few-step graph: fast mode is not in these weights');
  const t0 = performance.now();
  const { key, spec } = graphVariant(m, 'generator_fast', fastSource.variant && fastSource.variant in f.variants
    ? fastSource.variant : undefined);
  const { bytes, fromCache } = await fetchVerified(new URL(spec.file, fastSource.baseUrl).href, spec.file, spec,
    postProgress(id, spec.file));
  const session = await createSession(ort, bytes, 'few-step', fastSource.provider);
  checkSession(session, f.inputs, f.outputs, 'few-step generator');
  fastSession = session;
  post({ type: 'fastLoaded', id, variant: key, loadMs: performance.now() - t0, fromCache });
  return session;
}

/** generateFast: the few-step graph from the seed's noise over its exported schedule (no guidance input). */
async function generateFast(req: Extract<WorkerRequest, { type: 'generateFast' }>): Promise<void> {
  const { m, s } = ready();
  const session = await fast(req.id, m, s.ort);
  const t0 = performance.now();
  const noise = requestNoise(req, m);
  const sigmas = checked(() => fastSigmas(m, req.steps));
  await sampleAndPost(req, noise, sigmas, fastGeneratorStep(s.ort, session, m, checkWeights(m, req.weights)), t0);
}

async function classifyImage(req: Extract<WorkerRequest, { type: 'classify' }>): Promise<void> {
  const t0 = performance.now();
  const { m, s } = ready();
  const c = m.classifier;
  if (!c || !s.classifier) throw new WorkerError('model', 'this export has no classifier graph');
  const input = toClassifierTensor(await decodeImage(req.image), c.image_size, c.mean, c.std);
  const { logits, features } = await classifierOutputs(s.ort, s.classifier, m, input);
  if (familiarity && !features) throw new WorkerError('model', 'the classifier graph has no "features" output, but manifest.json has familiarity statistics: re-export');
  const result = classify(logits, c, 3, features ?? undefined, familiarity);
  post({ type: 'classified', id: req.id, result, ms: performance.now() - t0, input });
}

/** One small picture per breed at the default guidance scales and interval, in one batch (used when the export ships no thumbnails). */
async function thumbnails(req: Extract<WorkerRequest, { type: 'thumbnails' }>): Promise<void> {
  const { m, s } = ready();
  const b = m.breeds.length;
  const slots = m.null_id + 1;
  const weights = new Float32Array(b * slots);
  for (let i = 0; i < b; i++) weights[i * slots + i] = 1;
  const defaults = guidanceScales(m, { guidance: m.generator.defaults.guidance_scale, autoguidance: defaultAutoguidance(m) });
  const step = generatorStep(s.ort, s.generator, m, weights, defaults, b);
  const n = imageLength(m.generator);
  const { image } = await runSampler({
    init: checked(() => gaussianNoise(n * b, req.seed)), sigmas: sigmasFor(m, checked(() => checkSteps(req.steps))), step,
    isCancelled: () => cancelled.has(req.id),
  });
  post({ type: 'thumbnails', id: req.id, images: Array.from({ length: b }, (_, i) => image.slice(i * n, (i + 1) * n)) });
}

async function handle(req: WorkerRequest): Promise<void> {
  switch (req.type) {
    case 'load': return load(req);
    case 'generate':
    case 'restyle': return generate(req);
    case 'generateFast': return generateFast(req);
    case 'classify': return classifyImage(req);
    case 'thumbnails': return thumbnails(req);
    case 'cancel': return undefined;
  }
}

self.addEventListener('message', (event: MessageEvent) => {
  const req: unknown = event.data;
  if (!isWorkerRequest(req)) {
    post({ type: 'error', id: -1, code: 'internal', message: `malformed request: ${JSON.stringify(req)}` });
    return;
  }
  if (req.type === 'cancel') {
    cancelled.add(req.target);
    return;
  }
  queue = queue.then(async () => {
    try {
      if (cancelled.has(req.id)) throw new WorkerError('cancelled', 'stopped before it started');
      await handle(req);
    } catch (err) {
      post(toErrorResponse(req.id, err instanceof ManifestError ? new WorkerError('manifest', err.message) : err));
    } finally {
      cancelled.delete(req.id);
    }
  });
});
