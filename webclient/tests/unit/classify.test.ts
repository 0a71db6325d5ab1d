import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { classify, softmax, verdictReason, verdictText } from '../../src/lib/classify';
import type { ClassifierSection } from '../../src/lib/manifest';
import { oodScore, oodStats, type OodSection } from '../../src/lib/ood';

const c = { labels: ['Bengal', 'Siamese', 'Sphynx', 'other'], other_id: 3, temperature: 2, unsure_threshold: 0.4 } as ClassifierSection;

describe('classify (mirrors cats/classify.py)', () => {
  it('divides logits by the temperature before the softmax', () => {
    const p = softmax([2, 0], 2);
    expect(p[0]).toBeCloseTo(Math.exp(1) / (Math.exp(1) + 1), 12);
    expect(softmax([1000, 0]).every(Number.isFinite)).toBe(true); // no overflow
  });

  it('names the top breed, reports top-k in order and probabilities summing to 1', () => {
    const r = classify([8, 2, 0, 1], c);
    expect(r.verdict).toBe('Bengal');
    expect(r.topK.map(([l]) => l)).toEqual(['Bengal', 'Siamese', 'other']);
    expect(Object.values(r.probabilities).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(verdictText(r.verdict, c)).toBe('Bengal');
  });

  it('says "other" and "unsure" by the manifest rule', () => {
    const other = classify([0, 0, 0, 9], c);
    expect(other.verdict).toBe('other');
    expect(verdictText(other.verdict, c)).toBe('not a cat breed I know');
    const unsure = classify([1, 1, 1, 1], c); // 0.25 each < 0.4
    expect(unsure.verdict).toBe('unsure');
    expect(unsure.topK.map(([l]) => l)).toEqual(['Bengal', 'Siamese', 'Sphynx']); // ties keep label order (stable)
  });

  it('refuses logits of the wrong length', () => {
    expect(() => classify([1, 2], c)).toThrow(/expected 4 logits, got 2/);
  });
});

describe('familiarity and reasons (Python-written cases, tests/fixtures/classify.json)', () => {
  const fx = JSON.parse(readFileSync(new URL('../fixtures/classify.json', import.meta.url), 'utf8')) as {
    classifier: ClassifierSection & { ood: OodSection };
    cases: { logits: number[]; features: number[]; verdict: string; ood_score: number; top_k: [string, number][];
      reason: string; reason_synthcats: string }[];
  };
  const stats = oodStats(fx.classifier.ood);

  it('covers every verdict kind', () => {
    const kinds = new Set(fx.cases.map((k) => (['unfamiliar', 'unsure', 'other'].includes(k.verdict) ? k.verdict : 'breed')));
    expect([...kinds].sort()).toEqual(['breed', 'other', 'unfamiliar', 'unsure']);
  });

  it.each(fx.cases.map((k, i) => [i, k] as const))('case %i: same score, verdict, top-k and reason as Python', (_i, k) => {
    const r = classify(k.logits, fx.classifier, 3, k.features, stats);
    expect(Math.abs((r.oodScore as number) - k.ood_score)).toBeLessThanOrEqual(1e-9 * Math.max(1, k.ood_score));
    expect(r.verdict).toBe(k.verdict);
    expect(r.topK.map(([l]) => l)).toEqual(k.top_k.map(([l]) => l));
    r.topK.forEach(([, p], j) => expect(p).toBeCloseTo((k.top_k[j] as [string, number])[1], 12));
    expect(verdictReason(r, fx.classifier)).toBe(k.reason);
    expect(verdictReason(r, fx.classifier, 'SynthCats: drawings')).toBe(k.reason_synthcats);
  });

  it('without statistics there is no familiarity verdict, and stats without features are refused', () => {
    const far = fx.cases.find((k) => k.verdict === 'unfamiliar') as (typeof fx.cases)[number];
    expect(classify(far.logits, fx.classifier).verdict).not.toBe('unfamiliar');
    expect(() => classify(far.logits, fx.classifier, 3, undefined, stats)).toThrow(/no features/);
    expect(() => oodScore(far.features.slice(1), stats)).toThrow(/expected 6 features, got 5/);
  });
});
