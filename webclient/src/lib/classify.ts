/**
 * Classifier outputs -> probabilities, top-k, verdict and its one-line reason, mirroring cats/classify.py:
 * softmax(logits / T) with the manifest's temperature; the verdict is "unfamiliar" when the familiarity score
 * (src/lib/ood.ts) is over the manifest's threshold, else "unsure" when the top probability is below
 * unsure_threshold, else the top label ("other" = not one of the known breeds). tests/fixtures/classify.json
 * (written by Python) proves the two agree, reasons included.
 */
import type { ClassifierSection } from './manifest';
import { oodScore, type OodStats } from './ood';

export interface Classification {
  verdict: string;
  /** [label, probability], most probable first. */
  topK: [string, number][];
  probabilities: Record<string, number>;
  /** Familiarity score and its limit; null when the export has no familiarity statistics. */
  oodScore: number | null;
  oodThreshold: number | null;
  unsureThreshold: number;
}

export const UNSURE = 'unsure';
export const UNFAMILIAR = 'unfamiliar';
export const SYNTHCATS_NOTE = 'These weights know drawings (SynthCats), not photos: train the classifier on Oxford-IIIT Pet '
  + 'for photos (python -m cats.training classifier --data oxford).';

export function softmax(logits: ArrayLike<number>, temperature = 1): number[] {
  if (!(temperature > 0)) throw new RangeError(`temperature must be positive, got ${temperature}`);
  const z = Array.from(logits, (v) => v / temperature);
  const max = Math.max(...z);
  const e = z.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/** One image's answer; `features` and `ood` go together (both or neither). */
export function classify(logits: ArrayLike<number>, c: ClassifierSection, k = 3, features?: ArrayLike<number>,
  ood?: OodStats | null): Classification {
  if (logits.length !== c.labels.length) {
    throw new RangeError(`expected ${c.labels.length} logits, got ${logits.length}`);
  }
  if (ood && !features) throw new RangeError('familiarity statistics were given but no features');
  const p = softmax(logits, c.temperature);
  const order = p.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]);
  const [pTop, top] = order[0] as readonly [number, number];
  const score = ood && features ? oodScore(features, ood) : null;
  let verdict: string;
  if (score !== null && ood && score > ood.threshold) verdict = UNFAMILIAR;
  else verdict = pTop < c.unsure_threshold ? UNSURE : (c.labels[top] as string);
  const probabilities = Object.fromEntries(c.labels.map((l, i) => [l, p[i] as number]));
  const topK = order.slice(0, k).map(([v, i]) => [c.labels[i] as string, v] as [string, number]);
  return { verdict, topK, probabilities, oodScore: score, oodThreshold: ood ? ood.threshold : null,
    unsureThreshold: c.unsure_threshold };
}

/** What the page says for a verdict. */
export function verdictText(verdict: string, c: ClassifierSection): string {
  if (verdict === UNSURE) return 'unsure';
  if (verdict === UNFAMILIAR) return 'unfamiliar picture';
  if (verdict === c.labels[c.other_id]) return 'not a cat breed I know';
  return verdict;
}

/** Whether the weights' trained_on names SynthCats (the bundled demo weights). */
export function isSynthcats(trainedOn: string | undefined | null): boolean {
  return typeof trainedOn === 'string' && trainedOn.trim().toLowerCase().startsWith('synthcats');
}

const pct = (p: number) => (100 * p).toFixed(0);

/** The one line under the verdict (cats/classify.py verdict_reason, word for word). */
export function verdictReason(r: Classification, c: ClassifierSection, trainedOn?: string | null): string {
  const [topLabel, topP] = r.topK[0] as [string, number];
  const other = c.labels[c.other_id];
  if (r.verdict === UNFAMILIAR) {
    const line = `This picture is unlike anything these weights were trained on (familiarity distance `
      + `${(r.oodScore as number).toFixed(0)}, limit ${(r.oodThreshold as number).toFixed(0)}).`;
    return isSynthcats(trainedOn) ? `${line} ${SYNTHCATS_NOTE}` : line;
  }
  if (r.verdict === UNSURE) {
    const label = topLabel === other ? 'other (not a known breed)' : topLabel;
    return `No answer is confident enough: the best, ${label}, has ${pct(topP)}% (under ${pct(r.unsureThreshold)}%).`;
  }
  if (r.verdict === other) return `Most likely not one of the 12 breeds (${pct(topP)}%).`;
  return `${pct(topP)}% sure.`;
}
