import type { LoadState } from '../hooks/useCats';

const mb = (b: number) => (b / 1e6).toFixed(1);

/** Model download progress (bytes loaded / total per file), and the load error with its retry button. */
export function LoadStatus({ load, onRetry }: { load: LoadState; onRetry: () => void }) {
  const files = Object.entries(load.progress);
  return (
    <section className="load-status" aria-live="polite" data-status={load.status}>
      {load.status === 'error' && load.error ? (
        <div className="error" role="alert" data-testid="load-error" data-code={load.error.code}>
          <p>Could not load the models: {load.error.message}</p>
          <button type="button" onClick={onRetry} data-testid="retry">Retry</button>
        </div>
      ) : (
        <ul className="progress-list">
          {files.length === 0 && <li>{load.status === 'ready' ? 'Models ready.' : 'Reading the model manifest…'}</li>}
          {files.map(([file, p]) => (
            <li key={file}>
              <label>
                <span className="file">{file}</span>{' '}
                <span className="bytes">{p.fromCache ? 'from cache' : `${mb(p.loaded)} / ${mb(p.total)} MB`}</span>
                <progress max={p.total || 1} value={p.loaded} />
              </label>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
