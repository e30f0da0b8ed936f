/**
 * The `native` tensor backend. Design: tfjs's own cpu backend class (MathBackendCPU: tensors are ordinary
 * typed arrays in the Node heap, so there is no 4 GiB ceiling as on wasm) registered under the name "native", with
 * every cpu kernel copied over and the heavy ones replaced by the native addon's (native-kernels.ts). Gradients are
 * tfjs's, composed of these kernels, so they are differentiable again (exact Hessian-vector products work).
 * Threads: the addon's OpenMP pool (oneDNN uses the same runtime), set by `setNativeThreads`.
 */
import * as tf from '@tensorflow/tfjs';
import { loadNativeAddon, type NativeAddon } from './native-addon.js';
import { cpuKernel, nativeKernel, nativeKernelBodies, nativeOnlyBodies } from './native-kernels.js';
import { registerFusedGradients } from './fused.js';
import { escape, give } from './native-pool.js';

export const NATIVE = 'native';
let registered: NativeAddon | undefined;

/** Register the backend (once). Returns undefined, or why it cannot be used, in one line. */
export async function registerNativeBackend(): Promise<string | undefined> {
  if (registered) return undefined;
  const { addon, why } = loadNativeAddon();
  if (!addon) return why;
  const { MathBackendCPU } = await import('@tensorflow/tfjs-backend-cpu');
  /** the cpu backend whose freed kernel outputs go back to the buffer pool (native-pool.ts) */
  class NativeBackend extends MathBackendCPU {
    constructor() {
      super();
      (this as unknown as { firstUse: boolean }).firstUse = false; // no "use tfjs-node" banner: the choice was printed
    }
    override readSync(dataId: object): ReturnType<InstanceType<typeof MathBackendCPU>['readSync']> {
      escape(this.data.get(dataId)?.values); // the caller gets the array itself
      return super.readSync(dataId);
    }
    override disposeData(dataId: object, force = false): boolean {
      const v = this.data.get(dataId)?.values;
      const gone = super.disposeData(dataId, force);
      if (gone && v && !this.data.has(dataId)) give(v);
      return gone;
    }
  }
  tf.registerBackend(NATIVE, () => new NativeBackend(), 0);
  const bodies = nativeKernelBodies();
  for (const k of tf.getKernelsForBackend('cpu')) {
    const body = bodies[k.kernelName];
    tf.registerKernel(body ? nativeKernel(body, k, NATIVE, addon) : cpuKernel(k, NATIVE));
  }
  for (const [kernelName, body] of Object.entries(nativeOnlyBodies()))
    tf.registerKernel(nativeKernel(body, { kernelName }, NATIVE, addon));
  registerFusedGradients();
  registered = addon;
  return undefined;
}

/** the loaded addon (after registerNativeBackend succeeded) */
export function nativeAddon(): NativeAddon | undefined {
  return registered;
}

/** Set the native kernels' thread count (OpenMP; oneDNN's products use the same pool). */
export function setNativeThreads(n: number): void {
  registered?.setThreads(n);
}
