import { ClassifyResult } from './ClassifyResult';
import type { Classification } from '../hooks/useClassification';
import type { Generation } from '../hooks/useGeneration';
import { UNFAMILIAR } from '../lib/classify';
import type { Manifest } from '../lib/manifest';
import { tensorToDataUrl } from '../lib/canvas';
import { downloadName, subjectName } from '../lib/share';
import { TensorCanvas } from './TensorCanvas';
import { UploadArea, UploadPreview } from './UploadArea';

/**
 * Your photo: which breed it is (the verdict), and a restyle into the chosen breed shown after it, side by side.
 */
export function PhotoPanel({ manifest, upload, onFile, classification: c, generation: g, loading, strength, onStrength,
  canRestyle, onRestyle, target, restyleNote }: {
  manifest: Manifest | null; upload: File | null; onFile: (f: File) => void; classification: Classification;
  generation: Generation; loading: boolean; strength: number; onStrength: (s: number) => void; canRestyle: boolean;
  onRestyle: () => void; target: string; restyleNote: string | null;
}) {
  const size = manifest?.generator.image_size ?? 64;
  const after = g.restyled;
  const restyling = g.busy === 'restyle';
  const breeds = manifest?.breeds ?? [];
  const afterTarget = after?.settings.selection.kind === 'breed' ? breeds[after.settings.selection.breed] : 'the blend';
  const unfamiliar = c.classification?.result.verdict === UNFAMILIAR;
  return (
    <section className="panel photo" aria-labelledby="photo-h">
      <h2 id="photo-h">Your cat photo</h2>
      <div className="photo-grid">
        <div>
          <UploadArea onFile={onFile} />
          <div className="before-after">
            <figure>
              <UploadPreview file={upload} />
              <figcaption>Your photo</figcaption>
            </figure>
            <figure>
              <TensorCanvas tensor={after?.image ?? (restyling ? g.preview?.sample ?? null : null)} size={size}
                label="your photo restyled" testId="restyle-result" />
              <figcaption data-testid="restyle-caption">{restyling
                ? `Restyling…${g.preview ? ` step ${g.preview.index + 1} of ${g.preview.total}` : ''}`
                : after ? `Restyled as ${afterTarget}` : 'Restyled (press Restyle)'}</figcaption>
            </figure>
          </div>
        </div>
        <div>
          <ClassifyResult classifier={manifest?.classifier ?? undefined} state={c.classification} error={c.error}
            busy={c.busy} loading={loading} trainedOn={manifest?.weights.trained_on} />
          <h3>Restyle it</h3>
          <p className="note">Keeps the layout of your photo and redraws it as {target}.</p>
          <div className="controls">
            <label>How much to change <output>{strength.toFixed(2)}</output>
              <input type="range" min={0} max={1} step={0.05} value={strength} data-testid="strength"
                onChange={(e) => onStrength(Number(e.target.value))} />
            </label>
            <div className="buttons">
              <button type="button" onClick={onRestyle} disabled={!canRestyle} data-testid="restyle">Restyle into {target}</button>
              {after && !restyling ? (
                <a className="button secondary" href={tensorToDataUrl(after.image, size)} data-testid="restyle-download"
                  download={downloadName(subjectName(after.settings.selection, breeds, true), after.seed, 'quality')}>
                  Download PNG
                </a>
              ) : null}
            </div>
          </div>
          {restyleNote ? <p className="note" data-testid="restyle-note">{restyleNote}</p> : null}
          {unfamiliar ? (
            <p className="warning" role="status" data-testid="restyle-warning">
              This picture is unfamiliar to these weights, so the restyle may not look much like your cat.
            </p>
          ) : null}
        </div>
      </div>
    </section>
  );
}
