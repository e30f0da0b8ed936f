/**
 * The plain backend (issue 21): tfjs's own cpu kernel set and nothing of kdqat's, so that every kdqat path runs its
 * standard-op fallback there (what a tfjs-node(-gpu) user gets). Its own process: the backend is chosen once.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/backend.js';
import { plainKernelCount } from '../src/backend/plain.js';
import { ourKernels, stockKernel } from '../src/backend/wasm-registry.js';
import { BERT_ADAM, HV_L2, STE_MASK, SYM_QUANT } from '../src/backend/fused.js';

test.serial("plain: exactly tfjs's cpu kernels, none of kdqat's fused kernels, replacements or bridges", async (t) => {
  const info = await initBackend('plain', { quiet: true });
  t.is(info.backend, 'plain');
  t.is(tf.getBackend(), 'plain');
  const plain = tf.getKernelsForBackend('plain');
  t.is(plain.length, plainKernelCount());
  t.true(plain.length > 100, `${plain.length} kernels`);
  for (const k of [BERT_ADAM, SYM_QUANT, STE_MASK, HV_L2]) t.true(tf.getKernel(k, 'plain') === undefined, k);
  t.deepEqual(ourKernels('plain'), [], "no kernel of ours replaces or adds to plain's");
  // kdqat's scatter-add replaced cpu's UnsortedSegmentSum (registered at init): plain keeps tfjs's own
  t.true(
    tf.getKernel('UnsortedSegmentSum', 'plain')?.kernelFunc !== tf.getKernel('UnsortedSegmentSum', 'cpu')?.kernelFunc,
  );
  t.true(ourKernels('cpu').some((k) => k.kernelName === 'UnsortedSegmentSum'));
  t.true(
    stockKernel('cpu', 'UnsortedSegmentSum') !== undefined &&
      tf.getKernel('UnsortedSegmentSum', 'plain')?.kernelFunc === stockKernel('cpu', 'UnsortedSegmentSum')?.kernelFunc,
    "tfjs's own",
  );
  // the embedding gradient (gather -> UnsortedSegmentSum) runs on tfjs's kernel and is right
  const table = tf.variable(
    tf.tensor2d([
      [1, 2],
      [3, 4],
      [5, 6],
    ]),
  );
  const g = tf.grad((x: tf.Tensor) =>
    tf.sum(
      tf.mul(
        tf.gather(x, tf.tensor1d([2, 0, 2], 'int32')),
        tf.tensor2d([
          [1, 1],
          [2, 2],
          [3, 3],
        ]),
      ),
    ),
  )(table);
  t.deepEqual(await g.array(), [
    [2, 2],
    [0, 0],
    [4, 4],
  ]);
});
