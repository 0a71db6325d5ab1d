/**
 * One picture per breed for the breed picker. The export's PNGs when it ships them; otherwise each breed is drawn
 * at the default settings (the manifest's steps, guidance and autoguidance, seed 0: the very cat Generate gives for
 * that breed before anything is changed) as background work of useModelWorker, one breed per request, so a click or
 * an upload never waits behind them.
 */
import { useEffect, useState } from 'react';
import { tensorToDataUrl } from '../lib/canvas';
import { classWeights } from '../lib/conditioning';
import type { PageConfig } from '../lib/config';
import { defaultAutoguidance, thumbnailFiles } from '../lib/manifest';
import type { ModelWorker } from './useModelWorker';

/** The seed the thumbnails are drawn from: the page's default seed. */
export const THUMBNAIL_SEED = 0;

export type Thumbnail = { status: 'drawing' } | { status: 'failed'; error: string } | { status: 'ready'; url: string };

export function useThumbnails(worker: ModelWorker, config: PageConfig): Thumbnail[] | null {
  const { manifest, background, session } = worker;
  const ready = worker.load.status === 'ready';
  const [thumbs, setThumbs] = useState<Thumbnail[] | null>(null);

  useEffect(() => {
    if (!manifest) return undefined;
    const files = thumbnailFiles(manifest);
    if (files) {
      setThumbs(files.map((f) => ({ status: 'ready', url: new URL(f, config.modelsUrl).href })));
      return undefined;
    }
    if (!config.thumbs) {
      setThumbs(null);
      return undefined;
    }
    setThumbs(manifest.breeds.map(() => ({ status: 'drawing' })));
    if (!ready) return undefined;
    let alive = true;
    const { num_inference_steps: steps, guidance_scale: guidance } = manifest.generator.defaults;
    const autoguidance = defaultAutoguidance(manifest);
    const size = manifest.generator.image_size;
    const set = (breed: number, thumb: Thumbnail) => setThumbs((t) => t && t.map((u, i) => (i === breed ? thumb : u)));
    manifest.breeds.forEach((_, breed) => {
      const weights = Array.from(classWeights(manifest, { kind: 'breed', breed }));
      background({ type: 'generate', weights, steps, guidance, autoguidance, seed: THUMBNAIL_SEED }).then((msg) => {
        if (!alive) return;
        if (msg.type !== 'generated') throw new Error(`the worker answered a thumbnail with "${msg.type}"`);
        set(breed, { status: 'ready', url: tensorToDataUrl(msg.image, size) });
      }).catch((err: unknown) => {
        if (alive) set(breed, { status: 'failed', error: err instanceof Error ? err.message : String(err) });
      });
    });
    return () => { alive = false; };
  }, [manifest, ready, session, background, config.thumbs, config.modelsUrl]);

  return thumbs;
}
