/**
 * Generation (whisper-web's useTranscriber, for pictures): turns the page's settings into worker requests through
 * useModelWorker and their answers into React state: the denoising preview while a run goes, the images of the last
 * run (several from one seed: the seed's noise stream cut into images, as the Python pipelines batch it), the last
 * restyle, the run's timings and its error. Live mode is a LiveScheduler here (src/lib/live.ts): the page hands it
 * every change of the settings, it decides what runs.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { classWeights, type Selection } from '../lib/conditioning';
import { imageLength } from '../lib/engine';
import { LiveScheduler, type LiveStats } from '../lib/live';
import type { Manifest } from '../lib/manifest';
import { WorkerError, type FastLoadedInfo, type NewRequest } from '../lib/protocol';
import { gaussianNoise } from '../lib/rng';
import type { Mode, ShareSettings } from '../lib/share';
import type { Job } from '../ui/background';
import { errorMessage, type FileProgress, type ModelWorker } from './useModelWorker';

export interface Preview { sample: Float32Array; predX0: Float32Array; index: number; total: number }
export interface RunStats { kind: 'generate' | 'restyle'; graph: Mode; steps: number; stepMs: number[]; totalMs: number }
export interface RunResult {
  image: Float32Array;
  kind: 'generate' | 'restyle';
  seed: number;
  stats: RunStats;
  requestId: number;
  /** What made it (a restyle also needs its photo and strength). */
  settings: ShareSettings;
  /** Its place in the run (0-based) and the run's image count. */
  index: number;
  count: number;
}

/** autoguidance: the guide network's weight (1 = off; the only value for weights without a guide). */
export interface QualityOptions {
  graph?: 'quality'; selection: Selection; steps: number; guidance: number; autoguidance: number; seed: number;
}
/** The few-step graph has no guidance inputs: its guidance is baked in. */
export interface FastOptions { graph: 'fast'; selection: Selection; steps: number; seed: number }
export type GenerateOptions = QualityOptions | FastOptions;
export interface RestyleOptions extends QualityOptions { image: Blob; strength: number }

/** What a run is doing now, for the status line: image k of n, and a lazily loaded graph's download. */
export interface RunProgress { image: number; of: number; download: (FileProgress & { file: string }) | null }

/** Live scheduling, plus every generation request this page has in flight (button, restyle and live alike). */
export interface LiveReport extends LiveStats { generationsInFlight: number; maxGenerationsInFlight: number }

export interface Generation {
  busy: 'generate' | 'restyle' | null;
  preview: Preview | null;
  progress: RunProgress | null;
  /** The images of the last generation (a Live picture included). */
  images: RunResult[];
  restyled: RunResult | null;
  /** The newest result of any kind. */
  last: RunResult | null;
  stats: RunStats | null;
  runError: string | null;
  /** The few-step graph's session, once the first fast run made it. */
  fastInfo: FastLoadedInfo | null;
  /** Worker time of each fast image (oldest first, at most FAST_HISTORY), for the About panel. */
  fastMs: number[];
  live: LiveStats | null;
  /** `count` images (default 1) from one seed; their results, or null when stopped or failed (runError says why). */
  generate: (o: GenerateOptions, count?: number) => Promise<RunResult[] | null>;
  restyle: (o: RestyleOptions) => Promise<RunResult | null>;
  /** Live mode: the newest settings (the scheduler runs them when it may), or null to stop. */
  setLive: (o: Omit<FastOptions, 'graph'> | null) => void;
  liveReport: () => LiveReport;
  cancel: () => void;
  /** Forget the restyle (a new photo arrived). */
  clearRestyle: () => void;
  /** Test hook: the noise the next generations start from (null: the seed's noise). */
  setNoiseOverride: (noise: Float32Array | null) => void;
}

/** How many fast-image latencies the About panel's median is over. */
const FAST_HISTORY = 200;

type GenerationRequest = Extract<NewRequest, { type: 'generate' | 'restyle' | 'generateFast' }>;

/** The share settings of a run (the autoguidance scale only when the weights have a guide to weigh). */
function settingsOf(m: Manifest, o: GenerateOptions | RestyleOptions): ShareSettings {
  const base = { selection: o.selection, seed: o.seed, steps: o.steps };
  if (o.graph === 'fast') return { ...base, mode: 'fast' };
  const guided = { ...base, mode: 'quality' as const, guidance: o.guidance };
  return m.generator.guide ? { ...guided, autoguidance: o.autoguidance } : guided;
}

/** The worker request for a run; throws RangeError naming a bad selection. */
function generationRequest(m: Manifest, o: GenerateOptions | RestyleOptions, noise: Float32Array | undefined): GenerationRequest {
  const weights = Array.from(classWeights(m, o.selection));
  const base = { weights, steps: o.steps, seed: o.seed, noise };
  if (o.graph === 'fast') return { type: 'generateFast', ...base };
  const scales = { guidance: o.guidance, autoguidance: o.autoguidance };
  if ('image' in o) return { type: 'restyle', ...base, ...scales, image: o.image, strength: o.strength };
  return { type: 'generate', ...base, ...scales };
}

export function useGeneration(worker: ModelWorker): Generation {
  const { manifest, request, cancel: cancelRequest, session } = worker;
  const ready = worker.load.status === 'ready';
  const [busy, setBusy] = useState<Generation['busy']>(null);
  const [preview, setPreview] = useState<Preview | null>(null);
  const [progress, setProgress] = useState<RunProgress | null>(null);
  const [images, setImages] = useState<RunResult[]>([]);
  const [restyled, setRestyled] = useState<RunResult | null>(null);
  const [last, setLast] = useState<RunResult | null>(null);
  const [runError, setRunError] = useState<string | null>(null);
  const [fastInfo, setFastInfo] = useState<FastLoadedInfo | null>(null);
  const [fastMs, setFastMs] = useState<number[]>([]);
  const [live, setLiveStats] = useState<LiveStats | null>(null);
  const runningRef = useRef<{ id: number | null; stopped: boolean } | null>(null);
  const noiseRef = useRef<Float32Array | null>(null);
  const liveRef = useRef<LiveScheduler<{ req: GenerationRequest; settings: ShareSettings }, RunResult> | null>(null);
  const inFlightRef = useRef({ now: 0, max: 0 });

  // A new worker makes the few-step session again (perhaps of another variant); Live starts afresh with it.
  useEffect(() => {
    setFastInfo(null);
    setFastMs([]);
    return () => {
      liveRef.current?.dispose();
      liveRef.current = null;
    };
  }, [session]);

  const showResult = useCallback((out: RunResult) => {
    setLast(out);
    if (out.kind === 'restyle') setRestyled(out);
  }, []);

  /** Send one generation request; its answer as a RunResult. Counts what is in flight. */
  const send = useCallback((req: GenerationRequest, settings: ShareSettings, place: { index: number; count: number },
    onStep?: (p: Preview) => void): Job<RunResult> => {
    const kind = req.type === 'restyle' ? 'restyle' : 'generate';
    const graph: Mode = req.type === 'generateFast' ? 'fast' : 'quality';
    const inFlight = inFlightRef.current;
    inFlight.now += 1;
    inFlight.max = Math.max(inFlight.max, inFlight.now);
    const { id, done } = request(req, (msg) => {
      if (msg.type === 'step') onStep?.({ sample: msg.sample, predX0: msg.predX0, index: msg.index, total: msg.total });
      if (msg.type === 'progress' && onStep) {
        const download = msg.loaded < msg.total && !msg.fromCache
          ? { file: msg.file, loaded: msg.loaded, total: msg.total, fromCache: msg.fromCache } : null;
        setProgress((p) => (p ? { ...p, download } : p));
      }
      if (msg.type === 'fastLoaded') setFastInfo({ variant: msg.variant, loadMs: msg.loadMs, fromCache: msg.fromCache });
    });
    const result = done.then((msg): RunResult => {
      if (msg.type !== 'generated') throw new WorkerError('internal', `the worker answered a generation with "${msg.type}"`);
      if (graph === 'fast') setFastMs((xs) => [...xs.slice(1 - FAST_HISTORY), msg.totalMs]);
      const stats: RunStats = { kind, graph, steps: msg.stepMs.length, stepMs: msg.stepMs, totalMs: msg.totalMs };
      return { image: msg.image, kind, seed: msg.seed, stats, requestId: id, settings, ...place };
    }).finally(() => { inFlight.now -= 1; });
    return { id, done: result };
  }, [request]);

  const run = useCallback(async (o: GenerateOptions | RestyleOptions, count: number): Promise<RunResult[] | null> => {
    if (!manifest || !ready) return null;
    const kind = 'image' in o ? 'restyle' : 'generate';
    const settings = settingsOf(manifest, o);
    const n = imageLength(manifest.generator);
    // Several images: the seed's noise stream cut into images, so image 1 is the one-image run's picture.
    const stream = count > 1 && !noiseRef.current ? gaussianNoise(n * count, o.seed) : null;
    const noiseFor = (k: number) => noiseRef.current?.slice() ?? stream?.slice(k * n, (k + 1) * n);
    setRunError(null);
    setBusy(kind);
    setPreview(null);
    if (kind === 'restyle') setRestyled(null);
    const running = { id: null as number | null, stopped: false };
    runningRef.current = running;
    const out: RunResult[] = [];
    try {
      for (let k = 0; k < count && !running.stopped; k++) {
        setProgress({ image: k + 1, of: count, download: null });
        const job = send(generationRequest(manifest, o, noiseFor(k)), settings, { index: k, count }, setPreview);
        running.id = job.id;
        const result = await job.done;
        out.push(result);
        showResult(result);
        if (kind === 'generate') setImages([...out]);
        setPreview(null);
      }
      return running.stopped ? null : out;
    } catch (err) {
      setRunError(err instanceof WorkerError && err.code === 'cancelled' ? 'Stopped.' : errorMessage(err));
      return null;
    } finally {
      if (runningRef.current === running) runningRef.current = null;
      setBusy(null);
      setPreview(null);
      setProgress(null);
    }
  }, [manifest, ready, send, showResult]);

  const setLive = useCallback((o: Omit<FastOptions, 'graph'> | null) => {
    if (o === null) {
      liveRef.current?.stop();
      return;
    }
    if (!manifest) return;
    let req: GenerationRequest;
    try {
      req = generationRequest(manifest, { ...o, graph: 'fast' }, noiseRef.current?.slice());
    } catch (err) {
      setRunError(errorMessage(err)); // e.g. a blend with every weight at 0: the last picture stays
      return;
    }
    setRunError(null);
    liveRef.current ??= new LiveScheduler<{ req: GenerationRequest; settings: ShareSettings }, RunResult>({
      start: (s) => send(s.req, s.settings, { index: 0, count: 1 }),
      cancel: cancelRequest,
      onResult: (result) => {
        showResult(result);
        setImages([result]);
      },
      onError: (err) => setRunError(errorMessage(err)),
      onStats: setLiveStats,
    });
    liveRef.current.update({ req, settings: settingsOf(manifest, { ...o, graph: 'fast' }) });
  }, [manifest, send, cancelRequest, showResult]);

  const liveReport = useCallback((): LiveReport => {
    const stats = liveRef.current?.stats ?? {
      changes: 0, started: 0, shown: 0, dropped: 0, failed: 0, inFlight: null, pending: false, maxInFlight: 0,
      lastStartedId: null, shownId: null,
    };
    return { ...stats, generationsInFlight: inFlightRef.current.now, maxGenerationsInFlight: inFlightRef.current.max };
  }, []);

  const generate = useCallback((o: GenerateOptions, count = 1) => run(o, count), [run]);
  const restyle = useCallback(async (o: RestyleOptions) => (await run(o, 1))?.[0] ?? null, [run]);
  const cancel = useCallback(() => {
    const r = runningRef.current;
    if (!r) return;
    r.stopped = true;
    if (r.id !== null) cancelRequest(r.id);
  }, [cancelRequest]);
  const clearRestyle = useCallback(() => setRestyled(null), []);
  const setNoiseOverride = useCallback((noise: Float32Array | null) => { noiseRef.current = noise; }, []);
  const stats = last?.stats ?? null;

  return useMemo(() => ({
    busy, preview, progress, images, restyled, last, stats, runError, fastInfo, fastMs, live,
    generate, restyle, setLive, liveReport, cancel, clearRestyle, setNoiseOverride,
  }), [busy, preview, progress, images, restyled, last, stats, runError, fastInfo, fastMs, live,
    generate, restyle, setLive, liveReport, cancel, clearRestyle, setNoiseOverride]);
}
