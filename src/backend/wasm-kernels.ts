/**
 * Kernels the tfjs wasm backend lacks or runs slowly. Registered once by backend.ts, after
 * @tensorflow/tfjs-backend-wasm has been imported (its own registrations would otherwise overwrite ours).
 *
 *  - BatchMatMul, _FusedMatMul: routed through XNNPACK for transposed and batched products (wasm-matmul.ts).
 *  - Slice, GatherV2, Tile: block copies instead of the stock whole-input copy / per-element loops
 *    (wasm-movement.ts).
 *  - Identity: shares the buffer instead of copying it; Transpose, Sum over leading axes: blocked / run copies
 *    instead of per-element loops (wasm-layout.ts).
 *  - UnsortedSegmentSum (gradient of tf.gather / every embedding lookup): not registered on wasm at all; a JS
 *    scatter-add over the wasm heap.
 *  - Cast to bool and ClipByValue on int32: wrong results in tfjs 4.22 (see below).
 *  - zero gradients for comparison / logical ops (shared with the cpu backend, see cpu-kernels.ts).
 *
 * Everything else a BERT training step needs (Erf, Softmax, Mean, Rsqrt, Sqrt, Sub, Mul, GatherV2, Tanh, Round,
 * ClipByValue, Select, GreaterEqual, Abs, Sum, Max, Square, Exp, Log, ...) has a wasm kernel and a gradient in
 * tfjs 4.22; test/kernels-ops.test.ts checks each against the cpu backend.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { segmentSumInto, segmentSumShape } from './cpu-kernels.js';
import { registerExtraGradients } from '../util/gradients.js';
import { wasmData, type WasmBackendLike } from './wasm-heap.js';
import { registerWasmMatMul } from './wasm-matmul.js';
import { registerWasmMovement } from './wasm-movement.js';
import { registerWasmLayout } from './wasm-layout.js';
import { callStock, replaceKernel } from './wasm-registry.js';

/** out[numSegments, ...inner] = sum over rows r with segmentIds[r] = s of x[r, ...inner] (on the wasm heap). */
const wasmUnsortedSegmentSum: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const numSegments = (attrs as { numSegments: number }).numSegments;
  const be = backend as unknown as WasmBackendLike;
  if (x.dtype !== 'float32' && x.dtype !== 'int32')
    throw new Error(`wasm UnsortedSegmentSum: x must be float32 or int32, got ${x.dtype}`);
  if (segmentIds.dtype !== 'int32')
    throw new Error(`wasm UnsortedSegmentSum: segmentIds must be int32, got ${segmentIds.dtype}`);
  const shape = segmentSumShape(x, segmentIds, numSegments);
  const out = be.makeOutput(shape, x.dtype);
  // views are taken after makeOutput: its malloc may grow (and so move) the heap
  const o = be.typedArrayFromHeap(out) as Float32Array | Int32Array;
  o.fill(0);
  wasmData(be, x, 'x');
  wasmData(be, segmentIds, 'segmentIds');
  segmentSumInto(
    be.typedArrayFromHeap(x) as Float32Array | Int32Array,
    be.typedArrayFromHeap(segmentIds) as Int32Array,
    numSegments,
    o,
  );
  return out;
};

/**
 * Cast. The stock wasm kernel copies with TypedArray.set, so a cast to bool keeps the low byte (256 -> 0, 0.5 -> 0,
 * 300 -> 44) instead of x != 0. Casts to bool are fixed here; the others (set's truncation for float -> int32 is what
 * the cpu backend does too) go to the stock kernel.
 */
const wasmCast: KernelFunc = (args) => {
  const { x } = args.inputs as { x: TensorInfo };
  const { dtype } = args.attrs as { dtype: string };
  if (dtype !== 'bool' || x.dtype === 'bool' || x.dtype === 'string' || x.dtype === 'complex64')
    return callStock('wasm', 'Cast', args);
  const be = args.backend as unknown as WasmBackendLike;
  const out = be.makeOutput(x.shape, 'bool');
  const xv = be.typedArrayFromHeap(x),
    ov = be.typedArrayFromHeap(out);
  for (let i = 0; i < xv.length; i++) ov[i] = xv[i] !== 0 ? 1 : 0;
  return out;
};

/** ClipByValue. The stock wasm kernel reads int32 data as float32 (garbage): int32 is clamped here. */
const wasmClipByValue: KernelFunc = (args) => {
  const { x } = args.inputs as { x: TensorInfo };
  if (x.dtype !== 'int32') return callStock('wasm', 'ClipByValue', args);
  const { clipValueMin: lo, clipValueMax: hi } = args.attrs as { clipValueMin: number; clipValueMax: number };
  const be = args.backend as unknown as WasmBackendLike;
  const out = be.makeOutput(x.shape, 'int32');
  const xv = be.typedArrayFromHeap(x),
    ov = be.typedArrayFromHeap(out);
  for (let i = 0; i < xv.length; i++) {
    const v = xv[i];
    // biome-ignore lint/complexity/useMathMinMax: the ternaries are the kernel (Math.min/max would differ on NaN)
    ov[i] = v < lo ? lo : v > hi ? hi : v;
  }
  return out;
};

let done = false;
export function registerWasmExtras(): void {
  if (done) return;
  if (!tf.getKernel('Add', 'wasm')) throw new Error('registerWasmExtras: import @tensorflow/tfjs-backend-wasm first');
  done = true;
  registerExtraGradients();
  registerWasmMatMul();
  registerWasmMovement();
  registerWasmLayout();
  replaceKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: wasmUnsortedSegmentSum });
  replaceKernel({ kernelName: 'Cast', backendName: 'wasm', kernelFunc: wasmCast });
  replaceKernel({ kernelName: 'ClipByValue', backendName: 'wasm', kernelFunc: wasmClipByValue });
}
