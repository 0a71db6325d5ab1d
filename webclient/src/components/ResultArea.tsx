import { useMemo } from 'react';
import type { Generation, RunResult } from '../hooks/useGeneration';
import { tensorToDataUrl } from '../lib/canvas';
import { downloadName, subjectName } from '../lib/share';
import { ShareLink } from './ShareLink';
import { TensorCanvas } from './TensorCanvas';

/** How the result box says what it is waiting for, or what it shows. */
function statusText(g: Generation, live: boolean, breeds: string[]): string {
  const p = g.progress;
  if (g.busy === 'generate' && p) {
    const image = p.of > 1 ? `image ${p.image} of ${p.of}, ` : '';
    if (p.download) {
      return `Downloading the fast model: ${(p.download.loaded / 1e6).toFixed(1)} of ${(p.download.total / 1e6).toFixed(1)} MB…`;
    }
    if (g.preview) return `Drawing ${image}step ${g.preview.index + 1} of ${g.preview.total}…`;
    return p.of > 1 ? `Starting image ${p.image} of ${p.of}…` : 'Starting…';
  }
  if (g.busy === 'restyle') return 'Restyling your photo (below)…';
  if (live) {
    const busy = g.live !== null && (g.live.inFlight !== null || g.live.pending);
    return `Live: ${busy ? 'updating…' : 'up to date'}`;
  }
  const r = g.images[0];
  if (!r) return 'Your cat will appear here: pick a breed and press Generate.';
  const s = r.settings;
  const what = s.selection.kind === 'breed' ? breeds[s.selection.breed] : 'Blend';
  const secs = g.images.reduce((a, x) => a + x.stats.totalMs, 0) / 1000;
  return `${what}, seed ${s.seed}, ${s.mode}, ${s.steps} step${s.steps === 1 ? '' : 's'} · ${secs.toFixed(1)} s`;
}

/**
 * The one result area: the images of the last run, or, while a run is going, the denoising preview in the slot of
 * the image being drawn. Under it: what it is doing, downloads named as in the Gradio demo, and the share link.
 */
export function ResultArea({ generation: g, size, count, live, breeds, shareUrl }: {
  generation: Generation; size: number; count: number; live: boolean; breeds: string[]; shareUrl: string | null;
}) {
  const running = g.busy === 'generate';
  const slots = running ? g.progress?.of ?? count : Math.max(1, g.images.length);
  const shown = (k: number): Float32Array | null => {
    const done = g.images[k];
    if (running) {
      if (k < (g.progress?.image ?? 1) - 1) return done?.image ?? null;
      return k === (g.progress?.image ?? 1) - 1 ? g.preview?.sample ?? null : null;
    }
    return done?.image ?? null;
  };
  const downloads = useMemo(() => (running ? [] : g.images.map((r: RunResult) => ({
    url: tensorToDataUrl(r.image, size),
    name: downloadName(subjectName(r.settings.selection, breeds), r.seed, r.settings.mode, r.count > 1 ? r.index + 1 : undefined),
  }))), [g.images, running, size, breeds]);
  return (
    <section className="result" aria-label="Result">
      <div className={`result-grid n${slots}`} aria-busy={running}>
        {Array.from({ length: slots }, (_, k) => (
          <TensorCanvas key={k} tensor={shown(k)} size={size} testId={`result-${k}`}
            label={running && k === (g.progress?.image ?? 1) - 1 ? 'the picture being drawn' : `generated cat ${k + 1}`} />
        ))}
      </div>
      <div className="run-status" aria-live="polite">
        <span data-testid="run-progress">{statusText(g, live, breeds)}</span>
        {g.runError ? <span className="error" role="alert" data-testid="run-error">{g.runError}</span> : null}
      </div>
      {downloads.length > 0 ? (
        <div className="result-actions">
          {downloads.map((d, k) => (
            <a key={d.name} className="button secondary" href={d.url} download={d.name} data-testid={`download-${k + 1}`}>
              {downloads.length > 1 ? `Download ${k + 1}` : 'Download PNG'}
            </a>
          ))}
          {shareUrl ? <ShareLink url={shareUrl} /> : null}
        </div>
      ) : null}
    </section>
  );
}
