/**
 * The cpu backend with its heavy kernels computed by wasm (src/backend/wasm-bridge.ts) against the stock cpu kernels:
 * every bridged kernel, forward values and gradients, inputs above the bridging threshold.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { initBoth, rand, randInt, relErr } from './kernels-helpers.js';
import { BRIDGED_KERNELS, BRIDGE_MIN_ELEMENTS, enableWasmBridge } from '../src/backend/wasm-bridge.js';
import { useKernel } from '../src/backend/wasm-registry.js';

test.before(async () => {
  await initBoth();
  await tf.setBackend('cpu');
  if (!(await enableWasmBridge())) throw new Error('the wasm bridge did not start');
});

function variant(v: 'stock' | 'ours') {
  for (const k of BRIDGED_KERNELS) useKernel('cpu', k, v);
}

/** f on the cpu backend with stock kernels and with bridged kernels: all outputs as float32 arrays */
function both(f: () => tf.Tensor | tf.Tensor[]) {
  const read = () =>
    tf.tidy(() => {
      const r = f();
      return (Array.isArray(r) ? r : [r]).map((t) => ({
        shape: t.shape,
        v: Float32Array.from(tf.cast(t, 'float32').dataSync()),
      }));
    });
  variant('stock');
  const ref = read();
  variant('ours');
  const got = read();
  return { ref, got };
}

const R = 64,
  C = 80; // 5120 elements: above the bridging threshold
const X = () => tf.tensor(rand(R * C, 1), [R, C]);
const Y = () => tf.tensor(rand(R * C, 2), [R, C]);

test.serial('the bridged cpu kernels are registered and the shapes used here exceed the threshold', (t) => {
  t.true(R * C >= BRIDGE_MIN_ELEMENTS);
  for (const k of BRIDGED_KERNELS) t.truthy(tf.getKernel(k, 'cpu'), k);
  t.is(tf.getBackend(), 'cpu');
});

const ops: Record<string, () => tf.Tensor | tf.Tensor[]> = {
  'BatchMatMul (all transposes, batched)': () => [
    tf.matMul(X(), Y(), false, true),
    tf.matMul(X(), Y(), true, false),
    tf.matMul(tf.reshape(X(), [4, 16, 80]), tf.reshape(Y(), [4, 80, 16]), false, false),
    tf.matMul(tf.reshape(X(), [4, 16, 80]), tf.reshape(Y(), [4, 80, 16]), true, true),
  ],
  Softmax: () => tf.softmax(X()),
  'Slice, SplitV, Concat': () => [
    tf.slice(X(), [3, 10], [50, 40]),
    ...tf.split(X(), [30, 50], 1),
    tf.concat([X(), Y()], 1),
  ],
  Transpose: () => tf.transpose(tf.reshape(X(), [4, 16, 5, 16]), [0, 2, 1, 3]),
  'GatherV2, Tile, Select': () => [
    tf.gather(X(), tf.tensor1d(randInt(100, R, 3), 'int32')),
    tf.tile(tf.reshape(X(), [R, C, 1]), [1, 1, 2]),
    tf.where(tf.greater(X(), Y()), X(), Y()),
  ],
  'Add, Sub, Multiply, RealDiv (broadcast)': () => [
    tf.add(X(), Y()),
    tf.sub(X(), tf.tensor1d(rand(C, 4))),
    tf.mul(X(), 3),
    tf.div(X(), tf.add(tf.abs(Y()), 1)),
  ],
  'Maximum, Minimum, Pow': () => [tf.maximum(X(), Y()), tf.minimum(X(), 0.1), tf.pow(X(), 3)],
  'comparisons and logical ops': () => [
    tf.greater(X(), Y()),
    tf.greaterEqual(X(), 0),
    tf.less(X(), Y()),
    tf.lessEqual(X(), 0.2),
    tf.equal(tf.round(X()), 0),
    tf.notEqual(tf.round(X()), 0),
    tf.logicalAnd(tf.greater(X(), 0), tf.less(Y(), 0)),
    tf.logicalOr(tf.greater(X(), 0), tf.less(Y(), 0)),
    tf.logicalNot(tf.greater(X(), 0)),
  ],
  'unary math': () => [
    tf.exp(X()),
    tf.log(tf.add(tf.abs(X()), 0.1)),
    tf.erf(X()),
    tf.tanh(X()),
    tf.sigmoid(X()),
    tf.relu(X()),
    tf.sqrt(tf.abs(X())),
    tf.rsqrt(tf.add(tf.abs(X()), 0.1)),
    tf.square(X()),
    tf.abs(X()),
    tf.neg(X()),
    tf.sign(X()),
    tf.round(tf.mul(X(), 4)),
    tf.floor(tf.mul(X(), 4)),
    tf.reciprocal(tf.add(tf.abs(X()), 0.5)),
    tf.step(X()),
    tf.clipByValue(X(), -0.3, 0.4),
  ],
  'Cast, reductions, ArgMax, OneHot, AddN': () => [
    tf.cast(tf.mul(X(), 10), 'int32'),
    tf.cast(tf.greater(X(), 0), 'float32'),
    tf.sum(X(), 1),
    tf.mean(X(), 0),
    tf.max(X(), 1),
    tf.min(X()),
    tf.prod(tf.add(tf.mul(X(), 0.01), 1), 1),
    tf.argMax(X(), 1),
    tf.oneHot(tf.tensor1d(randInt(5000, 7, 5), 'int32'), 7),
    tf.addN([X(), Y(), X()]),
  ],
};

for (const [name, f] of Object.entries(ops)) {
  test.serial(`bridged ${name} equals the stock cpu kernels`, (t) => {
    const { ref, got } = both(f);
    t.deepEqual(
      got.map((r) => r.shape),
      ref.map((r) => r.shape),
    );
    for (let i = 0; i < got.length; i++)
      t.true(relErr(got[i].v, ref[i].v) < 1e-5, `output ${i}: rel err ${relErr(got[i].v, ref[i].v)}`);
  });
}

const I = () =>
  tf.tensor(
    Int32Array.from({ length: R * C }, (_, i) => ((i * 7919) % 201) - 100),
    [R, C],
    'int32',
  );
const J = () =>
  tf.tensor(
    Int32Array.from({ length: R * C }, (_, i) => ((i * 104729) % 13) - 6),
    [R, C],
    'int32',
  );
const int32Ops: Record<string, () => tf.Tensor> = {
  add: () => tf.add(I(), J()),
  sub: () => tf.sub(I(), 3),
  mul: () => tf.mul(I(), J()),
  div: () => tf.div(I(), tf.add(tf.abs(J()), 1)),
  maximum: () => tf.maximum(I(), J()),
  minimum: () => tf.minimum(I(), 0),
  greater: () => tf.greater(I(), J()),
  equal: () => tf.equal(I(), J()),
  abs: () => tf.abs(I()),
  neg: () => tf.neg(I()),
  square: () => tf.square(J()),
  sign: () => tf.sign(I()),
  sum: () => tf.sum(I(), 1),
  max: () => tf.max(I(), 1),
  min: () => tf.min(I(), 0),
  argMax: () => tf.argMax(I(), 1),
  'cast to float32': () => tf.cast(I(), 'float32'),
  'cast to bool': () => tf.cast(I(), 'bool'),
  clipByValue: () => tf.clipByValue(I(), -5, 5),
  concat: () => tf.concat([I(), J()], 1),
  slice: () => tf.slice(I(), [1, 2], [30, 40]),
  transpose: () => tf.transpose(I()),
  gather: () => tf.gather(I(), tf.tensor1d([3, 1, 60], 'int32')),
  tile: () => tf.tile(I(), [2, 1]),
  select: () => tf.where(tf.greater(I(), 0), I(), J()),
  addN: () => tf.addN([I(), J()]),
  relu: () => tf.relu(I()),
  'sum of bool': () => tf.sum(tf.greater(I(), 0)),
};
test.serial('bridged kernels on int32 and bool inputs equal the stock cpu kernels exactly', (t) => {
  for (const [name, f] of Object.entries(int32Ops)) {
    const { ref, got } = both(f);
    t.deepEqual(got[0].shape, ref[0].shape, name);
    t.deepEqual(Array.from(got[0].v), Array.from(ref[0].v), name);
  }
});

test.serial(
  'cpu float32 tensors stored as Uint8Array / Int32Array (stock cpu casts keep them) are bridged correctly',
  (t) => {
    const { ref, got } = both(() => {
      // built below the bridging threshold, so by the stock cpu Cast, which keeps the source typed array
      const mask = tf.cast(tf.greater(tf.tensor(rand(R * 40, 3), [R, 40]), 0), 'float32');
      const ints = tf.cast(
        tf.tensor(
          Int32Array.from({ length: R * 40 }, (_, i) => (i % 9) - 4),
          [R, 40],
          'int32',
        ),
        'float32',
      );
      const big = tf.reshape(Y(), [2, R, 40]);
      return [tf.mul(mask, big), tf.add(ints, big), tf.matMul(mask, ints, false, true)];
    });
    for (let i = 0; i < got.length; i++)
      t.true(relErr(got[i].v, ref[i].v) < 1e-6, `output ${i}: rel err ${relErr(got[i].v, ref[i].v)}`);
  },
);

test.serial('gradients of a small attention + GELU + layer-norm block: bridged equals stock', (t) => {
  const { ref, got } = both(() => {
    const x = tf.tensor(rand(2 * 64 * 64, 6), [2, 64, 64]),
      wq = tf.tensor(rand(64 * 64, 7), [64, 64]),
      w1 = tf.tensor(rand(64 * 128, 8), [128, 64]);
    return tf.grads((a: tf.Tensor, q: tf.Tensor, u: tf.Tensor) => {
      const h = tf.matMul(tf.reshape(a, [128, 64]), q);
      const s = tf.softmax(tf.matMul(tf.reshape(h, [2, 64, 64]), tf.reshape(a, [2, 64, 64]), false, true));
      const ctx = tf.reshape(tf.matMul(s, tf.reshape(a, [2, 64, 64])), [128, 64]);
      const f = tf.matMul(ctx, u, false, true);
      const g = tf.mul(tf.mul(f, 0.5), tf.add(1, tf.erf(tf.div(f, Math.SQRT2))));
      const d = tf.sub(g, tf.mean(g, -1, true));
      const w = tf.tensor(rand(128 * 128, 9), [128, 128]); // random weights: a plain sum of normalised rows is ~0
      return tf.sum(tf.mul(tf.mul(d, tf.rsqrt(tf.add(tf.mean(tf.square(d), -1, true), 1e-12))), w));
    })([x, wq, w1]);
  });
  for (let i = 0; i < got.length; i++)
    t.true(relErr(got[i].v, ref[i].v) < 1e-4, `grad ${i}: rel err ${relErr(got[i].v, ref[i].v)}`);
});

test.serial('bridged kernels leave no tensors behind on either backend', (t) => {
  variant('ours');
  const run = () =>
    tf.tidy(() => {
      tf.softmax(tf.matMul(X(), Y(), false, true)).dataSync();
      tf.split(X(), 2, 1).forEach((s) => s.dataSync());
    });
  run();
  const before = tf.memory().numTensors;
  const wasm = tf.engine().registry.wasm as unknown as { numDataIds(): number };
  const wasmIds = wasm.numDataIds();
  for (let i = 0; i < 5; i++) run();
  t.is(tf.memory().numTensors, before);
  t.is(wasm.numDataIds(), wasmIds);
});
