import { describe, expect, it } from 'vitest';
import { classify, type Classification } from '../../src/lib/classify';
import type { ClassifierSection } from '../../src/lib/manifest';
import { verdictView } from '../../src/ui/verdict';

const c = { labels: ['Bengal', 'Siamese', 'Sphynx', 'other'], other_id: 3, temperature: 1, unsure_threshold: 0.4 } as ClassifierSection;
const SYNTH = 'SynthCats: procedural drawings of the 12 breeds';

describe('the verdict a visitor reads', () => {
  it('headlines a confident breed and stands behind its bars', () => {
    const v = verdictView(classify([9, 0, 0, 0], c), c, SYNTH);
    expect(v).toMatchObject({ headline: 'Bengal', reliable: true });
    expect(v.reason).toMatch(/% sure\.$/);
  });

  it('headlines "other" and "unsure" in plain words; their bars are the closest match only', () => {
    expect(verdictView(classify([0, 0, 0, 9], c), c, SYNTH)).toMatchObject({ headline: 'Not a cat breed I know', reliable: false });
    expect(verdictView(classify([1, 1, 1, 1], c), c, SYNTH)).toMatchObject({ headline: 'Not sure', reliable: false });
  });

  it('headlines an unfamiliar picture even when one breed has almost all the probability, with no figures', () => {
    const confident = classify([20, 0, 0, 0], c);
    expect(confident.topK[0]?.[1]).toBeGreaterThan(0.99);
    const r: Classification = { ...confident, verdict: 'unfamiliar', oodScore: 395, oodThreshold: 213 };
    const drawings = verdictView(r, c, SYNTH);
    expect(drawings).toMatchObject({ headline: "This doesn't look like a cat drawing I know", reliable: false });
    expect(drawings.reason).not.toMatch(/\d/); // the distance and its limit belong to the About panel
    expect(drawings.reason).not.toMatch(/python|cats\.|SynthCats/); // no commands, modules, or the caveat again
    expect(verdictView(r, c, 'Oxford-IIIT Pet').headline).toBe("This doesn't look like a cat picture I know");
  });
});
