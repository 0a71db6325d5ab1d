import { describe, expect, it } from 'vitest';
import { classify, softmax, verdictText } from '../../src/lib/classify';
import type { ClassifierSection } from '../../src/lib/manifest';

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
