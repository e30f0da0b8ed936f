/**
 * The `plain` backend: tfjs's cpu backend with exactly tfjs's own kernels and none of kdqat's (no scatter-add
 * UnsortedSegmentSum, no fused quantizer / optimizer / Hessian kernels, no wasm bridge). It stands for what a
 * tfjs-node(-gpu) user runs: tfjs's standard kernel set, where every kdqat path must take its standard-op fallback
 * (`npm run verify -- --backend plain`). Slow on purpose-free grounds: it is a check, not a way to train.
 */
import * as tf from '@tensorflow/tfjs';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

export const PLAIN = 'plain';

// tfjs's own cpu kernels, taken when this module loads: before backend.ts registers or replaces any kernel
const STANDARD = tf.getKernelsForBackend('cpu').map((k) => ({ ...k }));

let registered = false;

/** Register the plain backend (once). Returns why it cannot, or undefined. */
export function registerPlainBackend(): string | undefined {
  if (registered) return undefined;
  if (!STANDARD.length) return 'tfjs registered no cpu kernels';
  class PlainBackend extends MathBackendCPU {
    constructor() {
      super();
      (this as unknown as { firstUse: boolean }).firstUse = false; // no "use tfjs-node" banner: the choice was printed
    }
  }
  tf.registerBackend(PLAIN, () => new PlainBackend(), -1);
  for (const k of STANDARD) tf.registerKernel({ ...k, backendName: PLAIN });
  registered = true;
  return undefined;
}

/** How many kernels the plain backend has (tfjs's cpu set). */
export const plainKernelCount = (): number => STANDARD.length;
