/**
 * Eigenvalues and trace of a symmetric operator given only as v -> Hv on lists of tensors (one per parameter),
 * exactly as PyHessian's hessian.eigenvalues / hessian.trace (the reference's hessian.py + utils.py):
 *   normalization(v) = v / (||v|| + 1e-6);  orthnormal(w, V) = normalization(w - sum_k (w.v_k) v_k) (sequential);
 *   per eigenvalue: v ~ N(0, I) normalised; repeat maxIter: v = orthnormal(v, found); Hv; lambda_i = Hv.v;
 *   v = normalization(Hv); stop when |lambda_prev - lambda_i| / (|lambda_prev| + 1e-6) < tol, keeping lambda_prev
 *   (PyHessian's quirk) and the last v. Eigenvalues come out in the order found (power iteration finds the
 *   largest magnitude first).
 * Dot products are read back as float64 sums of float32 partial sums.
 */
import * as tf from '@tensorflow/tfjs';

export type Vec = tf.Tensor[];
/** Hv for v (same shapes); must not dispose v; the caller disposes the result. */
export type HvOperator = (v: Vec) => Vec;

export function dot(a: Vec, b: Vec): number {
  return tf.tidy(
    () =>
      a
        .map((x, i) => tf.sum(tf.mul(x, b[i])))
        .reduce((s, t) => tf.add(s, t))
        .dataSync()[0],
  );
}

/** v / (||v|| + 1e-6), PyHessian's normalization */
export function normalization(v: Vec): Vec {
  const s = Math.sqrt(dot(v, v));
  return tf.tidy(() => v.map((x) => tf.div(x, s + 1e-6)));
}

/** Gram-Schmidt of w against the (orthonormal) list, sequentially as PyHessian's orthnormal, then normalised. */
export function orthnormal(w: Vec, list: Vec[]): Vec {
  let cur = w.map((x) => x.clone());
  for (const u of list) {
    const a = dot(cur, u);
    const next = tf.tidy(() => cur.map((x, i) => tf.sub(x, tf.mul(u[i], a))));
    tf.dispose(cur);
    cur = next;
  }
  const out = normalization(cur);
  tf.dispose(cur);
  return out;
}

export interface PowerOptions {
  topN?: number; // default 1
  maxIter?: number; // default 100
  tol?: number; // default 1e-3
  seed?: number; // default 0: the start vectors are N(0,1) with seeds derived from it
  /** called after every Hv product (progress) */
  onIter?: (k: number, iter: number, lambda: number) => void;
}

export interface PowerResult {
  eigenvalues: number[];
  eigenvectors: Vec[];
  /** Hv products used per eigenvalue */
  iterations: number[];
  converged: boolean[];
}

/** Top-n eigenpairs by power iteration with deflation (see the file comment). shapes: one per parameter. */
export function powerIteration(hv: HvOperator, shapes: number[][], opts: PowerOptions = {}): PowerResult {
  const { topN = 1, maxIter = 100, tol = 1e-3, seed = 0 } = opts;
  const res: PowerResult = { eigenvalues: [], eigenvectors: [], iterations: [], converged: [] };
  for (let k = 0; k < topN; k++) {
    const r = shapes.map((s, i) => tf.randomNormal(s, 0, 1, 'float32', seed * 7919 + k * 1009 + i));
    let v = normalization(r);
    tf.dispose(r);
    let eigenvalue: number | null = null;
    let iters = 0,
      converged = false;
    for (let it = 0; it < maxIter; it++) {
      const w = orthnormal(v, res.eigenvectors);
      tf.dispose(v);
      const h = hv(w);
      const lambda = dot(h, w);
      tf.dispose(w);
      v = normalization(h);
      tf.dispose(h);
      iters++;
      opts.onIter?.(k, it, lambda);
      if (eigenvalue === null) eigenvalue = lambda;
      else if (Math.abs(eigenvalue - lambda) / (Math.abs(eigenvalue) + 1e-6) < tol) {
        converged = true;
        break;
      } else eigenvalue = lambda;
    }
    res.eigenvalues.push(eigenvalue ?? NaN);
    res.eigenvectors.push(v);
    res.iterations.push(iters);
    res.converged.push(converged);
  }
  return res;
}

export interface TraceResult {
  trace: number;
  samples: number[];
  converged: boolean;
}

/**
 * Hutchinson trace estimate, PyHessian's hessian.trace: v_i = +-1 (Rademacher), sample v^T H v; stop when the
 * running mean changes by less than tol relatively (|mean_k - mean_{k-1}| / (|mean_{k-1}| + 1e-6)).
 */
export function hutchinsonTrace(
  hv: HvOperator,
  shapes: number[][],
  opts: { maxIter?: number; tol?: number; seed?: number } = {},
): TraceResult {
  const { maxIter = 100, tol = 1e-3, seed = 0 } = opts;
  const samples: number[] = [];
  let trace = 0;
  for (let it = 0; it < maxIter; it++) {
    const v = shapes.map((s, i) =>
      tf.tidy(() =>
        tf.sub(
          tf.mul(
            tf.cast(tf.greaterEqual(tf.randomUniform(s, 0, 1, 'float32', seed * 7919 + it * 1009 + i), 0.5), 'float32'),
            2,
          ),
          1,
        ),
      ),
    );
    const h = hv(v);
    samples.push(dot(h, v));
    tf.dispose([...v, ...h]);
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    if (Math.abs(mean - trace) / (Math.abs(trace) + 1e-6) < tol) return { trace: mean, samples, converged: true };
    trace = mean;
  }
  return { trace, samples, converged: false };
}

/**
 * Lanczos with full reorthogonalisation: Ritz values (eigenvalues of the tridiagonal T_j), ascending, after at most
 * maxSteps products; stops early once the `stableK` Ritz values of largest magnitude changed by less than
 * `tol` (relative) over 3 consecutive steps. Extreme Ritz values converge far faster than power iteration when
 * the top eigenvalues have nearly equal magnitude (the fixture check uses it to confirm the reference's
 * power-iteration results; PyHessian's SLQ density uses the same recurrence).
 */
export function lanczos(
  hv: HvOperator,
  shapes: number[][],
  opts: { maxSteps: number; seed?: number; tol?: number; stableK?: number },
): { ritz: number[]; steps: number } {
  const { maxSteps, seed = 0, tol = 0, stableK = 2 } = opts;
  const r = shapes.map((s, i) => tf.randomNormal(s, 0, 1, 'float32', seed * 7919 + 77 + i));
  const basis: Vec[] = [normalization(r)];
  tf.dispose(r);
  const alpha: number[] = [],
    beta: number[] = [];
  let ritz: number[] = [];
  const history: number[][] = [];
  for (let j = 0; j < maxSteps; j++) {
    const q = basis[j];
    let w = hv(q);
    alpha.push(dot(w, q));
    ritz = symTridiagEigenvalues(alpha, beta);
    history.push(topByMagnitude(ritz, stableK));
    const stable =
      tol > 0 &&
      history.length >= 4 &&
      history
        .slice(-4, -1)
        .every(
          (h) =>
            h.length === stableK &&
            h.every(
              (x, i) => Math.abs(x - history[history.length - 1][i]) <= tol * Math.abs(history[history.length - 1][i]),
            ),
        );
    if (stable || j === maxSteps - 1) {
      tf.dispose(w);
      break;
    }
    // full reorthogonalisation, twice for stability: w -= sum_k (w.q_k) q_k
    for (let pass = 0; pass < 2; pass++) {
      for (const u of basis) {
        const c = dot(w, u);
        const next = tf.tidy(() => w.map((x, i) => tf.sub(x, tf.mul(u[i], c))));
        tf.dispose(w);
        w = next;
      }
    }
    const b = Math.sqrt(dot(w, w));
    if (b < 1e-10) {
      tf.dispose(w);
      break;
    } // invariant subspace: T_j is exact
    beta.push(b);
    basis.push(tf.tidy(() => w.map((x) => tf.div(x, b))));
    tf.dispose(w);
  }
  for (const v of basis) tf.dispose(v);
  return { ritz, steps: alpha.length };
}

/** Eigenvalues (ascending) of the symmetric tridiagonal matrix diag(a), offdiag(b), by Jacobi rotations (small m). */
export function symTridiagEigenvalues(a: number[], b: number[]): number[] {
  const n = a.length;
  if (b.length < n - 1)
    throw new Error(`symTridiagEigenvalues: ${n} diagonal entries need ${n - 1} off-diagonal ones, got ${b.length}`);
  const A = Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => (i === j ? a[i] : Math.abs(i - j) === 1 ? b[Math.min(i, j)] : 0)),
  );
  return symEigenvalues(A);
}

/** Eigenvalues (ascending) of a small dense symmetric matrix by cyclic Jacobi rotations. */
export function symEigenvalues(M: number[][]): number[] {
  const n = M.length;
  const A = M.map((r) => r.slice());
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += A[i][j] * A[i][j];
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(A[p][q]) < 1e-300) continue;
        const theta = (A[q][q] - A[p][p]) / (2 * A[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1),
          s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k][p],
            akq = A[k][q];
          A[k][p] = c * akp - s * akq;
          A[k][q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p][k],
            aqk = A[q][k];
          A[p][k] = c * apk - s * aqk;
          A[q][k] = s * apk + c * aqk;
        }
      }
    }
  }
  return A.map((r, i) => r[i]).sort((x, y) => x - y);
}

/** The k values of largest magnitude, largest magnitude first. */
export function topByMagnitude(values: number[], k: number): number[] {
  return [...values].sort((x, y) => Math.abs(y) - Math.abs(x)).slice(0, k);
}
