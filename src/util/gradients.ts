/**
 * Gradient registrations tfjs lacks. Comparison and logical ops are piecewise constant: their gradient is zero
 * (torch treats them as non-differentiable). Without these, tf.where(s <= -100, 0, s) and similar masks fail with
 * "gradient function not found for LessEqual" whenever their input depends on a trained parameter.
 */
import * as tf from '@tensorflow/tfjs';

const BINARY = ['Less', 'LessEqual', 'Greater', 'GreaterEqual', 'Equal', 'NotEqual', 'LogicalAnd', 'LogicalOr'];
const UNARY = ['LogicalNot', 'IsNan', 'IsInf', 'IsFinite', 'Sign', 'Round', 'Floor', 'Ceil'];

let done = false;
export function registerExtraGradients(): void {
  if (done) return;
  done = true;
  for (const kernelName of BINARY) {
    if (tf.getGradient(kernelName)) continue;
    tf.registerGradient({
      kernelName, inputsToSave: ['a', 'b'],
      // the engine requires float32 gradients of each input's own shape, even for bool inputs
      gradFunc: (_dy, saved) => ({ a: () => tf.zeros(saved[0].shape, 'float32'), b: () => tf.zeros(saved[1].shape, 'float32') }),
    });
  }
  for (const kernelName of UNARY) {
    if (tf.getGradient(kernelName)) continue;
    tf.registerGradient({ kernelName, inputsToSave: ['x'], gradFunc: (_dy, saved) => ({ x: () => tf.zeros(saved[0].shape, 'float32') }) });
  }
}
