import { describe, expect, it } from 'vitest';
import {
  RequestTracker, WorkerError, isWorkerRequest, isWorkerResponse, toErrorResponse, transferables,
  type WorkerRequest, type WorkerResponse,
} from '../../src/lib/protocol';
import { CancelledError } from '../../src/lib/sampler';

function tracker() {
  const sent: WorkerRequest[] = [];
  return { sent, t: new RequestTracker((r) => sent.push(r)) };
}

describe('RequestTracker (the hook side of the worker protocol)', () => {
  it('gives every request its own id and routes answers by id', async () => {
    const { sent, t } = tracker();
    const seen: string[] = [];
    const a = t.request({ type: 'classify', image: new Blob(['x']) }, (m) => seen.push(`a:${m.type}`));
    const b = t.request({ type: 'generate', weights: [1], steps: 2, guidance: 3, autoguidance: 2, seed: 4 }, (m) => seen.push(`b:${m.type}`));
    expect(sent.map((r) => r.id)).toEqual([a.id, b.id]);
    expect(sent[1]).toMatchObject({ guidance: 3, autoguidance: 2 }); // both scales travel to the worker as asked
    expect(a.id).not.toBe(b.id);
    expect(t.inFlight).toBe(2);

    const step: WorkerResponse = { type: 'step', id: b.id, index: 0, total: 2, ms: 1, sample: new Float32Array(3), predX0: new Float32Array(3) };
    t.receive(step);
    t.receive({ type: 'generated', id: b.id, image: new Float32Array(3), stepMs: [1, 1], totalMs: 2, seed: 4 });
    const done = await b.done;
    expect(done.type).toBe('generated');
    expect(seen).toEqual(['b:step', 'b:generated']);
    expect(t.inFlight).toBe(1); // a is still waiting: b's answers did not settle it
  });

  it('a few-step run streams its lazy graph load (progress, fastLoaded) and steps before its one final answer', async () => {
    const { sent, t } = tracker();
    const seen: string[] = [];
    const r = t.request({ type: 'generateFast', weights: [1], steps: 1, seed: 4 }, (m) => seen.push(m.type));
    expect(sent[0]).toMatchObject({ type: 'generateFast', id: r.id });
    expect('guidance' in (sent[0] as object)).toBe(false); // the few-step graph has no guidance input
    expect('autoguidance' in (sent[0] as object)).toBe(false);
    t.receive({ type: 'progress', id: r.id, file: 'generator_fast.fp16.onnx', loaded: 1, total: 2, fromCache: false });
    t.receive({ type: 'fastLoaded', id: r.id, variant: 'fp16', loadMs: 5, fromCache: false });
    expect(t.inFlight).toBe(1); // neither settles the request
    t.receive({ type: 'generated', id: r.id, image: new Float32Array(3), stepMs: [1], totalMs: 1, seed: 4 });
    expect((await r.done).type).toBe('generated');
    expect(seen).toEqual(['progress', 'fastLoaded', 'generated']);
  });

  it('turns an error message into a rejected WorkerError with its code', async () => {
    const { t } = tracker();
    const r = t.request({ type: 'load', baseUrl: 'http://x/', provider: 'auto' });
    t.receive({ type: 'error', id: r.id, code: 'checksum', message: 'generator.fp32.onnx failed its sha256 check' });
    await expect(r.done).rejects.toMatchObject({ name: 'WorkerError', code: 'checksum', message: /sha256/ });
    expect(t.inFlight).toBe(0);
  });

  it('refuses malformed messages and answers for unknown requests instead of dropping them', () => {
    const { t } = tracker();
    expect(() => t.receive({ type: 'nonsense', id: 1 })).toThrow(/malformed message/);
    expect(() => t.receive(null)).toThrow(/malformed message/);
    expect(() => t.receive({ type: 'generated', id: 99, image: new Float32Array(0), stepMs: [], totalMs: 0, seed: 0 }))
      .toThrow(/unknown request 99/);
  });

  it('failAll rejects everything pending (a crashed worker never leaves a promise hanging)', async () => {
    const { t } = tracker();
    const r1 = t.request({ type: 'thumbnails', steps: 4, seed: 1 });
    const r2 = t.request({ type: 'classify', image: new Blob([]) });
    t.failAll('the model worker crashed');
    await expect(r1.done).rejects.toThrow(/crashed/);
    await expect(r2.done).rejects.toBeInstanceOf(WorkerError);
    expect(t.inFlight).toBe(0);
  });
});

describe('messages', () => {
  it('survive structured cloning with their Float32Arrays transferred, not copied', () => {
    const msg: WorkerResponse = { type: 'thumbnails', id: 3, images: [Float32Array.of(1, 2), Float32Array.of(3)] };
    const transfer = transferables(msg);
    expect(transfer).toHaveLength(2);
    const copy = structuredClone(msg, { transfer });
    expect(msg.images[0]?.length).toBe(0); // detached: the buffer moved
    expect(isWorkerResponse(copy)).toBe(true);
    expect(copy.type === 'thumbnails' && Array.from(copy.images[1] as Float32Array)).toEqual([3]);
  });

  it('type guards accept the union and reject look-alikes', () => {
    expect(isWorkerRequest({ type: 'cancel', id: 0, target: 4 })).toBe(true);
    expect(isWorkerRequest({ type: 'generateFast', id: 2, weights: [1], steps: 1, seed: 0 })).toBe(true);
    expect(isWorkerResponse({ type: 'fastLoaded', id: 2, variant: 'fp16', loadMs: 1, fromCache: true })).toBe(true);
    expect(isWorkerRequest({ type: 'generate', id: '1' })).toBe(false);
    expect(isWorkerRequest({ type: 'loaded', id: 1 })).toBe(false); // a response is not a request
    expect(isWorkerResponse({ type: 'load', id: 1 })).toBe(false);
  });

  it('errors keep their code; cancellations and plain errors are classified', () => {
    expect(toErrorResponse(5, new WorkerError('input', 'not an image'))).toEqual({ type: 'error', id: 5, code: 'input', message: 'not an image' });
    expect(toErrorResponse(6, new CancelledError('generation stopped')).code).toBe('cancelled');
    expect(toErrorResponse(7, new Error('boom'))).toMatchObject({ code: 'internal', message: 'boom' });
    expect(toErrorResponse(8, undefined).message).toBe('undefined');
  });
});
