import { describe, expect, it } from 'vitest';
import { LiveScheduler, type LiveStats } from '../../src/lib/live';

/** A clock the test moves by hand: defer() runs its callback only when advance() passes its time. */
class FakeClock {
  now = 0;
  private timers: { at: number; fn: () => void; live: boolean }[] = [];

  defer = (fn: () => void, ms: number) => {
    const t = { at: this.now + ms, fn, live: true };
    this.timers.push(t);
    return () => { t.live = false; };
  };

  advance(ms: number): void {
    this.now += ms;
    for (const t of this.timers.filter((x) => x.live && x.at <= this.now)) {
      t.live = false;
      t.fn();
    }
    this.timers = this.timers.filter((x) => x.live);
  }

  get armed(): number {
    return this.timers.filter((t) => t.live).length;
  }
}

/** A runner whose requests end only when the test says so. */
class FakeWorker {
  nextId = 1;
  running: { id: number; settings: number; resolve: (r: string) => void; reject: (e: unknown) => void }[] = [];
  started: number[] = [];
  cancelled: number[] = [];
  maxConcurrent = 0;

  start = (settings: number) => {
    const id = this.nextId++;
    this.started.push(settings);
    let resolve!: (r: string) => void;
    let reject!: (e: unknown) => void;
    const done = new Promise<string>((res, rej) => { resolve = res; reject = rej; });
    this.running.push({ id, settings, resolve, reject });
    this.maxConcurrent = Math.max(this.maxConcurrent, this.running.length);
    return { id, done };
  };

  cancel = (id: number) => { this.cancelled.push(id); };

  /** End the oldest request with the image of its settings (or an error) and let the promise callbacks run. */
  async finish(err?: unknown): Promise<void> {
    const r = this.running.shift();
    if (!r) throw new Error('nothing in flight');
    if (err === undefined) r.resolve(`image of ${r.settings}`);
    else r.reject(err);
    await new Promise((done) => setTimeout(done, 0));
  }
}

function setup(delayMs = 30) {
  const clock = new FakeClock();
  const worker = new FakeWorker();
  const shown: { image: string; settings: number; id: number }[] = [];
  const errors: string[] = [];
  let stats: LiveStats | null = null;
  const live = new LiveScheduler<number, string>({
    start: worker.start, cancel: worker.cancel, delayMs, defer: clock.defer,
    onResult: (image, settings, id) => shown.push({ image, settings, id }),
    onError: (err) => errors.push(String(err)),
    onStats: (s) => { stats = s; },
  });
  return { clock, worker, shown, errors, live, last: () => stats as LiveStats | null };
}

describe('LiveScheduler', () => {
  it('debounces: a burst of changes within the window makes one run, with the newest settings', () => {
    const { clock, worker, live } = setup(30);
    live.update(1);
    clock.advance(10);
    live.update(2);
    clock.advance(10);
    live.update(3);
    expect(worker.started).toEqual([]); // nothing before the window ends
    expect(live.stats.pending).toBe(true);
    clock.advance(10);
    expect(worker.started).toEqual([3]);
    expect(clock.armed).toBe(0);
    expect(live.stats).toMatchObject({ changes: 3, started: 1, pending: false, inFlight: 1 });
  });

  it('the window does not restart on every change, so a continuous drag still runs', () => {
    const { clock, worker, live } = setup(30);
    for (let i = 1; i <= 5; i++) { live.update(i); clock.advance(8); } // 40 ms of changes, 8 ms apart
    expect(worker.started).toEqual([4]); // the settings at the end of the first 30 ms
  });

  it('never has two in flight: changes during a run collapse into one pending request that starts when it ends', async () => {
    const { clock, worker, live, shown } = setup();
    live.update(1);
    clock.advance(30);
    for (const s of [2, 3, 4, 5]) { live.update(s); clock.advance(30); }
    expect(worker.running).toHaveLength(1); // still only the first
    expect(live.stats.pending).toBe(true);
    await worker.finish(); // run 1 ends: stale (newer settings exist), so 5 starts at once, without a new debounce
    expect(worker.started).toEqual([1, 5]);
    expect(shown).toEqual([]);
    await worker.finish();
    expect(shown).toEqual([{ image: 'image of 5', settings: 5, id: 2 }]);
    expect(worker.maxConcurrent).toBe(1);
    expect(live.stats).toMatchObject({ changes: 5, started: 2, shown: 1, dropped: 1, inFlight: null, pending: false,
      maxInFlight: 1, lastStartedId: 2, shownId: 2 });
  });

  it('cancels a stale run once and drops its result (or its cancellation) unseen', async () => {
    const { clock, worker, live, shown, errors } = setup();
    live.update(1);
    clock.advance(30);
    live.update(2);
    live.update(3);
    expect(worker.cancelled).toEqual([1]); // once, although two newer changes came
    await worker.finish(new Error('cancelled: generation stopped'));
    expect(errors).toEqual([]); // a stale run's error is not the user's problem
    await worker.finish();
    expect(shown.map((s) => s.settings)).toEqual([3]);
    expect(worker.cancelled).toEqual([1]); // the fresh run was never cancelled
  });

  it('shows a fresh result and reports a fresh error', async () => {
    const { clock, worker, live, shown, errors } = setup();
    live.update(7);
    clock.advance(30);
    await worker.finish();
    expect(shown.map((s) => s.image)).toEqual(['image of 7']);
    live.update(8);
    clock.advance(30);
    await worker.finish(new Error('the fast graph did not load'));
    expect(errors).toEqual(['Error: the fast graph did not load']);
    expect(live.stats).toMatchObject({ shown: 1, failed: 1, dropped: 0, shownId: 1 });
  });

  it('stop() drops the pending settings; the run in flight still shows when nothing newer came', async () => {
    const { clock, worker, live, shown } = setup();
    live.update(1);
    clock.advance(30);
    live.stop();
    await worker.finish();
    expect(shown.map((s) => s.settings)).toEqual([1]);

    live.update(2); // armed, then switched off before the window ends
    live.stop();
    clock.advance(100);
    expect(worker.started).toEqual([1]);

    live.update(3);
    clock.advance(30);
    live.update(4); // pending behind 3
    live.stop();
    await worker.finish(); // 3 is stale (4 came), 4 was given up: nothing shows, nothing starts
    expect(worker.started).toEqual([1, 3]);
    expect(shown.map((s) => s.settings)).toEqual([1]);
    expect(live.stats.pending).toBe(false);
  });

  it('dispose() ignores what is still in flight', async () => {
    const { clock, worker, live, shown, errors } = setup();
    live.update(1);
    clock.advance(30);
    live.dispose();
    await worker.finish(new Error('the page replaced the model worker'));
    live.update(2);
    clock.advance(30);
    expect(shown).toEqual([]);
    expect(errors).toEqual([]);
    expect(worker.started).toEqual([1]);
  });

  it('a runner that throws at once counts as a failed run and does not block the next change', () => {
    const clock = new FakeClock();
    const errors: string[] = [];
    let calls = 0;
    const live = new LiveScheduler<number, string>({
      start: (s) => {
        calls += 1;
        if (s < 0) throw new RangeError('a blend needs at least one breed with a weight above 0');
        return { id: calls, done: new Promise<string>(() => {}) };
      },
      cancel: () => {}, onResult: () => {}, onError: (e) => errors.push(String(e)), defer: clock.defer,
    });
    live.update(-1);
    clock.advance(30);
    expect(errors).toHaveLength(1);
    live.update(1);
    clock.advance(30);
    expect(live.stats).toMatchObject({ started: 1, failed: 1, inFlight: 2 });
  });

  it('under a random stream of changes and run ends: one in flight, no pile-up, and the last settings win', async () => {
    let seed = 12345;
    const rand = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
    for (let trial = 0; trial < 20; trial++) {
      const { clock, worker, live, shown, last } = setup(16 + Math.floor(rand() * 30));
      let latest = 0;
      for (let event = 0; event < 60; event++) {
        const r = rand();
        const before = shown.length;
        if (r < 0.5) live.update(++latest);
        else if (r < 0.8) clock.advance(Math.floor(rand() * 40));
        else if (worker.running.length) await worker.finish();
        expect(worker.running.length).toBeLessThanOrEqual(1);
        if (shown.length > before) expect(shown.at(-1)?.settings, 'a result shown is of the newest settings').toBe(latest);
      }
      // settle: let the window pass and every run end
      for (let i = 0; i < 10 && (worker.running.length || live.stats.pending); i++) {
        clock.advance(100);
        if (worker.running.length) await worker.finish();
      }
      const stats = live.stats;
      expect(stats.started).toBeLessThanOrEqual(stats.changes);
      expect(stats.shown + stats.dropped + stats.failed).toBe(stats.started);
      expect(stats.maxInFlight).toBeLessThanOrEqual(1);
      expect(worker.maxConcurrent).toBeLessThanOrEqual(1);
      if (latest > 0) {
        expect(shown.at(-1)?.settings).toBe(latest);
        expect(stats.shownId).toBe(stats.lastStartedId);
      }
      expect(last()?.pending ?? false).toBe(false);
    }
  });
});
