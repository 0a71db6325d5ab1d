import { useEffect, useState } from 'react';

/** "Copy link": the page's address, which names breed or blend, seed, mode, steps, guidance and guide of the result. */
export function ShareLink({ url }: { url: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'manual'>('idle');
  useEffect(() => setState('idle'), [url]);
  const copy = () => {
    navigator.clipboard.writeText(url).then(() => setState('copied'), () => setState('manual'));
  };
  return (
    <span className="share">
      <button type="button" className="secondary" onClick={copy} data-testid="copy-link" data-url={url}>Copy link</button>
      {state === 'copied' ? <span role="status" className="note">Link copied: it opens this same cat.</span> : null}
      {state === 'manual' ? (
        <label className="note">This browser did not allow copying; copy the link here:
          <input readOnly value={url} onFocus={(e) => e.currentTarget.select()} data-testid="share-url" />
        </label>
      ) : null}
    </span>
  );
}
