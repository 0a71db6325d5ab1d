/**
 * Classifier logits -> probabilities, top-k and verdict, mirroring cats/classify.py: softmax(logits / T) with the
 * manifest's temperature; the verdict is "unsure" when the top probability is below the manifest's
 * unsure_threshold, else the top label ("other" = not one of the known breeds).
 */
import type { ClassifierSection } from './manifest';

export interface Classification {
  verdict: string;
  /** [label, probability], most probable first. */
  topK: [string, number][];
  probabilities: Record<string, number>;
}

export function softmax(logits: ArrayLike<number>, temperature = 1): number[] {
  if (!(temperature > 0)) throw new RangeError(`temperature must be positive, got ${temperature}`);
  const z = Array.from(logits, (v) => v / temperature);
  const max = Math.max(...z);
  const e = z.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

export function classify(logits: ArrayLike<number>, c: ClassifierSection, k = 3): Classification {
  if (logits.length !== c.labels.length) {
    throw new RangeError(`expected ${c.labels.length} logits, got ${logits.length}`);
  }
  const p = softmax(logits, c.temperature);
  const order = p.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]);
  const [pTop, top] = order[0] as readonly [number, number];
  const verdict = pTop < c.unsure_threshold ? 'unsure' : (c.labels[top] as string);
  const probabilities = Object.fromEntries(c.labels.map((l, i) => [l, p[i] as number]));
  const topK = order.slice(0, k).map(([v, i]) => [c.labels[i] as string, v] as [string, number]);
  return { verdict, topK, probabilities };
}

/** What the page says for a verdict. */
export function verdictText(verdict: string, c: ClassifierSection): string {
  if (verdict === 'unsure') return 'unsure';
  if (verdict === c.labels[c.other_id]) return 'not a cat breed I know';
  return verdict;
}
