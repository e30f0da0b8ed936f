/**
 * quantize: the student alone (ModelOpt's mtq.quantize): latent weights with the quantizers of a QuantConfig
 * attached by name pattern, and a forward that uses them. No teacher, no loss.
 */
import * as tf from '@tensorflow/tfjs';
import { bertForward, paramShapes, type Batch, type BertOutputs, type Params } from '../model/bert.js';
import type { BertConfig } from '../model/config.js';
import { CheckpointError } from '../model/checkpoint.js';
import { makeQuantHooks, type QuantConfig } from '../quant/plan.js';
import { resolveCompression } from './config.js';

export type StudentHooks = ReturnType<typeof makeQuantHooks>;

export interface QuantizedStudent {
  readonly model: BertConfig;
  /** latent (full-precision) weights; the quantizers apply in forward */
  readonly params: Params;
  readonly quant: QuantConfig;
  readonly hooks: StudentHooks;
  /** student outputs: ternary weights, 8-bit activations (by default); eval mode unless training: true */
  forward(batch: Batch, opts?: { training?: boolean; nextSeed?: () => number }): BertOutputs;
  /** frees the student's own copies of the weights */
  dispose(): void;
}

let varSet = 0;

/** Copies of params as trainable variables named `<prefix><n>/<param>` (tfjs variable names are process-global). */
export function toVariables(params: Params, prefix = 'student'): Record<string, tf.Variable> {
  const out: Record<string, tf.Variable> = {};
  const set = `${prefix}${varSet++}/`;
  for (const [n, t] of Object.entries(params)) out[n] = tf.variable(t.clone(), true, `${set}${n}`);
  return out;
}

/** Every tensor of params has the shape `model` implies, and none is missing or extra. */
export function checkParams(model: BertConfig, params: Params, what: string): void {
  const shapes = paramShapes(model);
  for (const [n, s] of Object.entries(shapes)) {
    const t = params[n];
    if (!t) throw new CheckpointError(`${what}: missing tensor "${n}"`);
    if (t.shape.join('x') !== s.join('x'))
      throw new CheckpointError(`${what}: tensor "${n}" has shape [${t.shape}] but the model config implies [${s}]`);
  }
  const extra = Object.keys(params).filter((n) => !shapes[n]);
  if (extra.length)
    throw new CheckpointError(`${what}: tensors not part of this architecture: ${extra.slice(0, 5).join(', ')}`);
}

/** Trainable copies of params and the hooks of a resolved QuantConfig. */
export function quantizeVariables(
  params: Params,
  quant: QuantConfig,
  prefix: string,
): { params: Record<string, tf.Variable>; hooks: StudentHooks } {
  const hooks = makeQuantHooks(quant); // compiles the rules first: a bad pattern fails before any variable exists
  return { params: toVariables(params, prefix), hooks };
}

/** The student with quantizers attached; params are copied (the caller keeps its tensors). */
export function quantize(model: BertConfig, params: Params, quant: Partial<QuantConfig> = {}): QuantizedStudent {
  const q = resolveCompression(quant).quant;
  checkParams(model, params, 'student');
  const hooks = makeQuantHooks(q);
  const own: Params = Object.fromEntries(Object.entries(params).map(([n, t]) => [n, t.clone()]));
  return quantizedStudent(model, own, q, hooks);
}

/** A QuantizedStudent around tensors it owns (disposed by dispose()). */
export function quantizedStudent(
  model: BertConfig,
  params: Params,
  quant: QuantConfig,
  hooks: StudentHooks = makeQuantHooks(quant),
): QuantizedStudent {
  return {
    model,
    params,
    quant,
    hooks,
    forward: (batch, o = {}) =>
      bertForward(params, model, batch, { training: o.training ?? false, quant: hooks, nextSeed: o.nextSeed }),
    dispose: () => {
      for (const t of Object.values(params)) t.dispose();
    },
  };
}
