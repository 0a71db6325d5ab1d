/**
 * The classifier's answer in a visitor's words (the Gradio demo uses the same headlines): when the picture is
 * unfamiliar, no known breed or too close to call, THAT is the headline, and the breed bars below it are only the
 * closest match. The figures behind the answer (the familiarity distance and its limit) go to the About panel.
 */
import { UNFAMILIAR, UNSURE, isSynthcats, verdictReason, type Classification } from '../lib/classify';
import type { ClassifierSection } from '../lib/manifest';

export interface VerdictView {
  headline: string;
  reason: string;
  /** A breed the classifier stands behind; false: the bars are the closest match only, not an answer. */
  reliable: boolean;
}

export function verdictView(r: Classification, c: ClassifierSection, trainedOn?: string | null): VerdictView {
  const other = c.labels[c.other_id];
  if (r.verdict === UNFAMILIAR) {
    const drawings = isSynthcats(trainedOn);
    return {
      headline: drawings ? "This doesn't look like a cat drawing I know" : "This doesn't look like a cat picture I know",
      reason: 'It is unlike the pictures these weights learned from, so no breed below is an answer.',
      reliable: false,
    };
  }
  if (r.verdict === other) return { headline: 'Not a cat breed I know', reason: verdictReason(r, c, trainedOn), reliable: false };
  if (r.verdict === UNSURE) return { headline: 'Not sure', reason: verdictReason(r, c, trainedOn), reliable: false };
  return { headline: r.verdict, reason: verdictReason(r, c, trainedOn), reliable: true };
}
