/**
 * Self-attention map distances between a student and a teacher (docs/method.md §7a, the reference's Exp1 notebook),
 * one value per head, vectorised over rows and key pairs. P are the pre-dropout softmax maps of ONE example,
 * [H, n, n] (rows = queries, columns = keys), n = the positions used (the example's seq_length, or all T).
 *
 *   ranking loss   R_h = sum_{r<n} sum_{i in [0,n-2]} sum_{j in [1,n-1]} max(0, -(S_rj - S_ri) sign(T_rj - T_ri))
 *                  (i = j and both orders included, summed, as the notebook's loops)
 *   cover length   C_h = (1/n) sum_{r<n-1} pos_max(r) / n, pos_max(r) = the largest position, in the student's
 *                  descending order of row r, of the teacher's top-5 keys of row r (0-based)
 *   row KL         K_h = (1/n) sum_{r,j<n} T_rj (log T_rj - log S_rj), both clamped at 1e-8 (the map loss per head)
 */
import * as tf from '@tensorflow/tfjs';

/** max entries of the [H, rows, n-1, n-1] pair tensor built at once (bounded memory for long sequences) */
const PAIR_CHUNK = 1 << 23;

/**
 * pairwise differences of each row: x [M,n] -> [M,n-1,n-1], d[m,i,j] = x[m,j+1] - x[m,i] (i in [0,n-2], key j+1 in
 * [1,n-1]); `negate` gives x[m,i] - x[m,j+1]. A batched product with inner size 2, ([1, -x_i] . [x_j, 1]), which
 * the backends run much faster than a broadcasting subtraction.
 */
function pairDiff(x: tf.Tensor2D, negate: boolean): tf.Tensor3D {
  const [M, n] = x.shape;
  const xi = tf.reshape(tf.slice(x, [0, 0], [M, n - 1]), [M, n - 1, 1]);
  const xj = tf.reshape(tf.slice(x, [0, 1], [M, n - 1]), [M, n - 1, 1]);
  const one = tf.onesLike(xi);
  const a = negate ? tf.concat([one, xi], 2) : tf.concat([one, tf.neg(xi)], 2);
  const b = negate ? tf.concat([tf.neg(xj), one], 2) : tf.concat([xj, one], 2);
  return tf.matMul(a, b, false, true) as tf.Tensor3D;
}

/** ranking loss per head; s, t [H,n,n] -> [H]. Summand rewritten as relu((S_ri - S_rj) sign(T_rj - T_ri)). */
export function rankingLoss(s: tf.Tensor3D, t: tf.Tensor3D): tf.Tensor1D {
  const [H, n] = s.shape;
  if (n < 2) return tf.zeros([H]) as tf.Tensor1D;
  const rowsPerChunk = Math.max(1, Math.floor(PAIR_CHUNK / (H * (n - 1) * (n - 1))));
  const parts: tf.Tensor1D[] = [];
  for (let r0 = 0; r0 < n; r0 += rowsPerChunk) {
    const R = Math.min(rowsPerChunk, n - r0);
    parts.push(
      tf.tidy(() => {
        const rows = (x: tf.Tensor3D) => tf.reshape(tf.slice(x, [0, r0, 0], [H, R, n]), [H * R, n]) as tf.Tensor2D;
        const terms = tf.relu(tf.mul(pairDiff(rows(s), true), tf.sign(pairDiff(rows(t), false)))); // [H*R, n-1, n-1]
        // staged sums (keys, then i, then rows): a single float32 sum over H * n^3 terms loses ~1e-3 at n = 140
        return tf.sum(tf.reshape(tf.sum(tf.sum(terms, 2), 1), [H, R]), 1) as tf.Tensor1D;
      }),
    );
  }
  const out = parts.length === 1 ? parts[0] : tf.tidy(() => tf.addN(parts) as tf.Tensor1D);
  if (parts.length > 1) tf.dispose(parts);
  return out;
}

/**
 * cover length ratio per head (top_k = 5, or n if smaller); s, t [H,n,n] -> [H].
 * The position of key k in the student's descending order of row r is #{j : S_rj > S_rk} (ties broken by index).
 */
export function coverLengthRatio(s: tf.Tensor3D, t: tf.Tensor3D, topK = 5): tf.Tensor1D {
  const [H, n] = s.shape;
  if (n < 2) return tf.zeros([H]) as tf.Tensor1D;
  const k = Math.min(topK, n);
  return tf.tidy(() => {
    const R = n - 1; // rows r < n - 1
    const sr = tf.slice(s, [0, 0, 0], [H, R, n]);
    const tr = tf.slice(t, [0, 0, 0], [H, R, n]);
    const idx = tf.topk(tr, k).indices; // [H,R,k] teacher's top-k keys
    // the student's values at those keys: one-hot [H*R,k,n] @ S rows [H*R,n,1] (a gather with batch dims h, r)
    // cast, not oneHot's dtype: wasm's OneHot with dtype float32 writes int bits
    const oh = tf.cast(tf.oneHot(tf.reshape(idx, [H * R, k]), n), 'float32');
    const sk = tf.reshape(tf.matMul(oh, tf.reshape(sr, [H * R, n, 1])), [H, R, k, 1]);
    const sv = tf.reshape(sr, [H, R, 1, n]);
    const keyPos = tf.reshape(tf.range(0, n, 1, 'int32'), [1, 1, 1, n]);
    const idx4 = tf.reshape(idx, [H, R, k, 1]);
    // rank = #(S_j > S_k) + #(S_j == S_k and j < k): a stable descending argsort's position
    const before = tf.logicalOr(tf.greater(sv, sk), tf.logicalAnd(tf.equal(sv, sk), tf.less(keyPos, idx4)));
    const pos = tf.sum(tf.cast(before, 'float32'), 3); // [H,R,k]
    const posMax = tf.max(pos, 2); // [H,R]
    return tf.div(tf.sum(posMax, 1), n * n) as tf.Tensor1D;
  });
}

/** mean row KL per head (the map loss of one example and head); s, t [H,n,n] -> [H] */
export function rowKl(s: tf.Tensor3D, t: tf.Tensor3D): tf.Tensor1D {
  const n = s.shape[1];
  return tf.tidy(() => {
    const ps = tf.maximum(s, 1e-8),
      pt = tf.maximum(t, 1e-8);
    return tf.div(tf.sum(tf.mul(pt, tf.sub(tf.log(pt), tf.log(ps))), [1, 2]), n) as tf.Tensor1D;
  });
}

export interface HeadDistances {
  /** [L][H] per metric */
  rankingLoss: number[][];
  coverLengthRatio: number[][];
  rowKl: number[][];
}

/**
 * All three metrics for every layer and head of one example. probs: per-layer [B,H,T,T]; example b;
 * n = positions used (the first n rows and columns).
 */
export async function headDistances(
  student: tf.Tensor4D[],
  teacher: tf.Tensor4D[],
  b: number,
  n: number,
): Promise<HeadDistances> {
  const out: HeadDistances = { rankingLoss: [], coverLengthRatio: [], rowKl: [] };
  for (let l = 0; l < student.length; l++) {
    const [, H, T] = student[l].shape;
    if (n > T || n < 1) throw new Error(`headDistances: n = ${n} outside [1, ${T}]`);
    const m = tf.tidy(() => {
      const cut = (p: tf.Tensor4D) => tf.reshape(tf.slice(p, [b, 0, 0, 0], [1, H, n, n]), [H, n, n]) as tf.Tensor3D;
      const s = cut(student[l]),
        t = cut(teacher[l]);
      return tf.stack([rankingLoss(s, t), coverLengthRatio(s, t), rowKl(s, t)]);
    });
    const v = (await m.array()) as number[][];
    m.dispose();
    out.rankingLoss.push(v[0]);
    out.coverLengthRatio.push(v[1]);
    out.rowKl.push(v[2]);
  }
  return out;
}
