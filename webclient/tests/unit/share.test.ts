import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { downloadName, LIMITS, parseShare, SHARE_KEYS, shareQuery, subjectName, type ShareSettings } from '../../src/lib/share';

const BREEDS = ['Abyssinian', 'Bengal', 'Birman', 'Bombay', 'British Shorthair', 'Egyptian Mau', 'Maine Coon', 'Persian',
  'Ragdoll', 'Russian Blue', 'Siamese', 'Sphynx'];
const FAST = [1, 2, 4];

describe('share links', () => {
  it('round-trip a breed with a space, seed, mode, steps, guidance and guide; other page settings stay', () => {
    const s: ShareSettings = {
      selection: { kind: 'breed', breed: 4 }, seed: 4294967295, mode: 'quality', steps: 37, guidance: 4.5, autoguidance: 1.5,
    };
    const q = shareQuery(s, BREEDS, '?testhook=1&variant=fp32&seed=9');
    expect(q).toContain('breed=British%20Shorthair');
    expect(new URLSearchParams(q).get('testhook')).toBe('1');
    expect(new URLSearchParams(q).getAll('seed')).toEqual(['4294967295']); // the old seed is replaced, not repeated
    expect(parseShare(`?${q}`, BREEDS, FAST)).toEqual({ values: s, notices: [] });
    // the share keys in their order, after the page's own (guide right after guidance)
    expect([...new URLSearchParams(q).keys()]).toEqual(['testhook', 'variant', 'breed', 'seed', 'mode', 'steps', 'guidance', 'guide']);
    expect(SHARE_KEYS.slice(-2)).toEqual(['guidance', 'guide']);
    // weights without a guide write no guide key (their runs carry no autoguidance scale)
    const { autoguidance: _, ...plain } = s;
    expect(new URLSearchParams(shareQuery(plain, BREEDS)).has('guide')).toBe(false);
  });

  it('round-trip a blend (only weights above 0, float noise rounded) and fast mode without guidance', () => {
    const weights = BREEDS.map(() => 0);
    weights[10] = 0.15000000000000002;
    weights[7] = 0.85;
    const s: ShareSettings = { selection: { kind: 'blend', weights }, seed: 7, mode: 'fast', steps: 2 };
    const q = shareQuery({ ...s, guidance: 3, autoguidance: 2 }, BREEDS);
    expect(new URLSearchParams(q).get('blend')).toBe('Persian:0.85,Siamese:0.15');
    expect(new URLSearchParams(q).has('guidance')).toBe(false);
    expect(new URLSearchParams(q).has('guide')).toBe(false);
    const back = parseShare(`?${q}`, BREEDS, FAST);
    expect(back.notices).toEqual([]);
    expect(back.values.selection).toEqual({ kind: 'blend', weights: weights.map((w) => Number(w.toFixed(4))) });
    expect(back.values).toMatchObject({ seed: 7, mode: 'fast', steps: 2 });
  });

  it('reads the contract format written by hand (Siamese:0.5,Persian:0.5)', () => {
    const { values, notices } = parseShare('?blend=Siamese:0.5,Persian:0.5&seed=0&mode=quality&steps=20&guidance=3', BREEDS, FAST);
    expect(notices).toEqual([]);
    expect(values.selection?.kind).toBe('blend');
    expect((values.selection as { weights: number[] }).weights.filter((w) => w > 0)).toEqual([0.5, 0.5]);
  });

  it('reads breed names in any case and with "-" or "_" for spaces, as the Gradio demo does', () => {
    expect(parseShare('?breed=british-shorthair', BREEDS, FAST).values.selection).toEqual({ kind: 'breed', breed: 4 });
    const blend = parseShare('?blend=Egyptian_Mau:1,SIAMESE:1', BREEDS, FAST).values.selection as { weights: number[] };
    expect([blend.weights[5], blend.weights[10]]).toEqual([1, 1]);
  });

  it('drops each bad value with a plain notice naming it, and keeps the good ones', () => {
    const { values, notices } = parseShare('?breed=Tiger&seed=-1&mode=turbo&steps=1000&guidance=abc', BREEDS, FAST);
    expect(values).toEqual({});
    expect(notices).toHaveLength(5);
    expect(notices[0]).toMatch(/breed was ignored: "Tiger" is not one of Abyssinian/);
    expect(notices[1]).toMatch(/seed was ignored: "-1" should be a whole number from 0 to 4294967295/);
    expect(notices[2]).toMatch(/mode was ignored: "turbo" should be quality or fast/);
    expect(notices[3]).toMatch(new RegExp(`steps was ignored: "1000" should be a whole number from 1 to ${LIMITS.steps[1]}`));
    expect(notices[4]).toMatch(/guidance was ignored/);
    const partial = parseShare('?breed=Bombay&seed=4294967296&steps=8', BREEDS, FAST);
    expect(partial.values).toEqual({ selection: { kind: 'breed', breed: 3 }, steps: 8 });
    expect(partial.notices).toHaveLength(1);
  });

  it('refuses fast-mode steps the few-step graph has no schedule for, guidance in fast mode, and fast without the graph', () => {
    expect(parseShare('?mode=fast&steps=3&guidance=5', BREEDS, FAST).notices).toEqual([
      'The link\'s steps was ignored: fast mode runs 1, 2, 4 steps, not "3".',
      'The link\'s guidance was ignored: fast mode has its guidance built in.',
    ]);
    expect(parseShare('?mode=fast', BREEDS, []).notices[0]).toMatch(/these weights have no fast mode/);
  });

  it('read the guide (autoguidance) from 1 (off) to 5 in quality mode only, and only as off without a guide', () => {
    expect(parseShare('?guide=1.5', BREEDS, FAST)).toEqual({ values: { autoguidance: 1.5 }, notices: [] });
    expect(parseShare('?guide=1', BREEDS, FAST).values).toEqual({ autoguidance: 1 });
    expect(parseShare('?mode=quality&guide=5', BREEDS, FAST).values).toEqual({ mode: 'quality', autoguidance: 5 });
    expect(parseShare('?mode=fast&steps=2&guide=2', BREEDS, FAST)).toEqual({
      values: { mode: 'fast', steps: 2 }, notices: ['The link\'s guide was ignored: fast mode has its guidance built in.'],
    });
    for (const bad of ['0.9', '5.01', 'abc', '', 'inf', '0x2']) {
      expect(parseShare(`?guide=${bad}`, BREEDS, FAST), bad).toEqual({
        values: {}, notices: [`The link's guide was ignored: "${bad}" should be a number from ${LIMITS.autoguidance[0]} to ${LIMITS.autoguidance[1]}.`],
      });
    }
    expect(LIMITS.autoguidance).toEqual([1, 5]);
    expect(parseShare('?guide=2', BREEDS, FAST, false)).toEqual({
      values: {}, notices: ['The link\'s guide was ignored: these weights have no guide network.'],
    });
    expect(parseShare('?guide=1', BREEDS, FAST, false)).toEqual({ values: { autoguidance: 1 }, notices: [] }); // off is the same picture
  });

  it('refuses bad blends: unknown breed, missing or negative weight, all zero', () => {
    for (const [blend, why] of [['Tiger:1', /"Tiger" is not a breed/], ['Siamese', /weight of Siamese/],
      ['Siamese:-1', /weight of Siamese/], ['Siamese:0,Persian:0', /at least one breed/]] as const) {
      const r = parseShare(`?blend=${blend}`, BREEDS, FAST);
      expect(r.values.selection).toBeUndefined();
      expect(r.notices[0]).toMatch(why);
    }
  });
});

describe('share links read as the Gradio demo reads them (Python-written cases, tests/fixtures/share.json)', () => {
  const fx = JSON.parse(readFileSync(new URL('../fixtures/share.json', import.meta.url), 'utf8')) as {
    cases: { query: string; fast_steps: number[]; values: Record<string, unknown>; ignored: string[] }[];
  };

  it('include guide (autoguidance) links', () => {
    expect(fx.cases.filter((c) => c.query.includes('guide=')).length).toBeGreaterThan(0);
  });

  it.each(fx.cases)('$query', ({ query, fast_steps: fastSteps, values, ignored }) => {
    const { values: got, notices } = parseShare(query, BREEDS, fastSteps);
    const { selection, autoguidance, ...rest } = got;
    const asGradio: Record<string, unknown> = { ...rest };
    if (autoguidance !== undefined) asGradio.guide = autoguidance; // the query key, as the demo names it
    if (selection?.kind === 'breed') asGradio.breed = BREEDS[selection.breed];
    if (selection?.kind === 'blend') {
      asGradio.blend = Object.fromEntries(selection.weights.flatMap((w, i) => (w > 0 ? [[BREEDS[i], w]] : [])));
    }
    expect(asGradio).toEqual(values);
    expect(notices.map((n) => /^The link's (\w+) was ignored/.exec(n)?.[1]).sort()).toEqual(ignored);
  });

  it('opens blends of more than 3 breeds, which the Gradio demo (3 slots) refuses', () => {
    const { values, notices } = parseShare('?blend=Siamese:0.4,Persian:0.3,Bengal:0.2,Bombay:0.1', BREEDS, FAST);
    expect(notices).toEqual([]);
    expect((values.selection as { weights: number[] }).weights.filter((w) => w > 0)).toHaveLength(4);
  });
});

describe('download names', () => {
  it('name breed, blend percent or restyle, seed and mode, and number the images of a run', () => {
    expect(downloadName(subjectName({ kind: 'breed', breed: 4 }, BREEDS), 0, 'quality')).toBe('tiny-cats_British-Shorthair_seed0_quality.png');
    const w = BREEDS.map(() => 0);
    w[10] = 1;
    w[7] = 1;
    expect(subjectName({ kind: 'blend', weights: w }, BREEDS)).toBe('Persian50-Siamese50');
    expect(downloadName(subjectName({ kind: 'breed', breed: 10 }, BREEDS, true), 12, 'quality')).toBe('tiny-cats_restyle-Siamese_seed12_quality.png');
    expect(downloadName('Bengal', 3, 'fast', 2)).toBe('tiny-cats_Bengal_seed3_fast_2.png');
  });
});
