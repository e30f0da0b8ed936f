/**
 * Identity, Transpose and leading-axes Sum for the tfjs wasm backend, as JS loops over the heap.
 *
 * The stock wasm Identity copies its input. tfjs calls it (through tf.clone) for every tensor a kernel's gradient
 * saves for the backward pass: ~400 copies of activations per KD-QAT step of a 2-layer model. Here Identity shares
 * the input's buffer and counts a reference, as the cpu backend's does (no wasm kernel writes into its inputs).
 *
 * The stock wasm Transpose walks the output element by element (42 ms for a [4096, 512] float32 matrix here, 5x a
 * Multiply of the same size), and every wasm reduction over leading axes (Sum over the batch for a bias or
 * LayerNorm gradient) first runs that Transpose. Every backward matrix product transposes one operand too
 * (wasm-matmul.ts). Here:
 *   - Transpose: the permutation is simplified (size-1 axes dropped, axes that stay adjacent merged); a permutation
 *     that keeps the innermost axis in place (the attention heads' [B,T,H,dh] <-> [B,H,T,dh]) copies contiguous
 *     runs; one that swaps the two innermost groups ([.., r, c] -> [.., c, r]) is a cache-blocked 2-D transpose per
 *     batch. Anything else, and bool / string / complex tensors, go to the stock kernel. 4-byte elements are moved
 *     as int32 bits, so float32 values are copied exactly.
 *   - Sum over a leading run of axes of a float32 tensor: out[j] = sum_i x[i, j], accumulated in float64 row by row
 *     (no transpose; at least as accurate as the stock float32 sum). Other reductions go to the stock kernel.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { heapCopy, heapPair, type HeapView, type WasmBackendLike } from './wasm-heap.js';
import { callStock, replaceKernel } from './wasm-registry.js';

const size = (s: readonly number[]): number => s.reduce((p, v) => p * v, 1);

/**
 * The permutation on merged axis groups: `dims` are the sizes of the groups in input order, `perm` the order of
 * the groups in the output (output group i = input group perm[i]).
 */
export function simplifyPermutation(
  shape: readonly number[],
  perm: readonly number[],
): { dims: number[]; perm: number[] } {
  const kept = perm.filter((a) => shape[a] !== 1); // output order, size-1 axes dropped
  const groups: number[][] = [];
  for (const a of kept) {
    const g = groups[groups.length - 1];
    if (g && g[g.length - 1] + 1 === a) g.push(a);
    else groups.push([a]);
  }
  const byInput = [...groups].sort((x, y) => x[0] - y[0]);
  return {
    dims: byInput.map((g) => size(g.map((a) => shape[a]))),
    perm: groups.map((g) => byInput.indexOf(g)),
  };
}

/** dst[b, j, i] = src[b, i, j] for b < batch, i < r, j < c (element offsets into one heap view), 32 x 32 blocks */
export function transpose2d(heap: HeapView, src: number, dst: number, batch: number, r: number, c: number): void {
  const BS = 32;
  for (let b = 0; b < batch; b++, src += r * c, dst += r * c) {
    for (let i0 = 0; i0 < r; i0 += BS) {
      const i1 = Math.min(i0 + BS, r);
      for (let j0 = 0; j0 < c; j0 += BS) {
        const j1 = Math.min(j0 + BS, c);
        for (let i = i0; i < i1; i++) {
          for (let j = j0, s = src + i * c + j0, d = dst + j0 * r + i; j < j1; j++, s++, d += r) heap[d] = heap[s];
        }
      }
    }
  }
}

/** Output = input with groups permuted, the last group in place: one contiguous run of `inner` elements per step. */
function copyRuns(heap: HeapView, src: number, dst: number, dims: number[], perm: number[]): void {
  const k = dims.length,
    inner = dims[k - 1];
  const inStride = new Array<number>(k).fill(1);
  for (let i = k - 2; i >= 0; i--) inStride[i] = inStride[i + 1] * dims[i + 1];
  const outDims = perm.slice(0, -1).map((g) => dims[g]),
    strides = perm.slice(0, -1).map((g) => inStride[g]);
  const idx = new Array<number>(k - 1).fill(0);
  const runs = size(outDims);
  let s = src;
  for (let r = 0, d = dst; r < runs; r++, d += inner) {
    heapCopy(heap, s, d, inner);
    for (let i = k - 2; i >= 0; i--) {
      // odometer over the output's leading groups, source offset kept in step
      s += strides[i];
      if (++idx[i] < outDims[i]) break;
      s -= strides[i] * outDims[i];
      idx[i] = 0;
    }
  }
}

const identityKernel: KernelFunc = (args) => {
  const { x } = args.inputs as { x: TensorInfo };
  if (x.dtype === 'string') return callStock('wasm', 'Identity', args);
  (args.backend as unknown as WasmBackendLike).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

const transposeKernel: KernelFunc = (args) => {
  const { x } = args.inputs as { x: TensorInfo };
  const { perm } = args.attrs as { perm: number[] };
  if (x.dtype !== 'float32' && x.dtype !== 'int32') return callStock('wasm', 'Transpose', args);
  const be = args.backend as unknown as WasmBackendLike;
  const { dims, perm: p } = simplifyPermutation(x.shape, perm);
  const k = dims.length;
  const swapLast2 = k >= 2 && p[k - 1] === k - 2 && p[k - 2] === k - 1 && p.slice(0, -2).every((g, i) => g === i);
  if (k > 1 && p[k - 1] !== k - 1 && !swapLast2) return callStock('wasm', 'Transpose', args);
  const out = be.makeOutput(
    perm.map((a) => x.shape[a]),
    x.dtype,
  );
  const n = size(x.shape);
  if (n === 0) return out;
  // after makeOutput: its malloc may grow (and so move) the heap
  const { heap, a0: src, b0: dst } = heapPair(be, x, out);
  if (k <= 1 || p.every((g, i) => g === i)) heap.copyWithin(dst, src, src + n);
  else if (swapLast2) transpose2d(heap, src, dst, size(dims.slice(0, -2)), dims[k - 2], dims[k - 1]);
  else copyRuns(heap, src, dst, dims, p);
  return out;
};

/** Sum of float32 x over axes 0..p-1 (p < rank): out[j] = sum_i x[i, j], float64 accumulation. */
const sumKernel: KernelFunc = (args) => {
  const { x } = args.inputs as { x: TensorInfo };
  const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
  const rank = x.shape.length;
  const axes = [...new Set((Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + rank : a)))].sort(
    (a, b) => a - b,
  );
  const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
  if (x.dtype !== 'float32' || !leading) return callStock('wasm', 'Sum', args);
  const be = args.backend as unknown as WasmBackendLike;
  const rows = size(x.shape.slice(0, axes.length)),
    cols = size(x.shape.slice(axes.length));
  const out = be.makeOutput(
    keepDims ? x.shape.map((v, i) => (i < axes.length ? 1 : v)) : x.shape.slice(axes.length),
    'float32',
  );
  const acc = new Float64Array(cols);
  const xv = be.typedArrayFromHeap(x) as Float32Array;
  for (let i = 0, o = 0; i < rows; i++, o += cols) for (let j = 0; j < cols; j++) acc[j] += xv[o + j];
  (be.typedArrayFromHeap(out) as Float32Array).set(acc);
  return out;
};

export const layoutKernels: KernelConfig[] = [
  { kernelName: 'Identity', backendName: 'wasm', kernelFunc: identityKernel },
  { kernelName: 'Transpose', backendName: 'wasm', kernelFunc: transposeKernel },
  { kernelName: 'Sum', backendName: 'wasm', kernelFunc: sumKernel },
];

export function registerWasmLayout(): void {
  for (const k of layoutKernels) replaceKernel(k);
}
