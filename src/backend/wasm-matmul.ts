/**
 * Fast BatchMatMul / _FusedMatMul for the tfjs wasm backend.
 *
 * Stock wasm BatchMatMul uses XNNPACK only for un-transposed products with batch 1 on both sides; everything else
 * (all backward products, all attention products) runs a scalar loop at ~1-2 GFLOP/s. This kernel
 *   1. materialises A as row-major [batchA, M, K] and B as [batchB, K, N] (one wasm Transpose call each when
 *      transposeA / transposeB is set),
 *   2. folds the batch into M when B is shared (batchB == 1 and A is not broadcast): one XNNPACK call,
 *      When the product has more columns than rows, it computes the transposed product instead (see below),
 *   3. otherwise calls XNNPACK once per output batch slice, each slice registered as an alias tensor id that
 *      points into the operands' heap buffers (no copies), with numpy-style broadcasting of the batch dims.
 * out[..., m, n] = sum_k op(A)[..., m, k] * op(B)[..., k, n], op = transpose of the last two dims when asked.
 */
import * as tf from '@tensorflow/tfjs';
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { replaceKernel } from './wasm-registry.js';
import { aliasId, heapPair, unaliasId, wasmData, type WasmBackendLike, type WasmModule } from './wasm-heap.js';
import { transpose2d } from './wasm-layout.js';

const shapeScratch = new WeakMap<WasmModule, number>();

/** A persistent 8-int scratch area on the heap for the two [1, rows, cols] shapes passed to the C++ kernel. */
function scratch(wasm: WasmModule): number {
  let p = shapeScratch.get(wasm);
  if (p === undefined) {
    p = wasm._malloc(32);
    shapeScratch.set(wasm, p);
  }
  return p;
}

/** One XNNPACK product on the heap: out[M, N] = A[M, K] x B[K, N], all three given by tensor ids (row-major). */
function xnn2d(
  backend: WasmBackendLike,
  aId: number,
  bId: number,
  outId: number,
  M: number,
  K: number,
  N: number,
): void {
  const w = backend.wasm;
  const p = scratch(w);
  const h = w.HEAP32,
    i = p >>> 2;
  h[i] = 1;
  h[i + 1] = M;
  h[i + 2] = K;
  h[i + 4] = 1;
  h[i + 5] = K;
  h[i + 6] = N;
  w._BatchMatMul(aId, p, 3, bId, p + 16, 3, 0, 0, outId);
}

function runKernel(
  name: string,
  backend: WasmBackendLike,
  inputs: Record<string, TensorInfo>,
  attrs: NamedAttrMap = {},
): TensorInfo {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`wasm-matmul: the wasm backend has no ${name} kernel`);
  return k.kernelFunc({ inputs, backend: backend as never, attrs }) as TensorInfo;
}

/** Transpose the last two dims of x viewed as [batch, r, c]: returns a new tensor [batch, c, r] (caller disposes). */
function transposeLast2(backend: WasmBackendLike, x: TensorInfo, batch: number, r: number, c: number): TensorInfo {
  const view: TensorInfo = { dataId: x.dataId, shape: batch > 1 ? [batch, r, c] : [r, c], dtype: x.dtype };
  return runKernel('Transpose', backend, { x: view }, { perm: batch > 1 ? [0, 2, 1] : [1, 0] });
}

/** Flat batch index of the operand for each flat output batch index, under numpy broadcasting. */
function broadcastIndex(outDims: number[], inDims: number[]): (o: number) => number {
  const r = outDims.length,
    pad = r - inDims.length;
  const dims = Array.from({ length: r }, (_, i) => (i < pad ? 1 : inDims[i - pad]));
  const strides = new Array<number>(r).fill(0);
  for (let i = r - 1, s = 1; i >= 0; i--) {
    strides[i] = dims[i] === 1 ? 0 : s;
    s *= dims[i];
  }
  return (o: number) => {
    let idx = 0;
    for (let i = r - 1; i >= 0; i--) {
      const d = outDims[i];
      idx += (o % d) * strides[i];
      o = Math.floor(o / d);
    }
    return idx;
  };
}

const size = (s: readonly number[]): number => s.reduce((p, v) => p * v, 1);

/**
 * out = matMul(a, b, transposeA, transposeB) on the wasm heap. a: [...batchA, M, K] (or [..., K, M] if transposeA),
 * b: [...batchB, K, N] (or [..., N, K] if transposeB); batch dims broadcast. Returns [...broadcast(batch), M, N].
 */
export function wasmMatMul(
  backend: WasmBackendLike,
  a: TensorInfo,
  b: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): TensorInfo {
  if (a.dtype !== 'float32' || b.dtype !== 'float32') {
    throw new Error(
      `wasm BatchMatMul: only float32 is supported, got a ${a.dtype} [${a.shape}], b ${b.dtype} [${b.shape}]`,
    );
  }
  if (a.shape.length < 2 || b.shape.length < 2)
    throw new Error(`wasm BatchMatMul: ranks must be >= 2, got [${a.shape}] and [${b.shape}]`);
  const ra = a.shape.length,
    rb = b.shape.length;
  const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const K = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const Kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (K !== Kb) {
    throw new Error(
      `wasm BatchMatMul: inner dims differ (${K} vs ${Kb}) for a [${a.shape}], b [${b.shape}], ` +
        `transposeA=${transposeA}, transposeB=${transposeB}`,
    );
  }
  const batchDimsA = a.shape.slice(0, -2),
    batchDimsB = b.shape.slice(0, -2);
  const outBatchDims = tf.broadcast_util.assertAndGetBroadcastShape(batchDimsA, batchDimsB);
  const batchA = size(batchDimsA),
    batchB = size(batchDimsB),
    batchOut = size(outBatchDims);
  const out = backend.makeOutput([...outBatchDims, M, N], 'float32');
  if (batchOut * M * N === 0) return out;
  const outData = wasmData(backend, out, 'out');
  if (K === 0) {
    const { heap, b0 } = heapPair(backend, out, out);
    heap.fill(0, b0, b0 + batchOut * M * N);
    return out;
  }

  const temps: TensorInfo[] = [];
  if (batchB === 1 && batchA === batchOut && N > batchA * M && (batchA === 1 || !transposeA)) {
    // shared right operand with more output columns than rows: XNNPACK packs its right operand on every call and
    // runs ~2x slower when that is the wider one (dW = dy^T x of a widening layer), so compute
    // out^T [N, R] = op(B)^T [N, K] x op(A)^T [K, R] (R = batchA*M) and transpose the result into out.
    const R = batchA * M;
    const bt = transposeB ? b : transposeLast2(backend, b, 1, K, N); // [N, K]
    if (!transposeB) temps.push(bt);
    const at = transposeA ? a : transposeLast2(backend, a, 1, R, K); // [K, R]
    if (!transposeA) temps.push(at);
    const outT = backend.makeOutput([N, R], 'float32');
    temps.push(outT);
    try {
      const aId = aliasId(backend, wasmData(backend, at, 'a').memoryOffset, K * R);
      xnn2d(backend, wasmData(backend, bt, 'b').id, aId, wasmData(backend, outT, 'out').id, N, K, R);
      unaliasId(backend, aId);
      const { heap, a0, b0 } = heapPair(backend, outT, out);
      transpose2d(heap, a0, b0, 1, N, R);
      return out;
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  }
  const A = transposeA ? transposeLast2(backend, a, batchA, K, M) : a;
  if (transposeA) temps.push(A);
  const B = transposeB ? transposeLast2(backend, b, batchB, N, K) : b;
  if (transposeB) temps.push(B);
  try {
    const dA = wasmData(backend, A, 'a'),
      dB = wasmData(backend, B, 'b');
    if (batchB === 1 && batchA === batchOut) {
      // shared right operand: one product [batchA*M, K] x [K, N]. B always gets a fresh alias id: the C++ side
      // caches the packed weights per B id ignoring the shape, so a reshaped view of a tensor already used as B
      // (same id, other [K, N]) would reuse a stale operator (a tfjs 4.22 bug the stock kernels have).
      const bId = aliasId(backend, dB.memoryOffset, K * N);
      xnn2d(backend, dA.id, bId, outData.id, batchA * M, K, N);
      unaliasId(backend, bId);
      return out;
    }
    const ia = broadcastIndex(outBatchDims, batchDimsA),
      ib = broadcastIndex(outBatchDims, batchDimsB);
    for (let o = 0; o < batchOut; o++) {
      const aId = batchA === 1 ? dA.id : aliasId(backend, dA.memoryOffset + ia(o) * M * K * 4, M * K);
      const bId = aliasId(backend, dB.memoryOffset + ib(o) * K * N * 4, K * N);
      const oId = aliasId(backend, outData.memoryOffset + o * M * N * 4, M * N);
      xnn2d(backend, aId, bId, oId, M, K, N);
      if (aId !== dA.id) unaliasId(backend, aId);
      unaliasId(backend, bId); // also frees the XNNPACK operator (packed weights) cached on this id
      unaliasId(backend, oId);
    }
    return out;
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}

function batchMatMulKernel(args: {
  inputs: Record<string, TensorInfo>;
  backend: unknown;
  attrs?: NamedAttrMap;
}): TensorInfo {
  const { a, b } = args.inputs;
  const { transposeA, transposeB } = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
  return wasmMatMul(args.backend as WasmBackendLike, a, b, !!transposeA, !!transposeB);
}

const ACTIVATION_KERNEL: Record<string, string> = {
  relu: 'Relu',
  relu6: 'Relu6',
  elu: 'Elu',
  sigmoid: 'Sigmoid',
  leakyrelu: 'LeakyRelu',
  prelu: 'Prelu',
};

/**
 * _FusedMatMul: act(matMul(a, b) + bias) = wasmMatMul, then the wasm Add and activation kernels. (The stock kernel
 * fuses bias and activation into XNNPACK but shares the stale-operator bug described in wasmMatMul.)
 */
function fusedMatMulKernel(args: {
  inputs: Record<string, TensorInfo>;
  backend: unknown;
  attrs?: NamedAttrMap;
}): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { a, b, bias, preluActivationWeights } = args.inputs;
  const attrs = (args.attrs ?? {}) as {
    transposeA?: boolean;
    transposeB?: boolean;
    activation?: string;
    leakyreluAlpha?: number;
  };
  let y = wasmMatMul(backend, a, b, !!attrs.transposeA, !!attrs.transposeB);
  if (bias) {
    const z = runKernel('Add', backend, { a: y, b: bias });
    backend.disposeData(y.dataId);
    y = z;
  }
  const act = attrs.activation ?? 'linear';
  if (act !== 'linear') {
    const k = ACTIVATION_KERNEL[act];
    if (!k) throw new Error(`wasm _FusedMatMul: unknown activation "${act}"`);
    const z =
      act === 'prelu'
        ? runKernel(k, backend, { x: y, alpha: preluActivationWeights })
        : runKernel(k, backend, { x: y }, act === 'leakyrelu' ? { alpha: attrs.leakyreluAlpha ?? 0.2 } : {});
    backend.disposeData(y.dataId);
    y = z;
  }
  return y;
}

/** Replace the wasm BatchMatMul and _FusedMatMul kernels (idempotent). */
export function registerWasmMatMul(): void {
  replaceKernel({ kernelName: 'BatchMatMul', backendName: 'wasm', kernelFunc: batchMatMulKernel as never });
  replaceKernel({ kernelName: '_FusedMatMul', backendName: 'wasm', kernelFunc: fusedMatMulKernel as never });
}
