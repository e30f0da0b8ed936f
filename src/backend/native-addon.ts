/**
 * The native kernel addon (`native/`, package kdqat-native, built by node-gyp against Debian's oneDNN at install).
 * It is an optional dependency: when it is missing or fails to load, `loadNativeAddon` says why in one line and the
 * backend chooser falls back to wasm. KDQAT_NATIVE_ADDON points the loader at another .node file.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

type F32 = Float32Array;
/** the addon's functions (native/src/addon.cc); every buffer is checked against the sizes given */
export interface NativeAddon {
  /**
   * out [max(bA,bB), M, N] = op(a [bA, M, K]) @ op(b [bB, K, N]); op = transpose when ta / tb (operands stored [K,M] /
   * [N,K])
   */
  matmul(
    a: F32,
    b: F32,
    out: F32,
    batchA: number,
    batchB: number,
    M: number,
    N: number,
    K: number,
    ta: boolean,
    tb: boolean,
  ): void;
  /** the same product on oneDNN's s8 x s8 GEMM (no ta): 0 done (exact), 1 not representable exactly (see gemm.cc) */
  int8Matmul(
    a: F32,
    b: F32,
    out: F32,
    batchA: number,
    batchB: number,
    M: number,
    N: number,
    K: number,
    tb: boolean,
  ): number;
  /** out = f(x) elementwise, f = UNARY[op]; p0, p1: step's alpha or clip's bounds */
  unary(op: number, x: F32, out: F32, p0: number, p1: number): void;
  /**
   * out[i] = f(a[ia], b[ib]) over dims with per-operand element strides (0 = broadcast); comparisons fill a Uint8Array
   */
  binary(op: number, a: F32, b: F32, out: F32 | Uint8Array, dims: number[], sa: number[], sb: number[]): void;
  /** out = a && b (op 0), a || b (1), !a (2) on bool bytes */
  logical(op: number, a: Uint8Array, b: Uint8Array, out: Uint8Array): void;
  /** out = cond ? t : e elementwise (same sizes) */
  select(cond: Uint8Array, t: F32, e: F32, out: F32): void;
  /** ints = round(x s), s = levels / max|x|; returns s (fused.cc) */
  symQuant(x: F32, ints: F32, levels: number): number;
  /** out = dy * 1[|x| < clip] (fused.cc) */
  steMask(dy: F32, x: F32, out: F32, clip: number): void;
  /**
   * BertAdam's update of one parameter into po, mo, vo; h = [b1, 1 - b1, b2, 1 - b2, eps, wd, lr, maxNorm] (fused.cc)
   */
  bertAdam(p: F32, m: F32, v: F32, g: F32, po: F32, mo: F32, vo: F32, h: number[]): void;
  /** out = acc + (v / nrm - p (p . v) / nrm3) l2, the dot in double (fused.cc) */
  hvL2(acc: F32, v: F32, p: F32, out: F32, l2: number, nrm: number, nrm3: number): void;
  /** out = xs[0] + xs[1] + ... (in that order) */
  addN(xs: F32[], out: F32): void;
  /** x viewed as [outer, red, inner] -> out [outer, inner], REDUCE[op]; sums accumulate in double */
  reduce(op: number, x: F32, out: F32, outer: number, red: number, inner: number): void;
  /** softmax over the last axis of x [rows, cols] */
  softmax(x: F32, out: F32, rows: number, cols: number): void;
  /** dst[dstOff + sum i_k ds_k] = src[srcOff + sum i_k ss_k] for every index i < dims (same element type) */
  copy(
    src: ArrayBufferView,
    srcOff: number,
    dst: ArrayBufferView,
    dstOff: number,
    dims: number[],
    ss: number[],
    ds: number[],
  ): void;
  /**
   * dst [outer, m, inner] = src [outer, n, inner] at rows idx [m]; returns -1, or the position of an index outside [0,
   * n)
   */
  gather(src: ArrayBufferView, idx: Int32Array, dst: ArrayBufferView, outer: number, n: number, inner: number): number;
  /**
   * out [segments, inner] += x [rows, inner] at rows ids [rows] (negative dropped); returns -1 or the position of an id
   * >= segments
   */
  segmentSum(x: F32, ids: Int32Array, out: F32, segments: number): number;
  setThreads(n: number): void;
  getThreads(): number;
  version(): string;
}

export const UNARY = [
  'Exp',
  'Log',
  'Erf',
  'Tanh',
  'Sigmoid',
  'Relu',
  'Sqrt',
  'Rsqrt',
  'Square',
  'Abs',
  'Neg',
  'Sign',
  'Round',
  'Floor',
  'Reciprocal',
  'Step',
  'ClipByValue',
  'Ceil',
  'Log1p',
] as const;
export const BINARY = [
  'Add',
  'Sub',
  'Multiply',
  'RealDiv',
  'Maximum',
  'Minimum',
  'Pow',
  'SquaredDifference',
  'Greater',
  'GreaterEqual',
  'Less',
  'LessEqual',
  'Equal',
  'NotEqual',
] as const;
/** binary ops from this index on are comparisons (bool output) */
export const FIRST_COMPARISON = BINARY.indexOf('Greater');
export const REDUCE = ['Sum', 'Mean', 'Max', 'Min', 'Prod'] as const;

let addon: NativeAddon | undefined;
let failure: string | undefined;

/** The addon, or a one-line reason why it is not available. */
export function loadNativeAddon(): { addon?: NativeAddon; why?: string } {
  if (addon || failure) return { addon, why: failure };
  const where = process.env.KDQAT_NATIVE_ADDON
    ? `KDQAT_NATIVE_ADDON=${process.env.KDQAT_NATIVE_ADDON}`
    : 'kdqat-native (native/)';
  try {
    addon = require('kdqat-native') as NativeAddon;
    if (typeof addon.matmul !== 'function') throw new Error('not the kdqat native addon');
  } catch (e) {
    addon = undefined;
    const msg = (e as Error).message.split('\n')[0];
    const hint = /Cannot find module 'kdqat-native'/.test(msg)
      ? ' (run `npm install`; it builds native/ with node-gyp and needs libdnnl-dev: bash .ci/install-system.sh)'
      : '';
    failure = `native kernels not loaded from ${where}: ${msg}${hint}`;
  }
  return { addon, why: failure };
}
