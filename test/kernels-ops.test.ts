/**
 * Every op a BERT / KD-QAT training step uses: value and gradient on wasm equal those on cpu (rel. 1e-5), and the
 * UnsortedSegmentSum kernels (wasm: new; cpu: replaced) equal tfjs' stock cpu kernel.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { initBoth, rand, randInt, relErr, runOn } from './kernels-helpers.js';
import { useKernel } from '../src/backend/wasm-registry.js';

const TOL = 1e-5;

test.before(async () => {
  await initBoth();
});

async function sameOnBoth(
  t: { true(v: boolean, m?: string): void; deepEqual<T>(a: T, b: T): void },
  f: () => tf.Tensor | tf.Tensor[],
  tol = TOL,
) {
  const got = await runOn('wasm', f),
    ref = await runOn('cpu', f);
  t.deepEqual(
    got.map((r) => r.shape),
    ref.map((r) => r.shape),
  );
  for (let i = 0; i < got.length; i++) {
    const e = relErr(got[i].values, ref[i].values);
    t.true(
      e < tol || (ref[i].values.every((v) => v === 0) && got[i].values.every((v) => v === 0)),
      `output ${i}: rel err ${e}`,
    );
  }
}

// ---- UnsortedSegmentSum -------------------------------------------------------------------------------------------

const segCases: { x: number[]; ids: number[]; n: number }[] = [
  { x: [12, 5], ids: [12], n: 7 },
  { x: [6, 4, 5], ids: [6], n: 6 },
  { x: [10], ids: [10], n: 3 },
];
for (const c of segCases) {
  for (const dtype of ['float32', 'int32'] as const) {
    test.serial(
      `UnsortedSegmentSum x[${c.x}] ids[${c.ids}] n=${c.n} ${dtype}: wasm and our cpu equal tfjs' cpu`,
      async (t) => {
        const size = c.x.reduce((p, s) => p * s, 1),
          nIds = c.ids.reduce((p, s) => p * s, 1);
        const xv = dtype === 'int32' ? Int32Array.from(rand(size, 5), (v) => Math.round(v * 100)) : rand(size, 5);
        const ids = randInt(nIds, c.n + 1, 6).map((v) => v - 1); // includes -1: dropped
        const f = () =>
          tf.unsortedSegmentSum(
            tf.tensor(xv, c.x, dtype),
            tf.tensor(ids, c.ids, 'int32') as unknown as tf.Tensor1D,
            c.n,
          );
        useKernel('cpu', 'UnsortedSegmentSum', 'stock');
        const [stock] = await runOn('cpu', f);
        useKernel('cpu', 'UnsortedSegmentSum', 'ours');
        const [cpu] = await runOn('cpu', f),
          [wasm] = await runOn('wasm', f);
        t.deepEqual(stock.shape, [c.n, ...c.x.slice(c.ids.length)]);
        for (const r of [cpu, wasm]) {
          t.deepEqual(r.shape, stock.shape);
          t.true(relErr(r.values, stock.values) < 1e-6, `rel err ${relErr(r.values, stock.values)}`);
        }
        t.true(stock.values.some((v) => v !== 0));
      },
    );
  }
}

test.serial('UnsortedSegmentSum with 2-D segment ids equals the flattened problem', async (t) => {
  const xv = rand(3 * 4 * 5, 7),
    ids = randInt(12, 6, 8);
  const flat = () => tf.unsortedSegmentSum(tf.tensor(xv, [12, 5]), tf.tensor1d(ids, 'int32'), 6);
  const nd = () =>
    tf.unsortedSegmentSum(tf.tensor(xv, [3, 4, 5]), tf.tensor(ids, [3, 4], 'int32') as unknown as tf.Tensor1D, 6);
  useKernel('cpu', 'UnsortedSegmentSum', 'stock');
  const [ref] = await runOn('cpu', flat);
  useKernel('cpu', 'UnsortedSegmentSum', 'ours');
  for (const b of ['cpu', 'wasm'] as const) {
    const [r] = await runOn(b, nd);
    t.deepEqual(r.shape, [6, 5]);
    t.true(relErr(r.values, ref.values) < 1e-6, `${b}: rel err ${relErr(r.values, ref.values)}`);
  }
});

test.serial('UnsortedSegmentSum rejects a segment id >= numSegments on both backends', async (t) => {
  for (const b of ['cpu', 'wasm']) {
    await tf.setBackend(b);
    t.throws(
      () => tf.unsortedSegmentSum(tf.ones([3, 2]), tf.tensor1d([0, 5, 1], 'int32'), 4),
      { message: /segment id 5 .*\[0, 4\)/ },
      b,
    );
  }
});

// no timing threshold (benchmarks are not tests): tfjs's own cpu kernel loops over all 30522 segments and would
// not finish this within ava's timeout; the scatter-add does in well under a second
test.serial(
  'cpu UnsortedSegmentSum over a 30522-row vocabulary: scatter-add result equals a plain JS scatter-add',
  async (t) => {
    await tf.setBackend('cpu');
    const ids = randInt(2048, 30522, 3);
    const got = tf.tidy(() => tf.unsortedSegmentSum(tf.ones([2048, 4]), tf.tensor1d(ids, 'int32'), 30522).dataSync());
    const want = new Float32Array(30522 * 4);
    ids.forEach((id) => {
      for (let j = 0; j < 4; j++) want[id * 4 + j] += 1;
    });
    t.deepEqual(Array.from(got), Array.from(want));
  },
);

test.serial('gradient of an embedding lookup (tf.gather) matches cpu', async (t) => {
  const V = 50,
    D = 8;
  await sameOnBoth(t, () => {
    const E = tf.tensor(rand(V * D, 1), [V, D]),
      ids = tf.tensor(randInt(4 * 6, V, 2), [4, 6], 'int32');
    const w = tf.tensor(rand(4 * 6 * D, 3), [4, 6, D]);
    return tf.grad((e: tf.Tensor) => tf.sum(tf.mul(tf.gather(e, ids), w)))(E);
  });
});

// ---- op values and gradients ----------------------------------------------------------------------------------------

const X = [4, 7];
const xT = (seed = 1, scale = 2) => tf.mul(tf.tensor(rand(28, seed), X), scale);
/** fixed random weights of a given shape */
const wOf = (shape: number[]) =>
  tf.tensor(
    rand(
      shape.reduce((p, s) => p * s, 1),
      99,
    ),
    shape,
  );

/** y = op(x), loss = sum(y * w): the op's value, the loss and d loss / dx */
function valueAndGrad(op: (x: tf.Tensor) => tf.Tensor, x: () => tf.Tensor = xT) {
  return () => {
    const { value, grad } = tf.valueAndGrad((v: tf.Tensor) => {
      const y = op(v);
      return tf.sum(tf.mul(y, wOf(y.shape)));
    })(x());
    return [op(x()), value, grad];
  };
}

const layerNorm = (x: tf.Tensor) => {
  const mu = tf.mean(x, -1, true),
    d = tf.sub(x, mu);
  const v = tf.mean(tf.square(d), -1, true);
  return tf.add(tf.mul(tf.mul(d, tf.rsqrt(tf.add(v, 1e-12))), tf.tensor1d(rand(7, 5))), tf.tensor1d(rand(7, 6)));
};

const ops: Record<string, (x: tf.Tensor) => tf.Tensor> = {
  erf: (x) => tf.erf(x),
  'gelu (erf form)': (x) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.div(x, Math.SQRT2)))),
  'gelu (tanh form)': (x) =>
    tf.mul(
      tf.mul(x, 0.5),
      tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))))),
    ),
  softmax: (x) => tf.softmax(x),
  logSoftmax: (x) => tf.logSoftmax(x),
  'layer norm (mean, sub, square, rsqrt, mul, add)': layerNorm,
  'layer norm with sqrt + div': (x) => {
    const d = tf.sub(x, tf.mean(x, -1, true));
    return tf.div(d, tf.sqrt(tf.add(tf.mean(tf.square(d), -1, true), 1e-5)));
  },
  tanh: (x) => tf.tanh(x),
  round: (x) => tf.round(x),
  'round as STE (x + stopgrad(round(x) - x) via customGrad)': (x) =>
    (
      tf.customGrad(((v: tf.Tensor) => ({ value: tf.round(v), gradFunc: (dy: tf.Tensor) => dy })) as never) as (
        v: tf.Tensor,
      ) => tf.Tensor
    )(x),
  clipByValue: (x) => tf.clipByValue(x, -0.7, 1.1),
  'where(greaterEqual)': (x) => tf.where(tf.greaterEqual(x, 0.1), x, tf.mul(x, 0.3)),
  'where(greater) (zero gradient registered)': (x) => tf.where(tf.greater(x, 0.1), tf.square(x), x),
  'where(less/lessEqual/equal/notEqual, logicalAnd/Or/Not)': (x) =>
    tf.where(
      tf.logicalOr(tf.logicalAnd(tf.less(x, 0.5), tf.lessEqual(x, 0.4)), tf.logicalNot(tf.notEqual(x, tf.round(x)))),
      x,
      tf.mul(x, -2),
    ),
  'ternary quantizer (abs, mean, greater, sign, mul)': (x) => {
    const delta = tf.mul(0.7, tf.mean(tf.abs(x)));
    const mask = tf.cast(tf.greater(tf.abs(x), delta), 'float32');
    const alpha = tf.div(tf.sum(tf.mul(tf.abs(x), mask)), tf.sum(mask));
    return tf.mul(tf.mul(tf.sign(x), mask), alpha);
  },
  abs: (x) => tf.abs(x),
  'sum (axis -1)': (x) => tf.sum(x, -1),
  'max (axis -1)': (x) => tf.max(x, -1),
  'max (all)': (x) => tf.max(x),
  'min, maximum, minimum': (x) => tf.add(tf.min(x, 0), tf.add(tf.maximum(x, 0.2), tf.minimum(x, -0.1))),
  square: (x) => tf.square(x),
  'exp, log, sqrt': (x) => tf.add(tf.exp(x), tf.add(tf.log(tf.add(tf.abs(x), 1)), tf.sqrt(tf.add(tf.abs(x), 0.5)))),
  'sigmoid, relu, neg, reciprocal': (x) =>
    tf.add(tf.sigmoid(x), tf.add(tf.relu(x), tf.neg(tf.reciprocal(tf.add(tf.abs(x), 1))))),
  'mean (axis 0), sub, mul, div (broadcast)': (x) =>
    tf.div(tf.mul(tf.sub(x, tf.mean(x, 0)), tf.tensor1d(rand(7, 8))), tf.add(tf.abs(tf.tensor1d(rand(7, 9))), 1)),
  'transpose, reshape, concat, slice, stack, tile': (x) => {
    const y = tf.reshape(tf.transpose(x), [2, 14]);
    return tf.add(
      tf.concat([tf.slice(y, [0, 0], [2, 7]), tf.slice(y, [0, 7], [2, 7])], 0),
      tf.tile(tf.stack([tf.slice(y, [0, 0], [1, 7]).reshape([7])]), [4, 1]),
    );
  },
  'square(sub) (instead of squaredDifference)': (x) => tf.square(tf.sub(x, tf.tensor1d(rand(7, 10)))),
  'cross-entropy: logSoftmax + oneHot + mean': (x) =>
    tf.mean(tf.neg(tf.sum(tf.mul(tf.oneHot(tf.tensor1d([1, 3, 0, 6], 'int32'), 7), tf.logSoftmax(x)), -1))),
  'soft cross-entropy: softmax(t/T) * logSoftmax(s/T)': (x) =>
    tf.neg(tf.sum(tf.mul(tf.softmax(tf.div(tf.tensor(rand(28, 12), X), 2)), tf.logSoftmax(tf.div(x, 2))))),
};

for (const [name, op] of Object.entries(ops)) {
  test.serial(`${name}: value and gradient on wasm match cpu`, async (t) => {
    await sameOnBoth(t, valueAndGrad(op));
  });
}

test.serial('round is half-to-even on both backends (quantizer ties agree)', async (t) => {
  const f = () => tf.round(tf.tensor1d([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999997, 3.5000002]));
  const [w] = await runOn('wasm', f),
    [c] = await runOn('cpu', f);
  const plain = (v: Float32Array) => Array.from(v, (x) => x + 0); // -0 -> 0: wasm gives 0 where cpu gives -0
  t.deepEqual(plain(w.values), plain(c.values));
  t.deepEqual(plain(c.values), [0, 2, 2, 0, -2, -2, 0, 4]);
});

test.serial(
  'attention block (batched matMul with transposes, softmax, mask) value and gradients match cpu',
  async (t) => {
    const B = 2,
      H = 2,
      T = 5,
      dh = 4;
    await sameOnBoth(t, () => {
      const q = tf.tensor(rand(B * H * T * dh, 41), [B, H, T, dh]),
        k = tf.tensor(rand(B * H * T * dh, 42), [B, H, T, dh]);
      const v = tf.tensor(rand(B * H * T * dh, 43), [B, H, T, dh]);
      const mask = tf.reshape(tf.tensor([0, 0, 0, -1e4, -1e4, 0, 0, 0, 0, 0]), [B, 1, 1, T]);
      const w = tf.tensor(rand(B * H * T * dh, 44), [B, H, T, dh]);
      const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        tf.sum(tf.mul(tf.matMul(tf.softmax(tf.add(tf.div(tf.matMul(a, b, false, true), Math.sqrt(dh)), mask)), c), w));
      return tf.grads(f)([q, k, v]);
    });
  },
);

test.serial('cast to bool is x != 0 on wasm (the stock kernel kept the low byte)', async (t) => {
  const f = () => [
    tf.cast(tf.tensor1d([0, 1, 256, 300, -1, -256], 'int32'), 'bool'),
    tf.cast(tf.tensor1d([0, 0.5, -0, 256, NaN, -0.25]), 'bool'),
  ];
  const got = await runOn('wasm', f),
    ref = await runOn('cpu', f);
  t.deepEqual(Array.from(got[0].values), [0, 1, 1, 1, 1, 1]);
  t.deepEqual(Array.from(got[1].values), [0, 1, 0, 1, 1, 1]);
  t.deepEqual(
    got.map((r) => Array.from(r.values)),
    ref.map((r) => Array.from(r.values)),
  );
});

test.serial('clipByValue on int32 on wasm equals cpu (the stock kernel read int32 as float32)', async (t) => {
  const f = () => tf.clipByValue(tf.tensor1d([-100, -6, -5, 0, 4, 5, 6, 1 << 20], 'int32'), -5, 5);
  const [got] = await runOn('wasm', f),
    [ref] = await runOn('cpu', f);
  t.deepEqual(Array.from(got.values), [-5, -5, -5, 0, 4, 5, 5, 5]);
  t.deepEqual(Array.from(got.values), Array.from(ref.values));
});
