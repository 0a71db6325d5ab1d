import { useEffect, useRef } from 'react';
import { drawTensor } from '../lib/canvas';

/** A fixed-size box (no layout shift) showing a CHW tensor, drawn at model resolution and scaled by CSS. */
export function TensorCanvas({ tensor, size, label, testId }: {
  tensor: Float32Array | null; size: number; label: string; testId: string;
}) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const canvas = ref.current;
    if (!canvas) return;
    if (tensor) drawTensor(canvas, tensor, size);
    else canvas.getContext('2d')?.clearRect(0, 0, canvas.width, canvas.height);
  }, [tensor, size]);
  return (
    <figure className="tensor">
      <canvas ref={ref} width={size} height={size} role="img" aria-label={label} data-testid={testId}
        data-ready={tensor ? 'true' : 'false'} />
      <figcaption>{label}</figcaption>
    </figure>
  );
}
