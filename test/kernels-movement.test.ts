/**
 * The wasm Slice / GatherV2 / Tile replacements (src/backend/wasm-movement.ts) against the cpu backend: exact equality
 * for every rank, dtype and edge case, plus gradients through them.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { initBoth, rand, randInt, relErr, runOn } from './kernels-helpers.js';
import { stockKernel } from '../src/backend/wasm-registry.js';

test.before(async () => {
  await initBoth();
});

type DT = 'float32' | 'int32' | 'bool';
function make(shape: number[], dtype: DT, seed: number): tf.Tensor {
  const n = shape.reduce((p, s) => p * s, 1),
    v = rand(n, seed);
  if (dtype === 'float32') return tf.tensor(v, shape);
  if (dtype === 'int32')
    return tf.tensor(
      Int32Array.from(v, (x) => Math.round(x * 1000)),
      shape,
      'int32',
    );
  return tf.tensor(
    Uint8Array.from(v, (x) => (x > 0 ? 1 : 0)),
    shape,
    'bool',
  );
}

/** run on both backends, compare exactly (values cast to float32 for reading) */
async function exact(t: { deepEqual<T>(a: T, b: T, m?: string): void }, f: () => tf.Tensor | tf.Tensor[]) {
  const g = () => {
    const r = f();
    return (Array.isArray(r) ? r : [r]).map((x) => tf.cast(x, 'float32'));
  };
  const got = await runOn('wasm', g),
    ref = await runOn('cpu', g);
  t.deepEqual(
    got.map((r) => r.shape),
    ref.map((r) => r.shape),
  );
  for (let i = 0; i < got.length; i++) t.deepEqual(Array.from(got[i].values), Array.from(ref[i].values), `output ${i}`);
}

test.serial('Slice, SplitV, GatherV2 and Tile are replaced on wasm', (t) => {
  for (const k of ['Slice', 'SplitV', 'GatherV2', 'Tile']) {
    t.truthy(stockKernel('wasm', k), k);
    t.not(tf.getKernel(k, 'wasm')?.kernelFunc, stockKernel('wasm', k)?.kernelFunc, k);
  }
});

const sliceCases: [number[], number[], number[]][] = [
  [[10], [3], [4]],
  [[10], [0], [-1]],
  [
    [7, 9],
    [2, 3],
    [4, 5],
  ],
  [
    [7, 9],
    [0, 0],
    [7, 9],
  ],
  [
    [7, 9],
    [1, 0],
    [3, 9],
  ],
  [
    [7, 9],
    [0, 8],
    [7, 1],
  ],
  [
    [4096, 384],
    [0, 128],
    [4096, 128],
  ],
  [
    [3, 4, 5],
    [1, 1, 1],
    [2, 2, 3],
  ],
  [
    [3, 4, 5],
    [0, 2, 0],
    [3, 1, 5],
  ],
  [
    [3, 4, 5],
    [2, 0, 0],
    [1, -1, -1],
  ],
  [
    [2, 3, 4, 5],
    [1, 0, 2, 1],
    [1, 3, 2, 4],
  ],
  [
    [2, 3, 2, 3, 4],
    [0, 1, 0, 2, 1],
    [2, 2, 2, 1, 3],
  ],
  [
    [5, 6],
    [2, 3],
    [0, 2],
  ],
  [
    [40, 33],
    [3, 0],
    [30, 33],
  ],
];
for (const [shape, begin, size] of sliceCases) {
  for (const dtype of ['float32', 'int32', 'bool'] as const) {
    test.serial(`slice [${shape}] begin [${begin}] size [${size}] ${dtype}`, async (t) => {
      await exact(t, () => tf.slice(make(shape, dtype, 3), begin, size));
    });
  }
}

test.serial('an out-of-bounds slice is an error', async (t) => {
  await tf.setBackend('wasm');
  t.throws(() => tf.slice(tf.ones([3, 4]), [2, 0], [2, 4]));
});

for (const [shape, n, axis] of [
  [[4096, 384], 3, -1],
  [[6, 10], [2, 3, 5], 1],
  [[6, 10], 2, 0],
  [[2, 6, 4], [1, 5], 1],
] as [number[], number | number[], number][]) {
  test.serial(`split [${shape}] into ${JSON.stringify(n)} on axis ${axis}`, async (t) => {
    await exact(t, () => tf.split(make(shape, 'float32', 4), n, axis));
  });
}

const gatherCases: [number[], number[], number][] = [
  [[50, 8], [4, 6], 0],
  [[50, 8], [7], 0],
  [[30522, 128], [64], 0],
  [[5, 7, 3], [4], 1],
  [[5, 7, 3], [2, 2], 2],
  [[5, 7, 3], [6], -1],
  [[9], [3, 3], 0],
  [[4, 5], [0], 0],
  [[6, 1], [5], 0],
];
for (const [shape, idShape, axis] of gatherCases) {
  for (const dtype of ['float32', 'int32', 'bool'] as const) {
    test.serial(`gather [${shape}] indices [${idShape}] axis ${axis} ${dtype}`, async (t) => {
      const V = shape[axis < 0 ? shape.length + axis : axis];
      const n = idShape.reduce((p, s) => p * s, 1);
      await exact(t, () => tf.gather(make(shape, dtype, 5), tf.tensor(randInt(n, V, 6), idShape, 'int32'), axis));
    });
  }
}

test.serial('gather with batchDims matches cpu (the stock wasm kernel reads garbage there)', async (t) => {
  await exact(t, () => tf.gather(make([3, 5, 4], 'float32', 7), tf.tensor(randInt(6, 5, 8), [3, 2], 'int32'), 1, 1));
  await exact(t, () =>
    tf.gather(make([2, 3, 6, 4], 'int32', 7), tf.tensor(randInt(2 * 3 * 5, 6, 9), [2, 3, 5], 'int32'), 2, 2),
  );
  await exact(t, () =>
    tf.gather(make([2, 3, 6, 4], 'float32', 7), tf.tensor(randInt(2 * 7, 6, 9), [2, 7], 'int32'), 2, 1),
  );
});

test.serial('gather rejects an out-of-range index', async (t) => {
  await tf.setBackend('wasm');
  t.throws(() => tf.gather(tf.ones([5, 2]), tf.tensor1d([0, 5], 'int32')), { message: /index value 5 .*\[0, 4\]/ });
  t.throws(() => tf.gather(tf.ones([5, 2]), tf.tensor1d([-1], 'int32')), { message: /index value -1/ });
});

const tileCases: [number[], number[]][] = [
  [[], []],
  [[1], [7]],
  [[3], [1]],
  [[3], [5]],
  [
    [2, 3],
    [2, 2],
  ],
  [
    [1, 1],
    [4096, 512],
  ],
  [
    [4096, 1],
    [1, 512],
  ],
  [
    [1, 512],
    [64, 1],
  ],
  [
    [2, 1, 3],
    [3, 4, 2],
  ],
  [
    [2, 3, 1, 2],
    [1, 2, 3, 2],
  ],
  [
    [3, 2],
    [0, 2],
  ],
  [
    [5, 17],
    [3, 1],
  ],
];
for (const [shape, reps] of tileCases) {
  for (const dtype of ['float32', 'int32', 'bool'] as const) {
    test.serial(`tile [${shape}] reps [${reps}] ${dtype}`, async (t) => {
      await exact(t, () => tf.tile(make(shape, dtype, 9), reps));
    });
  }
}

test.serial('broadcastTo and where with scalar branches match cpu', async (t) => {
  await exact(t, () => tf.broadcastTo(tf.scalar(0.25), [64, 33]));
  await exact(t, () => tf.broadcastTo(make([5, 1, 3], 'float32', 10), [2, 5, 4, 3]));
  await exact(t, () => {
    const x = make([40, 12], 'float32', 11);
    return tf.where(tf.greater(x, 0.2), x, 0);
  });
});

test.serial('gradients through slice, split, gather and tile match cpu', async (t) => {
  const f = () => {
    const x = make([6, 8], 'float32', 12),
      w = make([4, 4], 'float32', 13);
    const ids = tf.tensor1d([5, 0, 3, 3], 'int32');
    return tf.grad((v: tf.Tensor) => {
      const a = tf.slice(v, [1, 2], [4, 4]);
      const [b] = tf.split(v, [4, 4], 1);
      const c = tf.slice(tf.gather(b, ids), [0, 0], [4, 4]);
      const d = tf.slice(tf.tile(tf.slice(v, [0, 0], [2, 2]), [2, 2]), [0, 0], [4, 4]);
      return tf.sum(tf.mul(tf.add(tf.add(a, c), d), w));
    })(x);
  };
  const [got] = await runOn('wasm', f),
    [ref] = await runOn('cpu', f);
  t.true(relErr(got.values, ref.values) < 1e-6, `rel err ${relErr(got.values, ref.values)}`);
});
