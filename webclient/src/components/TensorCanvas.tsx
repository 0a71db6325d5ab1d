import { useEffect, useRef } from 'react';
import { drawTensor } from '../lib/canvas';

/**
 * A CHW tensor drawn at model resolution and scaled by CSS with crisp (nearest-neighbour) upscaling: every square
 * on screen is one pixel the model made; smooth scaling would blur them into detail the model never drew.
 */
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
    <canvas ref={ref} className="tensor" width={size} height={size} role="img" aria-label={label} data-testid={testId}
      data-ready={tensor ? 'true' : 'false'} />
  );
}
