/**
 * The native backend's integer kernels (src/backend/native-integer.ts): a packed ternary student gives the same
 * logits, to the bit, with its ternary products on oneDNN's int8 GEMM as on float32 kernels; the benchmark labels
 * ternary rows "integer kernels" and int8 rows (not covered) "simulated".
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { initBackend } from '../src/backend/backend.js';
import { exportStudent } from '../src/export/export-student.js';
import { loadExportedModel } from '../src/export/packed-model.js';
import { hasIntegerKernels, integerMatMul } from '../src/backend/integer-kernels.js';
import { latencyPath, SIMULATED, INTEGER } from '../src/export/kernels.js';
import { integerStats, useNativeIntegerKernels } from '../src/backend/native-integer.js';
import { logitsOf, randomBatch, randomStudent, tmp } from './helpers/export.js';
import { tinyConfig } from './helpers/env.js';

test.before(async () => {
  await initBackend('native', { quiet: true });
});

test.serial(
  'packed ternary student: identical logits with and without the int8 GEMM; labels follow coverage',
  async (t) => {
    const c = tinyConfig({ vocab_size: 97, max_position_embeddings: 24 });
    const dir = tmp();
    await randomStudent(join(dir, 'student'), c, 5);
    await exportStudent(join(dir, 'student'), join(dir, 'export'));
    const m = loadExportedModel(join(dir, 'export'));
    const batch = randomBatch(c, 5, 17, 5);
    t.false(hasIntegerKernels('native', 'ternary'));
    t.is(latencyPath('ternary'), SIMULATED);
    const float = logitsOf(m.params, m.config, batch, m.hooks);
    t.true(useNativeIntegerKernels());
    t.true(hasIntegerKernels('native', 'ternary'));
    t.is(latencyPath('ternary'), INTEGER);
    t.is(latencyPath('int8'), SIMULATED);
    const before = { ...integerStats };
    const int = logitsOf(m.params, m.config, batch, m.hooks);
    t.deepEqual(int, float);
    t.true(
      integerStats.int8 - before.int8 >= 2 * 6,
      `ternary products on the int8 GEMM: ${integerStats.int8 - before.int8}`,
    );
    t.true(integerStats.declined > before.declined, 'the 8-bit x 8-bit attention products stay on float32 kernels');
    m.dispose();
    tf.dispose(Object.values(batch));
  },
);

test.serial('int8 GEMM: exact on extreme ternary x 8-bit products, declines 8-bit x 8-bit', (t) => {
  useNativeIntegerKernels();
  const a = tf.tensor2d(
    Float32Array.from({ length: 64 * 300 }, (_, i) => (i % 7 === 0 ? -127 : 127)),
    [64, 300],
  );
  const w = tf.tensor2d(
    Float32Array.from({ length: 48 * 300 }, (_, i) => (i % 3) - 1),
    [48, 300],
  );
  const got = integerMatMul(a, w, true).dataSync(),
    ref = tf.matMul(a, w, false, true).dataSync();
  t.deepEqual(got, ref);
  const viaInt = integerMatMul(a, tf.mul(w, 100), true).dataSync(); // falls back to float32: still exact
  t.deepEqual(viaInt, tf.matMul(a, tf.mul(w, 100), false, true).dataSync());
});
