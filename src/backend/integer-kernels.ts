/**
 * Integer kernels, by backend. A product of two quantized tensors is computed on their integer grids (the ternary
 * student's in src/quant/exact-matmul.ts, dynamic int8 in src/export/ptq.ts int8Linear); the integer product itself
 * goes through integerMatMul, which runs a backend's registered integer kernel (e.g. oneDNN's int8 matmul in a
 * native backend) and otherwise tf.matMul on integer-valued float32 tensors: exact, but a float32 kernel, so the
 * quantized model's speed is *simulated* there (fake-quantized FP32), never an integer speed-up.
 * The native backend's (native-integer.ts: oneDNN's s8 x s8 GEMM) is registered by `npm run benchmark`, the
 * deployment path; training keeps the float32 product (the same values). It covers products with a ternary operand;
 * other products (int8 x int8, uint8 x int8: their 16-bit intermediate sums could saturate on CPUs without VNNI)
 * return undefined and run on float32 kernels.
 */
import * as tf from '@tensorflow/tfjs';

export type QuantKind = 'ternary' | 'int8';

export interface IntegerKernels {
  /** which quantized models' products the kernel runs (the others stay on float32 kernels) */
  kinds: QuantKind[];
  /**
   * a [..,M,K] @ op(b) ([..,K,N] or [..,N,K] when transposeB) of integer-valued tensors -> exact sums as float32, or
   * undefined when not covered
   */
  matMul(a: tf.Tensor, b: tf.Tensor, transposeB: boolean): tf.Tensor | undefined;
}

const registry = new Map<string, IntegerKernels>();

/** A backend declares its integer kernels (call once after it is initialised). */
export function registerIntegerKernels(backend: string, k: IntegerKernels): void {
  registry.set(backend, k);
}

/** true when `backend` (default: the active one) runs the products of `kind` models on integer kernels */
export function hasIntegerKernels(backend: string = tf.getBackend(), kind: QuantKind = 'ternary'): boolean {
  return registry.get(backend)?.kinds.includes(kind) ?? false;
}

/**
 * ints_a @ op(ints_b) on the active backend's integer kernel, else tf.matMul (float32 kernel, exact for |sums| < 2^24)
 */
export function integerMatMul(a: tf.Tensor, b: tf.Tensor, transposeB: boolean): tf.Tensor {
  return registry.get(tf.getBackend())?.matMul(a, b, transposeB) ?? tf.matMul(a, b, false, transposeB);
}
