/**
 * Quantizers of the reference (transformer/utils_quant.py), each a small object whose `apply` is the quantized
 * forward with an explicit straight-through estimator (STE): dL/dx = dL/dQ where -clip < x < clip (the unclipped
 * latent value), 0 elsewhere. No gradient flows through the scale statistics (alpha, Delta, max), as in the
 * reference's autograd Functions.
 */
import * as tf from '@tensorflow/tfjs';

export interface Quantizer {
  readonly name: string;
  /** quantized value of x (same shape), with the STE gradient */
  apply(x: tf.Tensor): tf.Tensor;
  /** the quantized value without gradient bookkeeping (for inspection / export) */
  quantize(x: tf.Tensor): tf.Tensor;
}

/** Wrap a forward `q(x_clipped)` with the clip and the STE mask 1[-c < x < c]. */
function withSte(clip: number, q: (xc: tf.Tensor) => tf.Tensor): (x: tf.Tensor) => tf.Tensor {
  return tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    save([x]);
    return {
      value: q(tf.clipByValue(x, -clip, clip)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const inside = tf.logicalAnd(tf.greater(saved[0], -clip), tf.less(saved[0], clip));
        return tf.mul(dy, tf.cast(inside, 'float32'));
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;
}

function makeQuantizer(name: string, clip: number, q: (xc: tf.Tensor) => tf.Tensor): Quantizer {
  const ste = withSte(clip, q);
  return {
    name,
    apply: (x) => ste(x),
    quantize: (x) => tf.tidy(() => q(tf.clipByValue(x, -clip, clip))),
  };
}

/**
 * TWN ternary (TwnQuantizer). Per tensor: Delta = 0.7 mean|W|, alpha = mean of |W| over |W| > Delta,
 * Q = alpha sign(W) 1[|W| > Delta]. rowwise: the same per row of a 2-D [rows, cols] weight (word embeddings).
 */
export function twn(opts: { clip?: number; rowwise?: boolean } = {}): Quantizer {
  const { clip = 2.5, rowwise = false } = opts;
  return makeQuantizer(`twn${rowwise ? '-row' : ''}`, clip, (w) => {
    const axis = rowwise ? -1 : undefined;
    const absW = tf.abs(w);
    const delta = tf.mul(tf.mean(absW, axis, true), 0.7);
    const mask = tf.cast(tf.greater(absW, delta), 'float32');
    const alpha = tf.div(tf.sum(tf.mul(absW, mask), axis, true), tf.sum(mask, axis, true));
    const pos = tf.cast(tf.greater(w, delta), 'float32');
    const neg = tf.cast(tf.less(w, tf.neg(delta)), 'float32');
    return tf.mul(alpha, tf.sub(pos, neg));
  });
}

/**
 * TwnQuantizer_mx (the reference's 4-bit "mixed precision" weights): m = mean|W|, t = mean of |W| over |W| > m,
 * step = 2t / (2^b - 1), Q = round(clip(W, -t, t) / step) * step; per tensor or per row.
 */
export function twnMx(bits: number, opts: { clip?: number; rowwise?: boolean } = {}): Quantizer {
  const { clip = 2.5, rowwise = false } = opts;
  return makeQuantizer(`twn-mx${bits}${rowwise ? '-row' : ''}`, clip, (w) => {
    const axis = rowwise ? -1 : undefined;
    const absW = tf.abs(w);
    const m = tf.mean(absW, axis, true);
    const mask = tf.cast(tf.greater(absW, m), 'float32');
    const t = tf.div(tf.sum(tf.mul(absW, mask), axis, true), tf.sum(mask, axis, true));
    const step = tf.div(tf.mul(t, 2), 2 ** bits - 1);
    return tf.mul(tf.round(tf.div(tf.minimum(tf.maximum(w, tf.neg(t)), t), step)), step);
  });
}

/**
 * Symmetric min-max (SymQuantizer), per tensor: s = (2^(b-1) - 1) / max|x_c|, Q = round(x_c s) / s, with x_c the
 * input clipped to +-clip; dynamic (recomputed every call). Used for 8-bit activations and 8-bit weights.
 * `rounding: 'half-even'` is torch.round (the reference); tf.round rounds half to even too.
 */
export function sym(bits: number, opts: { clip?: number } = {}): Quantizer {
  const { clip = 2.5 } = opts;
  const levels = 2 ** (bits - 1) - 1;
  return makeQuantizer(`sym${bits}`, clip, (x) => {
    const s = tf.div(levels, tf.max(tf.abs(x)));
    return tf.div(tf.round(tf.mul(x, s)), s);
  });
}

export type QuantizerSpec =
  | { kind: 'twn'; rowwise?: boolean; clip?: number }
  | { kind: 'twn-mx'; bits: number; rowwise?: boolean; clip?: number }
  | { kind: 'sym'; bits: number; clip?: number }
  | { kind: 'none' };

export function makeQuantizerFromSpec(s: QuantizerSpec): Quantizer | null {
  switch (s.kind) {
    case 'twn': return twn(s);
    case 'twn-mx': return twnMx(s.bits, s);
    case 'sym': return sym(s.bits, s);
    case 'none': return null;
  }
}
