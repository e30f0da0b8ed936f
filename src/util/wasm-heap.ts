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
  _BatchMatMul(aId: number, aShapePtr: number, aRank: number, bId: number, bShapePtr: number, bRank: number,
    transposeA: number, transposeB: number, outId: number): void;
  tfjs: { registerTensor(id: number, size: number, offset: number): void; disposeData(id: number): void; getThreadsCount(): number };
}

export interface WasmTensorData { id: number; memoryOffset: number; shape: number[]; dtype: string; refCount: number }

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
