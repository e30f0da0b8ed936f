/**
 * "cpu tensors, wasm compute": cpu-backend kernels that copy their inputs into the wasm heap, run the wasm kernel
 * (XNNPACK / SIMD, or our replacements) and copy the outputs back to JS memory.
 *
 * Why: the cpu backend is the only one that runs models whose working set exceeds the wasm backend's 4 GiB heap
 * (BERT-base with Adam), but its kernels are plain JS: BatchMatMul ~0.3 GFLOP/s (wasm/XNNPACK 12-18), Softmax of
 * [32,2,128,128] 725 ms (wasm 2.4), a 3-way split of [4096,384] 2.1 s (wasm 3). Tensors stay in JS memory (no heap
 * limit); the wasm heap only holds the operands of the op being run. A copy costs ~1 ns per element, far below the
 * cpu kernels' 10-300 ns. Needs an initialised wasm backend (`enableWasmBridge`); without one the stock cpu kernels
 * run. Inputs below BRIDGE_MIN_ELEMENTS and string/complex tensors also use the stock cpu kernels.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, NamedAttrMap, TensorInfo, TypedArray } from '@tensorflow/tfjs';
import type { WasmBackendLike } from './wasm-heap.js';
import { wasmMatMul } from './wasm-matmul.js';
import { callStock, initializedBackend, replaceKernel } from './wasm-registry.js';

/** cpu kernels routed through wasm (all measured 5-500x slower on cpu than on wasm for BERT-sized tensors) */
export const BRIDGED_KERNELS = [
  'BatchMatMul',
  'Softmax',
  'Slice',
  'SplitV',
  'Concat',
  'Transpose',
  'GatherV2',
  'Tile',
  'Select',
  'Add',
  'Sub',
  'Multiply',
  'RealDiv',
  'Maximum',
  'Minimum',
  'Pow',
  'Greater',
  'GreaterEqual',
  'Less',
  'LessEqual',
  'Equal',
  'NotEqual',
  'LogicalAnd',
  'LogicalOr',
  'LogicalNot',
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
  'Cast',
  'Sum',
  'Mean',
  'Max',
  'Min',
  'Prod',
  'ArgMax',
  'OneHot',
  'AddN',
] as const;

/** below this many input elements the copies cost more than the cpu kernel saves */
export const BRIDGE_MIN_ELEMENTS = 4096;

interface CpuBackendLike {
  data: { get(dataId: unknown): { values?: TypedArray | unknown } };
  makeTensorInfo(shape: number[], dtype: string, values?: TypedArray): TensorInfo;
}
interface WasmWithIO extends WasmBackendLike {
  write(values: TypedArray | null, shape: number[], dtype: string): tf.DataId;
  readSync(dataId: tf.DataId): TypedArray;
}
type KernelArgs = { inputs: Record<string, TensorInfo> | TensorInfo[]; backend: unknown; attrs?: NamedAttrMap };

const NUMERIC = new Set(['float32', 'int32', 'bool']);
const elems = (t: TensorInfo) => t.shape.reduce((p, s) => p * s, 1);

const ARRAY = { float32: Float32Array, int32: Int32Array, bool: Uint8Array } as const;

/**
 * The cpu backend's values as the typed array its dtype implies: cpu kernels may leave a float32 tensor with
 * Uint8Array values (from bool) or an Int32Array (integer scalars); wasm reads raw bytes, so those are converted.
 */
function typed(values: TypedArray, t: TensorInfo): TypedArray {
  const C = ARRAY[t.dtype as keyof typeof ARRAY];
  const n = elems(t);
  if (values instanceof C) return values.length === n ? values : values.subarray(0, n);
  return C.from(values.subarray(0, n) as ArrayLike<number>);
}

function bridged(kernelName: string): KernelFunc {
  const fn = (args: KernelArgs): TensorInfo | TensorInfo[] => {
    const wasm = initializedBackend('wasm') as unknown as WasmWithIO | undefined;
    const list = Array.isArray(args.inputs)
      ? args.inputs
      : Object.values(args.inputs).filter((t): t is TensorInfo => t != null);
    const cpu = args.backend as CpuBackendLike;
    if (
      !wasm ||
      list.some((t) => !NUMERIC.has(t.dtype) || !(cpu.data.get(t.dataId).values instanceof Object)) ||
      list.reduce((p, t) => p + elems(t), 0) < BRIDGE_MIN_ELEMENTS
    ) {
      return callStock('cpu', kernelName, args);
    }
    const moved = new Map<TensorInfo, TensorInfo>();
    const toWasm = (t: TensorInfo): TensorInfo => {
      let w = moved.get(t);
      if (!w) {
        w = {
          dataId: wasm.write(typed(cpu.data.get(t.dataId).values as TypedArray, t), t.shape, t.dtype),
          shape: t.shape,
          dtype: t.dtype,
        };
        moved.set(t, w);
      }
      return w;
    };
    const inputs = Array.isArray(args.inputs)
      ? args.inputs.map(toWasm)
      : Object.fromEntries(Object.entries(args.inputs).map(([k, t]) => [k, t == null ? t : toWasm(t)]));
    try {
      let out: TensorInfo | TensorInfo[];
      if (kernelName === 'BatchMatMul') {
        const { a, b } = inputs as Record<string, TensorInfo>;
        const { transposeA, transposeB } = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
        if (a.dtype !== 'float32' || b.dtype !== 'float32') return callStock('cpu', kernelName, args);
        out = wasmMatMul(wasm, a, b, !!transposeA, !!transposeB);
      } else {
        const k = tf.getKernel(kernelName, 'wasm');
        if (!k) return callStock('cpu', kernelName, args);
        out = k.kernelFunc({ inputs: inputs as never, backend: wasm as never, attrs: args.attrs ?? {} }) as
          | TensorInfo
          | TensorInfo[];
      }
      const back = (o: TensorInfo): TensorInfo => {
        const values = wasm.readSync(o.dataId); // a copy
        wasm.disposeData(o.dataId);
        return cpu.makeTensorInfo(o.shape, o.dtype, values);
      };
      return Array.isArray(out) ? out.map(back) : back(out);
    } finally {
      for (const w of moved.values()) wasm.disposeData(w.dataId);
    }
  };
  return fn as unknown as KernelFunc;
}

let enabled = false;

/**
 * Route the cpu backend's slow kernels through the wasm module. Initialises the wasm backend (without leaving it
 * active) when needed; returns false, leaving the stock cpu kernels, when wasm cannot start.
 */
export async function enableWasmBridge(): Promise<boolean> {
  if (enabled) return true;
  const active = tf.getBackend();
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    const { registerWasmExtras } = await import('./wasm-kernels.js');
    registerWasmExtras();
    if (!initializedBackend('wasm')) {
      if (!(await tf.setBackend('wasm'))) return false;
      if (active && active !== 'wasm') await tf.setBackend(active);
    }
  } catch {
    if (active && tf.getBackend() !== active) await tf.setBackend(active);
    return false;
  }
  for (const kernelName of BRIDGED_KERNELS) {
    if (tf.getKernel(kernelName, 'cpu'))
      replaceKernel({ kernelName, backendName: 'cpu', kernelFunc: bridged(kernelName) });
  }
  enabled = true;
  return true;
}
