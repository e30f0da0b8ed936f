/**
 * save / restore (ModelOpt's mto.save / mto.restore): one safetensors file with the student's latent weights
 * (float32, parameter names as in the model's forward), the balancer's learnable state ("balancer.<task>"), and in
 * its metadata the architecture, the quantizer configuration and every piece of quantizer state:
 *   kdqat.format = "kdqat.compressed.v1", kdqat.model (BertConfig JSON), kdqat.quant (QuantConfig JSON),
 *   kdqat.quantizer_state (per quantized weight: rule, quantizer, and the per-tensor scale it gives on these
 *   weights; per activation point: rule and quantizer, dynamic), kdqat.kd, kdqat.step.
 */
import * as tf from '@tensorflow/tfjs';
import { paramShapes, type Params } from '../model/bert.js';
import { bertConfigFrom, type BertConfig } from '../model/config.js';
import { CheckpointError } from '../model/checkpoint.js';
import type { StudentScore } from './students.js';
import { actRules, compileRules, firstMatch, makeQuantHooks, weightRules, type QuantConfig } from '../quant/plan.js';
import type { QuantizerSpec } from '../quant/quantizers.js';
import { resolveCompression } from './config.js';
import { readSafetensors, writeSafetensors, type WriteTensor } from '../util/safetensors.js';
import type { CompressionHandle } from './compression.js';
import { checkParams, quantizedStudent, type QuantizedStudent } from './quantize.js';

const SAVE_FORMAT = 'kdqat.compressed.v1';

export interface QuantizerEntry {
  rule: string;
  quantizer: QuantizerSpec;
  scale?: number;
  statistics: 'per-tensor' | 'per-row' | 'dynamic';
}
export interface QuantizerState {
  weights: Record<string, QuantizerEntry>;
  activations: Record<string, QuantizerEntry>;
}

/** activation quantization points of bertForward: every linear's input, and the four attention operands per layer */
function actPoints(model: BertConfig): string[] {
  const linears = Object.entries(paramShapes(model))
    .filter(([n, s]) => n.endsWith('.weight') && s.length === 2 && !n.includes('embeddings'))
    .map(([n]) => n.replace(/\.weight$/, '.input'));
  const attn = Array.from({ length: model.num_hidden_layers }, (_, l) =>
    ['query_layer', 'key_layer', 'value_layer', 'attention_probs'].map(
      (p) => `bert.encoder.layer.${l}.attention.self.${p}`,
    ),
  ).flat();
  return [...linears, ...attn];
}

/** Which quantizer every weight and activation point gets, and each per-tensor weight quantizer's scale now. */
export function quantizerState(model: BertConfig, params: Params, quant: QuantConfig): QuantizerState {
  const weights: Record<string, QuantizerEntry> = {},
    activations: Record<string, QuantizerEntry> = {};
  const wr = compileRules(weightRules(quant)),
    ar = compileRules(actRules(quant));
  for (const name of Object.keys(paramShapes(model))) {
    const m = firstMatch(wr, name);
    if (!m?.q) continue;
    const q = m.q;
    const scale = q.factor
      ? tf.tidy(() => q.factor!(tf.clipByValue(params[name], -q.clip, q.clip)).scale.dataSync()[0])
      : undefined;
    weights[name] = {
      rule: m.rule.pattern,
      quantizer: m.rule.quantizer,
      ...(scale !== undefined ? { scale } : {}),
      statistics: q.rowwise ? 'per-row' : 'per-tensor',
    };
  }
  for (const point of actPoints(model)) {
    const m = firstMatch(ar, point);
    if (m?.q) activations[point] = { rule: m.rule.pattern, quantizer: m.rule.quantizer, statistics: 'dynamic' };
  }
  return { weights, activations };
}

type Saveable = CompressionHandle | QuantizedStudent;
const paramsOf = (h: Saveable): Params => ('student' in h ? h.student : h.params);

/** Write the student (latent weights + quantizer config and state + balancer state) to one safetensors file. */
export async function save(h: Saveable, path: string): Promise<void> {
  const params = paramsOf(h);
  const tensors: Record<string, WriteTensor> = {};
  for (const [n, t] of Object.entries(params))
    tensors[n] = { dtype: 'F32', shape: t.shape, data: (await t.data()) as Float32Array };
  const handle = 'student' in h ? h : null;
  for (const [k, t] of Object.entries(handle?.balancer.exportState() ?? {}))
    tensors[`balancer.${k}`] = { dtype: 'F32', shape: t.shape, data: t.data };
  writeSafetensors(path, tensors, {
    format: 'pt',
    producer: 'kdqat',
    'kdqat.format': SAVE_FORMAT,
    'kdqat.model': JSON.stringify(h.model),
    'kdqat.quant': JSON.stringify(h.quant),
    'kdqat.quantizer_state': JSON.stringify(quantizerState(h.model, params, h.quant)),
    ...(handle
      ? {
          'kdqat.kd': JSON.stringify({ ...handle.kd, coeffs: handle.coeffs }),
          'kdqat.step': String(handle.step),
        }
      : {}),
  });
}

interface Loaded {
  model: BertConfig;
  quant: QuantConfig;
  params: Params;
  balancer: Map<string, { shape: number[]; data: Float32Array }>;
  meta: Record<string, string>;
}

function load(path: string, expect?: BertConfig): Loaded {
  const f = readSafetensors(path);
  const meta = f.metadata;
  if (meta['kdqat.format'] !== SAVE_FORMAT)
    throw new CheckpointError(
      `${path}: not a kdqat compressed student (metadata "kdqat.format" is ` +
        `${JSON.stringify(meta['kdqat.format'] ?? null)}, expected "${SAVE_FORMAT}"; ` +
        'write one with save(handle, path))',
    );
  const json = (k: string) => {
    try {
      return JSON.parse(meta[k]);
    } catch {
      throw new CheckpointError(`${path}: metadata "${k}" is missing or not JSON`);
    }
  };
  const model = bertConfigFrom(json('kdqat.model'), `${path} (metadata kdqat.model)`);
  if (expect) {
    const diff = (Object.keys(model) as (keyof BertConfig)[]).filter((k) => model[k] !== expect[k]);
    if (diff.length)
      throw new CheckpointError(
        `${path}: saved from another architecture: ` +
          diff.map((k) => `${k} ${model[k]} in the file, ${expect[k]} expected`).join('; '),
      );
  }
  const quant = resolveCompression(json('kdqat.quant')).quant;
  const params: Params = {},
    balancer = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [k, t] of f.tensors) {
    if (k.startsWith('balancer.')) balancer.set(k.slice(9), { shape: t.shape, data: Float32Array.from(t.data) });
    else params[k] = tf.tensor(Float32Array.from(t.data), t.shape, 'float32');
  }
  try {
    checkParams(model, params, path);
    const now = JSON.stringify(quantizerState(model, params, quant));
    if (now !== meta['kdqat.quantizer_state'])
      throw new CheckpointError(
        `${path}: the weights do not reproduce the saved quantizer state (metadata kdqat.quantizer_state); ` +
          'the file was changed after saving',
      );
  } catch (e) {
    tf.dispose(Object.values(params));
    throw e;
  }
  return { model, quant, params, balancer, meta };
}

export interface RestoredStudent extends QuantizedStudent {
  /** the kd config the file was saved with (null for a saved QuantizedStudent) */
  readonly kd: Record<string, unknown> | null;
  readonly step: number | null;
  readonly quantizerState: QuantizerState;
  /** a KD-QAT run's student: the dev evaluation that scored these weights in their run (null otherwise) */
  readonly score: StudentScore | null;
}

/** A file written by save(), rebuilt: same weights, same quantizers (`expect`: refuse another architecture). */
export function restoreSaved(path: string, expect?: BertConfig): RestoredStudent {
  const l = load(path, expect);
  const s = quantizedStudent(l.model, l.params, l.quant, makeQuantHooks(l.quant));
  // files saved before the section was named kd wrote it as kdqat.distillation
  const kd = l.meta['kdqat.kd'] ?? l.meta['kdqat.distillation'];
  return {
    ...s,
    kd: kd ? JSON.parse(kd) : null,
    step: l.meta['kdqat.step'] ? Number(l.meta['kdqat.step']) : null,
    quantizerState: JSON.parse(l.meta['kdqat.quantizer_state']),
    score: null,
  };
}

/** Load a saved file into an existing handle (its student variables and balancer), e.g. to continue distilling. */
export function restoreInto(h: CompressionHandle, path: string): void {
  const l = load(path, h.model);
  if (JSON.stringify(l.quant) !== JSON.stringify(h.quant)) {
    tf.dispose(Object.values(l.params));
    throw new CheckpointError(`${path}: saved with another quantizer config (kdqat.quant ${JSON.stringify(l.quant)})`);
  }
  for (const [n, v] of Object.entries(h.student)) v.assign(l.params[n]);
  tf.dispose(Object.values(l.params));
  if (l.balancer.size) h.balancer.importState(l.balancer);
}
