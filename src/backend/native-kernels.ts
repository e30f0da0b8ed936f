/**
 * Compute kernels of the `native` backend: tfjs's cpu backend (tensors are ordinary typed arrays, no heap ceiling)
 * with its heavy kernels replaced by calls into the native addon (oneDNN products, OpenMP C++ loops), zero-copy.
 * Cases a kernel does not cover (other dtypes, complex/string tensors, unusual broadcasting) run the cpu kernel.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { BINARY, FIRST_COMPARISON, REDUCE, UNARY, type NativeAddon } from './native-addon.js';
import { broadcastStrides, collapse, sizeOf } from './native-shapes.js';
import { nativeMovementKernels } from './native-movement.js';
import { f32, list, out, TRACE, values, type Args, type Body } from './native-common.js';
import { escape, take } from './native-pool.js';
import { BERT_ADAM, HV_L2, STE_MASK, SYM_QUANT } from './fused.js';

/** below this many elements the cpu kernel is as fast as crossing into C++ */
const MIN_ELEMENTS = 256;

const unaryBody =
  (op: number): Body =>
  ({ inputs, backend: be, attrs }, n) => {
    const x = (inputs as Record<string, TensorInfo>).x;
    const xv = f32(be, x);
    if (!xv || xv.length < MIN_ELEMENTS) return undefined;
    const y = take(Float32Array, xv.length);
    const a = (attrs ?? {}) as { alpha?: number; clipValueMin?: number; clipValueMax?: number };
    const name = UNARY[op];
    n.unary(op, xv, y, name === 'Step' ? (a.alpha ?? 0) : (a.clipValueMin ?? 0), a.clipValueMax ?? 0);
    return out(be, [...x.shape], 'float32', y);
  };

const binaryBody =
  (op: number): Body =>
  ({ inputs, backend: be }, n) => {
    const { a, b } = inputs as Record<string, TensorInfo>;
    const av = f32(be, a),
      bv = f32(be, b);
    if (!av || !bv || av.length + bv.length < MIN_ELEMENTS) return undefined;
    const shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const c = collapse(shape, [broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape)]);
    if (c.dims.length > 8) return undefined;
    const cmp = op >= FIRST_COMPARISON;
    const y = cmp ? take(Uint8Array, sizeOf(shape)) : take(Float32Array, sizeOf(shape));
    n.binary(op, av, bv, y, c.dims, c.strides[0], c.strides[1]);
    return out(be, shape, cmp ? 'bool' : 'float32', y);
  };

const LOGICAL = ['LogicalAnd', 'LogicalOr', 'LogicalNot'] as const;
const logical =
  (op: number): Body =>
  ({ inputs, backend: be }, n) => {
    const { a, b, x } = inputs as Record<string, TensorInfo>;
    const first = op === 2 ? x : a,
      second = op === 2 ? x : b;
    if (first.dtype !== 'bool' || second.dtype !== 'bool' || !tf.util.arraysEqual(first.shape, second.shape))
      return undefined;
    const av = values(be, first) as Uint8Array,
      bv = values(be, second) as Uint8Array;
    if (av.length < MIN_ELEMENTS) return undefined;
    const y = take(Uint8Array, av.length);
    n.logical(op, av, bv, y);
    return out(be, [...first.shape], 'bool', y);
  };

const select: Body = ({ inputs, backend: be }, n) => {
  const { condition, t, e } = inputs as Record<string, TensorInfo>;
  const tv = f32(be, t),
    ev = f32(be, e);
  if (
    !tv ||
    !ev ||
    condition.dtype !== 'bool' ||
    tv.length < MIN_ELEMENTS ||
    !tf.util.arraysEqual(condition.shape, t.shape) ||
    !tf.util.arraysEqual(t.shape, e.shape)
  )
    return undefined;
  const y = take(Float32Array, tv.length);
  n.select(values(be, condition) as Uint8Array, tv, ev, y);
  return out(be, [...t.shape], 'float32', y);
};

/** fused.ts's KdqSymQuant: [ints, scale] of the symmetric quantizer of an already clipped x */
const symQuant: Body = ({ inputs, backend: be, attrs }, n) => {
  const x = (inputs as Record<string, TensorInfo>).x,
    xv = f32(be, x);
  if (!xv) return undefined;
  const ints = take(Float32Array, xv.length);
  const s = n.symQuant(xv, ints, (attrs as { levels: number }).levels);
  return [out(be, [...x.shape], 'float32', ints), out(be, [], 'float32', Float32Array.of(s))];
};

/** fused.ts's KdqSteMask: dy * 1[|x| < clip] */
const steMask: Body = ({ inputs, backend: be, attrs }, n) => {
  const { dy, x } = inputs as Record<string, TensorInfo>;
  const dv = f32(be, dy),
    xv = f32(be, x);
  if (!dv || !xv || dv.length !== xv.length) return undefined;
  const y = take(Float32Array, dv.length);
  n.steMask(dv, xv, y, (attrs as { clip: number }).clip);
  return out(be, [...dy.shape], 'float32', y);
};

/** src/analysis/hessian.ts's KdqHvL2: acc + (v / nrm - p (p . v) / nrm3) l2 (acc, v, p of one shape) */
const hvL2: Body = ({ inputs, backend: be, attrs }, n) => {
  const { acc, v, p } = inputs as Record<string, TensorInfo>;
  const av = f32(be, acc),
    vv = f32(be, v),
    pv = f32(be, p);
  if (!av || !vv || !pv || av.length !== vv.length || av.length !== pv.length) return undefined;
  const a = attrs as { l2: number; nrm: number; nrm3: number };
  const y = take(Float32Array, av.length);
  n.hvL2(av, vv, pv, y, a.l2, a.nrm, a.nrm3);
  return out(be, [...acc.shape], 'float32', y);
};

/** src/train/bertadam.ts's KdqBertAdam: [p', m', v'] of one parameter (p, m, v, g of one shape) */
const bertAdam: Body = ({ inputs, backend: be, attrs }, n) => {
  const { p, m, v, g } = inputs as Record<string, TensorInfo>;
  const [pv, mv, vv, gv] = [p, m, v, g].map((t) => f32(be, t));
  if (!pv || !mv || !vv || !gv || ![mv, vv, gv].every((a) => a.length === pv.length)) return undefined;
  const po = take(Float32Array, pv.length),
    mo = take(Float32Array, pv.length),
    vo = take(Float32Array, pv.length);
  n.bertAdam(pv, mv, vv, gv, po, mo, vo, (attrs as { h: number[] }).h);
  return [
    out(be, [...p.shape], 'float32', po),
    out(be, [...p.shape], 'float32', mo),
    out(be, [...p.shape], 'float32', vo),
  ];
};

/** kernels of our own (no cpu counterpart), by name: registered for the native backend only */
export const nativeOnlyBodies = (): Record<string, Body> => ({
  [SYM_QUANT]: symQuant,
  [STE_MASK]: steMask,
  [HV_L2]: hvL2,
  [BERT_ADAM]: bertAdam,
});

/** ZerosLike, OnesLike and Fill: a recycled buffer filled with one value */
const filled =
  (value: (args: Args) => number | undefined): Body =>
  (args) => {
    const x = (args.inputs as Record<string, TensorInfo>).x;
    const shape = x ? x.shape : (args.attrs as { shape: number[] }).shape;
    const dtype = x ? x.dtype : (args.attrs as { dtype: string }).dtype;
    const v = value(args);
    if (v === undefined || (dtype !== 'float32' && dtype !== 'int32') || sizeOf(shape) < MIN_ELEMENTS) return undefined;
    const y = take(dtype === 'int32' ? Int32Array : Float32Array, sizeOf(shape));
    y.fill(v);
    return out(args.backend, [...shape], dtype, y);
  };

const addN: Body = ({ inputs, backend: be }, n) => {
  const ts = list(inputs);
  const vs = ts.map((t) => f32(be, t));
  if (vs.some((v) => !v) || ts.some((t) => !tf.util.arraysEqual(t.shape, ts[0].shape))) return undefined;
  const y = take(Float32Array, sizeOf(ts[0].shape));
  n.addN(vs as Float32Array[], y);
  return out(be, [...ts[0].shape], 'float32', y);
};

/**
 * x [..] reduced over `axes` as [outer, red, inner] when the reduced axes (size-1 axes aside) are adjacent, else null
 */
function reduceView(shape: number[], axes: number[]): { outer: number; red: number; inner: number } | null {
  const kept = shape.map((d, k) => ({ d, r: axes.includes(k) })).filter((e) => e.d !== 1);
  const first = kept.findIndex((e) => e.r),
    last = kept.length - 1 - [...kept].reverse().findIndex((e) => e.r);
  if (first < 0) return { outer: sizeOf(shape), red: 1, inner: 1 };
  if (kept.slice(first, last + 1).some((e) => !e.r)) return null;
  const prod = (es: typeof kept) => es.reduce((p, e) => p * e.d, 1);
  return {
    outer: prod(kept.slice(0, first)),
    red: prod(kept.slice(first, last + 1)),
    inner: prod(kept.slice(last + 1)),
  };
}

const reduceBody =
  (op: number): Body =>
  ({ inputs, backend: be, attrs }, n) => {
    const x = (inputs as Record<string, TensorInfo>).x;
    const xv = f32(be, x);
    if (!xv || xv.length < MIN_ELEMENTS) return undefined;
    const { axis, reductionIndices, keepDims } = (attrs ?? {}) as {
      axis?: number | number[];
      reductionIndices?: number | number[];
      keepDims?: boolean;
    };
    const axes = tf.util.parseAxisParam(axis ?? reductionIndices!, x.shape); // Max names its axes reductionIndices
    const view = reduceView(x.shape, axes);
    if (!view) return undefined;
    const y = take(Float32Array, view.outer * view.inner);
    n.reduce(op, xv, y, view.outer, view.red, view.inner);
    const shape = keepDims
      ? x.shape.map((d, k) => (axes.includes(k) ? 1 : d))
      : x.shape.filter((_, k) => !axes.includes(k));
    return out(be, shape, 'float32', y);
  };

const softmax: Body = ({ inputs, backend: be, attrs }, n) => {
  const x = (inputs as Record<string, TensorInfo>).logits;
  const xv = f32(be, x);
  const dim = (attrs as { dim?: number } | undefined)?.dim ?? -1;
  if (!xv || x.shape.length === 0 || (dim !== -1 && dim !== x.shape.length - 1)) return undefined;
  const cols = x.shape[x.shape.length - 1],
    y = take(Float32Array, xv.length);
  n.softmax(xv, y, cols ? xv.length / cols : 0, cols);
  return out(be, [...x.shape], 'float32', y);
};

const batchMatMul: Body = ({ inputs, backend: be, attrs }, n) => {
  const { a, b } = inputs as Record<string, TensorInfo>;
  const av = f32(be, a),
    bv = f32(be, b);
  if (!av || !bv || a.shape.length < 2 || b.shape.length < 2) return undefined;
  const { transposeA = false, transposeB = false } = (attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
  const [ra, ca] = a.shape.slice(-2),
    [rb, cb] = b.shape.slice(-2);
  const M = transposeA ? ca : ra,
    K = transposeA ? ra : ca,
    N = transposeB ? rb : cb;
  if ((transposeB ? cb : rb) !== K)
    throw new Error(
      `BatchMatMul: inner dimensions differ, a [${a.shape}]${transposeA ? 'ᵀ' : ''} b ` +
        `[${b.shape}]${transposeB ? 'ᵀ' : ''}`,
    );
  const outerA = a.shape.slice(0, -2),
    outerB = b.shape.slice(0, -2);
  const batchA = sizeOf(outerA),
    batchB = sizeOf(outerB);
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return undefined;
  const outer = tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);
  if (sizeOf(outer) !== Math.max(batchA, batchB)) return undefined;
  const y = take(Float32Array, sizeOf(outer) * M * N);
  n.matmul(av, bv, y, batchA, batchB, M, N, K, transposeA, transposeB);
  return out(be, [...outer, M, N], 'float32', y);
};

const segmentSum: Body = ({ inputs, backend: be, attrs }, n) => {
  const { x, segmentIds } = inputs as Record<string, TensorInfo>;
  const xv = f32(be, x),
    ids = segmentIds.dtype === 'int32' ? (values(be, segmentIds) as Int32Array) : undefined;
  const numSegments = (attrs as { numSegments: number }).numSegments;
  if (!xv || !ids || segmentIds.shape.length !== 1 || x.shape[0] !== ids.length) return undefined;
  const shape = [numSegments, ...x.shape.slice(1)];
  const y = take(Float32Array, sizeOf(shape), true);
  const bad = n.segmentSum(xv, ids, y, numSegments);
  if (bad >= 0)
    throw new Error(`UnsortedSegmentSum: segment id ${ids[bad]} at position ${bad} is outside [0, ${numSegments})`);
  return out(be, shape, 'float32', y);
};

/** every kernel the native backend computes in C++, by tfjs kernel name */
export function nativeKernelBodies(): Record<string, Body> {
  const k: Record<string, Body> = {
    AddN: addN,
    Softmax: softmax,
    BatchMatMul: batchMatMul,
    UnsortedSegmentSum: segmentSum,
    ...nativeMovementKernels(),
  };
  UNARY.forEach((name, op) => {
    k[name] = unaryBody(op);
  });
  BINARY.forEach((name, op) => {
    k[name] = binaryBody(op);
  });
  REDUCE.forEach((name, op) => {
    k[name] = reduceBody(op);
  });
  LOGICAL.forEach((name, op) => {
    k[name] = logical(op);
  });
  k.Select = select;
  k.ZerosLike = filled(() => 0);
  k.OnesLike = filled(() => 1);
  k.Fill = filled((args) =>
    typeof (args.attrs as { value?: unknown }).value === 'number' ? (args.attrs as { value: number }).value : undefined,
  );
  return k;
}

/** cpu kernels that only add a reference to their input (no view of its values), so it can still be recycled */
const REFERENCE_ONLY = new Set(['Reshape', 'Identity', 'ExpandDims', 'Squeeze']);

/** the cpu kernel `stock`, with its inputs' buffers marked as escaped (it may keep a view of them) */
export function cpuKernel(stock: KernelConfig, backendName: string): KernelConfig {
  if (REFERENCE_ONLY.has(stock.kernelName)) return { ...stock, backendName };
  const kernelFunc = ((args: Args) => {
    for (const t of list(args.inputs)) escape(args.backend.data.get(t.dataId)?.values);
    return stock.kernelFunc(args as never);
  }) as unknown as KernelFunc;
  return { ...stock, backendName, kernelFunc };
}

/** a tfjs kernel config that runs `body` and falls back to the cpu kernel `stock` (kernels of our own have none) */
export function nativeKernel(
  body: Body,
  stock: KernelConfig | { kernelName: string },
  backendName: string,
  addon: NativeAddon,
): KernelConfig {
  const cpu = 'kernelFunc' in stock ? cpuKernel(stock, backendName).kernelFunc : undefined;
  const fallback = (args: Args) => {
    if (TRACE)
      console.error(
        `[native] cpu ${stock.kernelName} ${list(args.inputs)
          .map((t) => `${t.dtype}[${t.shape}]`)
          .join(' ')}`,
      );
    if (!cpu)
      throw new Error(
        `${stock.kernelName}: no native kernel for these inputs (${list(args.inputs)
          .map((t) => t.dtype)
          .join(', ')})`,
      );
    return cpu(args as never);
  };
  const kernelFunc = ((args: Args) => body(args, addon) ?? fallback(args)) as unknown as KernelFunc;
  return { kernelName: stock.kernelName, backendName, kernelFunc };
}
