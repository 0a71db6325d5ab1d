import { useEffect, useState } from 'react';

/** File picker, drag-and-drop and paste. */
export function UploadArea({ onFile }: { onFile: (f: File) => void }) {
  const [over, setOver] = useState(false);
  useEffect(() => {
    const onPaste = (e: ClipboardEvent) => {
      const f = e.clipboardData?.files[0];
      if (f) onFile(f);
    };
    window.addEventListener('paste', onPaste);
    return () => window.removeEventListener('paste', onPaste);
  }, [onFile]);
  return (
    <div className={`drop${over ? ' over' : ''}`}
      onDragOver={(e) => { e.preventDefault(); setOver(true); }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        e.preventDefault();
        setOver(false);
        const f = e.dataTransfer.files[0];
        if (f) onFile(f);
      }}>
      <label className="upload-label">
        Choose a cat photo
        <input type="file" accept="image/*" data-testid="upload"
          onChange={(e) => { const f = e.target.files?.[0]; if (f) onFile(f); e.target.value = ''; }} />
      </label>
      <p className="hint">…or drop it here, or paste it (Ctrl+V).</p>
    </div>
  );
}

/** The chosen picture; hidden when the browser cannot show it (the classifier's error then says why). */
export function UploadPreview({ file }: { file: File | null }) {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    if (!file) {
      setUrl(null);
      return undefined;
    }
    const u = URL.createObjectURL(file);
    setUrl(u);
    return () => URL.revokeObjectURL(u);
  }, [file]);
  return (
    <div className="upload-preview">
      {url ? <img src={url} alt="your upload" data-testid="upload-preview"
        onError={(e) => { e.currentTarget.style.visibility = 'hidden'; }}
        onLoad={(e) => {
          const img = e.currentTarget;
          img.style.visibility = 'visible';
          // A picture smaller than its box is scaled up crisply, like the model's own images beside it.
          img.style.imageRendering = img.naturalWidth < img.clientWidth ? 'pixelated' : 'auto';
        }} /> : null}
    </div>
  );
}
