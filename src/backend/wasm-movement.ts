/**
 * Data-movement kernels for the tfjs wasm backend that are algorithmically slow in tfjs 4.22 (measured on
 * [4096, 384..512] float32 tensors, 1 thread):
 *   - Slice: the stock kernel copies the WHOLE input to JS (readSync) before slicing (10 ms for a 128-column slice of
 *     [4096, 384]; tf.split on the last axis pays it once per output). Here: views on the heap, no copy.
 *   - SplitV: the stock kernel calls the stock Slice for each part.
 *   - GatherV2: the stock C++ kernel costs ~70 ns per element (78 ms for an embedding lookup of 4096 rows x 128).
 *     Here: one block copy per gathered row.
 *   - Tile (behind tf.broadcastTo, and tf.where with a scalar branch): ~85 ns per output element (345 ms to broadcast
 *     a scalar to [4096, 512]). Here: block copies that double the filled region.
 * String tensors go to the stock kernels.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { heapCopy, heapPair, SHORT_RUN, type HeapView, type WasmBackendLike } from './wasm-heap.js';
import { callStock, replaceKernel } from './wasm-registry.js';

const size = (s: readonly number[]): number => s.reduce((p, v) => p * v, 1);

function copyRun(src: HeapView, s: number, dst: HeapView, d: number, n: number): void {
  if (n >= SHORT_RUN) dst.set(src.subarray(s, s + n), d);
  else for (let i = 0; i < n; i++) dst[d + i] = src[s + i];
}

type KernelArgs = { inputs: Record<string, TensorInfo>; backend: unknown; attrs?: NamedAttrMap };

/** out = x[begin : begin + size] (begin/size per dim, size -1 = to the end). */
function slice(args: KernelArgs): TensorInfo {
  const be = args.backend as WasmBackendLike;
  const { x } = args.inputs;
  if (x.dtype === 'string') return callStock('wasm', 'Slice', args);
  const { begin, size: sz } = args.attrs as { begin: number | number[]; size?: number | number[] };
  const [b, s] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, sz);
  tf.slice_util.assertParamsValid(x as tf.Tensor, b, s);
  const out = be.makeOutput(s, x.dtype);
  const n = size(s);
  if (n === 0) return out;
  const { heap, a0, b0 } = heapPair(be, x, out);
  const rank = x.shape.length;
  if (rank === 0) {
    heap[b0] = heap[a0];
    return out;
  }
  const strides = tf.util.computeStrides(x.shape);
  // innermost dims taken whole form one contiguous run together with the first partial dim above them
  let k = rank - 1;
  while (k > 0 && b[k] === 0 && s[k] === x.shape[k]) k--;
  const run = s[k] * (k + 1 < rank ? strides[k] : 1);
  const base = (i: number) => (i < rank - 1 ? strides[i] : 1);
  let src0 = a0;
  for (let i = 0; i < rank; i++) src0 += b[i] * base(i);
  const idx = new Array<number>(k).fill(0); // odometer over dims 0..k-1
  const runs = n / run;
  for (let r = 0, dst = b0; r < runs; r++, dst += run) {
    let src = src0;
    for (let i = 0; i < k; i++) src += idx[i] * base(i);
    heapCopy(heap, src, dst, run);
    for (let i = k - 1; i >= 0; i--) {
      if (++idx[i] < s[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

/** split(x, numOrSizeSplits, axis): consecutive slices along `axis` (the stock kernel calls the stock Slice). */
function splitV(args: KernelArgs): TensorInfo[] {
  const { x } = args.inputs;
  if (x.dtype === 'string') return callStock('wasm', 'SplitV', args);
  const { numOrSizeSplits, axis } = args.attrs as { numOrSizeSplits: number | number[]; axis: number };
  const ax = tf.util.parseAxisParam(axis, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, ax);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((n) => {
    const sz = [...x.shape];
    sz[ax] = n;
    const part = slice({ inputs: { x }, backend: args.backend, attrs: { begin: [...begin], size: sz } });
    begin[ax] += n;
    return part;
  });
}

/**
 * out = gather(x, indices, axis, batchDims): with x viewed as [batch, outer, V, inner] and indices as [batch, n],
 * out[b, o, j, i] = x[b, o, indices[b, j], i]; batch = prod(x.shape[:batchDims]) (the stock wasm kernel reads
 * out of bounds when batchDims > 0).
 */
function gatherV2(args: KernelArgs): TensorInfo {
  const be = args.backend as WasmBackendLike;
  const { x, indices } = args.inputs;
  const { axis, batchDims = 0 } = (args.attrs ?? {}) as { axis: number; batchDims?: number };
  if (x.dtype === 'string' || indices.dtype !== 'int32') return callStock('wasm', 'GatherV2', args);
  const ax = tf.util.parseAxisParam(axis, x.shape)[0];
  const bd = batchDims < 0 ? batchDims + indices.shape.length : batchDims;
  if (
    !(bd >= 0 && bd <= ax && bd <= indices.shape.length) ||
    x.shape.slice(0, bd).some((v, i) => v !== indices.shape[i])
  ) {
    throw new Error(
      `GatherV2: batchDims ${batchDims} does not fit x [${x.shape}], indices [${indices.shape}], axis ${axis}`,
    );
  }
  const V = x.shape[ax],
    batch = size(x.shape.slice(0, bd)),
    outer = size(x.shape.slice(bd, ax)),
    inner = size(x.shape.slice(ax + 1));
  const outShape = [...x.shape.slice(0, ax), ...indices.shape.slice(bd), ...x.shape.slice(ax + 1)];
  const out = be.makeOutput(outShape, x.dtype);
  const ids = be.typedArrayFromHeap(indices) as Int32Array;
  for (let j = 0; j < ids.length; j++) {
    const v = ids[j];
    if (!(v >= 0 && v < V)) throw new Error(`GatherV2: the index value ${v} (position ${j}) is not in [0, ${V - 1}]`);
  }
  if (size(outShape) === 0) return out;
  const { heap, a0, b0 } = heapPair(be, x, out);
  const n = ids.length / batch;
  let dst = b0;
  for (let b = 0; b < batch; b++) {
    for (let o = 0; o < outer; o++) {
      const xo = a0 + (b * outer + o) * V * inner;
      for (let j = b * n; j < (b + 1) * n; j++, dst += inner) heapCopy(heap, xo + ids[j] * inner, dst, inner);
    }
  }
  return out;
}

/** Replicate ov[start, start + len) so that it fills ov[start, start + len * times) (doubling block copies). */
function replicate(ov: HeapView, start: number, len: number, times: number): void {
  const total = len * times;
  if (len < SHORT_RUN && total >= SHORT_RUN) {
    // grow the block by element copies first, so that the block copies below are long
    const first = Math.min(total, len * Math.ceil(SHORT_RUN / len));
    for (let i = len; i < first; i++) ov[start + i] = ov[start + i - len];
    len = first;
  }
  for (let filled = len; filled < total; ) {
    const n = Math.min(filled, total - filled);
    ov.copyWithin(start + filled, start, start + n);
    filled += n;
  }
}

/** out = tile(x, reps): out shape x.shape[d] * reps[d]; out[i] = x[i mod x.shape] per dim. */
function tile(args: KernelArgs): TensorInfo {
  const be = args.backend as WasmBackendLike;
  const { x } = args.inputs;
  const { reps } = args.attrs as { reps: number[] };
  if (x.dtype === 'string') return callStock('wasm', 'Tile', args);
  const rank = x.shape.length;
  if (reps.length !== rank) throw new Error(`Tile: reps [${reps}] must have one entry per dim of x [${x.shape}]`);
  const s = x.shape,
    outShape = s.map((v, i) => v * reps[i]);
  const out = be.makeOutput(outShape, x.dtype);
  if (size(outShape) === 0) return out;
  const xv = be.typedArrayFromHeap(x),
    ov = be.typedArrayFromHeap(out);
  if (rank === 0) {
    ov[0] = xv[0];
    return out;
  }
  const oStrides = tf.util.computeStrides(outShape),
    oStride = (i: number) => (i < rank - 1 ? oStrides[i] : 1);
  const last = s[rank - 1];
  // 1. every row of x to its place in tile copy 0, replicated along the last dim
  const rows = size(s.slice(0, -1));
  const idx = new Array<number>(rank - 1).fill(0);
  for (let r = 0; r < rows; r++) {
    let dst = 0;
    for (let i = 0; i < rank - 1; i++) dst += idx[i] * oStride(i);
    copyRun(xv, r * last, ov, dst, last);
    replicate(ov, dst, last, reps[rank - 1]);
    for (let i = rank - 2; i >= 0; i--) {
      if (++idx[i] < s[i]) break;
      idx[i] = 0;
    }
  }
  // 2. from the inner dims outwards: replicate each (already complete) block of dim d reps[d] times
  for (let d = rank - 2; d >= 0; d--) {
    if (reps[d] === 1) continue;
    const block = s[d] * oStride(d),
      prefixes = size(s.slice(0, d));
    const pidx = new Array<number>(d).fill(0);
    for (let p = 0; p < prefixes; p++) {
      let start = 0;
      for (let i = 0; i < d; i++) start += pidx[i] * oStride(i);
      replicate(ov, start, block, reps[d]);
      for (let i = d - 1; i >= 0; i--) {
        if (++pidx[i] < s[i]) break;
        pidx[i] = 0;
      }
    }
  }
  return out;
}

export const movementKernels: KernelConfig[] = [
  { kernelName: 'Slice', backendName: 'wasm', kernelFunc: slice as unknown as KernelFunc },
  { kernelName: 'SplitV', backendName: 'wasm', kernelFunc: splitV as unknown as KernelFunc },
  { kernelName: 'GatherV2', backendName: 'wasm', kernelFunc: gatherV2 as unknown as KernelFunc },
  { kernelName: 'Tile', backendName: 'wasm', kernelFunc: tile as unknown as KernelFunc },
];

export function registerWasmMovement(): void {
  for (const k of movementKernels) replaceKernel(k);
}
