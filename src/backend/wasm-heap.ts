/**
 * Low-level access to the tfjs wasm backend's heap and tensor registry, shared by the kernels in wasm-*.ts.
 *
 * The wasm backend keeps every tensor in its linear memory: `backend.dataIdMap.get(dataId)` gives `{id,
 * memoryOffset, shape, dtype}`; the C++ side knows tensors only by the integer `id` registered with
 * `wasm.tfjs.registerTensor(id, size, offset)`. A kernel may register extra ids that alias part of an existing
 * buffer (one batch slice, say) and hand them to the C++ kernels, then unregister them with `wasm.tfjs.disposeData`
 * (which also frees any XNNPACK operator cached on that id; the memory itself stays owned by the tensor).
 */
import type { DataId, TensorInfo } from '@tensorflow/tfjs';

export interface WasmModule {
  HEAPU8: Uint8Array;
  HEAP32: Int32Array;
  HEAPF32: Float32Array;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  _BatchMatMul(
    aId: number,
    aShapePtr: number,
    aRank: number,
    bId: number,
    bShapePtr: number,
    bRank: number,
    transposeA: number,
    transposeB: number,
    outId: number,
  ): void;
  tfjs: {
    registerTensor(id: number, size: number, offset: number): void;
    disposeData(id: number): void;
    getThreadsCount(): number;
  };
}

export interface WasmTensorData {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: string;
  refCount: number;
}

export interface WasmBackendLike {
  wasm: WasmModule;
  dataIdNextNumber: number;
  dataIdMap: { get(dataId: DataId): WasmTensorData | undefined };
  makeOutput(shape: number[], dtype: string, memoryOffset?: number): TensorInfo;
  disposeData(dataId: DataId, force?: boolean): boolean;
  incRef(dataId: DataId): void;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** The wasm-side record of a tensor; a clear error instead of a TypeError when the tensor lives elsewhere. */
export function wasmData(backend: WasmBackendLike, t: TensorInfo, what: string): WasmTensorData {
  const d = backend.dataIdMap.get(t.dataId);
  if (!d) throw new Error(`wasm kernel: input ${what} (shape [${t.shape}]) has no data on the wasm backend`);
  return d;
}

/** Register `size` elements at byte `offset` as a fresh tensor id for the C++ kernels. Free it with `unaliasId`. */
export function aliasId(backend: WasmBackendLike, offset: number, size: number): number {
  const id = backend.dataIdNextNumber++;
  backend.wasm.tfjs.registerTensor(id, size, offset);
  return id;
}

export function unaliasId(backend: WasmBackendLike, id: number): void {
  backend.wasm.tfjs.disposeData(id);
}

export type HeapView = Float32Array | Int32Array | Uint8Array;

/** below this many elements a typed-array copy call costs more than an element loop */
export const SHORT_RUN = 16;

/**
 * The whole heap as a view whose elements have the size of `dtype`'s, and the element offsets of two tensors in it:
 * copies between them are heap.copyWithin calls (no subarray objects; int32 view for float32 too: bits are copied).
 * Byte offsets are unsigned: above 2 GiB, `offset >> 2` would turn negative and write outside the tensor.
 */
export function heapPair(
  be: WasmBackendLike,
  a: TensorInfo,
  b: TensorInfo,
): { heap: HeapView; a0: number; b0: number } {
  const one = a.dtype === 'bool';
  const heap = one ? be.wasm.HEAPU8 : be.wasm.HEAP32,
    shift = one ? 0 : 2;
  return { heap, a0: wasmData(be, a, 'x').memoryOffset >>> shift, b0: wasmData(be, b, 'out').memoryOffset >>> shift };
}

/** heap[d .. d+n) = heap[s .. s+n) */
export function heapCopy(heap: HeapView, s: number, d: number, n: number): void {
  if (n >= SHORT_RUN) heap.copyWithin(d, s, s + n);
  else for (let i = 0; i < n; i++) heap[d + i] = heap[s + i];
}
