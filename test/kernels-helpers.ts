/**
 * Test helpers to run the same tensor function on the cpu and wasm backends of one process and compare.
 * Use with test.serial: the active backend is process-global.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerCpuExtras } from '../src/backend/cpu-kernels.js';
import { registerWasmExtras } from '../src/backend/wasm-kernels.js';

export async function initBoth(): Promise<void> {
  registerWasmExtras();
  registerCpuExtras();
  for (const b of ['cpu', 'wasm']) {
    if (!(await tf.setBackend(b))) throw new Error(`backend ${b} did not start`);
    await tf.ready();
  }
}

export interface Result {
  shape: number[];
  values: Float32Array;
}

/** Run f on `backend` (inputs built inside f from plain arrays) and read every output back. */
export async function runOn(backend: string, f: () => tf.Tensor | tf.Tensor[]): Promise<Result[]> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const out = f();
    return (Array.isArray(out) ? out : [out]).map((t) => ({
      shape: t.shape,
      values: Float32Array.from(t.dataSync() as ArrayLike<number>),
    }));
  });
}

/** ||a - b|| / max(||b||, tiny): relative Frobenius error. */
export function relErr(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let d = 0,
    n = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i] - b[i]) ** 2;
    n += b[i] ** 2;
  }
  if (Number.isNaN(d)) return Infinity;
  return Math.sqrt(d) / Math.max(Math.sqrt(n), 1e-30);
}

/** Deterministic pseudo-random values in [-1, 1) (LCG), so failures reproduce. */
export function rand(n: number, seed = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

export function randInt(n: number, hi: number, seed = 1): Int32Array {
  return Int32Array.from(rand(n, seed), (v) => Math.min(hi - 1, Math.floor(((v + 1) / 2) * hi)));
}
