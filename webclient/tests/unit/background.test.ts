import { describe, expect, it } from 'vitest';
import { BackgroundQueue } from '../../src/ui/background';

class Cancelled extends Error {}

/** A fake worker: jobs settle when the test says so; cancel() rejects the job like the worker's cancel does. */
function fakeRunner() {
  let next = 1;
  const jobs = new Map<number, { req: string; resolve: (v: string) => void; reject: (e: unknown) => void }>();
  const started: string[] = [];
  const cancelled: number[] = [];
  return {
    started, cancelled, jobs,
    runner: {
      start: (req: string) => {
        const id = next++;
        started.push(req);
        const done = new Promise<string>((resolve, reject) => jobs.set(id, { req, resolve, reject }));
        return { id, done };
      },
      cancel: (id: number) => { cancelled.push(id); jobs.get(id)?.reject(new Cancelled()); },
      isCancel: (e: unknown) => e instanceof Cancelled,
    },
    finish: async (id: number) => { jobs.get(id)?.resolve(`done ${jobs.get(id)?.req}`); await new Promise((r) => setTimeout(r, 0)); },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('BackgroundQueue', () => {
  it('runs one job at a time, in order', async () => {
    const f = fakeRunner();
    const q = new BackgroundQueue(f.runner);
    const a = q.enqueue('a');
    const b = q.enqueue('b');
    expect(f.started).toEqual(['a']);
    await f.finish(1);
    expect(await a).toBe('done a');
    expect(f.started).toEqual(['a', 'b']);
    await f.finish(2);
    expect(await b).toBe('done b');
    expect(q.pending).toBe(0);
  });

  it('cancels the running job when a foreground request starts and retries it after the last one ends', async () => {
    const f = fakeRunner();
    const q = new BackgroundQueue(f.runner);
    const a = q.enqueue('a');
    q.enqueue('b').catch(() => undefined);
    const release1 = q.hold();
    const release2 = q.hold();
    expect(f.cancelled).toEqual([1]);
    await tick();
    expect(f.started).toEqual(['a']); // nothing starts while held
    release1();
    release1(); // a second call is a no-op
    await tick();
    expect(f.started).toEqual(['a']);
    release2();
    await tick();
    expect(f.started).toEqual(['a', 'a']); // the pre-empted job first, from scratch
    await f.finish(2);
    expect(await a).toBe('done a');
    expect(f.started).toEqual(['a', 'a', 'b']);
  });

  it('reports a real failure instead of retrying it, and rejects everything on close', async () => {
    const f = fakeRunner();
    const q = new BackgroundQueue(f.runner);
    const a = q.enqueue('a');
    const b = q.enqueue('b');
    f.jobs.get(1)?.reject(new Error('model broke'));
    await expect(a).rejects.toThrow('model broke');
    await tick();
    expect(f.started).toEqual(['a', 'b']);
    q.close('replaced');
    await expect(b).rejects.toThrow('replaced');
    expect(f.cancelled).toEqual([2]);
    await expect(q.enqueue('c')).rejects.toThrow('closed');
  });
});
