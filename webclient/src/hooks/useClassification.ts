/**
 * Classification: one photo at a time through useModelWorker. A new photo first clears the last answer, so a
 * failed upload never leaves the previous photo's verdict on screen under its error.
 */
import { useCallback, useMemo, useRef, useState } from 'react';
import type { Classification as Answer } from '../lib/classify';
import { errorMessage, type ModelWorker } from './useModelWorker';

export interface ClassifyState {
  result: Answer;
  ms: number;
  /** The classifier's input tensor, for the tests. */
  input: Float32Array;
}

export interface Classification {
  busy: boolean;
  classification: ClassifyState | null;
  error: string | null;
  classify: (image: Blob) => Promise<Answer | null>;
}

export function useClassification(worker: ModelWorker): Classification {
  const { request } = worker;
  const [busy, setBusy] = useState(false);
  const [classification, setClassification] = useState<ClassifyState | null>(null);
  const [error, setError] = useState<string | null>(null);
  const latest = useRef(0); // only the newest photo's answer is shown

  const classify = useCallback(async (image: Blob) => {
    const turn = ++latest.current;
    setError(null);
    setClassification(null);
    setBusy(true);
    try {
      const msg = await request({ type: 'classify', image }).done;
      if (msg.type !== 'classified') throw new Error(`the worker answered a classification with "${msg.type}"`);
      if (turn === latest.current) setClassification({ result: msg.result, ms: msg.ms, input: msg.input });
      return msg.result;
    } catch (err) {
      if (turn === latest.current) setError(errorMessage(err));
      return null;
    } finally {
      if (turn === latest.current) setBusy(false);
    }
  }, [request]);

  return useMemo(() => ({ busy, classification, error, classify }), [busy, classification, error, classify]);
}
