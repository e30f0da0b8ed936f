/** How the deployment table says a model's latency was obtained: FP32 kernels, integer kernels, or simulated. */
import * as tf from '@tensorflow/tfjs';
import { hasIntegerKernels, type QuantKind } from '../backend/integer-kernels.js';

export const SIMULATED = 'simulated (fake-quantized FP32)';

export const INTEGER = 'integer kernels (ternary products; 8-bit x 8-bit attention products FP32)';

/** How a model's latency was obtained on `backend`: FP32 kernels, integer kernels, or simulated */
export function latencyPath(kind: QuantKind | 'fp32', backend: string = tf.getBackend()): string {
  return kind === 'fp32' ? 'FP32 kernels' : hasIntegerKernels(backend, kind) ? INTEGER : SIMULATED;
}
