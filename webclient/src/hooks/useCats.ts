/**
 * The one hook that owns the model worker (xenova/whisper-web pattern): it starts the worker, loads the models,
 * sends typed requests through a RequestTracker and turns the answers into React state. Components only render
 * this state and call these actions; errors always land in state with a message.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { Classification } from '../lib/classify';
import { classWeights, type Selection } from '../lib/conditioning';
import type { PageConfig } from '../lib/config';
import { thumbnailFiles, type Manifest } from '../lib/manifest';
import {
  RequestTracker, WorkerError, transferables, type ErrorCode, type LoadedInfo, type WorkerRequest, type WorkerResponse,
} from '../lib/protocol';
import { tensorToDataUrl } from '../lib/canvas';

export interface FileProgress { loaded: number; total: number; fromCache: boolean }
export interface Preview { sample: Float32Array; predX0: Float32Array; index: number; total: number }
export interface RunStats { kind: 'generate' | 'restyle'; steps: number; stepMs: number[]; totalMs: number }
export interface RunResult { image: Float32Array; kind: 'generate' | 'restyle'; seed: number; stats: RunStats }

export interface LoadState {
  status: 'loading' | 'ready' | 'error';
  progress: Record<string, FileProgress>;
  info: LoadedInfo | null;
  error: { code: ErrorCode; message: string } | null;
}

export interface GenerateOptions { selection: Selection; steps: number; guidance: number; seed: number }
export interface RestyleOptions extends GenerateOptions { image: Blob; strength: number }

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
  generate: (o: GenerateOptions) => Promise<RunResult | null>;
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
  const [variant, setVariant] = useState<string | undefined>(config.variant);
  const [generation, setGeneration] = useState(0); // bumped by retry(): a fresh worker and a fresh load

  const workerRef = useRef<Worker | null>(null);
  const trackerRef = useRef<RequestTracker | null>(null);
  const runningRef = useRef<number | null>(null);
  const noiseRef = useRef<Float32Array | null>(null);

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
    const onLoadMessage = (msg: WorkerResponse) => {
      if (!alive) return;
      if (msg.type === 'manifest') setManifest(msg.manifest);
      if (msg.type === 'progress') {
        setLoad((s) => ({ ...s, progress: { ...s.progress, [msg.file]: { loaded: msg.loaded, total: msg.total, fromCache: msg.fromCache } } }));
      }
    };
    const { done } = tracker.request({
      type: 'load', baseUrl: config.modelsUrl, generatorVariant: variant, provider: config.provider, threads: config.threads,
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

  const run = useCallback(async (o: GenerateOptions | RestyleOptions, kind: 'generate' | 'restyle') => {
    const tracker = trackerRef.current;
    if (!tracker || !manifest) return null;
    setRunError(null);
    let weights: number[];
    try {
      weights = Array.from(classWeights(manifest, o.selection));
    } catch (err) {
      setRunError(message(err));
      return null;
    }
    const common = { weights, steps: o.steps, guidance: o.guidance, seed: o.seed, noise: noiseRef.current?.slice() };
    const req = kind === 'restyle' && 'image' in o
      ? { type: 'restyle' as const, ...common, image: o.image, strength: o.strength }
      : { type: 'generate' as const, ...common };
    setBusy(kind);
    const { id, done } = tracker.request(req, (msg) => {
      if (msg.type === 'step') setPreview({ sample: msg.sample, predX0: msg.predX0, index: msg.index, total: msg.total });
    });
    runningRef.current = id;
    try {
      const msg = await done;
      if (msg.type !== 'generated') return null;
      const runStats: RunStats = { kind, steps: msg.stepMs.length, stepMs: msg.stepMs, totalMs: msg.totalMs };
      const out: RunResult = { image: msg.image, kind, seed: msg.seed, stats: runStats };
      setResult(out);
      setStats(runStats);
      return out;
    } catch (err) {
      setRunError(err instanceof WorkerError && err.code === 'cancelled' ? 'stopped' : message(err));
      return null;
    } finally {
      runningRef.current = null;
      setBusy(null);
    }
  }, [manifest]);

  const generate = useCallback((o: GenerateOptions) => run(o, 'generate'), [run]);
  const restyle = useCallback((o: RestyleOptions) => run(o, 'restyle'), [run]);

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
    manifest, load, busy, preview, result, stats, runError, classification, classifyError, thumbnails,
    generate, restyle, classify, cancel, retry, setVariant, setNoiseOverride,
  }), [manifest, load, busy, preview, result, stats, runError, classification, classifyError, thumbnails,
    generate, restyle, classify, cancel, retry, setNoiseOverride]);
}
