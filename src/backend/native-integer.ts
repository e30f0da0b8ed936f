/**
 * Integer kernels of the native backend for the deployment benchmark (src/backend/integer-kernels.ts): products with a
 * ternary operand on oneDNN's s8 x s8 -> s32 GEMM (exact; checked against the float32 product in the tests).
 * Products it cannot run exactly (8-bit x 8-bit: without VNNI the GEMM's 16-bit intermediate sums could saturate)
 * return undefined and stay on float32 kernels.
 */
import * as tf from '@tensorflow/tfjs';
import type { TensorInfo } from '@tensorflow/tfjs';
import { registerIntegerKernels } from './integer-kernels.js';
import { f32, type CpuLike } from './native-common.js';
import { nativeAddon, NATIVE } from './native.js';
import { sizeOf } from './native-shapes.js';
import { take } from './native-pool.js';

/** products run on the int8 GEMM so far (tests and the benchmark note read it) */
export const integerStats = { int8: 0, declined: 0 };

/** a [..,M,K] @ op(b) ([..,K,N] / [..,N,K]) as int8 GEMM, or undefined (not integer / not ternary / other batching) */
function int8MatMul(a: tf.Tensor, b: tf.Tensor, transposeB: boolean): tf.Tensor | undefined {
  const n = nativeAddon(),
    be = tf.backend() as unknown as CpuLike;
  const av = n && f32(be, a as unknown as TensorInfo),
    bv = n && f32(be, b as unknown as TensorInfo);
  if (!n || !av || !bv || a.rank < 2 || b.rank < 2) return undefined;
  const [M, K] = a.shape.slice(-2),
    N = transposeB ? b.shape[b.rank - 2] : b.shape[b.rank - 1];
  const batchA = sizeOf(a.shape.slice(0, -2)),
    batchB = sizeOf(b.shape.slice(0, -2));
  if (
    (batchA !== batchB && batchA !== 1 && batchB !== 1) ||
    (transposeB ? b.shape[b.rank - 1] : b.shape[b.rank - 2]) !== K
  )
    return undefined;
  const outer = batchA >= batchB ? a.shape.slice(0, -2) : b.shape.slice(0, -2);
  const y = take(Float32Array, Math.max(batchA, batchB) * M * N);
  if (n.int8Matmul(av, bv, y, batchA, batchB, M, N, K, transposeB) !== 0) {
    integerStats.declined++;
    return undefined;
  }
  integerStats.int8++;
  return tf.tensor(y, [...outer, M, N], 'float32');
}

/** Run ternary products on the int8 GEMM while the native backend is active (deployment latency). */
export function useNativeIntegerKernels(): boolean {
  if (!nativeAddon()) return false;
  registerIntegerKernels(NATIVE, { kinds: ['ternary'], matMul: int8MatMul });
  return true;
}
