/**
 * window.__cats, installed only with ?testhook=1: the end-to-end tests and the browser benchmark drive and read
 * the page through the same hook actions the buttons call (no second code path to the models).
 */
import type { CatsApi, LiveReport, RunStats } from './hooks/useCats';

/** A generation as the page's buttons would ask for it; the fast graph takes no guidance. */
export type HookGenerate = { breed?: number; blend?: number[]; steps: number; seed: number }
  & ({ graph?: 'quality'; guidance: number } | { graph: 'fast' });

export interface TestHook {
  /** Noise (CHW float32 values) the next generations start from; null returns to seeded browser noise. */
  setNoise(values: number[] | null): void;
  state(): {
    status: string; provider: string | null; threads: number | null; loadMs: number | null; fromCache: boolean | null;
    downloadMs: number | null; sessionMs: number | null; fallbackReason: string | null;
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

export function installTestHook(api: () => CatsApi): void {
  let seen: unknown = null;
  let runs = 0;
  window.__cats = {
    runs: () => {
      const r = api().result;
      if (r && r !== seen) { seen = r; runs += 1; }
      return runs;
    },
    setNoise: (values) => api().setNoiseOverride(values ? Float32Array.from(values) : null),
    state: () => {
      const a = api();
      return {
        status: a.load.status, provider: a.load.info?.provider ?? null, threads: a.load.info?.threads ?? null,
        loadMs: a.load.info?.loadMs ?? null, fromCache: a.load.info?.fromCache ?? null, busy: a.busy,
        downloadMs: a.load.info?.downloadMs ?? null, sessionMs: a.load.info?.sessionMs ?? null,
        fallbackReason: a.load.info?.fallbackReason ?? null,
        loadError: a.load.error?.message ?? null, runError: a.runError, classifyError: a.classifyError,
        hasFast: Boolean(a.manifest?.generator_fast), fastVariant: a.fastInfo?.variant ?? null,
      };
    },
    lastImage: () => { const r = api().result; return r ? Array.from(r.image) : null; },
    lastStats: () => api().stats,
    lastRequestId: () => api().result?.requestId ?? null,
    live: () => api().liveReport(),
    fastMs: () => api().fastMs,
    lastClassification: () => {
      const c = api().classification;
      return c ? { verdict: c.result.verdict, probabilities: c.result.probabilities, oodScore: c.result.oodScore, input: Array.from(c.input) } : null;
    },
    generate: async (o) => {
      const selection = o.blend ? { kind: 'blend' as const, weights: o.blend } : { kind: 'breed' as const, breed: o.breed ?? 0 };
      const r = await api().generate(o.graph === 'fast'
        ? { graph: 'fast', selection, steps: o.steps, seed: o.seed }
        : { selection, steps: o.steps, guidance: o.guidance, seed: o.seed });
      return r ? { image: Array.from(r.image), stats: r.stats } : null;
    },
  };
}
