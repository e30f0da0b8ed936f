/**
 * Quantizers of the reference (transformer/utils_quant.py), each a small object whose `apply` is the quantized
 * forward with an explicit straight-through estimator (STE): dL/dx = dL/dQ where -clip < x < clip (the unclipped
 * latent value), 0 elsewhere. No gradient flows through the scale statistics (alpha, Delta, max), as in the
 * reference's autograd Functions.
 */
import * as tf from '@tensorflow/tfjs';
import { gt, steMask, symInts } from '../backend/fused.js';

export interface Quantizer {
  readonly name: string;
  readonly clip: number;
  /** statistics per row (last axis) only: quantizing some rows of a table gives those rows of the quantized table */
  readonly rowwise?: boolean;
  /** quantized value of x (same shape), with the STE gradient */
  apply(x: tf.Tensor): tf.Tensor;
  /** the quantized value without gradient bookkeeping (for inspection / export) */
  quantize(x: tf.Tensor): tf.Tensor;
  /**
   * Per-tensor grid quantizers: the quantized value of the already clipped x as integers and one scale,
   * Q = ints / scale (divide) or ints * scale, without gradient. Lets a product of two quantized tensors be
   * computed exactly on the integer grid (see src/quant/exact-matmul.ts).
   */
  factor?(xc: tf.Tensor): Factored;
}

export interface Factored {
  ints: tf.Tensor;
  scale: tf.Tensor;
  divide: boolean;
}

/** ints / scale or ints * scale */
export const unfactor = (f: Factored, t: tf.Tensor = f.ints): tf.Tensor =>
  f.divide ? tf.div(t, f.scale) : tf.mul(t, f.scale);

/** Wrap a forward `q(x_clipped)` with the clip and the STE mask 1[-c < x < c]. */
function withSte(clip: number, q: (xc: tf.Tensor) => tf.Tensor): (x: tf.Tensor) => tf.Tensor {
  return tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    save([x]);
    return {
      value: q(tf.clipByValue(x, -clip, clip)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => steMask(dy, saved[0], clip),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;
}

function makeQuantizer(
  name: string,
  clip: number,
  q: (xc: tf.Tensor) => tf.Tensor,
  factor?: (xc: tf.Tensor) => Factored,
  rowwise = false,
): Quantizer {
  const ste = withSte(clip, q);
  return {
    name,
    clip,
    rowwise,
    apply: (x) => ste(x),
    quantize: (x) => tf.tidy(() => q(tf.clipByValue(x, -clip, clip))),
    ...(factor ? { factor } : {}),
  };
}

const f32 = Math.fround;

/**
 * Per-tensor statistics of |W| summed in float64 and rounded to float32 like PyTorch's cascade-summed float32
 * reductions: backends that sum a 4096-element float32 tensor in different orders disagree by several ulps in
 * alpha, which flips 8-bit rounding ties of the next activation (seen on wasm vs the reference). One read of the
 * weight per step; weights are small next to activations.
 *   mean = sum|W| / n ; above(t) = (sum of |W| over |W| > t, count)
 */
function absStats(w: tf.Tensor): { mean: number; above: (t: number) => { sum: number; count: number } } {
  const d = w.dataSync() as Float32Array;
  let s = 0;
  for (let i = 0; i < d.length; i++) s += Math.abs(d[i]);
  return {
    mean: f32(f32(s) / d.length),
    above: (t) => {
      let sum = 0,
        count = 0;
      for (let i = 0; i < d.length; i++) {
        const a = Math.abs(d[i]);
        if (a > t) {
          sum += a;
          count++;
        }
      }
      return { sum: f32(sum), count };
    },
  };
}

/**
 * TWN ternary (TwnQuantizer). Per tensor: Delta = 0.7 mean|W|, alpha = mean of |W| over |W| > Delta,
 * Q = alpha sign(W) 1[|W| > Delta]. rowwise: the same per row of a 2-D [rows, cols] weight (word embeddings).
 */
export function twn(opts: { clip?: number; rowwise?: boolean } = {}): Quantizer {
  const { clip = 2.5, rowwise = false } = opts;
  const factor = (w: tf.Tensor): Factored => {
    let delta: tf.Tensor | number, alpha: tf.Tensor | number;
    if (rowwise) {
      // per row of a [rows, cols] table, with tf reductions (rows are short)
      const absW = tf.abs(w);
      delta = tf.mul(tf.mean(absW, -1, true), 0.7);
      const mask = gt(absW, delta);
      alpha = tf.div(tf.sum(tf.mul(absW, mask), -1, true), tf.sum(mask, -1, true));
    } else {
      const st = absStats(w);
      delta = f32(f32(0.7) * st.mean);
      const a = st.above(delta);
      alpha = f32(a.sum / a.count);
    }
    const pos = gt(w, delta);
    const neg = gt(tf.neg(delta), w);
    return { ints: tf.sub(pos, neg), scale: typeof alpha === 'number' ? tf.scalar(alpha) : alpha, divide: false };
  };
  return makeQuantizer(
    `twn${rowwise ? '-row' : ''}`,
    clip,
    (w) => unfactor(factor(w)),
    rowwise ? undefined : factor,
    rowwise,
  );
}

/**
 * TwnQuantizer_mx (the reference's 4-bit "mixed precision" weights): m = mean|W|, t = mean of |W| over |W| > m,
 * step = 2t / (2^b - 1), Q = round(clip(W, -t, t) / step) * step; per tensor or per row.
 */
export function twnMx(bits: number, opts: { clip?: number; rowwise?: boolean } = {}): Quantizer {
  const { clip = 2.5, rowwise = false } = opts;
  const factor = (w: tf.Tensor): Factored => {
    let t: tf.Tensor | number;
    if (rowwise) {
      const absW = tf.abs(w);
      const mask = gt(absW, tf.mean(absW, -1, true));
      t = tf.div(tf.sum(tf.mul(absW, mask), -1, true), tf.sum(mask, -1, true));
    } else {
      const st = absStats(w);
      const a = st.above(st.mean);
      t = f32(a.sum / a.count);
    }
    const step = tf.div(tf.mul(t, 2), 2 ** bits - 1);
    return { ints: tf.round(tf.div(tf.minimum(tf.maximum(w, tf.neg(t)), t), step)), scale: step, divide: false };
  };
  return makeQuantizer(
    `twn-mx${bits}${rowwise ? '-row' : ''}`,
    clip,
    (w) => unfactor(factor(w)),
    rowwise ? undefined : factor,
    rowwise,
  );
}

/**
 * Symmetric min-max (SymQuantizer), per tensor: s = (2^(b-1) - 1) / max|x_c|, Q = round(x_c s) / s, with x_c the
 * input clipped to +-clip; dynamic (recomputed every call). Used for 8-bit activations and 8-bit weights.
 * `rounding: 'half-even'` is torch.round (the reference); tf.round rounds half to even too.
 */
export function sym(bits: number, opts: { clip?: number } = {}): Quantizer {
  const { clip = 2.5 } = opts;
  const levels = 2 ** (bits - 1) - 1;
  const factor = (x: tf.Tensor): Factored => {
    const { ints, scale } = symInts(x, levels);
    return { ints, scale, divide: true };
  };
  return makeQuantizer(`sym${bits}`, clip, (x) => unfactor(factor(x)), factor);
}

export type QuantizerSpec =
  | { kind: 'twn'; rowwise?: boolean; clip?: number }
  | { kind: 'twn-mx'; bits: number; rowwise?: boolean; clip?: number }
  | { kind: 'sym'; bits: number; clip?: number }
  | { kind: 'none' };

export function makeQuantizerFromSpec(s: QuantizerSpec): Quantizer | null {
  switch (s.kind) {
    case 'twn':
      return twn(s);
    case 'twn-mx':
      return twnMx(s.bits, s);
    case 'sym':
      return sym(s.bits, s);
    case 'none':
      return null;
  }
}
