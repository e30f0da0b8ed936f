/**
 * The fast wasm BatchMatMul / _FusedMatMul (src/backend/wasm-matmul.ts) against the cpu backend: every transpose
 * combination, batch shapes with and without broadcasting, odd sizes, and gradients through tf.grad.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { initBoth, rand, relErr, runOn } from './kernels-helpers.js';
import { stockKernel } from '../src/backend/wasm-registry.js';

const TOL = 1e-5;

test.before(async () => {
  await initBoth();
});

test.serial('our kernels replaced the stock wasm BatchMatMul and _FusedMatMul', (t) => {
  t.truthy(stockKernel('wasm', 'BatchMatMul'));
  t.not(tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc, stockKernel('wasm', 'BatchMatMul')?.kernelFunc);
  t.not(tf.getKernel('_FusedMatMul', 'wasm')?.kernelFunc, stockKernel('wasm', '_FusedMatMul')?.kernelFunc);
});

/** operand shape for batch dims + the stored (possibly transposed) matrix */
const shapeOf = (batch: number[], rows: number, cols: number, tr: boolean) => [
  ...batch,
  tr ? cols : rows,
  tr ? rows : cols,
];

interface Case {
  batchA: number[];
  batchB: number[];
  M: number;
  K: number;
  N: number;
}
const cases: Case[] = [
  { batchA: [], batchB: [], M: 37, K: 19, N: 23 },
  { batchA: [], batchB: [], M: 1, K: 5, N: 1 },
  { batchA: [], batchB: [], M: 64, K: 1, N: 8 },
  { batchA: [6], batchB: [6], M: 16, K: 8, N: 16 },
  { batchA: [2, 3], batchB: [2, 3], M: 5, K: 7, N: 3 },
  { batchA: [4], batchB: [], M: 9, K: 6, N: 11 }, // shared right operand: folded into one product
  { batchA: [], batchB: [4], M: 9, K: 6, N: 11 }, // broadcast left operand
  { batchA: [2, 1], batchB: [3], M: 4, K: 5, N: 6 }, // general broadcasting -> [2, 3]
  { batchA: [1, 3], batchB: [2, 1], M: 3, K: 4, N: 2 },
  { batchA: [3], batchB: [1], M: 8, K: 128, N: 5 },
  { batchA: [], batchB: [], M: 13, K: 40, N: 50 }, // more columns than rows: computed as the transposed product
  { batchA: [2], batchB: [], M: 3, K: 7, N: 20 }, // the same, folded batch (transposeA keeps the plain order)
  { batchA: [1], batchB: [1], M: 5, K: 6, N: 9 },
];

for (const c of cases) {
  for (const [ta, tb] of [
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ] as const) {
    test.serial(
      `matMul a[${c.batchA}|${c.M}x${c.K}] b[${c.batchB}|${c.K}x${c.N}] ta=${ta} tb=${tb} matches cpu`,
      async (t) => {
        const sa = shapeOf(c.batchA, c.M, c.K, ta),
          sb = shapeOf(c.batchB, c.K, c.N, tb);
        const av = rand(
            sa.reduce((p, s) => p * s, 1),
            3,
          ),
          bv = rand(
            sb.reduce((p, s) => p * s, 1),
            4,
          );
        const [got] = await runOn('wasm', () => tf.matMul(tf.tensor(av, sa), tf.tensor(bv, sb), ta, tb));
        // reference: the cpu kernel on explicitly broadcast operands
        const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(c.batchA, c.batchB);
        const [ref] = await runOn('cpu', () => {
          const a = tf.broadcastTo(tf.tensor(av, sa), [...outBatch, sa[sa.length - 2], sa[sa.length - 1]]);
          const b = tf.broadcastTo(tf.tensor(bv, sb), [...outBatch, sb[sb.length - 2], sb[sb.length - 1]]);
          return tf.matMul(a, b, ta, tb);
        });
        t.deepEqual(got.shape, [...outBatch, c.M, c.N]);
        t.deepEqual(got.shape, ref.shape);
        t.true(relErr(got.values, ref.values) < TOL, `rel err ${relErr(got.values, ref.values)}`);
      },
    );
  }
}

test.serial('matMul with an empty inner dimension gives zeros', async (t) => {
  const [got] = await runOn('wasm', () => tf.matMul(tf.ones([3, 0]), tf.ones([0, 4])));
  t.deepEqual(got.shape, [3, 4]);
  t.deepEqual(Array.from(got.values), new Array(12).fill(0));
});

test.serial('matMul of mismatched inner dims throws a clear error', async (t) => {
  await tf.setBackend('wasm');
  t.throws(() => tf.matMul(tf.ones([3, 4]), tf.ones([5, 2])), { message: /inner/ });
});

for (const [ta, tb] of [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
] as const) {
  test.serial(`gradients of a batched matMul (ta=${ta}, tb=${tb}) match cpu`, async (t) => {
    const B = 3,
      M = 6,
      K = 5,
      N = 4;
    const sa = shapeOf([B], M, K, ta),
      sb = shapeOf([B], K, N, tb);
    const f = () => {
      const a = tf.tensor(rand(B * M * K, 7), sa),
        b = tf.tensor(rand(B * K * N, 8), sb),
        w = tf.tensor(rand(B * M * N, 9), [B, M, N]);
      const g = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y, ta, tb), w)));
      return g([a, b]);
    };
    const got = await runOn('wasm', f),
      ref = await runOn('cpu', f);
    for (let i = 0; i < 2; i++) {
      t.deepEqual(got[i].shape, ref[i].shape);
      t.true(relErr(got[i].values, ref[i].values) < TOL, `grad ${i}: rel err ${relErr(got[i].values, ref[i].values)}`);
    }
  });
}

for (const act of ['linear', 'relu', 'elu', 'sigmoid', 'leakyrelu'] as const) {
  for (const [ta, tb, batch] of [
    [false, false, 1],
    [true, false, 1],
    [false, true, 3],
    [true, true, 2],
  ] as const) {
    test.serial(`fused matMul + bias + ${act} (ta=${ta}, tb=${tb}, batch ${batch}) matches cpu`, async (t) => {
      const M = 7,
        K = 9,
        N = 5;
      const sa = shapeOf([batch], M, K, ta),
        sb = shapeOf([batch], K, N, tb);
      const f = () =>
        tf.fused.matMul({
          a: tf.tensor(rand(batch * M * K, 11), sa),
          b: tf.tensor(rand(batch * K * N, 12), sb),
          transposeA: ta,
          transposeB: tb,
          bias: tf.tensor1d(rand(N, 13)),
          activation: act,
          leakyreluAlpha: 0.1,
        });
      const [got] = await runOn('wasm', f),
        [ref] = await runOn('cpu', f);
      t.deepEqual(got.shape, ref.shape);
      t.true(relErr(got.values, ref.values) < TOL, `rel err ${relErr(got.values, ref.values)}`);
    });
  }
}

test.serial('fused matMul with prelu weights and a rank-2 bias matches cpu', async (t) => {
  const f = () =>
    tf.fused.matMul({
      a: tf.tensor(rand(2 * 4 * 6, 21), [2, 6, 4]),
      b: tf.tensor(rand(2 * 6 * 3, 22), [2, 6, 3]),
      transposeA: true,
      bias: tf.tensor(rand(4 * 3, 23), [4, 3]),
      activation: 'prelu',
      preluActivationWeights: tf.tensor1d(rand(3, 24)),
    });
  const [got] = await runOn('wasm', f),
    [ref] = await runOn('cpu', f);
  t.true(relErr(got.values, ref.values) < TOL, `rel err ${relErr(got.values, ref.values)}`);
});

test.serial('repeated products leak no tensors or wasm memory', async (t) => {
  await tf.setBackend('wasm');
  const a = tf.tensor(rand(4 * 32 * 16, 31), [4, 32, 16]),
    b = tf.tensor(rand(4 * 32 * 16, 32), [4, 32, 16]);
  const run = () =>
    tf.tidy(() => {
      tf.matMul(a, b, false, true).dataSync();
      tf.matMul(a, b, true, false).dataSync();
    });
  run();
  const before = tf.memory().numTensors,
    be = tf.backend() as unknown as { numDataIds(): number };
  const ids = be.numDataIds();
  for (let i = 0; i < 20; i++) run();
  t.is(tf.memory().numTensors, before);
  t.is(be.numDataIds(), ids);
  a.dispose();
  b.dispose();
});

test.serial(
  'a reshaped view of a tensor already used as the right operand gives the right product (stock bug)',
  async (t) => {
    const f = () => {
      const b = tf.reshape(tf.range(0, 12), [3, 4]);
      const r1 = tf.matMul(tf.ones([2, 3]), b);
      const r2 = tf.matMul(tf.ones([2, 4]), tf.reshape(b, [4, 3])); // same data id, other [K, N]
      const r3 = tf.fused.matMul({ a: tf.ones([2, 6]), b: tf.reshape(b, [6, 2]), bias: tf.ones([2]) });
      return [r1, r2, r3];
    };
    const got = await runOn('wasm', f);
    t.deepEqual(Array.from(got[1].values), [18, 22, 26, 18, 22, 26]);
    t.deepEqual(Array.from(got[2].values), [31, 37, 31, 37]);
    const ref = await runOn('cpu', f);
    t.deepEqual(
      got.map((r) => Array.from(r.values)),
      ref.map((r) => Array.from(r.values)),
    );
  },
);
