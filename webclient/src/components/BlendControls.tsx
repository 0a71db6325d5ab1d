/** Blend breeds: one 0..1 slider per breed; the weights are normalised before generation. */
export function BlendControls({ breeds, enabled, weights, onEnabled, onChange }: {
  breeds: string[]; enabled: boolean; weights: number[];
  onEnabled: (on: boolean) => void; onChange: (weights: number[]) => void;
}) {
  const sum = weights.reduce((a, b) => a + b, 0);
  return (
    <details className="blend" open={enabled}>
      <summary>Blend breeds</summary>
      <label className="row">
        <input type="checkbox" checked={enabled} onChange={(e) => onEnabled(e.target.checked)} data-testid="blend-toggle" />
        Generate a blend instead of one breed
      </label>
      <div className="blend-grid">
        {breeds.map((name, i) => (
          <label key={name} className="blend-row">
            <span>{name}</span>
            <input type="range" min={0} max={1} step={0.05} value={weights[i] ?? 0} disabled={!enabled}
              aria-label={`${name} weight`} data-testid={`blend-${i}`}
              onChange={(e) => onChange(weights.map((w, j) => (j === i ? Number(e.target.value) : w)))} />
            <output>{sum > 0 ? `${Math.round(((weights[i] ?? 0) / sum) * 100)}%` : '0%'}</output>
          </label>
        ))}
      </div>
    </details>
  );
}
