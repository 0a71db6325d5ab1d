import type { RunStats } from '../hooks/useGeneration';
import type { LoadState } from '../hooks/useModelWorker';
import type { LiveStats } from '../lib/live';
import type { FastLoadedInfo } from '../lib/protocol';

const ms = (v: number) => `${v.toFixed(v < 10 ? 1 : 0)} ms`;

function median(xs: number[]): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] as number : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/**
 * Provider, threads, load time and the last run's per-step / total time; for the few-step graph its load and the
 * latency of each fast image (button and Live runs alike; the worker's time for noise and steps), last and median.
 */
export function Dashboard({ load, stats, fastInfo, fastMs, live, hasFast }: {
  load: LoadState; stats: RunStats | null; fastInfo: FastLoadedInfo | null; fastMs: number[]; live: LiveStats | null;
  hasFast: boolean;
}) {
  const info = load.info;
  const meanStep = stats && stats.stepMs.length ? stats.stepMs.reduce((a, b) => a + b, 0) / stats.stepMs.length : null;
  const stepsTotal = stats ? stats.stepMs.reduce((a, b) => a + b, 0) : 0;
  const lastFast = fastMs.at(-1);
  const medianFast = median(fastMs);
  const rows: [string, string, string][] = [
    ['provider', 'Provider', info ? info.provider : '…'],
    ['threads', 'WASM threads', info ? String(info.threads) : '…'],
    ['isolated', 'Cross-origin isolated', info ? (info.crossOriginIsolated ? 'yes' : 'no') : '…'],
    ['variant', 'Precision', info ? [info.generatorVariant, info.classifierVariant].filter(Boolean).join(' / ') : '…'],
    ['load', 'Model load', info ? `${ms(info.loadMs)}${info.fromCache ? ' (cache)' : ''}` : '…'],
    ['fetch', 'Fetch + sha256', info ? ms(info.downloadMs) : '…'],
    ['session', 'Session setup', info ? ms(info.sessionMs) : '…'],
    ['graph', 'Last run', stats ? `${stats.graph}, ${stats.steps} step${stats.steps === 1 ? '' : 's'}` : '–'],
    ['step', 'Per step', meanStep !== null ? ms(meanStep) : '–'],
    ['total', 'Total', stats ? ms(stats.totalMs) : '–'],
    ['rate', 'Steps/s', stats && stepsTotal > 0 ? (stats.steps / (stepsTotal / 1000)).toFixed(1) : '–'],
    ['fast-load', 'Fast graph load', fastInfo ? `${ms(fastInfo.loadMs)} (${fastInfo.variant}${fastInfo.fromCache ? ', cache' : ''})`
      : hasFast ? 'on first fast run' : 'not in these weights'],
    ['fast-last', 'Fast image, last', lastFast !== undefined ? ms(lastFast) : '–'],
    ['fast-median', 'Fast image, median', medianFast !== null ? `${ms(medianFast)} (${fastMs.length} run${fastMs.length === 1 ? '' : 's'})` : '–'],
    ['live', 'Live', live ? `${live.changes} changes, ${live.shown} shown, ${live.dropped} dropped` : '–'],
  ];
  return (
    <section className="dashboard" aria-labelledby="dash-h">
      <h3 id="dash-h">How it runs</h3>
      <dl>
        {rows.map(([key, label, value]) => (
          <div key={key}><dt>{label}</dt><dd data-testid={`dash-${key}`}>{value}</dd></div>
        ))}
      </dl>
      {info?.fallbackReason ? <p className="note" data-testid="fallback">Running on WASM because: {info.fallbackReason}</p> : null}
    </section>
  );
}
