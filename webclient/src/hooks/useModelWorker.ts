/**
 * The model worker's lifecycle (xenova/whisper-web's useWorker): start it, load the models, restart it on retry or
 * on another precision variant, terminate it on unmount. Requests go through one RequestTracker: `request` for what
 * the visitor asked (it pre-empts background work), `background` for what the page does on its own (thumbnails),
 * which runs only while no visitor request is in flight. The other hooks hold no worker of their own.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { PageConfig } from '../lib/config';
import type { Manifest } from '../lib/manifest';
import {
  RequestTracker, WorkerError, transferables, type ErrorCode, type FinalResponse, type LoadedInfo, type NewRequest,
  type WorkerRequest, type WorkerResponse,
} from '../lib/protocol';
import { BackgroundQueue, type Job } from '../ui/background';

export interface FileProgress { loaded: number; total: number; fromCache: boolean }

export interface LoadState {
  status: 'loading' | 'ready' | 'error';
  /** Per graph file while the models download; the load's files only (a later lazy graph reports to its request). */
  progress: Record<string, FileProgress>;
  info: LoadedInfo | null;
  error: { code: ErrorCode; message: string } | null;
}

export interface ModelWorker {
  manifest: Manifest | null;
  load: LoadState;
  /** Bumped for each new worker: state tied to the old worker's sessions (a lazily loaded graph) is stale. */
  session: number;
  variant: string | undefined;
  /** A visitor's request; background work yields to it. Throws when no worker runs. */
  request: (req: NewRequest, listener?: (msg: WorkerResponse) => void) => Job<FinalResponse>;
  /** Page work that runs only while no visitor request is in flight (cancelled and retried when one comes). */
  background: (req: NewRequest) => Promise<FinalResponse>;
  cancel: (id: number) => void;
  retry: () => void;
  setVariant: (variant: string) => void;
}

export const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));
const INITIAL_LOAD: LoadState = { status: 'loading', progress: {}, info: null, error: null };

export function useModelWorker(config: PageConfig): ModelWorker {
  const [manifest, setManifest] = useState<Manifest | null>(null);
  const [load, setLoad] = useState<LoadState>(INITIAL_LOAD);
  const [variant, setVariant] = useState<string | undefined>(config.variant);
  const [session, setSession] = useState(0); // bumped by retry(): a fresh worker and a fresh load
  const workerRef = useRef<{ worker: Worker; tracker: RequestTracker; queue: BackgroundQueue<NewRequest, FinalResponse> } | null>(null);

  useEffect(() => {
    const worker = new Worker(new URL('../worker/worker.ts', import.meta.url), { type: 'module' });
    const tracker = new RequestTracker((req: WorkerRequest) => worker.postMessage(req, transferables(req)));
    const cancel = (target: number) => worker.postMessage({ type: 'cancel', id: 0, target } satisfies WorkerRequest);
    const queue = new BackgroundQueue<NewRequest, FinalResponse>({
      start: (req) => tracker.request(req),
      cancel,
      isCancel: (err) => err instanceof WorkerError && err.code === 'cancelled',
    });
    workerRef.current = { worker, tracker, queue };
    let alive = true;
    const fail = (code: ErrorCode, message: string) => {
      if (alive) setLoad((s) => ({ ...s, status: 'error', error: { code, message } }));
    };
    worker.onmessage = (e: MessageEvent) => {
      try {
        tracker.receive(e.data);
      } catch (err) {
        console.error(err); // a message for no request: a bug in the worker, shown in the console
      }
    };
    worker.onerror = (e: ErrorEvent) => {
      const msg = `the model worker crashed: ${e.message || 'script error'}`;
      tracker.failAll(msg);
      fail('internal', msg);
    };
    setLoad(INITIAL_LOAD);
    const { done } = tracker.request({
      type: 'load', baseUrl: config.modelsUrl, generatorVariant: variant, fastVariant: variant, provider: config.provider,
      threads: config.threads,
    }, (msg) => {
      if (!alive) return;
      if (msg.type === 'manifest') setManifest(msg.manifest);
      if (msg.type === 'progress') {
        setLoad((s) => ({ ...s, progress: { ...s.progress, [msg.file]: { loaded: msg.loaded, total: msg.total, fromCache: msg.fromCache } } }));
      }
    });
    done.then((msg) => {
      if (!alive || msg.type !== 'loaded') return;
      const { type: _t, id: _i, ...info } = msg;
      setLoad((s) => ({ ...s, status: 'ready', info, error: null }));
    }).catch((err: unknown) => fail(err instanceof WorkerError ? err.code : 'internal', errorMessage(err)));
    return () => {
      alive = false;
      queue.close('the page replaced the model worker');
      tracker.failAll('the page replaced the model worker');
      worker.terminate();
      workerRef.current = null;
    };
  }, [config.modelsUrl, config.provider, config.threads, variant, session]);

  const request = useCallback((req: NewRequest, listener?: (msg: WorkerResponse) => void): Job<FinalResponse> => {
    const w = workerRef.current;
    if (!w) throw new WorkerError('internal', 'the model worker is not running');
    const release = w.queue.hold();
    const job = w.tracker.request(req, listener);
    job.done.then(release, release);
    return job;
  }, []);

  const background = useCallback((req: NewRequest) => {
    const w = workerRef.current;
    return w ? w.queue.enqueue(req) : Promise.reject(new WorkerError('internal', 'the model worker is not running'));
  }, []);

  const cancel = useCallback((target: number) => {
    workerRef.current?.worker.postMessage({ type: 'cancel', id: 0, target } satisfies WorkerRequest);
  }, []);
  const retry = useCallback(() => setSession((g) => g + 1), []);
  const chooseVariant = useCallback((v: string) => {
    setVariant(v);
    setSession((g) => g + 1);
  }, []);

  return useMemo(() => ({
    manifest, load, session, variant, request, background, cancel, retry, setVariant: chooseVariant,
  }), [manifest, load, session, variant, request, background, cancel, retry, chooseVariant]);
}
