import type { Thumbnail } from '../hooks/useThumbnails';

/**
 * Breed choice as a native radio group (arrow keys move between breeds), with a picture per breed; while a picture
 * is still being drawn its box says so.
 */
export function BreedPicker({ breeds, thumbnails, value, onChange, disabled }: {
  breeds: string[]; thumbnails: Thumbnail[] | null; value: number; onChange: (id: number) => void; disabled: boolean;
}) {
  return (
    <fieldset className="breeds" disabled={disabled}>
      <legend>Breed</legend>
      {breeds.map((name, i) => {
        const t = thumbnails?.[i];
        return (
          <label key={name} className="breed">
            <input type="radio" name="breed" value={i} checked={value === i} onChange={() => onChange(i)} />
            <span className="thumb" aria-hidden="true" data-status={t?.status ?? 'none'}>
              {t?.status === 'ready' ? <img src={t.url} alt="" width={48} height={48} /> : null}
              {t?.status === 'drawing' ? <small>drawing…</small> : null}
              {t?.status === 'failed' ? <small title={t.error}>no picture</small> : null}
            </span>
            <span className="name">{name}</span>
          </label>
        );
      })}
    </fieldset>
  );
}
