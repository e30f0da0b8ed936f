/**
 * The KD loss table (docs/method.md §4): named terms, each weighted by a coefficient (0 = off), summed.
 *   L = sum_term coeff[term] * L_term(student, teacher, batch)
 * MSE is torch.nn.MSELoss(): the mean over ALL elements, padding included.
 */
import * as tf from '@tensorflow/tfjs';
import type { BertOutputs } from '../model/bert.js';

export const TERMS = ['gt', 'pred', 'rep', 'score', 'context', 'sa_output', 'map', 'output'] as const;
export type Term = (typeof TERMS)[number];
export type Coeffs = Record<Term, number>;

export interface KdOptions {
  regression: boolean;
  /** the reference's gt loss for regression is MSE(z_S, z_T) (teacher logits, a quirk); true = MSE(z_S, labels) */
  gtRegressionUsesLabels: boolean;
}

export interface KdBatch {
  labels: tf.Tensor1D; // [B] int32 (classification) or float32 (regression)
  seqLengths: tf.Tensor1D; // [B] int32, true lengths n_b
}

/** mean over all elements of (a - b)^2 (torch MSELoss; square(sub) rather than squaredDifference, see stack-notes) */
export function mse(a: tf.Tensor, b: tf.Tensor): tf.Scalar {
  const d = tf.sub(a, b);
  return tf.mean(tf.mul(d, d));
}

const sumOver = <T extends tf.Tensor>(s: T[], t: T[], f: (a: T, b: T) => tf.Scalar): tf.Scalar =>
  s.map((x, i) => f(x, t[i])).reduce((a, b) => tf.add(a, b));

/** soft cross-entropy, temperature 1: mean_b sum_c -softmax(z_T)_c log softmax(z_S)_c ; z [B,C] */
export function softCrossEntropy(zs: tf.Tensor2D, zt: tf.Tensor2D): tf.Scalar {
  return tf.mean(tf.sum(tf.mul(tf.neg(tf.softmax(zt)), tf.logSoftmax(zs)), -1));
}

/** scores with masked entries (<= -100) set to 0: where(s <= -100, 0, s) ; s [B,H,T,T] */
function unmaskScores(s: tf.Tensor): tf.Tensor {
  return tf.where(tf.lessEqual(s, -100), tf.zerosLike(s), s);
}

/** valid-block mask m[b,i,j] = 1[i < n_b] 1[j < n_b], as [B,1,T,T] float */
export function validBlock(seqLengths: tf.Tensor1D, T: number): tf.Tensor4D {
  const B = seqLengths.shape[0];
  // [B,T]
  const valid = tf.cast(tf.less(tf.range(0, T, 1, 'int32').reshape([1, T]), seqLengths.reshape([B, 1])), 'float32');
  return tf.mul(valid.reshape([B, 1, T, 1]), valid.reshape([B, 1, 1, T])) as tf.Tensor4D;
}

/**
 * Attention-map loss of one layer: mean_{b,h} (1/n_b) sum_{i,j<n_b} pT (log pT - log pS), with p = max(P, 1e-8).
 * pS, pT [B,H,T,T]; block [B,1,T,T]; n [B] float.
 */
export function mapKl(pS: tf.Tensor4D, pT: tf.Tensor4D, block: tf.Tensor4D, n: tf.Tensor1D): tf.Scalar {
  // clamp_min(p, 1e-8) as clipByValue: same values and gradient (1 where p >= 1e-8), ~20x faster than maximum on wasm
  const ps = tf.clipByValue(pS, 1e-8, 3.4e38),
    pt = tf.clipByValue(pT, 1e-8, 3.4e38);
  const kl = tf.sum(tf.mul(tf.mul(pt, tf.sub(tf.log(pt), tf.log(ps))), block), [2, 3]); // [B,H]
  return tf.mean(tf.div(kl, n.reshape([-1, 1])));
}

type TermFn = (s: BertOutputs, t: BertOutputs, b: KdBatch, o: KdOptions) => tf.Scalar;

/** One row per term: the formula of docs/method.md §4. */
export const TERM_FNS: Record<Term, TermFn> = {
  // classification: NLL of log_softmax(z_S), SUM over the batch; regression: MSE(z_S, z_T) (reference quirk)
  gt: (s, t, b, o): tf.Scalar =>
    o.regression
      ? mse(s.logits.reshape([-1]), o.gtRegressionUsesLabels ? b.labels : t.logits.reshape([-1]))
      : (tf.neg(
          tf.sum(
            tf.mul(tf.logSoftmax(s.logits), tf.oneHot(tf.cast(b.labels, 'int32') as tf.Tensor1D, s.logits.shape[1])),
          ),
        ) as tf.Scalar),
  pred: (s, t, _b, o) => (o.regression ? mse(s.logits, t.logits) : softCrossEntropy(s.logits, t.logits)),
  rep: (s, t) => sumOver(s.hidden, t.hidden, mse),
  score: (s, t) => sumOver(s.scores, t.scores, (a, c) => mse(unmaskScores(a), unmaskScores(c))),
  context: (s, t) => sumOver(s.context, t.context, mse),
  sa_output: (s, t) => sumOver(s.saOutput, t.saOutput, mse),
  output: (s, t) => sumOver(s.attnOutput, t.attnOutput, mse),
  map: (s, t, b) => {
    const T = s.probs[0].shape[2];
    const block = validBlock(b.seqLengths, T);
    const n = tf.cast(b.seqLengths, 'float32') as tf.Tensor1D;
    return sumOver(s.probs, t.probs, (a, c) => mapKl(a, c, block, n));
  },
};

export interface KdLoss {
  total: tf.Scalar;
  terms: Partial<Record<Term, tf.Scalar>>;
}

/** The unweighted terms L_term (scalars) of every term with coeff != 0, in TERMS order. */
export function kdTerms(
  s: BertOutputs,
  t: BertOutputs,
  b: KdBatch,
  coeffs: Coeffs,
  o: KdOptions,
): Partial<Record<Term, tf.Scalar>> {
  const terms: Partial<Record<Term, tf.Scalar>> = {};
  for (const term of TERMS) if (coeffs[term]) terms[term] = TERM_FNS[term](s, t, b, o);
  return terms;
}

/** sum over the given terms of coeff * L_term, folded in TERMS order (a coefficient of 1 adds no multiply). */
export function weightedSum(terms: Partial<Record<Term, tf.Scalar>>, coeffs: Coeffs): tf.Scalar {
  let total: tf.Scalar | undefined;
  for (const term of TERMS) {
    const v = terms[term],
      c = coeffs[term];
    if (!v || !c) continue;
    const w: tf.Scalar = c === 1 ? v : tf.mul(v, c);
    total = total ? (tf.add(total, w) as tf.Scalar) : w;
  }
  if (!total) throw new Error('kdLoss: every loss coefficient is 0; enable at least one term');
  return total;
}

/** total = sum over terms with coeff != 0 of coeff * L_term; the unweighted terms are returned too. */
export function kdLoss(s: BertOutputs, t: BertOutputs, b: KdBatch, coeffs: Coeffs, o: KdOptions): KdLoss {
  const terms = kdTerms(s, t, b, coeffs, o);
  return { total: weightedSum(terms, coeffs), terms };
}

/** Named presets (docs/method.md §4.1). */
export const PRESETS: Record<string, Coeffs> = {
  ternarybert: { gt: 0, pred: 1, rep: 1, score: 1, context: 0, sa_output: 0, map: 0, output: 0 },
  map: { gt: 0, pred: 1, rep: 1, score: 0, context: 0, sa_output: 0, map: 1, output: 0 },
  output: { gt: 0, pred: 1, rep: 1, score: 0, context: 0, sa_output: 0, map: 0, output: 1 },
  'map+output': { gt: 0, pred: 1, rep: 1, score: 0, context: 0, sa_output: 0, map: 1, output: 1 },
};

/** coefficients of a preset with the exploration's map_coeff / output_coeff applied */
export function presetCoeffs(preset: string, mapCoeff = 1, outputCoeff = 1): Coeffs {
  const p = PRESETS[preset];
  if (!p) throw new Error(`unknown KD preset "${preset}": choose one of ${Object.keys(PRESETS).join(', ')}`);
  return { ...p, map: p.map ? mapCoeff : 0, output: p.output ? outputCoeff : 0 };
}
