/**
 * The typed messages between the UI hook and the model worker. Every request carries an id;
 * the worker answers each with intermediate messages (progress, manifest, fastLoaded, step) and exactly one final message
 * (loaded | generated | classified | thumbnails | error). `generateFast` runs the few-step graph, which the worker
 * loads the first time one arrives (its progress and fastLoaded messages go to that request); it has no guidance
 * fields because the graph has none (guidance is baked in). generate and restyle carry both scales: `guidance`
 * (classifier-free) and `autoguidance` (the guide network's weight, >= 1; 1 = off, the only value a graph without a
 * guide accepts). Errors travel as messages, never as a silent null.
 * Float32Array payloads are transferred, not copied.
 */
import type { Classification } from './classify';
import type { Manifest } from './manifest';

export type ProviderChoice = 'auto' | 'wasm' | 'webgpu';
export type Provider = 'wasm' | 'webgpu';

export type WorkerRequest =
  | { type: 'load'; id: number; baseUrl: string; generatorVariant?: string; classifierVariant?: string;
      /** The few-step graph's variant, when it has one by this name; else its default_variant. */
      fastVariant?: string; provider: ProviderChoice; threads?: number }
  | { type: 'generate'; id: number; weights: number[]; steps: number; guidance: number; autoguidance: number;
      seed: number; noise?: Float32Array }
  | { type: 'restyle'; id: number; weights: number[]; steps: number; guidance: number; autoguidance: number;
      seed: number; strength: number; image: Blob; noise?: Float32Array }
  | { type: 'generateFast'; id: number; weights: number[]; steps: number; seed: number; noise?: Float32Array }
  | { type: 'classify'; id: number; image: Blob }
  | { type: 'thumbnails'; id: number; steps: number; seed: number }
  | { type: 'cancel'; id: number; target: number };

/** A request before the tracker gives it an id. */
export type NewRequest = WorkerRequest extends infer R ? (R extends WorkerRequest ? Omit<R, 'id'> : never) : never;

export type ErrorCode = 'manifest' | 'download' | 'checksum' | 'model' | 'input' | 'cancelled' | 'internal';

export interface LoadedInfo {
  provider: Provider;
  threads: number;
  crossOriginIsolated: boolean;
  loadMs: number;
  /** Of loadMs: fetching (or reading from cache) and verifying the graphs; creating the sessions. */
  downloadMs: number;
  sessionMs: number;
  generatorVariant: string;
  classifierVariant: string | null;
  /** Why the preferred provider was not used (e.g. "no WebGPU adapter"); null when it was. */
  fallbackReason: string | null;
  fromCache: boolean;
}

/** The few-step graph's session, made on the first generateFast. */
export interface FastLoadedInfo {
  variant: string;
  /** Fetching (or reading from cache) and verifying the graph, plus creating its session. */
  loadMs: number;
  fromCache: boolean;
}

export type WorkerResponse =
  | { type: 'manifest'; id: number; manifest: Manifest }
  | { type: 'progress'; id: number; file: string; loaded: number; total: number; fromCache: boolean }
  | ({ type: 'loaded'; id: number } & LoadedInfo)
  | ({ type: 'fastLoaded'; id: number } & FastLoadedInfo)
  | { type: 'step'; id: number; index: number; total: number; ms: number; sample: Float32Array;
      predX0: Float32Array }
  /** totalMs: the image's time in the worker (noise and every step), not counting a first-time graph load. */
  | { type: 'generated'; id: number; image: Float32Array; stepMs: number[]; totalMs: number; seed: number }
  | { type: 'classified'; id: number; result: Classification; ms: number; input: Float32Array }
  | { type: 'thumbnails'; id: number; images: Float32Array[] }
  | { type: 'error'; id: number; code: ErrorCode; message: string };

export type FinalResponse = Extract<WorkerResponse, { type: 'loaded' | 'generated' | 'classified' | 'thumbnails' }>;

const REQUEST_TYPES = new Set(['load', 'generate', 'restyle', 'generateFast', 'classify', 'thumbnails', 'cancel']);
const RESPONSE_TYPES = new Set([
  'manifest', 'progress', 'loaded', 'fastLoaded', 'step', 'generated', 'classified', 'thumbnails', 'error',
]);
const FINAL_TYPES = new Set(['loaded', 'generated', 'classified', 'thumbnails', 'error']);

function hasTypeAndId(x: unknown): x is { type: string; id: number } {
  return typeof x === 'object' && x !== null && typeof (x as { type: unknown }).type === 'string'
    && Number.isInteger((x as { id: unknown }).id);
}

export function isWorkerRequest(x: unknown): x is WorkerRequest {
  return hasTypeAndId(x) && REQUEST_TYPES.has(x.type);
}

export function isWorkerResponse(x: unknown): x is WorkerResponse {
  return hasTypeAndId(x) && RESPONSE_TYPES.has(x.type);
}

export function isFinal(r: WorkerResponse): r is FinalResponse | Extract<WorkerResponse, { type: 'error' }> {
  return FINAL_TYPES.has(r.type);
}

/** The Float32Array buffers of a message, to pass as its transfer list. */
export function transferables(msg: WorkerRequest | WorkerResponse): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const v of Object.values(msg)) {
    if (v instanceof Float32Array) out.push(v.buffer as ArrayBuffer);
    else if (Array.isArray(v)) for (const a of v) if (a instanceof Float32Array) out.push(a.buffer as ArrayBuffer);
  }
  return [...new Set(out)];
}

/** An error raised inside the worker, with the code the UI uses to pick its message and retry action. */
export class WorkerError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
    this.name = 'WorkerError';
  }
}

export function toErrorResponse(id: number, err: unknown): Extract<WorkerResponse, { type: 'error' }> {
  if (err instanceof WorkerError) return { type: 'error', id, code: err.code, message: err.message };
  if (err instanceof Error && err.name === 'CancelledError') return { type: 'error', id, code: 'cancelled', message: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { type: 'error', id, code: 'internal', message: message || 'unknown error in the model worker' };
}

type Listener = (msg: WorkerResponse) => void;

/**
 * The hook's side of the protocol: numbers requests, keeps one pending promise per id, streams the
 * intermediate messages to that request's listener and settles the promise on its final message.
 */
export class RequestTracker {
  private nextId = 1;
  private pending = new Map<number, { resolve: (r: FinalResponse) => void; reject: (e: WorkerError) => void; listener?: Listener }>();

  constructor(private readonly send: (req: WorkerRequest) => void) {}

  /** Send a request (its id is assigned here) and wait for its final answer. */
  request(req: NewRequest, listener?: Listener): { id: number; done: Promise<FinalResponse> } {
    const id = this.nextId++;
    const done = new Promise<FinalResponse>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, listener });
    });
    this.send({ ...req, id } as unknown as WorkerRequest);
    return { id, done };
  }

  /** Feed every message from the worker here. Malformed or unknown-id messages raise. */
  receive(data: unknown): void {
    if (!isWorkerResponse(data)) throw new WorkerError('internal', `malformed message from the worker: ${JSON.stringify(data)}`);
    const entry = this.pending.get(data.id);
    if (!entry) throw new WorkerError('internal', `message "${data.type}" for unknown request ${data.id}`);
    if (data.type === 'error') {
      this.pending.delete(data.id);
      entry.reject(new WorkerError(data.code, data.message));
    } else if (isFinal(data)) {
      this.pending.delete(data.id);
      entry.listener?.(data);
      entry.resolve(data as FinalResponse);
    } else {
      entry.listener?.(data);
    }
  }

  /** Reject everything still pending (the worker crashed or was replaced). */
  failAll(message: string): void {
    for (const [id, entry] of this.pending) {
      this.pending.delete(id);
      entry.reject(new WorkerError('internal', message));
    }
  }

  get inFlight(): number {
    return this.pending.size;
  }
}
