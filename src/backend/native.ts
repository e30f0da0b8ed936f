/**
 * The `native` tensor backend. Design: tfjs's own cpu backend class (MathBackendCPU: tensors are ordinary
 * typed arrays in the Node heap, so there is no 4 GiB ceiling as on wasm) registered under the name "native", with
 * every cpu kernel copied over and the heavy ones replaced by the native addon's (native-kernels.ts). Gradients are
 * tfjs's, composed of these kernels, so they are differentiable again (exact Hessian-vector products work).
 * Threads: the addon's OpenMP pool (oneDNN uses the same runtime), set by `setNativeThreads`.
 */
import * as tf from '@tensorflow/tfjs';
import { loadNativeAddon, type NativeAddon } from './native-addon.js';
import { nativeKernel, nativeKernelBodies } from './native-kernels.js';

export const NATIVE = 'native';
let registered: NativeAddon | undefined;

/** Register the backend (once). Returns undefined, or why it cannot be used, in one line. */
export async function registerNativeBackend(): Promise<string | undefined> {
  if (registered) return undefined;
  const { addon, why } = loadNativeAddon();
  if (!addon) return why;
  const { MathBackendCPU } = await import('@tensorflow/tfjs-backend-cpu');
  tf.registerBackend(NATIVE, () => {
    const b = new MathBackendCPU();
    (b as unknown as { firstUse: boolean }).firstUse = false; // no "use tfjs-node" banner: the choice was made and printed
    return b;
  }, 0);
  const bodies = nativeKernelBodies();
  for (const k of tf.getKernelsForBackend('cpu')) {
    const body = bodies[k.kernelName];
    tf.registerKernel(body ? nativeKernel(k.kernelName, NATIVE, body, k, addon) : { ...k, backendName: NATIVE });
  }
  registered = addon;
  return undefined;
}

/** the loaded addon (after registerNativeBackend succeeded) */
export function nativeAddon(): NativeAddon | undefined { return registered; }

/** Set the native kernels' thread count (OpenMP; oneDNN's products use the same pool). */
export function setNativeThreads(n: number): void { registered?.setThreads(n); }
