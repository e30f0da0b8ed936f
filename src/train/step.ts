/**
 * One KD-QAT training step, through the compression handle's hooks (src/api): teacher forward (eval, no
 * gradient), student forward (train mode, quantizers with STE), the balanced KD loss, gradients of it w.r.t. every
 * student variable (and the balancer's), BertAdam update.
 */
import * as tf from '@tensorflow/tfjs';
import type { QuantHooks } from '../model/bert.js';
import type { BertConfig } from '../model/config.js';
import type { Coeffs, KdOptions, Term } from '../kd/losses.js';
import { createHandle, disposeOutputs, type CompressionHandle, type StepInputs } from '../api/compression.js';
import { makeBalancer } from '../api/balancers.js';
import { QUANT_DEFAULTS } from '../quant/plan.js';
import { KD_DEFAULTS } from './config.js';
import type { BertAdam } from './bertadam.js';

export type { StepInputs };
export { toVariables } from '../api/quantize.js';

export interface StepResult {
  loss: number;
  terms: Partial<Record<Term, number>>;
}

/** A step's parts without a handle (tests, verify, bench): static coefficients, hooks as given. */
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

/** A handle's step: the handle's own dropout seeds (onStepBegin) and its balancer. */
export interface HandleStepContext {
  handle: CompressionHandle;
  optimizer: BertAdam;
}

/** Teacher outputs in eval mode; the caller disposes them (tf.dispose on the returned object). */

function handleOf(c: KdStepContext): CompressionHandle {
  return createHandle({
    model: c.config,
    teacher: c.teacher,
    student: c.student,
    hooks: c.hooks as CompressionHandle['hooks'],
    quant: QUANT_DEFAULTS,
    distillation: { ...KD_DEFAULTS, ...c.kdOptions },
    coeffs: c.coeffs,
    balancer: makeBalancer(null, c.coeffs),
    seed: 0,
  });
}

/** Run one step; returns the loss values read back after the update (one sync per step). */
export async function kdStep(ctx: KdStepContext | HandleStepContext, inp: StepInputs): Promise<StepResult> {
  const h = 'handle' in ctx ? ctx.handle : handleOf(ctx);
  const nextSeed = 'handle' in ctx ? undefined : ctx.nextSeed;
  const t = h.teacherForward(inp.batch);
  const { value, grads } = tf.variableGrads(
    () => h.onAfterComputeLoss(inp, h.studentForward(inp.batch, nextSeed ? { nextSeed } : {}), null, t),
    h.trainableVariables(),
  );
  disposeOutputs(t);
  ctx.optimizer.apply(h.student, h.onBeforeOptimizerStep(grads));
  tf.dispose(grads);
  const loss = (await value.data())[0];
  value.dispose();
  const { terms } = await h.onStepEnd();
  return { loss, terms };
}
