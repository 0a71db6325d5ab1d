/** Drawing model tensors (CHW float32 in [-1, 1]) on canvases: DOM glue around tensor.ts. */
import { tensorToPixels } from './tensor';

export function drawTensor(canvas: HTMLCanvasElement, chw: Float32Array, size: number): void {
  const px = tensorToPixels(chw, size, size);
  if (canvas.width !== size) canvas.width = size;
  if (canvas.height !== size) canvas.height = size;
  canvas.getContext('2d')?.putImageData(new ImageData(px.data as Uint8ClampedArray<ArrayBuffer>, size, size), 0, 0);
}

export function tensorToDataUrl(chw: Float32Array, size: number): string {
  const canvas = document.createElement('canvas');
  drawTensor(canvas, chw, size);
  return canvas.toDataURL('image/png');
}
