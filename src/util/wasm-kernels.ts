/** Kernels the tfjs wasm backend lacks or runs slowly. Registered once by backend.ts. */
import * as tf from '@tensorflow/tfjs';

let done = false;
export function registerWasmExtras(): void {
  if (done) return;
  done = true;
}
