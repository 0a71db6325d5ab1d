import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { parseConfig } from './lib/config';
import './styles.css';

const root = createRoot(document.getElementById('root') as HTMLElement);
try {
  const config = parseConfig(window.location.search, window.location.href);
  root.render(<StrictMode><App config={config} /></StrictMode>);
} catch (err) {
  root.render(<p className="error" role="alert">Bad page settings: {err instanceof Error ? err.message : String(err)}</p>);
}
