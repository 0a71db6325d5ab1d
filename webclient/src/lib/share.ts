/**
 * Share links and download names, the same in the web client and the Gradio demo (spaces_demo reads the same
 * query parameters), so a link made in one draws the same cat in the other:
 *
 *   ?breed=British%20Shorthair             one breed, by its name in the manifest
 *   ?blend=Siamese:0.5,Persian:0.5          or a blend: breed:weight pairs (weights 0..1, normalised when drawn)
 *   &seed=0..4294967295  &mode=quality|fast  &steps=N  &guidance=G  &guide=W (W: the autoguidance scale, 1..5;
 *                                           guidance and guide are quality mode's only: fast has its guidance baked in)
 *
 * A missing value takes the page's default; a bad one is dropped with a plain-words notice, never an error page.
 * Download names: tiny-cats_<subject>_seed<seed>_<mode>.png, with _<k> (k from 1) when one run made several images.
 */
import type { Selection } from './conditioning';
import { MAX_SEED } from './rng';

export type Mode = 'quality' | 'fast';

/** What a link carries: everything that decides the picture, given the weights. */
export interface ShareSettings {
  selection: Selection;
  seed: number;
  mode: Mode;
  steps: number;
  /** Quality mode's guidance scale; absent in fast mode. */
  guidance?: number;
  /** Quality mode's autoguidance scale (1 = off); absent in fast mode and when the weights have no guide. */
  autoguidance?: number;
}

/** The accepted ranges: the same as the demo's sliders, so a link from either opens in both. */
export const LIMITS = { steps: [1, 100], guidance: [0, 15], autoguidance: [1, 5], count: [1, 4] } as const;

/** The query keys this module owns; the page's own settings (?provider=, ?variant=, ...) are left alone. */
export const SHARE_KEYS = ['breed', 'blend', 'seed', 'mode', 'steps', 'guidance', 'guide'] as const;

export interface ParsedShare {
  /** The values the link set (each one valid); missing ones stay undefined. */
  values: Partial<ShareSettings>;
  /** One plain sentence per value that was ignored. */
  notices: string[];
}

const MODES: Mode[] = ['quality', 'fast'];

/** A breed's id from a link: any case, with "-" or "_" for spaces (British-Shorthair), as the demo reads it; -1 if none. */
function breedId(text: string, breeds: string[]): number {
  const wanted = text.trim().replace(/[-_]/g, ' ').toLowerCase();
  return breeds.findIndex((b) => b.toLowerCase() === wanted);
}

/**
 * A number as both front-ends read it (spaces_demo/share.py has the same pattern): a plain decimal, optionally
 * signed, with an exponent; NaN for anything else ("", "inf", "0x10", "1_000"), which Number() and Python's float()
 * would not read alike.
 */
const NUMBER = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;
const number = (text: string) => (NUMBER.test(text) ? Number(text) : Number.NaN);

/** A decimal without float noise (0.15000000000000002 -> 0.15). */
const decimal = (v: number) => String(Number(v.toFixed(4)));

function parseBlend(text: string, breeds: string[]): number[] | string {
  const weights = breeds.map(() => 0);
  const named = new Set<number>();
  for (const part of text.split(',').filter((p) => p.trim() !== '')) {
    const at = part.lastIndexOf(':');
    const name = at < 0 ? part.trim() : part.slice(0, at).trim();
    const id = breedId(name, breeds);
    if (id < 0) return `"${name}" is not a breed these weights know`;
    const w = at < 0 ? Number.NaN : number(part.slice(at + 1));
    if (!(w >= 0 && w <= 1)) return `the weight of ${name} should be a number from 0 to 1, like 0.5`;
    if (named.has(id)) return `it names ${breeds[id]} twice`;
    named.add(id);
    weights[id] = w;
  }
  if (!weights.some((w) => w > 0)) return 'a blend needs at least one breed with a weight above 0';
  return weights;
}

/**
 * The share settings in a query string. `breeds` are the manifest's names; `fastSteps` the few-step graph's step
 * counts ([] when the weights have none); `hasGuide` whether the step graph has a guide network (without one, only
 * guide=1, off, is taken). Every value is checked here, once; the page uses what comes back as is.
 */
export function parseShare(search: string, breeds: string[], fastSteps: number[], hasGuide = true): ParsedShare {
  const q = new URLSearchParams(search);
  const values: Partial<ShareSettings> = {};
  const notices: string[] = [];
  const ignore = (key: string, why: string) => notices.push(`The link's ${key} was ignored: ${why}.`);

  const breed = q.get('breed');
  const blend = q.get('blend');
  if (breed !== null && blend !== null) ignore('blend', 'it names both a breed and a blend, and the breed wins');
  if (breed !== null) {
    const id = breedId(breed, breeds);
    if (id >= 0) values.selection = { kind: 'breed', breed: id };
    else ignore('breed', `"${breed}" is not one of ${breeds.join(', ')}`);
  } else if (blend !== null) {
    const weights = parseBlend(blend, breeds);
    if (typeof weights === 'string') ignore('blend', weights);
    else values.selection = { kind: 'blend', weights };
  }

  const seed = q.get('seed');
  if (seed !== null) {
    const v = number(seed);
    if (Number.isInteger(v) && v >= 0 && v <= MAX_SEED) values.seed = v;
    else ignore('seed', `"${seed}" should be a whole number from 0 to ${MAX_SEED}`);
  }

  const mode = q.get('mode');
  if (mode !== null) {
    if (!MODES.includes(mode as Mode)) ignore('mode', `"${mode}" should be quality or fast`);
    else if (mode === 'fast' && fastSteps.length === 0) ignore('mode', 'these weights have no fast mode');
    else values.mode = mode as Mode;
  }
  const fast = values.mode === 'fast';

  const steps = q.get('steps');
  if (steps !== null) {
    const v = number(steps);
    const [lo, hi] = LIMITS.steps;
    if (fast && !fastSteps.includes(v)) ignore('steps', `fast mode runs ${fastSteps.join(', ')} steps, not "${steps}"`);
    else if (!fast && !(Number.isInteger(v) && v >= lo && v <= hi)) ignore('steps', `"${steps}" should be a whole number from ${lo} to ${hi}`);
    else values.steps = v;
  }

  const guidance = q.get('guidance');
  if (guidance !== null) {
    const v = number(guidance);
    const [lo, hi] = LIMITS.guidance;
    if (fast) ignore('guidance', 'fast mode has its guidance built in');
    else if (!(v >= lo && v <= hi)) ignore('guidance', `"${guidance}" should be a number from ${lo} to ${hi}`);
    else values.guidance = v;
  }

  const guide = q.get('guide');
  if (guide !== null) {
    const v = number(guide);
    const [lo, hi] = LIMITS.autoguidance;
    if (fast) ignore('guide', 'fast mode has its guidance built in');
    else if (!(v >= lo && v <= hi)) ignore('guide', `"${guide}" should be a number from ${lo} to ${hi}`);
    else if (!hasGuide && v !== 1) ignore('guide', 'these weights have no guide network');
    else values.autoguidance = v;
  }
  return { values, notices };
}

/** The query string of `search` with the share keys set to `s` (other keys kept, in their order). */
export function shareQuery(s: ShareSettings, breeds: string[], search = ''): string {
  const q = new URLSearchParams(search);
  for (const key of SHARE_KEYS) q.delete(key);
  if (s.selection.kind === 'breed') {
    q.set('breed', breeds[s.selection.breed] ?? String(s.selection.breed));
  } else {
    q.set('blend', s.selection.weights.flatMap((w, i) => (w > 0 ? [`${breeds[i]}:${decimal(w)}`] : [])).join(','));
  }
  q.set('seed', String(s.seed));
  q.set('mode', s.mode);
  q.set('steps', String(s.steps));
  if (s.mode === 'quality' && s.guidance !== undefined) q.set('guidance', decimal(s.guidance));
  if (s.mode === 'quality' && s.autoguidance !== undefined) q.set('guide', decimal(s.autoguidance));
  // URLSearchParams writes spaces as "+"; %20 reads the same everywhere and survives more chat apps.
  return q.toString().replace(/\+/g, '%20');
}

const fileSafe = (name: string) => name.trim().replace(/\s+/g, '-');

/** The subject part of a download name: `British-Shorthair`, `Siamese50-Persian50`, or `restyle-Siamese`. */
export function subjectName(selection: Selection, breeds: string[], restyle = false): string {
  if (selection.kind === 'breed') return `${restyle ? 'restyle-' : ''}${fileSafe(breeds[selection.breed] ?? 'cat')}`;
  const sum = selection.weights.reduce((a, b) => a + b, 0);
  const parts = selection.weights.flatMap((w, i) => (w > 0 ? [`${fileSafe(breeds[i] ?? 'cat')}${Math.round((100 * w) / sum)}`] : []));
  return `${restyle ? 'restyle-' : ''}${parts.join('-')}`;
}

/** `tiny-cats_<subject>_seed<seed>_<mode>.png`, or `..._<mode>_<k>.png` (k from 1) for one of several images. */
export function downloadName(subject: string, seed: number, mode: Mode, k?: number): string {
  return `tiny-cats_${subject}_seed${seed}_${mode}${k === undefined ? '' : `_${k}`}.png`;
}
