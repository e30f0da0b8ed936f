/**
 * --dynamic-padding (data.dynamicPadding): batches padded to their longest sequence. The trimmed batch holds the
 * same tokens; a full-precision model gives the same logits either way (padded keys get exp(-10000) = 0 weight);
 * the flag reaches the config, and the run name keeps such runs apart from reference-faithful ones.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/backend.js';
import { makeBatch, disposeBatch } from '../src/train/batches.js';
import { initParams } from '../src/model/init.js';
import { bertForward } from '../src/model/bert.js';
import { runConfigFromFlags } from '../src/cli/common.js';
import { runName } from '../src/sweep/runs.js';
import { resolveConfig } from '../src/train/config.js';
import { ConfigError } from '../src/util/errors.js';
import { tinyConfig } from './helpers/env.js';
import type { Features } from '../src/data/features.js';

test.before(async () => {
  await initBackend('cpu', { quiet: true });
});

/** n sequences padded to T, lengths `lens`, token ids 1..vocab-1 */
function features(lens: number[], T: number, vocab: number): Features {
  const n = lens.length,
    ids = new Int32Array(n * T),
    tt = new Int32Array(n * T),
    am = new Int32Array(n * T);
  lens.forEach((L, i) => {
    for (let t = 0; t < L; t++) {
      ids[i * T + t] = 1 + ((i * 31 + t * 7) % (vocab - 1));
      tt[i * T + t] = t >= L / 2 ? 1 : 0;
      am[i * T + t] = 1;
    }
  });
  return {
    inputIds: ids,
    tokenTypeIds: tt,
    attentionMask: am,
    seqLengths: Int32Array.from(lens),
    labels: Int32Array.from(lens, (_, i) => i % 2),
    n,
    T,
  };
}

test('a trimmed batch is the padded batch cut to its longest sequence', (t) => {
  const f = features([5, 9, 3, 12, 7], 16, 40);
  const idx = [0, 2, 4, 1];
  const full = makeBatch(f, idx, false),
    trim = makeBatch(f, idx, false, true);
  t.deepEqual(trim.batch.inputIds.shape, [4, 9]);
  for (const k of ['inputIds', 'tokenTypeIds', 'attentionMask'] as const) {
    t.deepEqual(trim.batch[k].arraySync(), tf.slice(full.batch[k], [0, 0], [4, 9]).arraySync(), k);
  }
  t.is(trim.tokens, full.tokens);
  t.deepEqual(Array.from(trim.kd.seqLengths.dataSync()), [5, 3, 7, 9]);
  disposeBatch(full);
  disposeBatch(trim);
});

test('a full-precision model gives the same logits with and without dynamic padding', (t) => {
  const c = tinyConfig({
    vocab_size: 40,
    num_labels: 2,
    max_position_embeddings: 32,
    hidden_size: 16,
    num_attention_heads: 2,
    intermediate_size: 32,
  });
  const p = initParams(c, 5);
  const f = features([5, 9, 3, 12], 24, 40);
  const idx = [0, 1, 2, 3];
  const logits = (trim: boolean) => {
    const b = makeBatch(f, idx, false, trim);
    const l = tf.tidy(() => bertForward(p, c, b.batch).logits.arraySync());
    disposeBatch(b);
    return l.flat();
  };
  const a = logits(false),
    b = logits(true);
  t.is(a.length, 8);
  a.forEach((v, i) => t.true(Math.abs(v - b[i]) < 1e-5, `logit ${i}: ${v} vs ${b[i]}`));
});

test('--dynamic-padding sets data.dynamicPadding, off by default, and marks the run name', (t) => {
  const off = runConfigFromFlags({ task: 'cola' }),
    on = runConfigFromFlags({ task: 'cola', 'dynamic-padding': true });
  t.false(off.data.dynamicPadding);
  t.true(on.data.dynamicPadding);
  t.is(runName(off), `${off.kd.preset}_s42`);
  t.is(runName(on), `${on.kd.preset}_dp_s42`);
  t.throws(() => resolveConfig({ data: { dynamicPadding: 'yes' } }), {
    instanceOf: ConfigError,
    message: /dynamicPadding/,
  });
});
