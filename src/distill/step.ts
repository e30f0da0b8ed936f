/**
 * One KD-QAT training step: teacher forward (eval, no gradient), student forward (train mode, quantizers with STE),
 * the balanced KD loss, gradients of it w.r.t. every student variable (and the balancer's), the optimizer's update.
 */
import * as tf from '@tensorflow/tfjs';
import { bertForward, type BertOutputs, type QuantHooks } from '../model/bert.js';
import type { BertConfig } from '../model/config.js';
import { kdTerms, weightedSum, type Coeffs, type KdOptions, type Term } from '../kd/losses.js';
import { disposeOutputs, teacherOutputs, type CompressionHandle, type StepInputs } from './compression.js';

/** what kdStep needs of an optimizer (BertAdam has it): one update from gradients keyed by parameter name */
export interface StepOptimizer {
  apply(vars: Record<string, tf.Variable>, grads: Record<string, tf.Tensor>): void;
}

export interface StepResult {
  loss: number;
  terms: Partial<Record<Term, number>>;
}

/** A handle's step: the handle's own dropout seeds (onStepBegin) and its balancer. */
export interface HandleStepContext {
  handle: CompressionHandle;
  optimizer: StepOptimizer;
}

/**
 * The update both steps share: the loss and its gradients w.r.t. `vars`, the teacher's outputs freed, the optimizer's
 * update of the student from `studentGrads`, the loss read back (one sync per step).
 */
async function update(
  optimizer: StepOptimizer,
  student: Record<string, tf.Variable>,
  teacherOut: BertOutputs,
  lossFn: () => tf.Scalar,
  vars: tf.Variable[],
  studentGrads: (grads: tf.NamedTensorMap) => Record<string, tf.Tensor>,
): Promise<number> {
  const { value, grads } = tf.variableGrads(lossFn, vars);
  disposeOutputs(teacherOut);
  optimizer.apply(student, studentGrads(grads));
  tf.dispose(grads);
  const loss = (await value.data())[0];
  value.dispose();
  return loss;
}

/** Run one step of a handle (after its onStepBegin); returns the loss values read back after the update. */
export async function kdStep(ctx: HandleStepContext, inp: StepInputs): Promise<StepResult> {
  const h = ctx.handle;
  const t = h.teacherForward(inp.batch);
  const loss = await update(
    ctx.optimizer,
    h.student,
    t,
    () => h.onAfterComputeLoss(inp, h.studentForward(inp.batch), null, t),
    h.trainableVariables(),
    (grads) => h.onBeforeOptimizerStep(grads),
  );
  const { terms } = await h.onStepEnd();
  return { loss, terms };
}

/** A step's parts without a handle (verify, bench, tests): static coefficients, quantizer hooks as given. */
export interface StaticStepContext {
  config: BertConfig;
  teacher: Record<string, tf.Tensor>;
  student: Record<string, tf.Variable>;
  hooks: QuantHooks;
  coeffs: Coeffs;
  kdOptions: KdOptions;
  optimizer: StepOptimizer;
  /** seeds for the student's dropout masks of this step */
  nextSeed?: () => number;
}

/** One step with the static loss sum_t c_t L_t, the same operations as a handle with the static balancer. */
export async function staticKdStep(ctx: StaticStepContext, inp: StepInputs): Promise<StepResult> {
  const names = Object.keys(ctx.student);
  const t = teacherOutputs(ctx.teacher, ctx.config, inp.batch);
  let kept: Partial<Record<Term, tf.Scalar>> = {};
  const loss = await update(
    ctx.optimizer,
    ctx.student,
    t,
    () => {
      const s = bertForward(ctx.student, ctx.config, inp.batch, {
        training: true,
        quant: ctx.hooks,
        nextSeed: ctx.nextSeed,
      });
      const terms = kdTerms(s, t, inp.kd, ctx.coeffs, ctx.kdOptions);
      kept = Object.fromEntries(Object.entries(terms).map(([k, v]) => [k, tf.keep(v)]));
      return weightedSum(terms, ctx.coeffs);
    },
    names.map((n) => ctx.student[n]),
    (grads) => Object.fromEntries(names.map((n) => [n, grads[ctx.student[n].name]])),
  );
  const terms: Partial<Record<Term, number>> = {};
  for (const [k, v] of Object.entries(kept)) terms[k as Term] = (await v.data())[0];
  tf.dispose(Object.values(kept) as tf.Scalar[]);
  return { loss, terms };
}
