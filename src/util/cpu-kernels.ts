/** Kernels the tfjs cpu backend runs pathologically slowly. Registered once by backend.ts. */
import * as tf from '@tensorflow/tfjs';

let done = false;
export function registerCpuExtras(): void {
  if (done) return;
  done = true;
}
