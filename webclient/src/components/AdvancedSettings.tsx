import type { Mode } from '../lib/share';
import { LIMITS } from '../lib/share';
import { MAX_SEED } from '../lib/rng';
import { guideText } from '../ui/guide';

/** autoguidance: the Guide slider's scale (1 = off; stays 1 when the weights have no guide). */
export interface SettingsValues {
  steps: number; fastSteps: number | null; guidance: number; autoguidance: number; seed: number; count: number;
}

/**
 * Steps, guidance, guide, seed, image count and the generator's precision, folded away: the defaults are the weights'
 * own (from the manifest), and most visitors never need to open this.
 */
export function AdvancedSettings({ mode, values, onChange, fastCounts, bakedIn, hasGuide, onNewSeed, variants, variant,
  onVariant, disabled }: {
  mode: Mode; values: SettingsValues; onChange: (v: Partial<SettingsValues>) => void; fastCounts: number[];
  /** The guidance scale the fast graph has built in. */
  bakedIn: number | null;
  /** Whether the step graph has a guide network (manifest.generator.guide): the Guide slider is shown only then. */
  hasGuide: boolean;
  onNewSeed: () => void; variants: string[]; variant: string; onVariant: (v: string) => void; disabled: boolean;
}) {
  const fast = mode === 'fast';
  return (
    <details className="advanced" data-testid="advanced">
      <summary>Advanced</summary>
      <div className="controls">
        {fast ? (
          <fieldset className="segmented fast-steps">
            <legend>Steps <output data-testid="fast-steps-value">{values.fastSteps}</output></legend>
            {fastCounts.map((n) => (
              <label key={n}>
                <input type="radio" name="fast-steps" value={n} checked={values.fastSteps === n}
                  onChange={() => onChange({ fastSteps: n })} data-testid={`fast-steps-${n}`} />
                <span>{n}</span>
              </label>
            ))}
          </fieldset>
        ) : (
          <label>Steps <output data-testid="steps-value">{values.steps}</output>
            <input type="range" min={LIMITS.steps[0]} max={LIMITS.steps[1]} value={values.steps} data-testid="steps"
              onChange={(e) => onChange({ steps: Number(e.target.value) })} />
          </label>
        )}
        <label>Guidance <output>{fast ? 'built in' : values.guidance.toFixed(1)}</output>
          <input type="range" min={LIMITS.guidance[0]} max={LIMITS.guidance[1]} step={0.1}
            value={fast ? bakedIn ?? 1 : values.guidance} disabled={fast} data-testid="guidance"
            onChange={(e) => onChange({ guidance: Number(e.target.value) })} />
        </label>
        {hasGuide ? (
          <label>Guide <output data-testid="guide-value">{fast ? 'built in' : guideText(values.autoguidance)}</output>
            <input type="range" min={LIMITS.autoguidance[0]} max={LIMITS.autoguidance[1]} step={0.1}
              value={values.autoguidance} disabled={fast} data-testid="guide"
              onChange={(e) => onChange({ autoguidance: Number(e.target.value) })} />
          </label>
        ) : null}
        <label>Seed
          <span className="seed-row">
            <input type="number" min={0} max={MAX_SEED} value={values.seed} data-testid="seed"
              onChange={(e) => onChange({ seed: Math.max(0, Math.min(MAX_SEED, Math.trunc(Number(e.target.value) || 0))) })} />
            <button type="button" className="secondary" onClick={onNewSeed} disabled={disabled} data-testid="new-seed">New seed</button>
          </span>
        </label>
        <label>Images <output data-testid="count-value">{values.count}</output>
          <input type="range" min={LIMITS.count[0]} max={LIMITS.count[1]} value={values.count} data-testid="count"
            onChange={(e) => onChange({ count: Number(e.target.value) })} />
        </label>
        {variants.length > 1 ? (
          <label>Precision of the generator
            <select value={variant} onChange={(e) => onVariant(e.target.value)} data-testid="variant">
              {variants.map((v) => <option key={v} value={v}>{v}</option>)}
            </select>
          </label>
        ) : null}
      </div>
      {fast && bakedIn !== null ? (
        <p className="note" data-testid="guidance-note">
          Fast mode takes no guidance setting: the quality model&apos;s guidance {bakedIn.toFixed(1)} is built in.
        </p>
      ) : null}
      {hasGuide && !fast ? (
        <p className="note" data-testid="guide-note">
          Guide: autoguidance by a weaker copy of the model; 1 = classifier-free guidance only.
        </p>
      ) : null}
      <p className="note">The same seed and settings give the same cat here, in the Gradio demo and in Python.</p>
    </details>
  );
}
