import type { Classification } from '../lib/classify';
import { verdictReason, verdictText } from '../lib/classify';
import type { ClassifierSection } from '../lib/manifest';

/** The verdict, its one-line reason and the top-3 breeds with probabilities; reserves its height so nothing below moves. */
export function ClassifyResult({ classifier, result, error, busy, trainedOn }: {
  classifier: ClassifierSection | undefined; result: Classification | null; error: string | null; busy: boolean;
  trainedOn?: string;
}) {
  return (
    <div className="classify" aria-live="polite">
      {error ? <p className="error" role="alert" data-testid="classify-error">{error}</p> : null}
      {!error && busy ? <p>Looking…</p> : null}
      {!error && !busy && result && classifier ? (
        <>
          <p className="verdict">Verdict: <strong data-testid="verdict" data-verdict={result.verdict}>
            {verdictText(result.verdict, classifier)}</strong></p>
          <p className="reason" data-testid="verdict-reason">{verdictReason(result, classifier, trainedOn)}</p>
          <ol className="topk" data-testid="topk">
            {result.topK.map(([label, p]) => (
              <li key={label} data-label={label} data-p={p}>
                <span className="label">{label === classifier.labels[classifier.other_id] ? 'other (not a known breed)' : label}</span>
                <meter min={0} max={1} value={p} />
                <span className="pct">{(p * 100).toFixed(1)}%</span>
              </li>
            ))}
          </ol>
        </>
      ) : null}
      {!classifier ? <p className="note">This export has no classifier.</p> : null}
    </div>
  );
}
