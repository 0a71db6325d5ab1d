/**
 * Live mode's scheduling: the picture follows every change of the settings, the newest settings win, and at most
 * one generation is ever in flight.
 *
 *   update(s)    a change. Idle: start after `delayMs`, so a burst of changes (one drag frame) makes one run.
 *                A run in flight: it is now stale, so it is cancelled (the worker stops it between steps), and `s`
 *                waits as the ONE pending request; a newer change replaces it, never queues behind it.
 *   a run ends   a fresh result (no newer settings) goes to onResult; a stale one is dropped unseen; then the
 *                pending request, if any, starts at once.
 *
 * Pure: the caller passes the runner (one worker request and its id) and the clock, so tests drive it with fakes.
 */

/** One started request: its protocol id and its answer. */
export interface LiveRun<R> {
  id: number;
  done: Promise<R>;
}

export interface LiveStats {
  /** update() calls. */
  changes: number;
  started: number;
  /** Fresh results handed to onResult. */
  shown: number;
  /** Runs that ended after newer settings had arrived (their result or cancellation is ignored). */
  dropped: number;
  /** Fresh runs that ended in an error. */
  failed: number;
  /** Id of the run in flight, or null. */
  inFlight: number | null;
  /** Settings wait for the debounce or for the run in flight to end. */
  pending: boolean;
  /** The most runs ever in flight at once (1 unless the scheduler is broken). */
  maxInFlight: number;
  lastStartedId: number | null;
  shownId: number | null;
}

export interface LiveOptions<S, R> {
  start: (settings: S) => LiveRun<R>;
  /** Ask the worker to stop a stale run (called once per run). */
  cancel: (id: number) => void;
  onResult: (result: R, settings: S, id: number) => void;
  onError: (err: unknown, settings: S, id: number) => void;
  /** After every change of the stats (for the UI). */
  onStats?: (stats: LiveStats) => void;
  /** The debounce window; default LIVE_DELAY_MS. */
  delayMs?: number;
  /** Run `fn` after `ms`; returns a function that cancels it. Default: setTimeout. */
  defer?: (fn: () => void, ms: number) => () => void;
}

/** About two animation frames: a slider drag's events of one frame arrive well within it. */
export const LIVE_DELAY_MS = 30;

const timeout = (fn: () => void, ms: number) => {
  const handle = setTimeout(fn, ms);
  return () => clearTimeout(handle);
};

interface Running<S> {
  id: number;
  version: number;
  settings: S;
  cancelled: boolean;
}

export class LiveScheduler<S, R> {
  private latest: { settings: S; version: number } | null = null;
  /** Version of the newest settings that started (or were given up by stop()). */
  private startedVersion = 0;
  private running: Running<S> | null = null;
  private inFlightCount = 0;
  private disarm: (() => void) | null = null;
  private disposed = false;
  private readonly counts = { changes: 0, started: 0, shown: 0, dropped: 0, failed: 0, maxInFlight: 0 };
  private lastStartedId: number | null = null;
  private shownId: number | null = null;

  constructor(private readonly o: LiveOptions<S, R>) {}

  /** New settings: they win over everything older. */
  update(settings: S): void {
    if (this.disposed) return;
    this.counts.changes += 1;
    this.latest = { settings, version: (this.latest?.version ?? 0) + 1 };
    const run = this.running;
    if (run) {
      if (!run.cancelled) {
        run.cancelled = true;
        this.o.cancel(run.id);
      }
    } else if (!this.disarm) {
      this.disarm = (this.o.defer ?? timeout)(() => {
        this.disarm = null;
        this.startLatest();
      }, this.o.delayMs ?? LIVE_DELAY_MS);
    }
    this.emit();
  }

  /** Forget the pending settings (Live switched off); a run in flight still ends, and shows if it is fresh. */
  stop(): void {
    this.disarm?.();
    this.disarm = null;
    this.startedVersion = this.latest?.version ?? 0;
    this.emit();
  }

  /** stop(), and ignore whatever is still in flight (the worker is being replaced). */
  dispose(): void {
    this.stop();
    this.disposed = true;
  }

  get stats(): LiveStats {
    return {
      ...this.counts, inFlight: this.running?.id ?? null, pending: this.hasPending(),
      lastStartedId: this.lastStartedId, shownId: this.shownId,
    };
  }

  private hasPending(): boolean {
    return this.latest !== null && this.latest.version > this.startedVersion;
  }

  private startLatest(): void {
    const latest = this.latest;
    if (this.disposed || this.running || !latest || !this.hasPending()) return;
    this.startedVersion = latest.version;
    let run: LiveRun<R>;
    try {
      run = this.o.start(latest.settings);
    } catch (err) {
      this.counts.failed += 1;
      this.o.onError(err, latest.settings, -1);
      this.emit();
      return;
    }
    const running: Running<S> = { id: run.id, version: latest.version, settings: latest.settings, cancelled: false };
    this.running = running;
    this.counts.started += 1;
    this.lastStartedId = run.id;
    this.inFlightCount += 1;
    this.counts.maxInFlight = Math.max(this.counts.maxInFlight, this.inFlightCount);
    run.done.then((result) => this.finish(running, { result }), (err: unknown) => this.finish(running, { err }));
    this.emit();
  }

  private finish(run: Running<S>, end: { result: R } | { err: unknown }): void {
    this.inFlightCount -= 1;
    if (this.running === run) this.running = null;
    if (this.disposed) return;
    if (run.version !== this.latest?.version) {
      this.counts.dropped += 1;
    } else if ('result' in end) {
      this.counts.shown += 1;
      this.shownId = run.id;
      this.o.onResult(end.result, run.settings, run.id);
    } else {
      this.counts.failed += 1;
      this.o.onError(end.err, run.settings, run.id);
    }
    this.startLatest();
    this.emit();
  }

  private emit(): void {
    if (!this.disposed) this.o.onStats?.(this.stats);
  }
}
