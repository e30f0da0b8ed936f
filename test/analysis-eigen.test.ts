import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/backend.js';
import { registerSecondOrderGradients } from '../src/analysis/second-order.js';
import { mulberry32 } from '../src/util/random.js';
import {
  hutchinsonTrace,
  lanczos,
  powerIteration,
  symEigenvalues,
  topByMagnitude,
  type HvOperator,
} from '../src/analysis/eigen.js';

test.before(async () => {
  await initBackend(process.env.KDQAT_BACKEND ?? 'cpu', { quiet: true });
  registerSecondOrderGradients();
});

/** Q diag(lambda) Q^T with Q a random orthogonal matrix (Gram-Schmidt of random columns); Q returned column-wise */
function symmetricWith(lambda: number[], seed: number): { A: number[][]; Q: number[][] } {
  const n = lambda.length,
    r = mulberry32(seed);
  const Q: number[][] = [];
  for (let k = 0; k < n; k++) {
    let v = Array.from({ length: n }, () => r() - 0.5);
    for (const q of Q) {
      const d = v.reduce((s, x, i) => s + x * q[i], 0);
      v = v.map((x, i) => x - d * q[i]);
    }
    const nv = Math.hypot(...v);
    Q.push(v.map((x) => x / nv));
  }
  const A = Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => Q.reduce((s, q, k) => s + lambda[k] * q[i] * q[j], 0)),
  );
  return { A, Q };
}

/**
 * Hv of f(x) = 0.5 x^T A x by double backprop, with x split into two tensors ([3] and [n-3] as [..]) to exercise
 * the list handling; the Hessian is exactly A.
 */
function quadraticHv(A: number[][]): { hv: HvOperator; shapes: number[][] } {
  const n = A.length;
  const At = tf.tensor2d(A);
  const shapes = [[3], [n - 3]];
  const f = (a: tf.Tensor, b: tf.Tensor) => {
    const x = tf.concat([a, b]).reshape([n, 1]);
    return tf.mul(0.5, tf.sum(tf.mul(x, tf.matMul(At, x)))) as tf.Scalar;
  };
  const x0 = [tf.randomNormal([3], 0, 1, 'float32', 5), tf.randomNormal([n - 3], 0, 1, 'float32', 6)];
  const hv: HvOperator = (v) =>
    tf.tidy(() =>
      tf.grads((a: tf.Tensor, b: tf.Tensor) => {
        const [ga, gb] = tf.grads(f)([a, b]);
        return tf.add(tf.sum(tf.mul(ga, v[0])), tf.sum(tf.mul(gb, v[1]))) as tf.Scalar;
      })(x0),
    );
  return { hv, shapes };
}

const flat = (v: tf.Tensor[]) => v.flatMap((t) => Array.from(t.dataSync()));

test('power iteration with deflation finds the top eigenpairs by magnitude of a known Hessian', (t) => {
  const lambda = [10, -8, 5, 3, -2, 1, 0.5, 0.25];
  const { A, Q } = symmetricWith(lambda, 1);
  const { hv, shapes } = quadraticHv(A);
  const r = powerIteration(hv, shapes, { topN: 3, maxIter: 1000, tol: 1e-9, seed: 3 });
  t.deepEqual(r.converged, [true, true, true]);
  [10, -8, 5].forEach((l, i) =>
    t.true(Math.abs(r.eigenvalues[i] - l) < 1e-3 * Math.abs(l), `lambda_${i} = ${r.eigenvalues[i]}, expected ${l}`),
  );
  // eigenvectors: unit vectors parallel to the known ones (up to sign) and mutually orthogonal
  const vs = r.eigenvectors.map(flat);
  vs.forEach((v, i) => {
    t.true(Math.abs(Math.hypot(...v) - 1) < 1e-4);
    const c = Math.abs(v.reduce((s, x, j) => s + x * Q[i][j], 0));
    t.true(c > 0.999, `|cos(v_${i}, q_${i})| = ${c}`);
  });
  t.true(Math.abs(vs[0].reduce((s, x, j) => s + x * vs[1][j], 0)) < 1e-3);
  tf.dispose(r.eigenvectors.flat());
});

test('power iteration as PyHessian: the tolerance stop keeps the previous estimate, maxIter caps products', (t) => {
  const { A } = symmetricWith([4, 3.9, 1, 0.5, 0.1], 2); // nearly equal top pair: slow convergence
  const { hv, shapes } = quadraticHv(A);
  let calls = 0;
  const counted: HvOperator = (v) => {
    calls++;
    return hv(v);
  };
  const r = powerIteration(counted, shapes, { topN: 1, maxIter: 7, tol: 1e-12, seed: 1 });
  t.is(calls, 7);
  t.deepEqual(r.iterations, [7]);
  t.deepEqual(r.converged, [false]);
  t.true(r.eigenvalues[0] < 4 && r.eigenvalues[0] > 1, String(r.eigenvalues[0]));
  tf.dispose(r.eigenvectors.flat());
  // with a loose tolerance it stops as soon as the relative change is below tol
  const seen: number[] = [];
  const r2 = powerIteration(hv, shapes, {
    topN: 1,
    maxIter: 100,
    tol: 1e-2,
    seed: 1,
    onIter: (_k, _i, l) => seen.push(l),
  });
  t.true(r2.converged[0]);
  const k = seen.length;
  t.true(Math.abs(seen[k - 1] - seen[k - 2]) / (Math.abs(seen[k - 2]) + 1e-6) < 1e-2);
  t.is(r2.eigenvalues[0], seen[k - 2]); // the estimate before the last product, as PyHessian appends
  tf.dispose(r2.eigenvectors.flat());
});

test('power iteration is deterministic in its seed', (t) => {
  const { A } = symmetricWith([6, -5, 2, 1, 0.3], 4);
  const { hv, shapes } = quadraticHv(A);
  const a = powerIteration(hv, shapes, { topN: 2, maxIter: 30, tol: 1e-3, seed: 9 });
  const b = powerIteration(hv, shapes, { topN: 2, maxIter: 30, tol: 1e-3, seed: 9 });
  t.deepEqual(a.eigenvalues, b.eigenvalues);
  tf.dispose([...a.eigenvectors.flat(), ...b.eigenvectors.flat()]);
});

test('Hutchinson trace: exact for a diagonal Hessian, unbiased for a dense one', (t) => {
  const diag = [3, -1, 2, 0.5, 4, -2];
  const D = diag.map((d, i) => diag.map((_, j) => (i === j ? d : 0)));
  const q = quadraticHv(D);
  const r = hutchinsonTrace(q.hv, q.shapes, { maxIter: 5, tol: 1e-3, seed: 2 });
  for (const s of r.samples) t.true(Math.abs(s - 6.5) < 1e-4, String(s));
  t.true(r.converged);
  const lambda = [5, -3, 2, 1, 0.5, 0.2, -1];
  const { A } = symmetricWith(lambda, 7);
  const dense = quadraticHv(A);
  const r2 = hutchinsonTrace(dense.hv, dense.shapes, { maxIter: 300, tol: 0, seed: 1 });
  t.is(r2.samples.length, 300);
  let off = 0;
  A.forEach((row, i) =>
    row.forEach((a, j) => {
      if (i !== j) off += a * a;
    }),
  );
  const sd = Math.sqrt((2 * off) / 300);
  t.true(Math.abs(r2.trace - 4.7) < 4 * sd + 1e-6, `trace ${r2.trace}, sd ${sd}`);
});

test('Lanczos recovers the extreme eigenvalues, and the dense Jacobi solver is exact', (t) => {
  const lambda = [7, -6.9, 3, 2, 1, 0.5, -0.5, 0.1, 0.05, -3];
  const { A } = symmetricWith(lambda, 11);
  t.deepEqual(
    symEigenvalues(A).map((x) => Number(x.toFixed(6))),
    [...lambda].sort((a, b) => a - b).map((x) => Number(x.toFixed(6))),
  );
  const { hv, shapes } = quadraticHv(A);
  const { ritz, steps } = lanczos(hv, shapes, { maxSteps: 10, seed: 2 });
  t.is(steps, 10);
  const top = topByMagnitude(ritz, 2);
  t.true(Math.abs(top[0] - 7) < 1e-3 && Math.abs(top[1] + 6.9) < 1e-3, String(top));
  const early = lanczos(hv, shapes, { maxSteps: 50, seed: 2, tol: 1e-6, stableK: 2 });
  t.true(early.steps <= 10, `stopped after ${early.steps}`);
});
