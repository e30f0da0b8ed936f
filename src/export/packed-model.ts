/**
 * The inference path of an exported model: the file's contents become bertForward parameters plus quantizer hooks,
 * unpacked once at load, so the one forward of src/model/bert.ts runs it:
 *   - ternary, per-tensor scale (every quantized Linear): the parameter is the {-1, 0, +1} tensor and its weight
 *     "quantizer" is the stored grid (ints, alpha), so products with an 8-bit activation run exactly on the integer
 *     grid (src/quant/exact-matmul.ts) as in the latent student: same values, bit for bit;
 *   - ternary, per-row scale (word embeddings): dequantized once at load (ints * alpha_r), looked up in FP32;
 *   - int8 (dynamic PTQ): the parameter is the int8 tensor, its Linear runs int8Linear (src/export/ptq.ts).
 * Activation quantizers come from the settings stored in the file.
 */
import * as tf from '@tensorflow/tfjs';
import type { Params, QuantHooks } from '../model/bert.js';
import type { BertConfig } from '../model/config.js';
import { makeQuantHooks } from '../quant/plan.js';
import type { Quantizer } from '../quant/quantizers.js';
import { readExport, type ExportContents, type ExportKind } from './format.js';
import { int8DynamicHooks } from './ptq.js';

export interface DeployedModel {
  kind: ExportKind | 'fp32';
  config: BertConfig;
  params: Params;
  /** undefined for an FP32 model */
  hooks?: QuantHooks;
  dispose(): void;
}

/** A weight already on its per-tensor grid: Q(ints) = ints * alpha, factored as (ints, alpha) for exact products. */
function storedGrid(name: string, alpha: tf.Tensor): Quantizer {
  const apply = (ints: tf.Tensor) => tf.mul(ints, alpha);
  return {
    name: `stored:${name}`,
    clip: 1,
    apply,
    quantize: apply,
    factor: (ints) => ({ ints, scale: alpha, divide: false }),
  };
}

/** Build the runnable model from export contents (tensors are created here; dispose() frees them). */
export function deployedModel(c: ExportContents): DeployedModel {
  const params: Params = {},
    owned: tf.Tensor[] = [];
  const keep = <T extends tf.Tensor>(t: T): T => {
    owned.push(t);
    return t;
  };
  for (const [name, f] of Object.entries(c.fp)) params[name] = keep(tf.tensor(f.data, f.shape, 'float32'));
  const grids = new Map<string, Quantizer>();
  const int8Scales: Record<string, tf.Tensor> = {};
  for (const [name, q] of Object.entries(c.quantized)) {
    const { storage, shape, scale } = q.entry;
    const ints = tf.tensor(Float32Array.from(q.ints), shape, 'float32');
    if (storage === 'int8') {
      params[name] = keep(ints);
      int8Scales[name] = keep(tf.tensor1d(q.scales));
    } else if (scale === 'row') {
      // [rows, cols] * [rows, 1]
      params[name] = keep(tf.tidy(() => tf.mul(ints, tf.tensor2d(q.scales, [shape[0], 1]))));
      ints.dispose();
    } else {
      params[name] = keep(ints);
      grids.set(name, storedGrid(name, keep(tf.scalar(q.scales[0]))));
    }
  }
  const kind = c.meta.kind;
  let hooks: QuantHooks;
  if (kind === 'int8-dynamic') hooks = int8DynamicHooks(int8Scales);
  else {
    if (!c.meta.quant) throw new Error('export: a ternary model needs its quantizer settings (metadata "quant")');
    hooks = makeQuantHooks(c.meta.quant, (name) => grids.get(name) ?? null);
  }
  return { kind, config: c.meta.config, params, hooks, dispose: () => tf.dispose(owned) };
}

/** Load `dir`/model.safetensors written by npm run export / the benchmark. */
export function loadExportedModel(
  dir: string,
): DeployedModel & { path: string; bytes: number; meta: ExportContents['meta'] } {
  const c = readExport(dir);
  return { ...deployedModel(c), path: c.path, bytes: c.bytes, meta: c.meta };
}
