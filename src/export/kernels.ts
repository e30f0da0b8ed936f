/**
 * Integer kernels, by backend. A product of two quantized tensors is computed on their integer grids (the ternary
 * student's in src/quant/exact-matmul.ts, dynamic int8 in src/export/ptq.ts int8Linear); the integer product itself
 * goes through integerMatMul, which runs a backend's registered integer kernel (e.g. oneDNN's int8 matmul in a
 * native backend) and otherwise tf.matMul on integer-valued float32 tensors: exact, but a float32 kernel, so the
 * quantized model's speed is *simulated* there (fake-quantized FP32), never an integer speed-up.
 * None of the backends of this project (wasm, cpu, tfjs-node) registers one.
 */
import * as tf from '@tensorflow/tfjs';

export interface IntegerKernels {
  /** a [..,M,K] @ op(b) ([..,K,N] or [..,N,K] when transposeB) of integer-valued tensors (|values| <= 255) -> exact sums as float32 */
  matMul(a: tf.Tensor, b: tf.Tensor, transposeB: boolean): tf.Tensor;
}

const registry = new Map<string, IntegerKernels>();

/** A backend declares its integer kernels (call once after it is initialised). */
export function registerIntegerKernels(backend: string, k: IntegerKernels): void { registry.set(backend, k); }

/** true when `backend` (default: the active one) runs quantized products on integer kernels */
export function hasIntegerKernels(backend: string = tf.getBackend()): boolean { return registry.has(backend); }

/** ints_a @ op(ints_b) on the active backend's integer kernel, else tf.matMul (float32 kernel, exact for |sums| < 2^24) */
export function integerMatMul(a: tf.Tensor, b: tf.Tensor, transposeB: boolean): tf.Tensor {
  const k = registry.get(tf.getBackend());
  return k ? k.matMul(a, b, transposeB) : tf.matMul(a, b, false, transposeB);
}

export const SIMULATED = 'simulated (fake-quantized FP32)';

/** How a model's latency was obtained on `backend`: FP32 kernels, integer kernels, or simulated */
export function latencyPath(quantized: boolean, backend: string = tf.getBackend()): string {
  return !quantized ? 'FP32 kernels' : hasIntegerKernels(backend) ? 'integer kernels' : SIMULATED;
}
