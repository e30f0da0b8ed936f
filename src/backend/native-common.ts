/**
 * What the native backend's kernel bodies share: the cpu backend's tensor storage as seen from a kernel, and the
 * typed-array views of its tensors (zero-copy where the dtype matches).
 */
import type { NamedAttrMap, TensorInfo, TypedArray } from '@tensorflow/tfjs';
import type { NativeAddon } from './native-addon.js';
import { sizeOf } from './native-shapes.js';

export interface CpuLike {
  data: { get(dataId: unknown): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: string, values?: TypedArray): TensorInfo;
}
export type Args = {
  inputs: Record<string, TensorInfo | undefined> | TensorInfo[];
  backend: CpuLike;
  attrs?: NamedAttrMap;
};
/** a kernel body: its result, or undefined to run the cpu kernel instead */
export type Body = (args: Args, n: NativeAddon) => TensorInfo | TensorInfo[] | undefined;

/** KDQAT_NATIVE_TRACE=1 prints every call that falls back to a cpu kernel or converts its input (for profiling) */
export const TRACE = process.env.KDQAT_NATIVE_TRACE === '1';

const ARRAY = { float32: Float32Array, int32: Int32Array, bool: Uint8Array } as const;
type Numeric = keyof typeof ARRAY;

/**
 * the values of a numeric tensor as the typed array its dtype implies (converted when a cpu kernel left another), else
 * undefined
 */
export function values(be: CpuLike, t: TensorInfo): Float32Array | Int32Array | Uint8Array | undefined {
  const C = ARRAY[t.dtype as Numeric];
  const v = be.data.get(t.dataId).values;
  if (!C || !ArrayBuffer.isView(v)) return undefined;
  const n = sizeOf(t.shape);
  if (v instanceof C) return (v.length === n ? v : v.subarray(0, n)) as InstanceType<typeof C>;
  if (TRACE) console.error(`[native] converted ${(v as object).constructor.name} to ${t.dtype} [${t.shape}]`);
  return C.from((v as TypedArray).subarray(0, n) as ArrayLike<number>);
}
export const f32 = (be: CpuLike, t: TensorInfo): Float32Array | undefined =>
  t.dtype === 'float32' ? (values(be, t) as Float32Array | undefined) : undefined;
export const out = (be: CpuLike, shape: number[], dtype: Numeric, data: TypedArray): TensorInfo =>
  be.makeTensorInfo(shape, dtype, data);
export const list = (inputs: Args['inputs']): TensorInfo[] =>
  Array.isArray(inputs) ? inputs : Object.values(inputs).filter((t): t is TensorInfo => t != null);
