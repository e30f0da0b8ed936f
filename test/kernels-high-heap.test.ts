/**
 * Our wasm kernels on tensors that live above 2 GiB in the wasm heap (mini-sized KD-QAT steps get there). Heap
 * offsets are unsigned: `offset >> 2` turns one above 2^31 negative, and the kernel then writes outside its
 * tensor (seen as "memory access out of bounds" in a mini bench). Each result is compared with the cpu backend's
 * (exactly for data movement, to float32 rounding for sums and products).
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { initBoth, rand, relErr, runOn } from './kernels-helpers.js';
import type { WasmBackendLike } from '../src/backend/wasm-heap.js';

const cases: [string, (x: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
  ['transpose 2-D', (x) => tf.transpose(x)],
  ['transpose heads [0,2,1,3]', (x) => tf.transpose(tf.reshape(x, [8, 128, 16, 64]), [0, 2, 1, 3])],
  ['slice', (x) => tf.slice(x, [3, 100], [500, 700])],
  ['gather rows', (x) => tf.gather(x, tf.tensor1d([5, 0, 1023, 7, 7], 'int32'))],
  ['tile', (x) => tf.tile(tf.slice(x, [0, 0], [64, 32]), [3, 2])],
  ['leading-axes sum', (x) => tf.sum(x, 0)],
  ['matMul, transposed product path', (x, b) => tf.matMul(b, x, true, false)], // [64,1024]^T [1024,1024]: N > M
  ['matMul A^T B', (x, b) => tf.matMul(x, b, true, false)],
];

test.serial('kernels give the same results on tensors above 2 GiB in the wasm heap', async (t) => {
  await initBoth();
  await tf.setBackend('wasm');
  const be = tf.backend() as unknown as WasmBackendLike;
  const make = () => [tf.tensor(rand(1024 * 1024, 3), [1024, 1024]), tf.tensor(rand(1024 * 64, 4), [1024, 64])];
  const offset = (y: tf.Tensor) => be.dataIdMap.get(y.dataId)!.memoryOffset >>> 0;
  const filler = tf.zeros([Math.ceil(2 ** 31 / 4) + 1024 * 1024], 'float32'); // pushes what follows above 2 GiB
  const high: Float32Array[] = [];
  try {
    const [x, b] = make();
    for (const [name, f] of cases) {
      const y = tf.tidy(() => f(x, b));
      for (const [what, z] of [
        ['input', x],
        ['output', y],
      ] as const)
        t.true(offset(z) >= 2 ** 31, `precondition: ${name} ${what} at ${offset(z)}`);
      high.push(Float32Array.from(y.dataSync()));
      y.dispose();
    }
    tf.dispose([x, b]);
  } finally {
    filler.dispose();
  }
  for (const [i, [name, f]] of cases.entries()) {
    const [ref] = await runOn('cpu', () => {
      const [x, b] = make();
      return f(x, b);
    });
    if (/sum|matMul/.test(name))
      t.true(relErr(high[i], ref.values) < 1e-6, `${name}: rel err ${relErr(high[i], ref.values)}`);
    else t.deepEqual(Array.from(high[i]), Array.from(ref.values), name);
  }
});
