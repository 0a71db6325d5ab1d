import type { ClassifyState } from '../hooks/useClassification';
import type { ClassifierSection } from '../lib/manifest';
import { verdictView } from '../ui/verdict';

/**
 * The verdict as the headline, one line of why, and the top-3 breeds. When the verdict is not a breed (unfamiliar,
 * not a known breed, unsure) the bars are greyed and labelled as the closest match only.
 */
export function ClassifyResult({ classifier, state, error, busy, loading, trainedOn }: {
  classifier: ClassifierSection | undefined; state: ClassifyState | null; error: string | null; busy: boolean;
  /** The models are still loading: the photo waits for them. */
  loading: boolean; trainedOn?: string;
}) {
  const result = state?.result ?? null;
  const view = result && classifier ? verdictView(result, classifier, trainedOn) : null;
  return (
    <div className="classify" aria-live="polite">
      {error ? <p className="error" role="alert" data-testid="classify-error">{error}</p> : null}
      {!error && busy ? (
        <p className="waiting" data-testid="classify-waiting">
          {loading ? 'Waiting for the models to load, then looking at your photo…' : 'Looking at your photo…'}
        </p>
      ) : null}
      {!error && !busy && result && classifier && view ? (
        <>
          <p className={`verdict${view.reliable ? '' : ' unreliable'}`}>
            <strong data-testid="verdict" data-verdict={result.verdict}>{view.headline}</strong>
          </p>
          <p className="reason" data-testid="verdict-reason">{view.reason}</p>
          {view.reliable ? null : <p className="closest" data-testid="closest-note">closest match — not reliable</p>}
          <ol className={`topk${view.reliable ? '' : ' unreliable'}`} data-testid="topk" data-reliable={view.reliable}>
            {result.topK.map(([label, p]) => (
              <li key={label} data-label={label} data-p={p}>
                <span className="label">{label === classifier.labels[classifier.other_id] ? 'other (not a known breed)' : label}</span>
                <span className="bar" aria-hidden="true"><span style={{ width: `${(p * 100).toFixed(1)}%` }} /></span>
                <span className="pct">{(p * 100).toFixed(1)}%</span>
              </li>
            ))}
          </ol>
        </>
      ) : null}
      {!error && !busy && !result && classifier ? <p className="note">Choose a photo to see which breed it looks like.</p> : null}
      {!classifier && !loading ? <p className="note">These weights have no classifier.</p> : null}
    </div>
  );
}
