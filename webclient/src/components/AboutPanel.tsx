import type { ClassifyState } from '../hooks/useClassification';
import type { Generation } from '../hooks/useGeneration';
import type { LoadState } from '../hooks/useModelWorker';
import { guidanceInterval, type Manifest } from '../lib/manifest';
import { Dashboard } from './Dashboard';

/**
 * For the curious and for developers: the weights as the export names them, how the page runs them (provider,
 * threads, isolation, precision, timings) and the figure behind the last photo's verdict.
 */
export function AboutPanel({ manifest, load, generation, classification, hasFast }: {
  manifest: Manifest | null; load: LoadState; generation: Generation; classification: ClassifyState | null; hasFast: boolean;
}) {
  const r = classification?.result;
  const interval = manifest ? guidanceInterval(manifest) : null;
  return (
    <details className="panel about" data-testid="about">
      <summary>About these weights and this page</summary>
      {manifest ? (
        <dl className="facts">
          <div><dt>Weights</dt><dd data-testid="about-weights">{manifest.weights.name}</dd></div>
          {manifest.weights.trained_on ? <div><dt>Trained on</dt><dd>{manifest.weights.trained_on}</dd></div> : null}
          {interval ? (
            <div><dt>Guidance</dt><dd data-testid="about-interval">applies between σ {interval[0]} and {interval[1]}</dd></div>
          ) : null}
          {r && r.oodScore !== null && r.oodThreshold !== null ? (
            <div>
              <dt>Last photo&apos;s familiarity distance</dt>
              <dd data-testid="about-familiarity">{r.oodScore.toFixed(0)} (unfamiliar above {r.oodThreshold.toFixed(0)})</dd>
            </div>
          ) : null}
        </dl>
      ) : null}
      <p className="note">
        Everything runs in this browser: onnxruntime-web in a worker, on the graphs that <code>python export.py</code> writes.
        The models are downloaded once, checked against their sha256 and kept in the browser&apos;s cache.
      </p>
      <Dashboard load={load} stats={generation.stats} fastInfo={generation.fastInfo} fastMs={generation.fastMs}
        live={generation.live} hasFast={hasFast} />
    </details>
  );
}
