/**
 * Batching of GLUE features: seeded random order per epoch for training (the reference's RandomSampler, with
 * drop_last=False), sequential order for evaluation. The order of epoch e depends only on (seed, e), so a resumed
 * run sees exactly the batches an uninterrupted one would.
 */
import * as tf from '@tensorflow/tfjs';
import type { Features } from '../data/features.js';
import type { Batch } from '../model/bert.js';
import type { KdBatch } from '../kd/losses.js';
import { mulberry32 } from '../util/random.js';

/** Fisher-Yates permutation of 0..n-1 for (seed, epoch). */
export function epochOrder(n: number, seed: number, epoch: number): Int32Array {
  const rnd = mulberry32((seed * 1_000_003 + epoch * 7919 + 1) >>> 0);
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

export const stepsPerEpoch = (n: number, batchSize: number): number => Math.ceil(n / batchSize);

/** Example indices of training step k (0-based). */
export function trainBatchIndices(n: number, batchSize: number, seed: number, step: number): Int32Array {
  const spe = stepsPerEpoch(n, batchSize);
  const epoch = Math.floor(step / spe),
    b = step % spe;
  return epochOrder(n, seed, epoch).subarray(b * batchSize, Math.min(n, (b + 1) * batchSize));
}

export interface TensorBatch {
  batch: Batch;
  kd: KdBatch;
  size: number;
  tokens: number;
}

/**
 * Gather rows `idx` of the features into tensors: ids/types/mask [b,T] int32, labels [b], seqLengths [b]. T is the
 * features' padded length, or with `trim` the longest sequence of these rows (dynamic padding).
 */
export function makeBatch(f: Features, idx: ArrayLike<number>, regression: boolean, trim = false): TensorBatch {
  const b = idx.length,
    F = f.T;
  let T = F;
  if (trim) {
    T = 1;
    for (let r = 0; r < b; r++) T = Math.max(T, f.seqLengths[idx[r]]);
  }
  const ids = new Int32Array(b * T),
    tt = new Int32Array(b * T),
    am = new Int32Array(b * T),
    sl = new Int32Array(b);
  const lab = regression ? new Float32Array(b) : new Int32Array(b);
  let tokens = 0;
  for (let r = 0; r < b; r++) {
    const i = idx[r];
    ids.set(f.inputIds.subarray(i * F, i * F + T), r * T);
    tt.set(f.tokenTypeIds.subarray(i * F, i * F + T), r * T);
    am.set(f.attentionMask.subarray(i * F, i * F + T), r * T);
    sl[r] = f.seqLengths[i];
    lab[r] = f.labels[i];
    tokens += f.seqLengths[i];
  }
  return {
    batch: {
      inputIds: tf.tensor2d(ids, [b, T], 'int32'),
      tokenTypeIds: tf.tensor2d(tt, [b, T], 'int32'),
      attentionMask: tf.tensor2d(am, [b, T], 'int32'),
    },
    kd: {
      labels: regression ? tf.tensor1d(lab, 'float32') : tf.tensor1d(lab, 'int32'),
      seqLengths: tf.tensor1d(sl, 'int32'),
    },
    size: b,
    tokens,
  };
}

export function disposeBatch(b: TensorBatch): void {
  tf.dispose([b.batch.inputIds, b.batch.tokenTypeIds, b.batch.attentionMask, b.kd.labels, b.kd.seqLengths]);
}

/** Sequential evaluation batches (`trim`: dynamic padding, as makeBatch). */
export function* evalBatches(
  f: Features,
  batchSize: number,
  regression: boolean,
  trim = false,
): Generator<TensorBatch> {
  for (let s = 0; s < f.n; s += batchSize) {
    const idx = Int32Array.from({ length: Math.min(batchSize, f.n - s) }, (_, i) => s + i);
    yield makeBatch(f, idx, regression, trim);
  }
}
