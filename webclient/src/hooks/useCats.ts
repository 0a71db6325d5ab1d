/**
 * The one hook that owns the model worker (xenova/whisper-web pattern): it starts the worker, loads the models,
 * sends typed requests through a RequestTracker and turns the answers into React state. Components only render
 * this state and call these actions; errors always land in state with a message. Live mode (src/lib/live.ts) is a
 * LiveScheduler here: the page hands it every change of the settings, it decides what runs.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { Classification } from '../lib/classify';
import { classWeights, type Selection } from '../lib/conditioning';
import type { PageConfig } from '../lib/config';
import { LiveScheduler, type LiveStats } from '../lib/live';
import { thumbnailFiles, type Manifest } from '../lib/manifest';
import {
  RequestTracker, WorkerError, transferables, type ErrorCode, type FastLoadedInfo, type LoadedInfo, type NewRequest,
  type WorkerRequest, type WorkerResponse,
} from '../lib/protocol';
import { tensorToDataUrl } from '../lib/canvas';

export interface FileProgress { loaded: number; total: number; fromCache: boolean }
export interface Preview { sample: Float32Array; predX0: Float32Array; index: number; total: number }
/** quality: the guided step graph (manifest.generator); fast: the few-step graph (manifest.generator_fast). */
export type Graph = 'quality' | 'fast';
export interface RunStats { kind: 'generate' | 'restyle'; graph: Graph; steps: number; stepMs: number[]; totalMs: number }
export interface RunResult { image: Float32Array; kind: 'generate' | 'restyle'; seed: number; stats: RunStats; requestId: number }

export interface LoadState {
  status: 'loading' | 'ready' | 'error';
  progress: Record<string, FileProgress>;
  info: LoadedInfo | null;
  error: { code: ErrorCode; message: string } | null;
}

export interface QualityOptions { graph?: 'quality'; selection: Selection; steps: number; guidance: number; seed: number }
/** The few-step graph has no guidance input: its guidance is baked in. */
export interface FastOptions { graph: 'fast'; selection: Selection; steps: number; seed: number }
export type GenerateOptions = QualityOptions | FastOptions;
export interface RestyleOptions extends QualityOptions { image: Blob; strength: number }

/** Live scheduling, plus every generation request this page has in flight (button, restyle and live alike). */
export interface LiveReport extends LiveStats { generationsInFlight: number; maxGenerationsInFlight: number }

/** How many fast-image latencies the dashboard's median is over. */
const FAST_HISTORY = 200;

export interface CatsApi {
  manifest: Manifest | null;
  load: LoadState;
  busy: 'generate' | 'restyle' | 'classify' | null;
  preview: Preview | null;
  result: RunResult | null;
  stats: RunStats | null;
  runError: string | null;
  classification: { result: Classification; ms: number; input: Float32Array } | null;
  classifyError: string | null;
  thumbnails: string[] | null;
  /** The few-step graph's session, once the first fast run made it. */
  fastInfo: FastLoadedInfo | null;
  /** Worker time of each fast image (oldest first, at most FAST_HISTORY), for the dashboard. */
  fastMs: number[];
  /** Live scheduling as of its last change (React state, for the dashboard). */
  live: LiveStats | null;
  generate: (o: GenerateOptions) => Promise<RunResult | null>;
  /** Live mode: the newest settings (the scheduler runs them when it may), or null to stop. */
  setLive: (o: Omit<FastOptions, 'graph'> | null) => void;
  /** Live scheduling read now (not React state), for the test hook. */
  liveReport: () => LiveReport;
  restyle: (o: RestyleOptions) => Promise<RunResult | null>;
  classify: (image: Blob) => Promise<Classification | null>;
  cancel: () => void;
  retry: () => void;
  setVariant: (variant: string) => void;
  /** Test hook: the noise the next generations start from (null: seeded browser noise). */
  setNoiseOverride: (noise: Float32Array | null) => void;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));
const INITIAL_LOAD: LoadState = { status: 'loading', progress: {}, info: null, error: null };

type GenerationRequest = Extract<NewRequest, { type: 'generate' | 'restyle' | 'generateFast' }>;

/** The worker request for a run; throws RangeError naming a bad selection. */
function generationRequest(m: Manifest, o: GenerateOptions | RestyleOptions, noise: Float32Array | null): GenerationRequest {
  const weights = Array.from(classWeights(m, o.selection));
  const base = { weights, steps: o.steps, seed: o.seed, noise: noise?.slice() };
  if (o.graph === 'fast') return { type: 'generateFast', ...base };
  if ('image' in o) return { type: 'restyle', ...base, guidance: o.guidance, image: o.image, strength: o.strength };
  return { type: 'generate', ...base, guidance: o.guidance };
}

export function useCats(config: PageConfig): CatsApi {
  const [manifest, setManifest] = useState<Manifest | null>(null);
  const [load, setLoad] = useState<LoadState>(INITIAL_LOAD);
  const [busy, setBusy] = useState<CatsApi['busy']>(null);
  const [preview, setPreview] = useState<Preview | null>(null);
  const [result, setResult] = useState<RunResult | null>(null);
  const [stats, setStats] = useState<RunStats | null>(null);
  const [runError, setRunError] = useState<string | null>(null);
  const [classification, setClassification] = useState<CatsApi['classification']>(null);
  const [classifyError, setClassifyError] = useState<string | null>(null);
  const [thumbnails, setThumbnails] = useState<string[] | null>(null);
  const [fastInfo, setFastInfo] = useState<FastLoadedInfo | null>(null);
  const [fastMs, setFastMs] = useState<number[]>([]);
  const [live, setLiveStats] = useState<LiveStats | null>(null);
  const [variant, setVariant] = useState<string | undefined>(config.variant);
  const [generation, setGeneration] = useState(0); // bumped by retry(): a fresh worker and a fresh load

  const workerRef = useRef<Worker | null>(null);
  const trackerRef = useRef<RequestTracker | null>(null);
  const runningRef = useRef<number | null>(null);
  const noiseRef = useRef<Float32Array | null>(null);
  const liveRef = useRef<LiveScheduler<GenerationRequest, RunResult> | null>(null);
  const inFlightRef = useRef({ now: 0, max: 0 });

  useEffect(() => {
    const worker = new Worker(new URL('../worker/worker.ts', import.meta.url), { type: 'module' });
    const tracker = new RequestTracker((req: WorkerRequest) => worker.postMessage(req, transferables(req)));
    workerRef.current = worker;
    trackerRef.current = tracker;
    let alive = true;
    worker.onmessage = (e: MessageEvent) => {
      try {
        tracker.receive(e.data);
      } catch (err) {
        setRunError(message(err));
      }
    };
    worker.onerror = (e: ErrorEvent) => {
      const msg = `the model worker crashed: ${e.message || 'script error'}`;
      tracker.failAll(msg);
      if (alive) setLoad((s) => ({ ...s, status: 'error', error: { code: 'internal', message: msg } }));
    };
    setLoad(INITIAL_LOAD);
    setFastInfo(null); // a new worker makes the few-step session again, perhaps of another variant
    setFastMs([]);
    const onLoadMessage = (msg: WorkerResponse) => {
      if (!alive) return;
      if (msg.type === 'manifest') setManifest(msg.manifest);
      if (msg.type === 'progress') {
        setLoad((s) => ({ ...s, progress: { ...s.progress, [msg.file]: { loaded: msg.loaded, total: msg.total, fromCache: msg.fromCache } } }));
      }
    };
    const { done } = tracker.request({
      type: 'load', baseUrl: config.modelsUrl, generatorVariant: variant, fastVariant: variant, provider: config.provider,
      threads: config.threads,
    }, onLoadMessage);
    done.then((msg) => {
      if (!alive || msg.type !== 'loaded') return;
      const { type: _t, id: _i, ...info } = msg;
      setLoad((s) => ({ ...s, status: 'ready', info, error: null }));
    }).catch((err: unknown) => {
      if (!alive) return;
      const code = err instanceof WorkerError ? err.code : 'internal';
      setLoad((s) => ({ ...s, status: 'error', error: { code, message: message(err) } }));
    });
    return () => {
      alive = false;
      liveRef.current?.dispose();
      liveRef.current = null;
      tracker.failAll('the page replaced the model worker');
      worker.terminate();
      workerRef.current = null;
      trackerRef.current = null;
    };
  }, [config.modelsUrl, config.provider, config.threads, variant, generation]);

  // Breed thumbnails: the export's PNGs when shipped, else one small generated batch after the models load.
  useEffect(() => {
    if (!manifest) return;
    const files = thumbnailFiles(manifest);
    if (files) {
      setThumbnails(files.map((f) => new URL(f, config.modelsUrl).href));
      return;
    }
    if (!config.thumbs || load.status !== 'ready' || !trackerRef.current) return;
    const steps = Math.min(...Object.keys(manifest.generator.scheduler.sigmas).map(Number));
    const size = manifest.generator.image_size;
    trackerRef.current.request({ type: 'thumbnails', steps, seed: 1 }).done.then((msg) => {
      if (msg.type === 'thumbnails') setThumbnails(msg.images.map((t) => tensorToDataUrl(t, size)));
    }).catch((err: unknown) => setRunError(`breed thumbnails: ${message(err)}`));
  }, [manifest, load.status, config.thumbs, config.modelsUrl]);

  /** Send one generation request; its answer as a RunResult. Counts what is in flight; shows a lazy load's progress. */
  const send = useCallback((req: GenerationRequest, onStep?: (p: Preview) => void): { id: number; done: Promise<RunResult> } => {
    const tracker = trackerRef.current;
    if (!tracker) throw new WorkerError('internal', 'the model worker is not running');
    const kind = req.type === 'restyle' ? 'restyle' : 'generate';
    const graph: Graph = req.type === 'generateFast' ? 'fast' : 'quality';
    const inFlight = inFlightRef.current;
    inFlight.now += 1;
    inFlight.max = Math.max(inFlight.max, inFlight.now);
    const { id, done } = tracker.request(req, (msg) => {
      if (msg.type === 'step') onStep?.({ sample: msg.sample, predX0: msg.predX0, index: msg.index, total: msg.total });
      if (msg.type === 'progress') {
        setLoad((s) => ({ ...s, progress: { ...s.progress, [msg.file]: { loaded: msg.loaded, total: msg.total, fromCache: msg.fromCache } } }));
      }
      if (msg.type === 'fastLoaded') setFastInfo({ variant: msg.variant, loadMs: msg.loadMs, fromCache: msg.fromCache });
    });
    const result = done.then((msg): RunResult => {
      if (msg.type !== 'generated') throw new WorkerError('internal', `the worker answered a generation with "${msg.type}"`);
      if (graph === 'fast') setFastMs((xs) => [...xs.slice(1 - FAST_HISTORY), msg.totalMs]);
      const stats: RunStats = { kind, graph, steps: msg.stepMs.length, stepMs: msg.stepMs, totalMs: msg.totalMs };
      return { image: msg.image, kind, seed: msg.seed, stats, requestId: id };
    }).finally(() => { inFlight.now -= 1; });
    return { id, done: result };
  }, []);

  const run = useCallback(async (o: GenerateOptions | RestyleOptions) => {
    if (!trackerRef.current || !manifest) return null;
    setRunError(null);
    let req: GenerationRequest;
    try {
      req = generationRequest(manifest, o, noiseRef.current);
    } catch (err) {
      setRunError(message(err));
      return null;
    }
    setBusy(req.type === 'restyle' ? 'restyle' : 'generate');
    const { id, done } = send(req, setPreview);
    runningRef.current = id;
    try {
      const out = await done;
      setResult(out);
      setStats(out.stats);
      return out;
    } catch (err) {
      setRunError(err instanceof WorkerError && err.code === 'cancelled' ? 'stopped' : message(err));
      return null;
    } finally {
      runningRef.current = null;
      setBusy(null);
    }
  }, [manifest, send]);

  const setLive = useCallback((o: Omit<FastOptions, 'graph'> | null) => {
    if (o === null) {
      liveRef.current?.stop();
      return;
    }
    if (!manifest || !trackerRef.current) return;
    let req: GenerationRequest;
    try {
      req = generationRequest(manifest, { ...o, graph: 'fast' }, noiseRef.current);
    } catch (err) {
      setRunError(message(err)); // e.g. a blend with every weight at 0: the last picture stays
      return;
    }
    setRunError(null);
    liveRef.current ??= new LiveScheduler<GenerationRequest, RunResult>({
      start: (r) => send(r),
      cancel: (target) => workerRef.current?.postMessage({ type: 'cancel', id: 0, target } satisfies WorkerRequest),
      onResult: (out) => {
        setResult(out);
        setStats(out.stats);
      },
      onError: (err) => setRunError(message(err)),
      onStats: setLiveStats,
    });
    liveRef.current.update(req);
  }, [manifest, send]);

  const liveReport = useCallback((): LiveReport => {
    const stats = liveRef.current?.stats ?? {
      changes: 0, started: 0, shown: 0, dropped: 0, failed: 0, inFlight: null, pending: false, maxInFlight: 0,
      lastStartedId: null, shownId: null,
    };
    return { ...stats, generationsInFlight: inFlightRef.current.now, maxGenerationsInFlight: inFlightRef.current.max };
  }, []);

  const generate = useCallback((o: GenerateOptions) => run(o), [run]);
  const restyle = useCallback((o: RestyleOptions) => run(o), [run]);

  const classify = useCallback(async (image: Blob) => {
    const tracker = trackerRef.current;
    if (!tracker) return null;
    setClassifyError(null);
    setClassification(null);
    setBusy('classify');
    try {
      const msg = await tracker.request({ type: 'classify', image }).done;
      if (msg.type !== 'classified') return null;
      setClassification({ result: msg.result, ms: msg.ms, input: msg.input });
      return msg.result;
    } catch (err) {
      setClassifyError(message(err));
      return null;
    } finally {
      setBusy(null);
    }
  }, []);

  const cancel = useCallback(() => {
    const target = runningRef.current;
    if (target !== null) workerRef.current?.postMessage({ type: 'cancel', id: 0, target } satisfies WorkerRequest);
  }, []);
  const retry = useCallback(() => setGeneration((g) => g + 1), []);
  const setNoiseOverride = useCallback((noise: Float32Array | null) => { noiseRef.current = noise; }, []);

  return useMemo(() => ({
    manifest, load, busy, preview, result, stats, runError, classification, classifyError, thumbnails, fastInfo, fastMs, live,
    generate, setLive, liveReport, restyle, classify, cancel, retry, setVariant, setNoiseOverride,
  }), [manifest, load, busy, preview, result, stats, runError, classification, classifyError, thumbnails, fastInfo, fastMs,
    live, generate, setLive, liveReport, restyle, classify, cancel, retry, setNoiseOverride]);
}
