import type { LoadState, RunStats } from '../hooks/useCats';

const ms = (v: number) => `${v.toFixed(v < 10 ? 1 : 0)} ms`;

/** Provider, threads, load time and the last run's per-step / total time. */
export function Dashboard({ load, stats }: { load: LoadState; stats: RunStats | null }) {
  const info = load.info;
  const meanStep = stats && stats.stepMs.length ? stats.stepMs.reduce((a, b) => a + b, 0) / stats.stepMs.length : null;
  const stepsTotal = stats ? stats.stepMs.reduce((a, b) => a + b, 0) : 0;
  const rows: [string, string, string][] = [
    ['provider', 'Provider', info ? info.provider : '…'],
    ['threads', 'WASM threads', info ? String(info.threads) : '…'],
    ['isolated', 'Cross-origin isolated', info ? (info.crossOriginIsolated ? 'yes' : 'no') : '…'],
    ['variant', 'Precision', info ? [info.generatorVariant, info.classifierVariant].filter(Boolean).join(' / ') : '…'],
    ['load', 'Model load', info ? `${ms(info.loadMs)}${info.fromCache ? ' (cache)' : ''}` : '…'],
    ['fetch', 'Fetch + sha256', info ? ms(info.downloadMs) : '…'],
    ['session', 'Session setup', info ? ms(info.sessionMs) : '…'],
    ['step', 'Per step', meanStep !== null ? ms(meanStep) : '–'],
    ['total', 'Total', stats ? ms(stats.totalMs) : '–'],
    ['rate', 'Steps/s', stats && stepsTotal > 0 ? (stats.steps / (stepsTotal / 1000)).toFixed(1) : '–'],
  ];
  return (
    <section className="dashboard" aria-label="Performance">
      <h2>Dashboard</h2>
      <dl>
        {rows.map(([key, label, value]) => (
          <div key={key}><dt>{label}</dt><dd data-testid={`dash-${key}`}>{value}</dd></div>
        ))}
      </dl>
      {info?.fallbackReason ? <p className="note" data-testid="fallback">WASM because: {info.fallbackReason}</p> : null}
    </section>
  );
}
