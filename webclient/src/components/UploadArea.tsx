import { useEffect, useState } from 'react';

/** File picker, drag-and-drop and paste; shows the chosen picture in a fixed-size box. */
export function UploadArea({ file, onFile }: { file: File | null; onFile: (f: File) => void }) {
  const [url, setUrl] = useState<string | null>(null);
  const [over, setOver] = useState(false);
  useEffect(() => {
    const onPaste = (e: ClipboardEvent) => {
      const f = e.clipboardData?.files[0];
      if (f) onFile(f);
    };
    window.addEventListener('paste', onPaste);
    return () => window.removeEventListener('paste', onPaste);
  }, [onFile]);
  useEffect(() => {
    if (!file) return undefined;
    const u = URL.createObjectURL(file);
    setUrl(u);
    return () => URL.revokeObjectURL(u);
  }, [file]);
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
      <div className="upload-preview">
        {url ? <img src={url} alt="your upload" onError={(e) => { e.currentTarget.style.visibility = 'hidden'; }}
          onLoad={(e) => { e.currentTarget.style.visibility = 'visible'; }} /> : null}
      </div>
    </div>
  );
}
