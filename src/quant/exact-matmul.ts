/**
 * The product of two quantized tensors computed exactly on their integer grids:
 *   Q_a(a) @ op(Q_b(b)) = (ints_a @ op(ints_b)) * scale_a * scale_b      (divide where the quantizer divides)
 * Integer products and sums of |value| < 2^24 are exact in float32, so the only roundings are the two scale
 * applications, whatever order the backend's matmul kernel sums in. With plain float products, backends that sum
 * in different orders (XNNPACK on wasm vs the cpu loop vs PyTorch's GEMM) land 8-bit rounding ties of the next
 * quantizer on different sides; the exact product lands where the true value is.
 * Gradient: the straight-through estimator of both quantizers (dy @ Q_b, dy^T @ Q_a, masked to -clip < x < clip).
 */
import * as tf from '@tensorflow/tfjs';
import { unfactor, type Quantizer } from './quantizers.js';
import { steMask } from '../backend/fused.js';
import { integerMatMul } from '../backend/integer-kernels.js';

/** a [..,M,K] (quantized by qa), b [..,K,N] or [..,N,K] when transposeB (quantized by qb) -> [..,M,N] */
export function exactQuantMatMul(
  a: tf.Tensor,
  qa: Quantizer,
  b: tf.Tensor,
  qb: Quantizer,
  transposeB: boolean,
): tf.Tensor {
  if (!qa.factor || !qb.factor)
    throw new Error(`exactQuantMatMul: ${!qa.factor ? qa.name : qb.name} is not a per-tensor grid quantizer`);
  const f = tf.customGrad(((x: tf.Tensor, y: tf.Tensor, save: tf.GradSaveFunc) => {
    const fa = qa.factor!(tf.clipByValue(x, -qa.clip, qa.clip));
    const fb = qb.factor!(tf.clipByValue(y, -qb.clip, qb.clip));
    // a backend's integer kernel when it has one (src/backend/integer-kernels.ts)
    const prod = integerMatMul(fa.ints, fb.ints, transposeB);
    save([x, y, unfactor(fa), unfactor(fb)]);
    return {
      value: unfactor(fb, unfactor(fa, prod)),
      gradFunc: (dy: tf.Tensor, [xs, ys, qx, qy]: tf.Tensor[]) => {
        const dx = tf.matMul(dy, qy, false, !transposeB);
        const dyq = transposeB ? tf.matMul(dy, qx, true, false) : tf.matMul(qx, dy, true, false);
        return [steMask(dx, xs, qa.clip), steMask(dyq, ys, qb.clip)];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (f as unknown as (x: tf.Tensor, y: tf.Tensor) => tf.Tensor)(a, b);
}
