import type { LoadState } from '../hooks/useModelWorker';

const mb = (b: number) => (b / 1e6).toFixed(1);

/**
 * While the models load: one line saying what is downloaded (or read from the browser's cache) and one bar; gone
 * once they are ready. A failed load says why, with a retry button.
 */
export function LoadStatus({ load, onRetry, totalBytes }: {
  load: LoadState; onRetry: () => void;
  /** Every graph the load fetches, from the manifest (the files report their sizes one by one). */
  totalBytes: number | null;
}) {
  if (load.status === 'error' && load.error) {
    return (
      <section className="load-status error" role="alert" data-testid="load-error" data-code={load.error.code}>
        <p>Could not load the models: {load.error.message}</p>
        <button type="button" onClick={onRetry} data-testid="retry">Retry</button>
      </section>
    );
  }
  if (load.status === 'ready') return null;
  const files = Object.values(load.progress);
  const loaded = files.reduce((a, p) => a + p.loaded, 0);
  const total = Math.max(totalBytes ?? 0, files.reduce((a, p) => a + p.total, 0));
  const cached = files.length > 0 && files.every((p) => p.fromCache);
  const text = files.length === 0 ? 'Reading the model list…'
    : cached ? 'Reading the models from this browser’s cache…'
      : loaded < total ? `Downloading the models: ${mb(loaded)} of ${mb(total)} MB…`
        : 'Starting the models…';
  return (
    <section className="load-status" aria-live="polite" data-testid="load-status">
      <p>{text}</p>
      <progress max={total || 1} value={loaded} aria-label="model download" />
    </section>
  );
}
