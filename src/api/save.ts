/**
 * save / restore (ModelOpt's mto.save / mto.restore): one safetensors file with the student's latent weights
 * (float32, parameter names as in src/model/bert.ts), the balancer's learnable state ("balancer.<task>"), and in
 * its metadata the architecture, the quantizer configuration and every piece of quantizer state:
 *   kdqat.format = "kdqat.compressed.v1", kdqat.model (BertConfig JSON), kdqat.quant (QuantConfig JSON),
 *   kdqat.quantizer_state (per quantized weight: rule, quantizer, and the per-tensor scale it gives on these
 *   weights; per activation point: rule and quantizer, dynamic), kdqat.distillation, kdqat.step.
 */
import * as tf from '@tensorflow/tfjs';
import { paramShapes, type Params } from '../model/bert.js';
import { bertConfigFrom, type BertConfig } from '../model/config.js';
import { CheckpointError, loadBertDir } from '../model/checkpoint.js';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describeScore, resolveStudent, type StudentScore, type Which } from '../train/students.js';
import { mainMetric } from '../data/metrics.js';
import { actRules, compileRules, firstMatch, makeQuantHooks, weightRules, type QuantConfig } from '../quant/plan.js';
import type { QuantizerSpec } from '../quant/quantizers.js';
import { resolveConfig } from '../train/config.js';
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
function quantizerState(model: BertConfig, params: Params, quant: QuantConfig): QuantizerState {
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
          'kdqat.distillation': JSON.stringify({ ...handle.distillation, coeffs: handle.coeffs }),
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
      `${path}: not a kdqat compressed student (metadata "kdqat.format" is ${JSON.stringify(meta['kdqat.format'] ?? null)}, expected "${SAVE_FORMAT}"; write one with save(handle, path))`,
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
        `${path}: saved from another architecture: ${diff.map((k) => `${k} ${model[k]} in the file, ${expect[k]} expected`).join('; ')}`,
      );
  }
  const quant = resolveConfig({ quant: json('kdqat.quant') }).quant;
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
        `${path}: the weights do not reproduce the saved quantizer state (metadata kdqat.quantizer_state); the file was changed after saving`,
      );
  } catch (e) {
    tf.dispose(Object.values(params));
    throw e;
  }
  return { model, quant, params, balancer, meta };
}

export interface RestoredStudent extends QuantizedStudent {
  /** the distillation config the file was saved with (null for a saved QuantizedStudent) */
  readonly distillation: Record<string, unknown> | null;
  readonly step: number | null;
  readonly quantizerState: QuantizerState;
  /** a KD-QAT run's student: the dev evaluation that scored these weights in their run (null otherwise) */
  readonly score: StudentScore | null;
}

export interface RestoreOptions {
  /** refuse another architecture */
  model?: BertConfig;
  /** of a KD-QAT run folder: 'best' (default: student/, the weights of its best evaluation) or 'last' (student-last/, the final weights) */
  which?: Which;
  /** where the restored student's recorded metric is said (default: stderr); pass () => {} for silence */
  log?: (s: string) => void;
}

/**
 * Rebuild a saved student: same weights, same quantizers, so the same outputs. `path` is a file written by save(),
 * a KD-QAT run folder (its best student, or opts.which 'last') or a student folder written by `npm run qat`.
 * A run's student carries `score`, the dev evaluation that scored these weights in their run (docs/students.md).
 */
export function restore(path: string, opts: RestoreOptions = {}): RestoredStudent {
  if (existsSync(path) && statSync(path).isDirectory()) return restoreStudentDir(path, opts);
  let l: Loaded;
  try {
    l = load(path, opts.model);
  } catch (e) {
    // the model.safetensors of a student folder written by `npm run qat`: restore the folder
    if (
      e instanceof CheckpointError &&
      /not a kdqat compressed student/.test(e.message) &&
      existsSync(join(dirname(path), 'kdqat.json'))
    )
      return restoreStudentDir(dirname(path), opts);
    throw e;
  }
  const s = quantizedStudent(l.model, l.params, l.quant, makeQuantHooks(l.quant));
  return {
    ...s,
    distillation: l.meta['kdqat.distillation'] ? JSON.parse(l.meta['kdqat.distillation']) : null,
    step: l.meta['kdqat.step'] ? Number(l.meta['kdqat.step']) : null,
    quantizerState: JSON.parse(l.meta['kdqat.quantizer_state']),
    score: null,
  };
}

/** A student folder of a KD-QAT run (config.json, model.safetensors, kdqat.json with its quantizer settings). */
function restoreStudentDir(path: string, opts: RestoreOptions): RestoredStudent {
  const st = resolveStudent(path, opts.which ?? 'best');
  const quant = resolveConfig({ quant: studentQuantConfig(st.dir) }).quant;
  const m = loadBertDir(st.dir);
  if (opts.model) {
    const diff = (Object.keys(m.config) as (keyof BertConfig)[]).filter((k) => m.config[k] !== opts.model![k]);
    if (diff.length) {
      tf.dispose(Object.values(m.params));
      throw new CheckpointError(
        `${st.dir}: another architecture: ${diff.map((k) => `${k} ${m.config[k]} in the folder, ${opts.model![k]} expected`).join('; ')}`,
      );
    }
  }
  const s = quantizedStudent(m.config, m.params, quant, makeQuantHooks(quant));
  const log = opts.log ?? ((x: string) => console.error(x));
  const metric =
    typeof m.provenance?.task === 'string'
      ? mainMetric(m.provenance.task)
      : st.score
        ? Object.keys(st.score.metrics)[0]
        : '';
  if (st.note) log(`restore: note: ${st.note}`);
  log(`restore: ${st.score ? describeScore(st.score, metric) : 'no recorded evaluation of these weights'} (${st.dir})`);
  return {
    ...s,
    distillation: null,
    step: st.score?.step ?? null,
    quantizerState: quantizerState(m.config, m.params, quant),
    score: st.score,
  };
}

/** The quantizer settings recorded in a student folder's kdqat.json. */
function studentQuantConfig(dir: string): Partial<QuantConfig> {
  const p = join(dir, 'kdqat.json');
  let prov: { quant?: Partial<QuantConfig> } = {};
  try {
    prov = JSON.parse(readFileSync(p, 'utf8'));
  } catch (e) {
    throw new CheckpointError(
      `${dir}: not a kdqat student (${existsSync(p) ? `${p}: ${(e as Error).message}` : 'no kdqat.json with its quantizer settings'})`,
    );
  }
  if (!prov.quant || typeof prov.quant !== 'object')
    throw new CheckpointError(`${p}: no "quant" settings (not a KD-QAT student?)`);
  return prov.quant;
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
