/** Breed choice as a native radio group (arrow keys move between breeds), with a thumbnail per breed. */
export function BreedPicker({ breeds, thumbnails, value, onChange, disabled }: {
  breeds: string[]; thumbnails: string[] | null; value: number; onChange: (id: number) => void; disabled: boolean;
}) {
  return (
    <fieldset className="breeds" disabled={disabled}>
      <legend>Breed</legend>
      {breeds.map((name, i) => (
        <label key={name} className="breed">
          <input type="radio" name="breed" value={i} checked={value === i} onChange={() => onChange(i)} />
          <span className="thumb" aria-hidden="true">
            {thumbnails?.[i] ? <img src={thumbnails[i]} alt="" width={48} height={48} /> : null}
          </span>
          <span className="name">{name}</span>
        </label>
      ))}
    </fieldset>
  );
}
