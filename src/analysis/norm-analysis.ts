/**
 * Norm-based attention analysis (docs/method.md §7d; Kobayashi et al. EMNLP 2020), for ONE example of n tokens
 * (B = 1).
 * alpha = pre-dropout softmax [H,n,n] (query i, key j); fx = ||f^h(x_j)|| [H,n]; afx = alpha^h_ij ||f^h(x_j)||
 * [H,n,n]; sumAfx = ||sum_h alpha^h_ij f^h(x_j)|| [n,n] (src/model/norms.ts).
 *
 * Per-head values at one token s (the first [SEP] by default), per layer and head:
 *   prob = mean_i alpha_{i,s} (attention received by s); fx = ||f(x_s)||; afx = ||(alpha_{s,j} ||f(x_j)||)_j||_2
 *   (query row s). The notebook's "DIFF PROB" indexes the query row of s (always ~0); here differences use the
 *   received attention, the quantity the PROB panels show.
 * Per-layer values for a token class K (a key mask), per model; the curves plot |teacher - student| averaged over
 * examples containing [SEP]:
 *   alpha = mean_{h,i, j in K} alpha_ij;  fx = mean_{h, j in K} ||f(x_j)||;  sumAfx = mean_{i, j in K} sumAfx_ij.
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerNorms } from '../model/norms.js';

export const TOKEN_CLASSES = ['CLS', 'SEP', 'punct', 'other', 'all'] as const;
export type TokenClass = (typeof TOKEN_CLASSES)[number];

export interface TokenClassIds {
  cls: number;
  sep: number;
  punct: number[];
}

/** BERT uncased vocabulary ids: [CLS] 101, [SEP] 102, "," 1010, "." 1012 */
export const BERT_UNCASED_IDS: TokenClassIds = { cls: 101, sep: 102, punct: [1010, 1012] };

/** per-class 0/1 key masks of one example's ids (length n); plain JS over metadata */
export function classMasks(ids: ArrayLike<number>, c: TokenClassIds): Record<TokenClass, Float32Array> {
  const n = ids.length;
  const m = Object.fromEntries(TOKEN_CLASSES.map((k) => [k, new Float32Array(n)])) as Record<TokenClass, Float32Array>;
  for (let j = 0; j < n; j++) {
    const id = ids[j];
    const k: TokenClass = id === c.cls ? 'CLS' : id === c.sep ? 'SEP' : c.punct.includes(id) ? 'punct' : 'other';
    m[k][j] = 1;
    m.all[j] = 1;
  }
  return m;
}

export interface HeadNormValues {
  prob: number[][];
  fx: number[][];
  afx: number[][];
} // [L][H]
export interface ClassNormValues {
  alpha: number[];
  fx: number[];
  sumAfx: number[];
} // [L]; NaN when K is empty

export interface ExampleNorms {
  token: number;
  heads: HeadNormValues;
  classes: Record<TokenClass, ClassNormValues>;
}

/** probs: per-layer [1,H,n,n]; norms: per-layer LayerNorms with B = 1; ids: the n token ids; token: index s. */
export async function exampleNorms(
  probs: tf.Tensor4D[],
  norms: LayerNorms[],
  ids: ArrayLike<number>,
  token: number,
  c: TokenClassIds,
): Promise<ExampleNorms> {
  const L = probs.length;
  const [, H, n] = probs[0].shape;
  if (ids.length !== n) throw new Error(`exampleNorms: ${ids.length} ids for maps of ${n} tokens`);
  if (token < 0 || token >= n) throw new Error(`exampleNorms: token index ${token} outside [0, ${n})`);
  const masks = classMasks(ids, c);
  const heads: HeadNormValues = { prob: [], fx: [], afx: [] };
  const classes = Object.fromEntries(
    TOKEN_CLASSES.map((k) => [k, { alpha: [], fx: [], sumAfx: [] }]),
  ) as unknown as Record<TokenClass, ClassNormValues>;
  const K = tf.tensor2d(
    TOKEN_CLASSES.map((k) => Array.from(masks[k])),
    [TOKEN_CLASSES.length, n],
  ); // [C,n]
  const counts = TOKEN_CLASSES.map((k) => masks[k].reduce((a, b) => a + b, 0));
  for (let l = 0; l < L; l++) {
    const t = tf.tidy(() => {
      const a = tf.reshape(probs[l], [H, n, n]);
      const fx = tf.reshape(norms[l].fx, [H, n]);
      const afx = tf.reshape(norms[l].afx, [H, n, n]);
      const safx = tf.reshape(norms[l].sumAfx, [n, n]);
      const headRow = tf.stack([
        tf.mean(tf.reshape(tf.slice(a, [0, 0, token], [H, n, 1]), [H, n]), 1), // mean_i alpha_{i,s}
        tf.reshape(tf.slice(fx, [0, token], [H, 1]), [H]), // ||f(x_s)||
        tf.norm(tf.reshape(tf.slice(afx, [0, token, 0], [H, 1, n]), [H, n]), 'euclidean', 1), // ||alpha_{s,.} f||
      ]); // [3,H]
      // class sums over keys j: alpha summed over h,i -> [n]; fx summed over h -> [n]; sumAfx summed over i -> [n]
      const perKey = tf.stack([tf.sum(a, [0, 1]), tf.sum(fx, 0), tf.sum(safx, 0)]); // [3,n]
      const classSums = tf.matMul(perKey, K, false, true); // [3,C]
      return [headRow, classSums];
    });
    const [hr, cs] = (await Promise.all(t.map((x) => x.array()))) as [number[][], number[][]];
    tf.dispose(t);
    heads.prob.push(hr[0]);
    heads.fx.push(hr[1]);
    heads.afx.push(hr[2]);
    TOKEN_CLASSES.forEach((k, ci) => {
      const cnt = counts[ci];
      classes[k].alpha.push(cnt ? cs[0][ci] / (H * n * cnt) : NaN);
      classes[k].fx.push(cnt ? cs[1][ci] / (H * cnt) : NaN);
      classes[k].sumAfx.push(cnt ? cs[2][ci] / (n * cnt) : NaN);
    });
  }
  K.dispose();
  return { token, heads, classes };
}

/** index of the first occurrence of id in ids, or -1 */
export function firstIndexOf(ids: ArrayLike<number>, id: number): number {
  for (let i = 0; i < ids.length; i++) if (ids[i] === id) return i;
  return -1;
}
