/**
 * window.__cats, installed only with ?testhook=1: the end-to-end tests and the browser benchmark drive and read
 * the page through the same hook actions the buttons call (no second code path to the models).
 */
import type { Classification } from './hooks/useClassification';
import type { Generation, LiveReport, RunStats } from './hooks/useGeneration';
import type { ModelWorker } from './hooks/useModelWorker';
import { defaultAutoguidance } from './lib/manifest';

/** The page's hooks, as the buttons use them. */
export interface Hooks { worker: ModelWorker; generation: Generation; classification: Classification }

/**
 * A generation as the page's buttons would ask for it; the fast graph takes no guidance. autoguidance: the guide's
 * scale, the manifest's default when left out (where the page's Guide slider starts).
 */
export type HookGenerate = { breed?: number; blend?: number[]; steps: number; seed: number }
  & ({ graph?: 'quality'; guidance: number; autoguidance?: number } | { graph: 'fast' });

export interface TestHook {
  /** Noise (CHW float32 values) the next generations start from; null returns to seeded browser noise. */
  setNoise(values: number[] | null): void;
  state(): {
    status: string; provider: string | null; threads: number | null; loadMs: number | null; fromCache: boolean | null;
    downloadMs: number | null; sessionMs: number | null; fallbackReason: string | null;
    /** 'generate' | 'restyle' while a run goes, else 'classify' while a photo is looked at, else null. */
    busy: string | null; loadError: string | null; runError: string | null; classifyError: string | null;
    hasFast: boolean; fastVariant: string | null;
  };
  /** How many generations/restyles have finished (changes when a new result lands). */
  runs(): number;
  lastImage(): number[] | null;
  lastStats(): RunStats | null;
  /** The request id of the result on the canvas (live runs included), or null. */
  lastRequestId(): number | null;
  /** Live scheduling now: changes, runs started / shown / dropped, what is in flight and pending. */
  live(): LiveReport;
  /** Worker time of each fast image so far (what the dashboard's last / median read). */
  fastMs(): number[];
  lastClassification(): { verdict: string; probabilities: Record<string, number>; oodScore: number | null; input: number[] } | null;
  generate(o: HookGenerate): Promise<{ image: number[]; stats: RunStats } | null>;
}

declare global {
  interface Window { __cats?: TestHook }
}

export function installTestHook(hooks: () => Hooks): void {
  let seen: unknown = null;
  let runs = 0;
  window.__cats = {
    runs: () => {
      const r = hooks().generation.last;
      if (r && r !== seen) { seen = r; runs += 1; }
      return runs;
    },
    setNoise: (values) => hooks().generation.setNoiseOverride(values ? Float32Array.from(values) : null),
    state: () => {
      const { worker: { load, manifest }, generation: g, classification: c } = hooks();
      return {
        status: load.status, provider: load.info?.provider ?? null, threads: load.info?.threads ?? null,
        loadMs: load.info?.loadMs ?? null, fromCache: load.info?.fromCache ?? null,
        busy: g.busy ?? (c.busy ? 'classify' : null),
        downloadMs: load.info?.downloadMs ?? null, sessionMs: load.info?.sessionMs ?? null,
        fallbackReason: load.info?.fallbackReason ?? null,
        loadError: load.error?.message ?? null, runError: g.runError, classifyError: c.error,
        hasFast: Boolean(manifest?.generator_fast), fastVariant: g.fastInfo?.variant ?? null,
      };
    },
    lastImage: () => { const r = hooks().generation.last; return r ? Array.from(r.image) : null; },
    lastStats: () => hooks().generation.stats,
    lastRequestId: () => hooks().generation.last?.requestId ?? null,
    live: () => hooks().generation.liveReport(),
    fastMs: () => hooks().generation.fastMs,
    lastClassification: () => {
      const c = hooks().classification.classification;
      return c ? { verdict: c.result.verdict, probabilities: c.result.probabilities, oodScore: c.result.oodScore, input: Array.from(c.input) } : null;
    },
    generate: async (o) => {
      const { worker: { manifest }, generation } = hooks();
      if (!manifest) return null;
      const selection = o.blend ? { kind: 'blend' as const, weights: o.blend } : { kind: 'breed' as const, breed: o.breed ?? 0 };
      const r = (await generation.generate(o.graph === 'fast'
        ? { graph: 'fast', selection, steps: o.steps, seed: o.seed }
        : { selection, steps: o.steps, guidance: o.guidance, autoguidance: o.autoguidance ?? defaultAutoguidance(manifest),
          seed: o.seed }))?.[0];
      return r ? { image: Array.from(r.image), stats: r.stats } : null;
    },
  };
}
