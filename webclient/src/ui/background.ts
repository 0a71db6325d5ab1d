/**
 * Work the visitor did not ask for (the breed thumbnails) runs only while the model worker has nothing of theirs
 * to do. The worker answers one request at a time, so a background job in the way of a click would make that click
 * wait; instead, the moment a foreground request starts (hold), the running background job is cancelled and goes
 * back to the front of the queue, to start again from scratch once every foreground request has ended.
 */

export interface Job<R> { id: number; done: Promise<R> }

export interface BackgroundRunner<Q, R> {
  start: (req: Q) => Job<R>;
  cancel: (id: number) => void;
  /** Whether a job's failure is the cancellation asked for (then it is retried, not reported). */
  isCancel: (err: unknown) => boolean;
}

interface Entry<Q, R> { req: Q; resolve: (r: R) => void; reject: (e: unknown) => void }

export class BackgroundQueue<Q, R> {
  private waiting: Entry<Q, R>[] = [];
  private running: { entry: Entry<Q, R>; id: number; cancelled: boolean } | null = null;
  private holds = 0;
  private closed = false;

  constructor(private readonly runner: BackgroundRunner<Q, R>) {}

  /** Queue a background request; settles with its answer (after any number of pre-emptions). */
  enqueue(req: Q): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (this.closed) {
        reject(new Error('the background queue is closed'));
        return;
      }
      this.waiting.push({ req, resolve, reject });
      this.pump();
    });
  }

  /** A foreground request starts: background work stops until every hold is released (call the result once). */
  hold(): () => void {
    this.holds += 1;
    const r = this.running;
    if (r && !r.cancelled) {
      r.cancelled = true;
      this.runner.cancel(r.id);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds -= 1;
      this.pump();
    };
  }

  /** How many background requests have not finished yet (waiting or running). */
  get pending(): number {
    return this.waiting.length + (this.running ? 1 : 0);
  }

  /** Reject everything not yet finished; the running job is cancelled. */
  close(reason: string): void {
    this.closed = true;
    if (this.running && !this.running.cancelled) this.runner.cancel(this.running.id);
    const all = [...this.waiting, ...(this.running ? [this.running.entry] : [])];
    this.waiting = [];
    this.running = null;
    for (const e of all) e.reject(new Error(reason));
  }

  private pump(): void {
    if (this.closed || this.running || this.holds > 0) return;
    const entry = this.waiting.shift();
    if (!entry) return;
    const { id, done } = this.runner.start(entry.req);
    const running = { entry, id, cancelled: false };
    this.running = running;
    done.then(entry.resolve, (err: unknown) => {
      if (this.running !== running) return; // closed meanwhile: already rejected
      if (running.cancelled && this.runner.isCancel(err)) this.waiting.unshift(entry);
      else entry.reject(err);
    }).finally(() => {
      if (this.running !== running) return;
      this.running = null;
      this.pump();
    });
  }
}
