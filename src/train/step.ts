/**
 * One KD-QAT training step: teacher forward (eval, no gradient), student forward (train mode, quantizers with
 * STE), KD loss table, gradients of the weighted total w.r.t. every student variable, BertAdam update.
 */
import * as tf from '@tensorflow/tfjs';
import { bertForward, type Batch, type BertOutputs, type QuantHooks } from '../model/bert.js';
import type { BertConfig } from '../model/config.js';
import { kdLoss, type Coeffs, type KdBatch, type KdOptions, type Term } from '../kd/losses.js';
import type { BertAdam } from './bertadam.js';

export interface StepInputs { batch: Batch; kd: KdBatch }

export interface StepResult { loss: number; terms: Partial<Record<Term, number>> }

export interface KdStepContext {
  config: BertConfig;
  teacher: Record<string, tf.Tensor>;
  student: Record<string, tf.Variable>;
  hooks: QuantHooks;
  coeffs: Coeffs;
  kdOptions: KdOptions;
  optimizer: BertAdam;
  /** seeds for the student's dropout masks of this step (deterministic in run seed and step) */
  nextSeed?: () => number;
}

/** Teacher outputs in eval mode; the caller disposes them (tf.dispose on the returned object). */
export function teacherForward(ctx: Pick<KdStepContext, 'config' | 'teacher'>, batch: Batch): BertOutputs {
  return tf.tidy(() => bertForward(ctx.teacher, ctx.config, batch, { training: false }) as unknown as tf.TensorContainer) as unknown as BertOutputs;
}

/** Run one step; returns the loss values read back after the update (one sync per step). */
export async function kdStep(ctx: KdStepContext, inp: StepInputs): Promise<StepResult> {
  const t = teacherForward(ctx, inp.batch);
  const names = Object.keys(ctx.student);
  const vars = names.map((n) => ctx.student[n]);
  let termTensors: Partial<Record<Term, tf.Scalar>> = {};
  const { value, grads } = tf.variableGrads(() => {
    const s = bertForward(ctx.student, ctx.config, inp.batch, { training: true, quant: ctx.hooks, nextSeed: ctx.nextSeed });
    const l = kdLoss(s, t, inp.kd, ctx.coeffs, ctx.kdOptions);
    termTensors = Object.fromEntries(Object.entries(l.terms).map(([k, v]) => [k, tf.keep(v)]));
    return l.total;
  }, vars);
  tf.dispose(t as unknown as tf.TensorContainer);
  const byName: Record<string, tf.Tensor> = {};
  for (const n of names) byName[n] = grads[ctx.student[n].name];
  ctx.optimizer.apply(ctx.student, byName);
  tf.dispose(grads);
  const loss = (await value.data())[0];
  value.dispose();
  const terms: Partial<Record<Term, number>> = {};
  for (const [k, v] of Object.entries(termTensors)) { terms[k as Term] = (await v.data())[0]; v.dispose(); }
  return { loss, terms };
}

/** Create trainable variables (copies) from params; names are kept as the variable names. */
let varSet = 0;
export function toVariables(params: Record<string, tf.Tensor>, prefix = 'student'): Record<string, tf.Variable> {
  const out: Record<string, tf.Variable> = {};
  const set = `${prefix}${varSet++}/`; // tfjs variable names are process-global: keep every set distinct
  for (const [n, t] of Object.entries(params)) out[n] = tf.variable(t.clone(), true, `${set}${n}`);
  return out;
}
