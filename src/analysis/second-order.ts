/**
 * Gradients that survive a second differentiation (exact Hessian-vector products by tf.grads of tf.grads).
 *
 * tfjs saves an op's OUTPUT for its gradient as a clone whose tape node is recorded before the op's own node, so
 * when an outer tape differentiates the inner backward pass, the path through that saved output is walked after
 * the op was already processed and its contribution is lost (silently: Exp, Tanh, Sigmoid, Softmax, and the
 * customGrad inside tf.logSoftmax). The gradients below save the op's INPUT instead and recompute the output
 * from it during backprop, which the outer tape sees correctly. First-order values are unchanged.
 *
 * Other ops used by bertForward and the Hessian loss save only inputs (BatchMatMul, Mul, RealDiv, Rsqrt, Sqrt,
 * Erf, Pow with a constant exponent, GatherV2, ...) or use their saved output only inside a comparison whose
 * gradient is zero (Max, Min): they are correct as they are; test/analysis-second-order.test.ts checks every one
 * against finite differences.
 */
import * as tf from '@tensorflow/tfjs';
import { registerExtraGradients, registerZeroGradients } from '../util/gradients.js';

let done = false;

/** Register the input-saving gradients (idempotent; tfjs prints one "Overriding the gradient" warning per op). */
export function registerSecondOrderGradients(): void {
  if (done) return;
  done = true;
  registerExtraGradients();
  const warn = console.warn;
  console.warn = (...a: unknown[]) => {
    if (!String(a[0]).startsWith('Overriding the gradient')) warn(...a);
  };
  try {
    // comparison / logical ops are piecewise constant: float32 zeros, replacing tfjs's own where it has one
    registerZeroGradients(true);
    // UnsortedSegmentSum (the gradient of every Gather): dx = dy[max(ids, 0)] * 1[ids >= 0]; tfjs's own masks with a
    // broadcast LogicalAnd and Where, which run op by op on the cpu kernels (20 ms of a tiny 8 x 128 Hv product)
    tf.registerGradient({
      kernelName: 'UnsortedSegmentSum',
      inputsToSave: ['segmentIds'],
      gradFunc: (dy, saved) => ({
        x: () => {
          const ids = tf.cast(saved[0], 'int32');
          const g = tf.gather(dy as tf.Tensor, tf.maximum(ids, tf.scalar(0, 'int32')));
          const keep = tf.cast(tf.greaterEqual(ids, tf.scalar(0, 'int32')), 'float32');
          return tf.mul(g, tf.reshape(keep, [...keep.shape, ...g.shape.slice(keep.rank).map(() => 1)]));
        },
      }),
    });
    // d exp(x) = exp(x) dx
    tf.registerGradient({
      kernelName: 'Exp',
      inputsToSave: ['x'],
      gradFunc: (dy, saved) => ({ x: () => tf.mul(dy as tf.Tensor, tf.exp(saved[0])) }),
    });
    // d tanh(x) = (1 - tanh(x)^2) dx
    tf.registerGradient({
      kernelName: 'Tanh',
      inputsToSave: ['x'],
      gradFunc: (dy, saved) => ({
        x: () => {
          const y = tf.tanh(saved[0]);
          return tf.mul(dy as tf.Tensor, tf.sub(1, tf.mul(y, y)));
        },
      }),
    });
    // d sigmoid(x) = s (1 - s) dx
    tf.registerGradient({
      kernelName: 'Sigmoid',
      inputsToSave: ['x'],
      gradFunc: (dy, saved) => ({
        x: () => {
          const s = tf.sigmoid(saved[0]);
          return tf.mul(dy as tf.Tensor, tf.mul(s, tf.sub(1, s)));
        },
      }),
    });
    // softmax: dx = y * (dy - sum(dy * y, dim))
    tf.registerGradient({
      kernelName: 'Softmax',
      inputsToSave: ['logits'],
      gradFunc: (dy, saved, attrs) => ({
        logits: () => {
          const dim = (attrs as unknown as { dim: number }).dim;
          const y = tf.softmax(saved[0], dim);
          const dyy = tf.mul(dy as tf.Tensor, y);
          return tf.sub(dyy, tf.mul(tf.sum(dyy, dim, true), y));
        },
      }),
    });
  } finally {
    console.warn = warn;
  }
}

/**
 * log_softmax over the last axis from plain ops, twice differentiable (tf.logSoftmax is a customGrad that saves its
 * output): z - m - log(sum(exp(z - m))), m = max(z) (its gradient cancels exactly). z [..., C].
 */
export function logSoftmax2(z: tf.Tensor): tf.Tensor {
  const m = tf.max(z, -1, true);
  const s = tf.sub(z, m);
  return tf.sub(s, tf.log(tf.sum(tf.exp(s), -1, true)));
}
