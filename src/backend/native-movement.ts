/**
 * Data-movement kernels of the native backend: Transpose, Slice, SplitV, Concat, Tile, PadV2 and GatherV2 as one
 * N-D strided copy (or a row gather) in C++, on float32, int32 and bool tensors alike. The cpu kernels walk a
 * TensorBuffer per element (a 3-way split of a [4096, 384] tensor took 2 s there).
 */
import * as tf from '@tensorflow/tfjs';
import type { TensorInfo } from '@tensorflow/tfjs';
import type { NativeAddon } from './native-addon.js';
import { list, out, values, type Args, type Body, type CpuLike } from './native-common.js';
import { collapse, sizeOf, stridesOf } from './native-shapes.js';
import { take } from './native-pool.js';

type Vals = Float32Array | Int32Array | Uint8Array;
const like = (v: Vals, n: number, zero = false): Vals => take(v.constructor as Float32ArrayConstructor, n, zero);
const dt = (t: TensorInfo) => t.dtype as 'float32' | 'int32' | 'bool';

/** dst[dOff + i . ds] = src[sOff + i . ss] over dims, after collapsing; false when more than 8 dims remain */
function copy(
  n: NativeAddon,
  src: Vals,
  sOff: number,
  dst: Vals,
  dOff: number,
  dims: number[],
  ss: number[],
  ds: number[],
): boolean {
  if (sizeOf(dims) === 0) return true;
  const c = collapse(dims, [ss, ds]);
  if (c.dims.length > 8) return false;
  n.copy(src, sOff, dst, dOff, c.dims, c.strides[0], c.strides[1]);
  return true;
}

const input = (args: Args, name: string): TensorInfo => (args.inputs as Record<string, TensorInfo>)[name];

const transpose: Body = (args, n) => {
  const x = input(args, 'x'),
    xv = values(args.backend, x);
  if (!xv) return undefined;
  const perm = (args.attrs as { perm: number[] }).perm,
    st = stridesOf(x.shape);
  const shape = perm.map((p) => x.shape[p]),
    y = like(xv, xv.length);
  return copy(
    n,
    xv,
    0,
    y,
    0,
    shape,
    perm.map((p) => st[p]),
    stridesOf(shape),
  )
    ? out(args.backend, shape, dt(x), y)
    : undefined;
};

/** the [begin, begin + size) block of x as a new tensor */
function sliceOf(
  be: CpuLike,
  n: NativeAddon,
  x: TensorInfo,
  xv: Vals,
  begin: number[],
  size: number[],
): TensorInfo | undefined {
  const st = stridesOf(x.shape),
    y = like(xv, sizeOf(size));
  const off = begin.reduce((p, b, k) => p + b * st[k], 0);
  return copy(n, xv, off, y, 0, size, st, stridesOf(size)) ? out(be, size, dt(x), y) : undefined;
}

const slice: Body = (args, n) => {
  const x = input(args, 'x'),
    xv = values(args.backend, x);
  if (!xv) return undefined;
  const { begin, size } = args.attrs as { begin: number | number[]; size: number | number[] };
  const [b, s] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
  return sliceOf(args.backend, n, x, xv, b, s);
};

const splitV: Body = (args, n) => {
  const x = input(args, 'x'),
    xv = values(args.backend, x);
  if (!xv) return undefined;
  const { numOrSizeSplits, axis } = args.attrs as { numOrSizeSplits: number | number[]; axis: number };
  const ax = tf.util.parseAxisParam(axis, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, ax);
  const begin = x.shape.map(() => 0),
    outs: TensorInfo[] = [];
  for (const s of sizes) {
    const size = [...x.shape];
    size[ax] = s;
    const t = sliceOf(args.backend, n, x, xv, [...begin], size);
    if (!t) return undefined;
    outs.push(t);
    begin[ax] += s;
  }
  return outs;
};

const concat: Body = (args, n) => {
  const ts = list(args.inputs);
  const vs = ts.map((t) => values(args.backend, t));
  if (ts.length === 0 || vs.some((v) => !v) || ts.some((t) => t.dtype !== ts[0].dtype)) return undefined;
  const ax = tf.util.parseAxisParam((args.attrs as { axis: number }).axis, ts[0].shape)[0];
  const shape = tf.backend_util.computeOutShape(
    ts.map((t) => t.shape),
    ax,
  );
  const y = like(vs[0]!, sizeOf(shape)),
    ys = stridesOf(shape);
  let at = 0;
  for (let i = 0; i < ts.length; i++) {
    if (!copy(n, vs[i]!, 0, y, at * ys[ax], ts[i].shape, stridesOf(ts[i].shape), ys)) return undefined;
    at += ts[i].shape[ax];
  }
  return out(args.backend, shape, dt(ts[0]), y);
};

/** tile as one copy over dims [r0, s0, r1, s1, ...]: source strides [0, st0, 0, st1, ...] */
const tile: Body = (args, n) => {
  const x = input(args, 'x'),
    xv = values(args.backend, x);
  if (!xv) return undefined;
  const reps = (args.attrs as { reps: number[] }).reps;
  const shape = x.shape.map((d, k) => d * reps[k]),
    st = stridesOf(x.shape),
    ys = stridesOf(shape);
  const dims = x.shape.flatMap((d, k) => [reps[k], d]);
  const y = like(xv, sizeOf(shape));
  const ok = copy(
    n,
    xv,
    0,
    y,
    0,
    dims,
    x.shape.flatMap((_, k) => [0, st[k]]),
    x.shape.flatMap((d, k) => [d * ys[k], ys[k]]),
  );
  return ok ? out(args.backend, shape, dt(x), y) : undefined;
};

const pad: Body = (args, n) => {
  const x = input(args, 'x'),
    xv = values(args.backend, x);
  if (!xv) return undefined;
  const { paddings, constantValue } = args.attrs as { paddings: [number, number][]; constantValue: number };
  const shape = x.shape.map((d, k) => paddings[k][0] + d + paddings[k][1]),
    ys = stridesOf(shape);
  const y = like(xv, sizeOf(shape), true);
  if (constantValue) y.fill(constantValue);
  const off = paddings.reduce((p, [lo], k) => p + lo * ys[k], 0);
  return copy(n, xv, 0, y, off, x.shape, stridesOf(x.shape), ys) ? out(args.backend, shape, dt(x), y) : undefined;
};

const gather: Body = (args, n) => {
  const x = input(args, 'x'),
    idx = input(args, 'indices');
  const xv = values(args.backend, x),
    iv = idx.dtype === 'int32' ? (values(args.backend, idx) as Int32Array) : undefined;
  const { axis, batchDims = 0 } = args.attrs as { axis: number; batchDims?: number };
  if (!xv || !iv || batchDims !== 0) return undefined;
  const ax = tf.util.parseAxisParam(axis, x.shape)[0];
  const outer = sizeOf(x.shape.slice(0, ax)),
    inner = sizeOf(x.shape.slice(ax + 1));
  const shape = [...x.shape.slice(0, ax), ...idx.shape, ...x.shape.slice(ax + 1)];
  const y = like(xv, sizeOf(shape));
  const bad = n.gather(xv, iv, y, outer, x.shape[ax], inner);
  if (bad >= 0) throw new Error(`GatherV2: the index value ${iv[bad]} is not in [0, ${x.shape[ax] - 1}]`);
  return out(args.backend, shape, dt(x), y);
};

export const nativeMovementKernels = (): Record<string, Body> => ({
  Transpose: transpose,
  Slice: slice,
  SplitV: splitV,
  Concat: concat,
  Tile: tile,
  PadV2: pad,
  GatherV2: gather,
});
