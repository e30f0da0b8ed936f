/** Shared by the export tests and their child process: a random ternary student, exported, against its latent self. */
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bertForward, type Batch, type Params, type QuantHooks } from '../../src/model/bert.js';
import type { BertConfig } from '../../src/model/config.js';
import { saveBertDir } from '../../src/model/checkpoint.js';
import { initParams } from '../../src/model/init.js';
import { makeQuantHooks, QUANT_DEFAULTS } from '../../src/quant/plan.js';
import { exportStudent } from '../../src/export/export-student.js';
import { loadExportedModel } from '../../src/export/packed-model.js';
import { mulberry32 } from '../../src/util/random.js';
import { tinyConfig } from './env.js';

export const tmp = (): string => mkdtempSync(join(tmpdir(), 'kdqat-export-'));

/** [B,T] random ids (id 0 = padding after each example's length), token types 0/1, mask */
export function randomBatch(c: BertConfig, B: number, T: number, seed: number): Batch {
  const r = mulberry32(seed);
  const ids = new Int32Array(B * T),
    tt = new Int32Array(B * T),
    am = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const len = 2 + Math.floor(r() * (T - 1));
    for (let t = 0; t < len; t++) {
      ids[b * T + t] = 1 + Math.floor(r() * (c.vocab_size - 1));
      tt[b * T + t] = t > len / 2 ? 1 : 0;
      am[b * T + t] = 1;
    }
  }
  return {
    inputIds: tf.tensor2d(ids, [B, T], 'int32'),
    tokenTypeIds: tf.tensor2d(tt, [B, T], 'int32'),
    attentionMask: tf.tensor2d(am, [B, T], 'int32'),
  };
}

/** A random student folder (latent weights + the default ternary quantizer settings) */
export async function randomStudent(dir: string, c: BertConfig, seed: number): Promise<Params> {
  const p = initParams(c, seed);
  await saveBertDir(dir, c, p, { kind: 'student', quant: QUANT_DEFAULTS });
  return p;
}

export const logitsOf = (params: Params, c: BertConfig, batch: Batch, quant?: QuantHooks): Float32Array =>
  tf.tidy(() => bertForward(params, c, batch, { quant }).logits).dataSync() as Float32Array;

export const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

/** Export a random student and compare the packed model's logits with the latent student's (quantizers applied). */
export async function packedVsLatent(seed: number): Promise<{ maxDiff: number; n: number; scale: number }> {
  const c = tinyConfig({ vocab_size: 97, max_position_embeddings: 24 });
  const dir = tmp();
  const p = await randomStudent(join(dir, 'student'), c, seed);
  await exportStudent(join(dir, 'student'), join(dir, 'export'));
  const m = loadExportedModel(join(dir, 'export'));
  const batch = randomBatch(c, 5, 17, seed);
  const latent = logitsOf(p, c, batch, makeQuantHooks(QUANT_DEFAULTS));
  const packed = logitsOf(m.params, m.config, batch, m.hooks);
  m.dispose();
  tf.dispose([...Object.values(p), ...Object.values(batch)]);
  return { maxDiff: maxAbsDiff(latent, packed), n: latent.length, scale: Math.max(...Array.from(latent, Math.abs)) };
}
