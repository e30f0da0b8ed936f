/**
 * Kernels the tfjs wasm backend lacks or runs slowly. Registered once by backend.ts, after
 * @tensorflow/tfjs-backend-wasm has been imported (its own registrations would otherwise overwrite ours).
 *
 *  - BatchMatMul, _FusedMatMul: routed through XNNPACK for transposed and batched products (wasm-matmul.ts).
 *  - Slice, GatherV2, Tile: block copies instead of the stock whole-input copy / per-element loops
 *    (wasm-movement.ts).
 *  - UnsortedSegmentSum (gradient of tf.gather / every embedding lookup): not registered on wasm at all; a JS
 *    scatter-add over the wasm heap.
 *  - zero gradients for comparison / logical ops (shared with the cpu backend, see cpu-kernels.ts).
 *
 * Everything else a BERT training step needs (Erf, Softmax, Mean, Rsqrt, Sqrt, Sub, Mul, GatherV2, Tanh, Round,
 * ClipByValue, Select, GreaterEqual, Abs, Sum, Max, Square, Exp, Log, ...) has a wasm kernel and a gradient in
 * tfjs 4.22; test/kernels-wasm.test.ts checks each against the cpu backend.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { registerZeroGradients, segmentSumInto, segmentSumShape } from './cpu-kernels.js';
import { wasmData, type WasmBackendLike } from './wasm-heap.js';
import { registerWasmMatMul } from './wasm-matmul.js';
import { registerWasmMovement } from './wasm-movement.js';
import { replaceKernel } from './wasm-registry.js';

/** out[numSegments, ...inner] = sum over rows r with segmentIds[r] = s of x[r, ...inner] (on the wasm heap). */
const wasmUnsortedSegmentSum: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const numSegments = (attrs as { numSegments: number }).numSegments;
  const be = backend as unknown as WasmBackendLike;
  if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new Error(`wasm UnsortedSegmentSum: x must be float32 or int32, got ${x.dtype}`);
  if (segmentIds.dtype !== 'int32') throw new Error(`wasm UnsortedSegmentSum: segmentIds must be int32, got ${segmentIds.dtype}`);
  const shape = segmentSumShape(x, segmentIds, numSegments);
  const out = be.makeOutput(shape, x.dtype);
  // views are taken after makeOutput: its malloc may grow (and so move) the heap
  const o = be.typedArrayFromHeap(out) as Float32Array | Int32Array;
  o.fill(0);
  wasmData(be, x, 'x'); wasmData(be, segmentIds, 'segmentIds');
  segmentSumInto(be.typedArrayFromHeap(x) as Float32Array | Int32Array, be.typedArrayFromHeap(segmentIds) as Int32Array, numSegments, o);
  return out;
};

let done = false;
export function registerWasmExtras(): void {
  if (done) return;
  if (!tf.getKernel('Add', 'wasm')) throw new Error('registerWasmExtras: import @tensorflow/tfjs-backend-wasm first');
  done = true;
  registerZeroGradients();
  registerWasmMatMul();
  registerWasmMovement();
  replaceKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: wasmUnsortedSegmentSum });
}
