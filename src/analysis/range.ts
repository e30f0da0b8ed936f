/**
 * Attention-output dynamic range (docs/method.md §7c, the reference's Exp3 min-max notebook): for every layer l and
 * token t, min_d A_l[b,t,d] and max_d A_l[b,t,d], A_l = the post-LayerNorm attention sublayer output.
 */
import * as tf from '@tensorflow/tfjs';

export interface TokenRange {
  /** [L][n] */
  min: number[][];
  max: number[][];
}

/** attnOutput: per-layer [B,T,D]; example b; the first n tokens. */
export async function attentionOutputRange(attnOutput: tf.Tensor3D[], b: number, n: number): Promise<TokenRange> {
  const out: TokenRange = { min: [], max: [] };
  for (const a of attnOutput) {
    const [, T, D] = a.shape;
    if (n > T || n < 1) throw new Error(`attentionOutputRange: n = ${n} outside [1, ${T}]`);
    const m = tf.tidy(() => {
      const x = tf.reshape(tf.slice(a, [b, 0, 0], [1, n, D]), [n, D]);
      return tf.stack([tf.min(x, 1), tf.max(x, 1)]); // [2,n]
    });
    const v = (await m.array()) as number[][];
    m.dispose();
    out.min.push(v[0]);
    out.max.push(v[1]);
  }
  return out;
}
