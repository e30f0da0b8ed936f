/**
 * From FP32 weights to the quantized contents of an export file (src/export/format.ts):
 *   - ternaryContents: the student's weight quantizers (TWN, docs/method.md §1.1) applied to a set of weights: the
 *     latent
 *     weights of a KD-QAT student, or the FP teacher's (ternary post-training quantization, no training);
 *   - int8Contents: dynamic int8 post-training quantization as torch.quantization.quantize_dynamic does for every
 *     nn.Linear (weights int8 per output channel; activations quantized per tensor at run time, int8Linear).
 */
import * as tf from '@tensorflow/tfjs';
import type { Params, QuantHooks } from '../model/bert.js';
import type { BertConfig } from '../model/config.js';
import { actRules, makeQuantHooks, weightRules, type QuantConfig } from '../quant/plan.js';
import { integerMatMul } from '../backend/integer-kernels.js';
import { EXPORT_FORMAT, type ExportContents, type FpTensor, type QuantTensor } from './format.js';

async function fpOf(t: tf.Tensor): Promise<FpTensor> {
  return { shape: t.shape, data: Float32Array.from(await t.data()) };
}

/**
 * Q = quantizer(W) [rows, cols] (row-wise) or any shape (per tensor) as ints in {-1, 0, +1} and scales: a TWN Q only
 * takes the values {-alpha, 0, +alpha} of its row / tensor, so ints = Q / alpha and ints * alpha is Q bit for bit.
 */
function splitTernary(name: string, q: Float32Array, shape: number[], rowwise: boolean): QuantTensor {
  const rows = rowwise ? shape[0] : 1,
    cols = q.length / rows;
  const ints = new Int8Array(q.length),
    scales = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = r * cols; j < (r + 1) * cols; j++) s = Math.max(s, Math.abs(q[j]));
    for (let j = r * cols; j < (r + 1) * cols; j++) {
      const v = q[j];
      if (Number.isNaN(v) || (v !== 0 && Math.abs(v) !== s))
        throw new Error(
          `export: ${name} is not ternary (value ${v} in ${rowwise ? `row ${r}` : 'the tensor'} whose scale is ` +
            `${s}); only ternary (weight-bits 2) students can be packed`,
        );
      ints[j] = Math.sign(v);
    }
    scales[r] = s;
  }
  return { entry: { storage: 'ternary2', shape, scale: rowwise ? 'row' : 'tensor' }, ints, scales };
}

/** Ternary contents of `params` under the student quantizer config `quant` (quantized where a weight rule matches). */
export async function ternaryContents(
  params: Params,
  config: BertConfig,
  quant: QuantConfig,
  source: Record<string, unknown>,
): Promise<ExportContents> {
  const hooks = makeQuantHooks(quant);
  const c: ExportContents = {
    meta: {
      format: EXPORT_FORMAT,
      kind: 'ternary',
      config,
      quant: { ...quant, weightRules: weightRules(quant), actRules: actRules(quant) },
      entries: {},
      source,
    },
    quantized: {},
    fp: {},
  };
  for (const name of Object.keys(params).sort()) {
    const q = hooks.weightQuantizer(name),
      w = params[name];
    if (!q) {
      c.fp[name] = await fpOf(w);
      continue;
    }
    const qw = q.quantize(w);
    const values = Float32Array.from(await qw.data());
    qw.dispose();
    c.quantized[name] = splitTernary(name, values, w.shape, q.rowwise === true);
    c.meta.entries[name] = c.quantized[name].entry;
  }
  return c;
}

/**
 * The weights quantize_dynamic replaces: every Linear weight [out, in] (encoder, pooler, classifier), not embeddings.
 */
export const isLinearWeight = (name: string, shape: number[]): boolean =>
  shape.length === 2 && !name.includes('_embeddings.');

/** round half to even (torch's nearbyint, tf.round) */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * symmetric per output channel: s[o] = max_j |W[o,j]| / 127 (float32; 1 for a zero row), Wq = clamp(round(W / s), -127,
 * 127)
 */
export function quantizeInt8PerChannel(
  w: Float32Array,
  rows: number,
  cols: number,
): { ints: Int8Array; scales: Float32Array } {
  const ints = new Int8Array(rows * cols),
    scales = new Float32Array(rows);
  for (let o = 0; o < rows; o++) {
    let m = 0;
    for (let j = 0; j < cols; j++) m = Math.max(m, Math.abs(w[o * cols + j]));
    const s = (scales[o] = m > 0 ? Math.fround(m / 127) : 1);
    for (let j = 0; j < cols; j++)
      ints[o * cols + j] = Math.max(-127, Math.min(127, roundHalfEven(w[o * cols + j] / s)));
  }
  return { ints, scales };
}

/** Dynamic int8 contents of FP `params`: Linear weights int8 per channel, everything else FP32. */
export async function int8Contents(
  params: Params,
  config: BertConfig,
  source: Record<string, unknown>,
): Promise<ExportContents> {
  const c: ExportContents = {
    meta: { format: EXPORT_FORMAT, kind: 'int8-dynamic', config, quant: null, entries: {}, source },
    quantized: {},
    fp: {},
  };
  for (const name of Object.keys(params).sort()) {
    const w = params[name];
    if (!isLinearWeight(name, w.shape)) {
      c.fp[name] = await fpOf(w);
      continue;
    }
    const { ints, scales } = quantizeInt8PerChannel((await w.data()) as Float32Array, w.shape[0], w.shape[1]!);
    c.quantized[name] = { entry: { storage: 'int8', shape: w.shape, scale: 'row' }, ints, scales };
    c.meta.entries[name] = c.quantized[name].entry;
  }
  return c;
}

/** smallest activation scale (torch's choose_qparams clamps the scale to float32 epsilon) */
const MIN_SCALE = 2 ** -23;

/**
 * Dynamic int8 linear without bias, x [N,in] float, wq [out,in] int8 values (as float), sw [out] -> [N,out]:
 *   lo = min(min x, 0), hi = max(max x, 0), s = max((hi - lo) / 255, eps), z = clamp(round(-lo / s), 0, 255),
 *   xq = clamp(round(x / s) + z, 0, 255),   y[n,o] = s * sw[o] * sum_j (xq[n,j] - z) * wq[o,j]
 * (per-tensor asymmetric uint8 activations and the integer product, as fbgemm's quantized dynamic Linear; the
 * integer sums are exact in float32 while |sum| < 2^24, i.e. for in <= 512).
 */
export function int8Linear(x: tf.Tensor, wq: tf.Tensor, sw: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const lo = tf.minimum(tf.min(x), 0),
      hi = tf.maximum(tf.max(x), 0);
    const s = tf.maximum(tf.div(tf.sub(hi, lo), 255), MIN_SCALE);
    const z = tf.clipByValue(tf.round(tf.div(tf.neg(lo), s)), 0, 255);
    const xq = tf.sub(tf.clipByValue(tf.add(tf.round(tf.div(x, s)), z), 0, 255), z);
    return tf.mul(tf.mul(integerMatMul(xq, wq, true), s), sw);
  });
}

/** bertForward hooks of a dynamically quantized model: Linear layers whose weight has int8 scales run int8Linear. */
export function int8DynamicHooks(scales: Record<string, tf.Tensor>): QuantHooks {
  return {
    weight: (_name, w) => w,
    act: (_point, x) => x,
    matmul: (_pa, a, pb, b, transposeB) =>
      scales[pb] && transposeB ? int8Linear(a, b, scales[pb]) : tf.matMul(a, b, false, transposeB),
  };
}
