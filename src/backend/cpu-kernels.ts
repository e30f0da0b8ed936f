/**
 * Kernels the tfjs cpu backend runs pathologically slowly, and gradients tfjs lacks. Registered once by backend.ts.
 *
 * UnsortedSegmentSum (the gradient of tf.gather, i.e. of every embedding lookup): tfjs-backend-cpu loops over every
 * segment and builds an equal()-mask per segment, O(numSegments x rows x inner) — with a 30522-row BERT vocabulary
 * the first training step did not finish in 12 minutes. Replaced by a direct scatter-add, O(rows x inner).
 */
import type { KernelFunc, TensorInfo, TypedArray } from '@tensorflow/tfjs';
import { replaceKernel } from './wasm-registry.js';

type NumArray = Float32Array | Int32Array | Uint8Array;

/**
 * out[ids[r], j] += x[r, j] for r < ids.length, j < inner (out: [numSegments, inner], zero-initialised by the caller).
 * Negative ids are dropped (TensorFlow semantics); ids >= numSegments are an error.
 */
export function segmentSumInto(x: NumArray, ids: Int32Array | Float32Array, numSegments: number, out: NumArray): void {
  const rows = ids.length;
  if (rows === 0) return;
  const inner = x.length / rows;
  if (!Number.isInteger(inner))
    throw new Error(`UnsortedSegmentSum: x has ${x.length} elements, not a multiple of ${rows} segment ids`);
  for (let r = 0; r < rows; r++) {
    const s = ids[r];
    if (s < 0) continue;
    if (s >= numSegments || !Number.isInteger(s)) {
      throw new Error(`UnsortedSegmentSum: segment id ${s} at position ${r} is outside [0, ${numSegments})`);
    }
    const o = s * inner,
      i0 = r * inner;
    for (let j = 0; j < inner; j++) out[o + j] += x[i0 + j];
  }
}

/** Output shape [numSegments, ...x.shape[rank(segmentIds):]]; checks the leading dims of x match segmentIds. */
export function segmentSumShape(x: TensorInfo, segmentIds: TensorInfo, numSegments: number): number[] {
  const r = segmentIds.shape.length;
  for (let i = 0; i < r; i++) {
    if (x.shape[i] !== segmentIds.shape[i]) {
      throw new Error(
        `UnsortedSegmentSum: segmentIds shape [${segmentIds.shape}] must be a prefix of x shape [${x.shape}]`,
      );
    }
  }
  if (!Number.isInteger(numSegments) || numSegments < 0)
    throw new Error(`UnsortedSegmentSum: numSegments must be a non-negative integer, got ${numSegments}`);
  return [numSegments, ...x.shape.slice(r)];
}

interface CpuBackendLike {
  data: { get(dataId: unknown): { values: TypedArray } };
  makeTensorInfo(shape: number[], dtype: string, values?: TypedArray): TensorInfo;
}

const cpuUnsortedSegmentSum: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const numSegments = (attrs as { numSegments: number }).numSegments;
  const be = backend as unknown as CpuBackendLike;
  const shape = segmentSumShape(x, segmentIds, numSegments);
  const n = shape.reduce((p, s) => p * s, 1);
  const out = x.dtype === 'int32' ? new Int32Array(n) : new Float32Array(n);
  segmentSumInto(
    be.data.get(x.dataId).values as NumArray,
    be.data.get(segmentIds.dataId).values as Int32Array,
    numSegments,
    out,
  );
  return be.makeTensorInfo(shape, x.dtype === 'int32' ? 'int32' : 'float32', out);
};

let done = false;
export function registerCpuExtras(): void {
  if (done) return;
  done = true;
  replaceKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'cpu', kernelFunc: cpuUnsortedSegmentSum });
}
