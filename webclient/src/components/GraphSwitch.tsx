import type { Mode } from '../lib/share';

/**
 * Quality (the guided step graph) or fast (the few-step graph), and the Live toggle, which runs the fast graph on
 * every change. Without a few-step graph in the export both fast choices are off, and a line says why.
 */
export function GraphSwitch({ graph, onGraph, live, onLive, fastCounts, qualitySteps }: {
  graph: Mode; onGraph: (g: Mode) => void; live: boolean; onLive: (on: boolean) => void;
  /** The few-step graph's step counts ([] when the export has none). */
  fastCounts: number[]; qualitySteps: number | null;
}) {
  const hasFast = fastCounts.length > 0;
  return (
    <div className="graph-switch">
      <fieldset className="segmented">
        <legend>Mode</legend>
        <label>
          <input type="radio" name="graph" value="quality" checked={graph === 'quality'} onChange={() => onGraph('quality')}
            data-testid="mode-quality" />
          <span>Quality<small>{qualitySteps ?? '…'} guided steps</small></span>
        </label>
        <label>
          <input type="radio" name="graph" value="fast" checked={graph === 'fast'} disabled={!hasFast}
            onChange={() => onGraph('fast')} data-testid="mode-fast" />
          <span>Fast<small>{hasFast ? `${fastCounts.join(', ')} steps` : 'not in these weights'}</small></span>
        </label>
      </fieldset>
      <label className="row live-toggle">
        <input type="checkbox" checked={live} disabled={!hasFast} onChange={(e) => onLive(e.target.checked)}
          data-testid="live-toggle" />
        <span><strong>Live</strong> — the picture follows breed, blend, steps and seed as you change them</span>
      </label>
      {hasFast ? null : (
        <p className="note" data-testid="fast-missing">Fast and Live are not in these weights: this export has no few-step graph.</p>
      )}
    </div>
  );
}
