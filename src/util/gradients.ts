/**
 * Gradient registrations tfjs lacks. Comparison and logical ops are piecewise constant: their gradient is zero
 * (torch treats them as non-differentiable). Without these, tf.where(s <= -100, 0, s) and similar masks fail with
 * "gradient function not found for LessEqual" whenever their input depends on a trained parameter.
 */
import * as tf from '@tensorflow/tfjs';

const BINARY = ['Less', 'LessEqual', 'Greater', 'GreaterEqual', 'Equal', 'NotEqual', 'LogicalAnd', 'LogicalOr'];
const UNARY = ['LogicalNot', 'IsNan', 'IsInf', 'IsFinite', 'Sign', 'Round', 'Floor', 'Ceil'];

/**
 * Register float32 zero gradients for the comparison, logical and rounding ops. `override` also replaces the
 * gradients tfjs ships for some of them (GreaterEqual, Round, Sign, ...), whose zerosLike of an int/bool input is
 * not float32 and is rejected when a second differentiation walks through them (src/analysis/second-order.ts).
 */
export function registerZeroGradients(override = false): void {
  for (const kernelName of BINARY) {
    if (!override && tf.getGradient(kernelName)) continue;
    tf.registerGradient({
      kernelName,
      inputsToSave: ['a', 'b'],
      // the engine requires float32 gradients of each input's own shape, even for bool inputs
      gradFunc: (_dy, saved) => ({
        a: () => tf.zeros(saved[0].shape, 'float32'),
        b: () => tf.zeros(saved[1].shape, 'float32'),
      }),
    });
  }
  for (const kernelName of UNARY) {
    if (!override && tf.getGradient(kernelName)) continue;
    tf.registerGradient({
      kernelName,
      inputsToSave: ['x'],
      gradFunc: (_dy, saved) => ({ x: () => tf.zeros(saved[0].shape, 'float32') }),
    });
  }
}

let done = false;
export function registerExtraGradients(): void {
  if (done) return;
  done = true;
  registerZeroGradients();
}
