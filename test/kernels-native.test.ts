/**
 * The native backend's kernels (src/backend/native-*.ts, native/src/*.cc) against tfjs's pure-JS cpu kernels: values,
 * shapes and dtypes of every op a BERT / KD-QAT step uses, with broadcasting, reductions over each kind of axis set,
 * data movement on float32, int32 and bool, and gradients; plus the buffer pool's safety rules.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { rand, randInt, relErr, runOn } from './kernels-helpers.js';
import { registerNativeBackend, nativeAddon } from '../src/backend/native.js';
import { poolStats } from '../src/backend/native-pool.js';
import { registerCpuExtras } from '../src/backend/cpu-kernels.js';

test.before(async () => {
  registerCpuExtras();
  const why = await registerNativeBackend();
  if (why) throw new Error(why);
  for (const b of ['cpu', 'native']) {
    if (!(await tf.setBackend(b))) throw new Error(`backend ${b} did not start`);
  }
});

type T = { true(v: boolean, m?: string): void; deepEqual<U>(a: U, b: U, m?: string): void };
async function same(t: T, f: () => tf.Tensor | tf.Tensor[], tol = 1e-6): Promise<void> {
  const got = await runOn('native', f),
    ref = await runOn('cpu', f);
  t.deepEqual(
    got.map((r) => r.shape),
    ref.map((r) => r.shape),
    'shapes',
  );
  for (let i = 0; i < got.length; i++) {
    const e = relErr(got[i].values, ref[i].values);
    const bothZero = ref[i].values.every((v) => v === 0) && got[i].values.every((v) => v === 0);
    t.true(e <= tol || bothZero, `output ${i}: rel err ${e}`);
  }
}
const X = (shape: number[], seed = 1, scale = 3) =>
  tf.tensor(
    rand(
      shape.reduce((p, s) => p * s, 1),
      seed,
    ).map((v) => v * scale),
    shape,
  );

const unary: [string, (x: tf.Tensor) => tf.Tensor][] = [
  ['exp', tf.exp],
  ['log', (x) => tf.log(tf.abs(x))],
  ['erf', tf.erf],
  ['tanh', tf.tanh],
  ['sigmoid', tf.sigmoid],
  ['relu', tf.relu],
  ['sqrt', (x) => tf.sqrt(tf.abs(x))],
  ['rsqrt', (x) => tf.rsqrt(tf.add(tf.abs(x), 0.1))],
  ['square', tf.square],
  ['abs', tf.abs],
  ['neg', tf.neg],
  ['sign', tf.sign],
  ['round', (x) => tf.round(tf.mul(x, 2))],
  ['floor', tf.floor],
  ['ceil', tf.ceil],
  ['reciprocal', tf.reciprocal],
  ['step', (x) => tf.step(x, 0.25)],
  ['clipByValue', (x) => tf.clipByValue(x, -1.5, 2)],
  ['log1p', (x) => tf.log1p(tf.abs(x))],
];
for (const [name, f] of unary) {
  test.serial(`unary ${name} [37,129]`, async (t) => {
    await same(t, () => f(X([37, 129])), 4e-7);
  });
}

test.serial('round: halves go to the even neighbour, as torch.round', async (t) => {
  const [r] = await runOn('native', () =>
    tf.round(tf.tensor(Float32Array.from({ length: 512 }, (_, i) => (i % 8) - 3.5))),
  );
  t.deepEqual([...r.values.slice(0, 8)], [-4, -2, -2, -0, 0, 2, 2, 4]);
});

const shapes: [number[], number[]][] = [
  [
    [8, 16, 33],
    [8, 16, 33],
  ],
  [[8, 16, 33], [33]],
  [
    [8, 16, 33],
    [8, 16, 1],
  ],
  [
    [8, 1, 33],
    [1, 16, 1],
  ],
  [
    [2, 3, 40, 40],
    [2, 1, 1, 40],
  ],
  [[700], []],
  [[], [3, 300]],
];
const binary: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
  ['add', tf.add],
  ['sub', tf.sub],
  ['mul', tf.mul],
  ['div', tf.div],
  ['maximum', tf.maximum],
  ['minimum', tf.minimum],
  ['pow', (a, b) => tf.pow(tf.abs(a), b)],
  ['squaredDifference', tf.squaredDifference],
  ['greater', tf.greater],
  ['greaterEqual', tf.greaterEqual],
  ['less', tf.less],
  ['lessEqual', tf.lessEqual],
  ['equal', (a, b) => tf.equal(tf.round(a), tf.round(b))],
  ['notEqual', (a, b) => tf.notEqual(tf.round(a), tf.round(b))],
];
for (const [name, f] of binary) {
  test.serial(`binary ${name} with broadcasting`, async (t) => {
    for (const [sa, sb] of shapes)
      await same(
        t,
        () => {
          const r = f(X(sa, 2), X(sb, 3));
          t.is(r.dtype, f(tf.ones([1]), tf.ones([1])).dtype);
          return tf.cast(r, 'float32');
        },
        4e-7,
      );
  });
}

test.serial('logical and/or/not, select, addN', async (t) => {
  await same(t, () => {
    const a = tf.greater(X([9, 300], 4), 0),
      b = tf.less(X([9, 300], 5), 0.5);
    return [tf.logicalAnd(a, b), tf.logicalOr(a, b), tf.logicalNot(a)].map((r) => tf.cast(r, 'float32'));
  });
  await same(t, () => tf.where(tf.greater(X([9, 300], 4), 0), X([9, 300], 5), X([9, 300], 6)));
  await same(t, () => tf.addN([X([40, 50], 1), X([40, 50], 2), X([40, 50], 3)]));
});

const reductions: [string, (x: tf.Tensor, ax: number[], keep: boolean) => tf.Tensor][] = [
  ['sum', tf.sum],
  ['mean', tf.mean],
  ['max', tf.max],
  ['min', tf.min],
  ['prod', (x, ax, k) => tf.prod(tf.add(tf.mul(x, 0.05), 1), ax, k)],
];
for (const [name, f] of reductions) {
  test.serial(`reduce ${name} over every axis set of [6,1,20,30]`, async (t) => {
    for (const ax of [[0], [1], [2], [3], [0, 1], [2, 3], [0, 2], [1, 3], [0, 3], [0, 1, 2, 3]]) {
      for (const keep of [false, true]) await same(t, () => f(X([6, 1, 20, 30], 7), ax, keep), 2e-6);
    }
  });
}

test.serial('softmax, logSoftmax (last axis)', async (t) => {
  await same(t, () => [tf.softmax(X([4, 3, 20, 70], 8, 8)), tf.logSoftmax(X([50, 33], 9, 8))], 1e-6);
});

test.serial('batched matMul: transposes, batch broadcasting, shapes of the attention and dense products', async (t) => {
  for (const [sa, sb, ta, tb] of [
    [[64, 96], [96, 40], false, false],
    [[96, 64], [96, 40], true, false],
    [[64, 96], [40, 96], false, true],
    [[96, 64], [40, 96], true, true],
    [[2, 3, 17, 8], [2, 3, 17, 8], false, true],
    [[2, 3, 17, 17], [2, 3, 17, 8], false, false],
    [[5, 17, 8], [8, 9], false, false],
    [[17, 8], [5, 8, 9], false, false],
    [[1, 17, 8], [4, 9, 8], false, true],
  ] as [number[], number[], boolean, boolean][]) {
    await same(t, () => tf.matMul(X(sa, 10), X(sb, 11), ta, tb), 1e-6);
  }
});

test.serial(
  'data movement on float32, int32 and bool: transpose, slice, split, concat, tile, pad, gather',
  async (t) => {
    for (const dtype of ['float32', 'int32', 'bool'] as const) {
      const x = () => tf.cast(tf.mul(X([4, 6, 10, 8], 12), dtype === 'bool' ? 1 : 10), dtype);
      const f32 = (r: tf.Tensor) => {
        t.is(r.dtype, dtype);
        return tf.cast(r, 'float32');
      };
      await same(t, () =>
        [tf.transpose(x(), [0, 2, 1, 3]), tf.transpose(x(), [3, 1, 2, 0]), tf.transpose(x(), [0, 1, 3, 2])].map(f32),
      );
      await same(t, () =>
        [
          tf.slice(x(), [1, 2, 3, 0], [2, 3, 5, 8]),
          tf.slice(x(), [0, 0, 0, 2], [4, 6, 10, 3]),
          ...tf.split(x(), [3, 2, 5], 2),
        ].map(f32),
      );
      await same(t, () =>
        [
          tf.concat([x(), x()], 1),
          tf.concat([x(), tf.slice(x(), [0, 0, 0, 0], [4, 6, 10, 3])], 3),
          tf.tile(x(), [2, 1, 1, 3]),
          tf.tile(x(), [1, 3, 2, 1]),
        ].map(f32),
      );
      if (dtype !== 'bool')
        await same(t, () =>
          [
            tf.pad(
              x(),
              [
                [0, 0],
                [1, 2],
                [0, 0],
                [3, 0],
              ],
              dtype === 'int32' ? 0 : 1.5,
            ),
          ].map(f32),
        );
      await same(t, () =>
        [
          tf.gather(x(), tf.tensor1d(randInt(20, 10, 3), 'int32'), 2),
          tf.gather(x(), tf.tensor1d([3, 0, 3], 'int32'), 0),
        ].map(f32),
      );
    }
  },
);

test.serial('gather and unsortedSegmentSum reject indices out of range; segment sum drops negative ids', async (t) => {
  await tf.setBackend('native');
  t.throws(() => tf.tidy(() => tf.gather(X([30, 20]), tf.tensor1d([1, 30], 'int32'))), {
    message: /index value 30 is not in \[0, 29\]/,
  });
  t.throws(() => tf.tidy(() => tf.unsortedSegmentSum(X([30, 20]), tf.tensor1d(randInt(30, 9, 1), 'int32'), 5)), {
    message: /outside \[0, 5\)/,
  });
  await same(t, () =>
    tf.unsortedSegmentSum(
      X([300, 20]),
      tf.tensor1d(
        randInt(300, 9, 1).map((v) => v - 1),
        'int32',
      ),
      8,
    ),
  );
});

test.serial('gradients through the native kernels equal the cpu ones (a GELU-attention-LayerNorm block)', async (t) => {
  await same(
    t,
    () => {
      const x = X([2, 16, 32], 13, 1),
        w = X([32, 32], 14, 0.3),
        g = X([32], 15, 1);
      const f = (x: tf.Tensor, w: tf.Tensor, g: tf.Tensor) => {
        const h = tf.matMul(x.reshape([-1, 32]), w).reshape([2, 2, 16, 16]);
        const p = tf.softmax(tf.matMul(h, h, false, true));
        const y = tf.matMul(p, h).reshape([2, 16, 32]);
        const m = tf.mean(y, -1, true),
          c = tf.sub(y, m),
          v = tf.mean(tf.square(c), -1, true);
        const ln = tf.mul(tf.mul(c, tf.rsqrt(tf.add(v, 1e-12))), g);
        return tf.sum(tf.mul(ln, tf.erf(ln)));
      };
      return tf.grads(f)([x, w, g]);
    },
    2e-5,
  );
});

test.serial(
  'buffer pool: freed outputs are reused, but never an array handed to the user or viewed by a cpu kernel',
  async (t) => {
    await tf.setBackend('native');
    const before = poolStats.reused;
    for (let i = 0; i < 5; i++) tf.mul(X([64, 64], i), 2).dispose();
    t.true(poolStats.reused > before, 'a freed output buffer is taken again');
    const a = tf.mul(X([64, 64], 1), 2);
    const seen = a.dataSync(),
      copy = Float32Array.from(seen);
    a.dispose();
    for (let i = 0; i < 5; i++) tf.mul(X([64, 64], 9), 3).dispose();
    t.deepEqual(seen, copy, 'an array from dataSync is not recycled');
    const b = tf.mul(X([64, 64], 2), 2);
    const [row] = tf.unstack(b); // the cpu Unpack keeps a view of b
    const rowCopy = row.dataSync().slice();
    b.dispose();
    for (let i = 0; i < 5; i++) tf.mul(X([64, 64], 9), 3).dispose();
    t.deepEqual(row.dataSync(), rowCopy, 'a view made by a cpu kernel survives its source');
    row.dispose();
  },
);

test.serial('threads: setThreads changes the OpenMP pool, and results do not depend on it', async (t) => {
  const n = nativeAddon()!;
  n.setThreads(1);
  const [one] = await runOn('native', () => tf.sum(tf.matMul(X([300, 200], 1), X([200, 100], 2)), 0));
  n.setThreads(2);
  t.is(n.getThreads(), 2);
  const [two] = await runOn('native', () => tf.sum(tf.matMul(X([300, 200], 1), X([200, 100], 2)), 0));
  t.true(relErr(one.values, two.values) < 1e-6);
  t.throws(() => n.setThreads(0), { message: /1\.\.1024/ });
});

test.serial('the addon checks buffer sizes instead of writing out of bounds', (t) => {
  const n = nativeAddon()!;
  t.throws(() => n.matmul(new Float32Array(4), new Float32Array(4), new Float32Array(3), 1, 1, 2, 2, 2, false, false), {
    message: /matmul out/,
  });
  t.throws(() => n.copy(new Float32Array(4), 2, new Float32Array(4), 0, [4], [1], [1]), { message: /copy src/ });
  t.throws(() => n.unary(99, new Float32Array(4), new Float32Array(4), 0, 0), { message: /unknown op/ });
});

test.serial(
  'fused quantizer kernels equal their op-by-op composition bit for bit, and the STE mask is twice differentiable',
  async (t) => {
    const { symInts, steMask } = await import('../src/backend/fused.js');
    const x = () => tf.clipByValue(X([33, 70], 21, 3), -2.5, 2.5);
    const f = () => {
      const { ints, scale } = symInts(x(), 127);
      return [ints, scale, steMask(X([33, 70], 22), X([33, 70], 23, 4), 2.5)];
    };
    const got = await runOn('native', f),
      ref = await runOn('cpu', f);
    for (let i = 0; i < got.length; i++) t.deepEqual(got[i].values, ref[i].values, `output ${i}`);
    t.true(tf.getKernel('KdqSymQuant', 'native') !== undefined && tf.getKernel('KdqSymQuant', 'cpu') === undefined);
    // d/dx of sum(steMask(x * w, x, c)^2) uses the gradient of the mask op itself
    const g = () =>
      tf.grad((w: tf.Tensor) => tf.sum(tf.square(steMask(tf.mul(X([33, 70], 24), w), X([33, 70], 25, 4), 2.5))))(
        X([33, 70], 26),
      );
    const [gn] = await runOn('native', g),
      [gc] = await runOn('cpu', g);
    t.true(relErr(gn.values, gc.values) < 1e-6);
  },
);

test.serial(
  'fused BertAdam (KdqBertAdam) equals the op-by-op update bit for bit: clipped and unclipped, with and without ' +
    'weight decay, below and above the native threshold',
  async (t) => {
    const { BertAdam, ADAM_DEFAULTS } = await import('../src/train/bertadam.js');
    const shapes: Record<string, number[]> = {
      'a.weight': [300, 130],
      'a.bias': [100],
      'b.LayerNorm.weight': [33, 70],
      'c.weight': [7, 40],
    };
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const opt = new BertAdam({ ...ADAM_DEFAULTS, lr: 1e-3, maxGradNorm: 5, tTotal: 10 });
      const vars = Object.fromEntries(Object.entries(shapes).map(([n, s], i) => [n, tf.variable(X(s, 40 + i, 0.5))]));
      for (let step = 0; step < 3; step++) {
        const grads = Object.fromEntries(
          Object.entries(shapes).map(([n, s], i) => [n, X(s, 60 + 10 * step + i, i === 3 ? 0.01 : 2)]),
        );
        opt.apply(vars, grads);
        tf.dispose(Object.values(grads));
      }
      const out = Object.keys(shapes).flatMap((n) =>
        [vars[n], opt.state.m[n], opt.state.v[n]].map((x) => Float32Array.from(x.dataSync())),
      );
      opt.dispose();
      tf.dispose(Object.values(vars));
      return out;
    };
    const got = await run('native'),
      ref = await run('cpu');
    t.true(tf.getKernel('KdqBertAdam', 'native') !== undefined && tf.getKernel('KdqBertAdam', 'cpu') === undefined);
    for (let i = 0; i < got.length; i++) t.deepEqual(got[i], ref[i], `tensor ${i}`);
  },
);
