/**
 * The wasm Identity, Transpose and leading-axes Sum replacements (src/backend/wasm-layout.ts) against the cpu backend:
 * transposes exactly (every permutation of ranks 1-5, with size-1 axes, float32 / int32 / bool), sums to float32
 * rounding, plus gradients through both.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { initBoth, rand, relErr, runOn } from './kernels-helpers.js';
import { stockKernel } from '../src/backend/wasm-registry.js';
import { simplifyPermutation } from '../src/backend/wasm-layout.js';

test.before(async () => {
  await initBoth();
});

function make(shape: number[], dtype: 'float32' | 'int32' | 'bool', seed: number): tf.Tensor {
  const v = rand(
    shape.reduce((p, s) => p * s, 1),
    seed,
  );
  if (dtype === 'float32') return tf.tensor(v, shape);
  if (dtype === 'int32')
    return tf.tensor(
      Int32Array.from(v, (x) => Math.round(x * 1e6)),
      shape,
      'int32',
    );
  return tf.tensor(
    Uint8Array.from(v, (x) => (x > 0 ? 1 : 0)),
    shape,
    'bool',
  );
}

function permutations(n: number): number[][] {
  if (n === 1) return [[0]];
  return permutations(n - 1).flatMap((p) =>
    Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]),
  );
}

test.serial('Identity, Transpose and Sum are replaced on wasm', (t) => {
  for (const k of ['Identity', 'Transpose', 'Sum'])
    t.not(tf.getKernel(k, 'wasm')?.kernelFunc, stockKernel('wasm', k)?.kernelFunc, k);
});

test.serial(
  'a clone shares the buffer, outlives its source, and the buffer is freed with the last reference',
  async (t) => {
    await tf.setBackend('wasm');
    const buffers = () => tf.backend().numDataIds();
    const before = buffers();
    const x = tf.tensor([1, 2, 3, 4], [2, 2]);
    const y = tf.clone(x);
    t.is(buffers(), before + 1, 'one buffer for both');
    x.dispose();
    t.deepEqual(Array.from(await y.data()), [1, 2, 3, 4]);
    const z = tf.add(y, 1);
    y.dispose();
    t.deepEqual(Array.from(await z.data()), [2, 3, 4, 5]);
    t.is(buffers(), before + 1, 'the shared buffer freed with its last reference, z alive');
    z.dispose();
    t.is(buffers(), before);
    // gradients save inputs through clones: a training-style use still matches cpu
    const f = () => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.exp(a), tf.square(a))))(tf.tensor(rand(50, 9), [5, 10]));
    const [got] = await runOn('wasm', f),
      [ref] = await runOn('cpu', f);
    t.true(relErr(got.values, ref.values) < 1e-6);
  },
);

test('simplifyPermutation merges axes that stay adjacent and drops size-1 axes', (t) => {
  t.deepEqual(simplifyPermutation([32, 128, 2, 64], [0, 2, 1, 3]), { dims: [32, 128, 2, 64], perm: [0, 2, 1, 3] });
  t.deepEqual(simplifyPermutation([4, 5, 6], [2, 0, 1]), { dims: [20, 6], perm: [1, 0] });
  t.deepEqual(simplifyPermutation([4, 1, 6], [1, 2, 0]), { dims: [4, 6], perm: [1, 0] });
  t.deepEqual(simplifyPermutation([3, 4, 5], [0, 1, 2]), { dims: [60], perm: [0] });
  t.deepEqual(simplifyPermutation([1, 1], [1, 0]), { dims: [], perm: [] });
});

const shapes = [[7], [33, 40], [1, 5], [3, 4, 5], [2, 1, 70], [2, 3, 4, 5], [32, 9, 2, 17], [2, 3, 1, 4, 3]];
for (const shape of shapes) {
  for (const perm of permutations(shape.length)) {
    test.serial(`transpose [${shape}] by [${perm}] exactly (float32, int32, bool)`, async (t) => {
      for (const dtype of ['float32', 'int32', 'bool'] as const) {
        const f = () => tf.cast(tf.transpose(make(shape, dtype, 3), perm), 'float32');
        const [got] = await runOn('wasm', f),
          [ref] = await runOn('cpu', f);
        t.deepEqual(got.shape, ref.shape);
        t.deepEqual(Array.from(got.values), Array.from(ref.values), dtype);
      }
    });
  }
}

const sums: [number[], number | number[], boolean][] = [
  [[4096, 64], 0, false],
  [[32, 128, 16], [0, 1], false],
  [[32, 128, 16], [1, 0], true],
  [[5, 6, 7], [-3], false],
  [[5, 6, 7], [0, 2], false],
  [[5, 6, 7], 2, true],
  [[5, 6, 7], [0, 1, 2], false],
  [[9], 0, false],
];
for (const [shape, axis, keepDims] of sums) {
  test.serial(`sum [${shape}] over ${JSON.stringify(axis)}${keepDims ? ' keepDims' : ''}`, async (t) => {
    const f = () => tf.sum(make(shape, 'float32', 5), axis, keepDims);
    const [got] = await runOn('wasm', f),
      [ref] = await runOn('cpu', f);
    t.deepEqual(got.shape, ref.shape);
    t.true(relErr(got.values, ref.values) < 1e-6, `rel err ${relErr(got.values, ref.values)}`);
  });
}

test.serial('gradients through transpose and a leading-axes sum match the cpu backend', async (t) => {
  const f = () => {
    const x = make([6, 5, 4, 3], 'float32', 7),
      w = make([5, 6, 3, 4], 'float32', 8);
    return tf.grad((a: tf.Tensor) =>
      tf.sum(tf.mul(tf.sum(tf.mul(tf.transpose(a, [1, 0, 3, 2]), w), [0, 1]), tf.range(1, 13).reshape([3, 4]))),
    )(x);
  };
  const [got] = await runOn('wasm', f),
    [ref] = await runOn('cpu', f);
  t.true(relErr(got.values, ref.values) < 1e-6);
});
