/**
 * The fused-kernel contract: the names of kdqat's own kernels, and the ops that run one where the backend has it (the
 * native backend, native/src/fused.cc) and the op-by-op composition elsewhere. Both give bit-identical values: the
 * fused kernels perform the same float32 operations per element, in the same order. The domain modules (quantizers,
 * optimizer, Hessian products) call these; the backend never imports them.
 */
import * as tf from '@tensorflow/tfjs';

export const SYM_QUANT = 'KdqSymQuant';
export const STE_MASK = 'KdqSteMask';
/** the fused BertAdam update of one parameter: inputs p, m, v, g; attr h -> [p', m', v'] */
export const BERT_ADAM = 'KdqBertAdam';
/** the fused Hv of the Hessian analysis's L2-norm term: inputs acc, v, p; attrs l2, nrm, nrm3 */
export const HV_L2 = 'KdqHvL2';

const fused = (kernel: string): boolean => tf.getKernel(kernel, tf.getBackend()) !== undefined;

/** 1[a > b] as float32 as step(a - b): exact (a float difference is 0 only when a == b, keeps its sign), and fast on
 * every backend (wasm's broadcasting comparison kernels are ~10x slower than Sub + Step) */
export const gt = (a: tf.Tensor | number, b: tf.Tensor | number): tf.Tensor => tf.step(tf.sub(a, b));

/** x (already clipped) -> ints = round(x s), s = levels / max|x| (scalar); no gradient */
export function symInts(x: tf.Tensor, levels: number): { ints: tf.Tensor; scale: tf.Tensor } {
  if (fused(SYM_QUANT)) {
    const [ints, scale] = tf.engine().runKernel(SYM_QUANT, { x }, { levels }) as tf.Tensor[];
    return { ints, scale };
  }
  const scale = tf.div(levels, tf.max(tf.abs(x)));
  return { ints: tf.round(tf.mul(x, scale)), scale };
}

/** the straight-through gradient dy * 1[|x| < c] (the reference zeroes it where x >= c or x <= -c); dy, x same shape */
export function steMask(dy: tf.Tensor, x: tf.Tensor, c: number): tf.Tensor {
  if (fused(STE_MASK) && tf.util.arraysEqual(dy.shape, x.shape))
    return tf.engine().runKernel(STE_MASK, { dy, x }, { clip: c }) as tf.Tensor;
  return tf.mul(dy, gt(c, tf.abs(x)));
}

let registered = false;
/**
 * d(steMask)/d(dy) = steMask(ddy, x); d/dx = 0 (the mask is piecewise constant): exact HVPs differentiate through it
 */
export function registerFusedGradients(): void {
  if (registered) return;
  registered = true;
  tf.registerGradient({
    kernelName: STE_MASK,
    inputsToSave: ['x'],
    gradFunc: (ddy, saved, attrs) => ({
      dy: () => steMask(ddy as tf.Tensor, saved[0], (attrs as unknown as { clip: number }).clip),
      x: () => tf.zerosLike(saved[0]),
    }),
  });
}
