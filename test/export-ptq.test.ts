import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { initBackend } from '../src/backend/backend.js';
import type { QuantHooks } from '../src/model/bert.js';
import { initParams } from '../src/model/init.js';
import { makeQuantHooks, QUANT_DEFAULTS } from '../src/quant/plan.js';
import {
  int8Contents,
  int8Linear,
  isLinearWeight,
  quantizeInt8PerChannel,
  ternaryContents,
} from '../src/export/ptq.js';
import { writeExport } from '../src/export/format.js';
import { deployedModel, loadExportedModel } from '../src/export/packed-model.js';
import { tinyConfig } from './helpers/env.js';
import { logitsOf, maxAbsDiff, randomBatch, tmp } from './helpers/export.js';
import { mulberry32 } from '../src/util/random.js';

test.before(async () => {
  await initBackend(process.env.KDQAT_BACKEND ?? 'cpu', { quiet: true });
});

/** round half to even, in float64 */
const rne = (x: number) => {
  const f = Math.floor(x),
    d = x - f;
  return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
};
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
const f32 = Math.fround;

/**
 * The dynamic int8 Linear written out directly (loops; elementwise steps rounded to float32 as a float32 runtime
 * does, sums in float64), from the FP weight W [O,K] and the input x [N,K]: per output channel symmetric int8
 * weights s_o = max|W_o| / 127, wq = clamp(round(W / s_o), -127, 127); per-tensor asymmetric uint8 input over
 * [min(x, 0), max(x, 0)]: s_x = (hi - lo) / 255, z = round(-lo / s_x), xq = clamp(round(x / s_x) + z, 0, 255);
 * y = s_x s_o sum_k (xq - z) wq.
 */
function directInt8Linear(x: ArrayLike<number>, N: number, K: number, w: ArrayLike<number>, O: number): Float64Array {
  let lo = 0,
    hi = 0;
  for (let i = 0; i < N * K; i++) {
    lo = Math.min(lo, x[i]);
    hi = Math.max(hi, x[i]);
  }
  const sx = Math.max(f32(f32(hi - lo) / 255), 2 ** -23),
    z = clamp(rne(f32(-lo / sx)), 0, 255);
  const xq = Float64Array.from({ length: N * K }, (_, i) => clamp(rne(f32(x[i] / sx)) + z, 0, 255) - z);
  const y = new Float64Array(N * O);
  for (let o = 0; o < O; o++) {
    let m = 0;
    for (let k = 0; k < K; k++) m = Math.max(m, Math.abs(w[o * K + k]));
    const so = f32(m / 127);
    const wq = Array.from({ length: K }, (_, k) => clamp(rne(w[o * K + k] / so), -127, 127));
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += xq[n * K + k] * wq[k];
      y[n * O + o] = sx * so * acc;
    }
  }
  return y;
}

const relErr = (got: ArrayLike<number>, ref: ArrayLike<number>) =>
  maxAbsDiff(got, ref) / Math.max(...Array.from(ref, Math.abs));

test('int8Linear equals the direct computation of the dynamic int8 formula (odd shapes, inputs of both signs)', (t) => {
  const r = mulberry32(9);
  for (const [N, K, O] of [
    [3, 7, 5],
    [1, 33, 2],
    [17, 64, 9],
  ]) {
    const x = Float32Array.from({ length: N * K }, () => (r() - 0.3) * 4),
      w = Float32Array.from({ length: O * K }, () => (r() - 0.5) * 0.2);
    const q = quantizeInt8PerChannel(w, O, K);
    const got = tf
      .tidy(() =>
        int8Linear(tf.tensor2d(x, [N, K]), tf.tensor2d(Float32Array.from(q.ints), [O, K]), tf.tensor1d(q.scales)),
      )
      .dataSync();
    t.true(relErr(got, directInt8Linear(x, N, K, w, O)) <= 1e-6, `${N}x${K}x${O}`);
  }
});

test(
  'int8 dynamic PTQ logits of a tiny model equal the direct computation of the same formula in every Linear ' +
    '(classifier included)',
  async (t) => {
    const c = tinyConfig({ vocab_size: 61, max_position_embeddings: 20 });
    const params = initParams(c, 4);
    const batch = randomBatch(c, 4, 13, 4);
    const m = deployedModel(await int8Contents(params, c, {}));
    // reference: the FP model, each Linear replaced by the direct computation on its FP weight
    let linears = 0;
    const direct: QuantHooks = {
      weight: (_n, w) => w,
      act: (_p, x) => x,
      matmul: (_pa, a, pb, b, transposeB) => {
        if (!isLinearWeight(pb, b.shape) || !transposeB) return tf.matMul(a, b, false, transposeB);
        linears++;
        const [N, K] = a.shape,
          O = b.shape[0];
        return tf.tensor2d(Float32Array.from(directInt8Linear(a.dataSync(), N, K!, b.dataSync(), O)), [N, O]);
      },
    };
    const ref = logitsOf(params, c, batch, direct);
    t.is(
      linears,
      6 * c.num_hidden_layers + 2,
      'Q, K, V, attention output, FFN in, FFN out per layer, pooler and classifier',
    );
    const got = logitsOf(m.params, c, batch, m.hooks);
    t.true(relErr(got, ref) <= 1e-5, `relative error ${relErr(got, ref)}`);
    t.true(
      maxAbsDiff(got, logitsOf(params, c, batch)) > 1e-4,
      'int8 logits differ from the FP ones (the quantization happened)',
    );
    // the same model written to disk and loaded back: the same logits, and int8 storage
    const dir = tmp();
    const w = writeExport(dir, await int8Contents(params, c, {}));
    const back = loadExportedModel(dir);
    t.deepEqual(Array.from(logitsOf(back.params, c, batch, back.hooks)), Array.from(got));
    t.is(back.meta.entries['classifier.weight'].storage, 'int8');
    t.is(w.bytes, back.bytes);
    m.dispose();
    back.dispose();
    tf.dispose([...Object.values(params), ...Object.values(batch)]);
  },
);

test(
  "ternary PTQ: the teacher under the student's quantizers, exported, gives the fake-quantized teacher's " + 'logits',
  async (t) => {
    const c = tinyConfig({ vocab_size: 61, max_position_embeddings: 20 });
    const params = initParams(c, 6);
    const batch = randomBatch(c, 3, 11, 6);
    const dir = tmp();
    writeExport(join(dir, 'x'), await ternaryContents(params, c, QUANT_DEFAULTS, { teacher: 'random' }));
    const m = loadExportedModel(join(dir, 'x'));
    t.true(
      maxAbsDiff(logitsOf(m.params, c, batch, m.hooks), logitsOf(params, c, batch, makeQuantHooks(QUANT_DEFAULTS))) <=
        1e-5,
    );
    m.dispose();
    tf.dispose([...Object.values(params), ...Object.values(batch)]);
  },
);
