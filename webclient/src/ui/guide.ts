/** The Guide slider's words for an autoguidance scale: "off" at 1 (classifier-free guidance only), else the scale. */
export function guideText(scale: number): string {
  return scale === 1 ? 'off' : scale.toFixed(1);
}
