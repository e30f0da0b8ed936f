/**
 * prepareCompression: a ternary student with its quantizers, a full-precision teacher and the KD loss table,
 * behind training hooks that a user's own loop calls (Intel Neural Compressor's callbacks, ModelOpt's
 * compute_kd_loss). The CLI trainer runs its KD-QAT steps through the same handle.
 */
import * as tf from '@tensorflow/tfjs';
import { bertForward, type Batch, type BertOutputs, type Params } from '../model/bert.js';
import type { BertConfig } from '../model/config.js';
import { kdTerms, TERM_FNS, type Coeffs, type KdBatch, type KdLoss, type KdOptions, type Term } from '../kd/losses.js';
import type { QuantConfig } from '../quant/plan.js';
import { ConfigError } from '../util/errors.js';
import { mulberry32 } from '../util/random.js';
import { kdCoeffs, resolveCompression, type KdConfig } from './config.js';
import { makeBalancer, type LossBalancer } from './balancers.js';
import { checkParams, quantizeVariables, type StudentHooks } from './quantize.js';

/** inputs of one step: the model batch and the KD batch (labels, true lengths) */
export interface StepInputs {
  batch: Batch;
  kd: KdBatch;
}

/** The kd options of a handle: the run config's `kd` section (same keys and validation) plus the task kind. */
export interface KdOptionsConfig extends Partial<KdConfig> {
  /** regression task (num_labels 1): MSE instead of cross-entropy in gt and pred; default num_labels === 1 */
  regression?: boolean;
}

export interface CompressionOptions {
  /** architecture of student and teacher (the KD terms pair their layers one to one) */
  model: BertConfig;
  /** initial latent weights of the student (copied into variables; usually the teacher's) */
  student: Params;
  /** full-precision teacher weights (used as given, never changed) */
  teacher: Params;
  /**
   * quantizer config, the run config's `quant` section (rules by name pattern); defaults: ternary weights, 8-bit
   * activations
   */
  quant?: Partial<QuantConfig>;
  kd?: KdOptionsConfig;
  /** seed of the student's dropout masks: step k uses a fixed stream of (seed, k); default 42 */
  seed?: number;
  /** prefix of the tfjs variable names (process-global) */
  name?: string;
}

/** What each hook receives; a listener added with addCallbacks gets the same arguments after the handle's own work. */
export interface CompressionCallbacks {
  /** once, before the first step */
  onTrainBegin(info: { totalSteps?: number }): void;
  /** at the start of each epoch (0-based) */
  onEpochBegin(epoch: number): void;
  /** before the step's forward passes: fixes the step's dropout seeds (step k of the run, default: the next one) */
  onStepBegin(step: number): void;
  /**
   * inside the gradient function, after the handle computed the loss to differentiate (loss: the user's own, or
   * null)
   */
  onAfterComputeLoss(
    inputs: StepInputs,
    studentOutputs: BertOutputs,
    loss: tf.Scalar | null,
    teacherOutputs: BertOutputs,
  ): void;
  /**
   * after the gradients, before the optimizer, once the balancer learned from its own: the student's gradients by
   * parameter name
   */
  onBeforeOptimizerStep(grads: Record<string, tf.Tensor>): void;
  /** after the optimizer step: the step's KD term values are read and its tensors freed */
  onStepEnd(info: StepEnd): void;
  /** at the end of each epoch */
  onEpochEnd(epoch: number): void;
  /** once, after the last step */
  onTrainEnd(): void;
}

export interface StepEnd {
  step: number;
  terms: Partial<Record<Term, number>>;
  weights: Record<string, number>;
}

export interface CompressionHandle {
  readonly model: BertConfig;
  /** the student's latent weights, trainable (pass to your optimizer) */
  readonly student: Record<string, tf.Variable>;
  readonly teacher: Params;
  readonly quant: QuantConfig;
  readonly kd: ResolvedKd;
  readonly coeffs: Coeffs;
  readonly hooks: StudentHooks;
  readonly balancer: LossBalancer;
  readonly seed: number;
  /** steps ended so far (onStepEnd) and the current epoch */
  readonly step: number;
  readonly epoch: number;
  /** student variables, then the balancer's learnable ones: the list for tf.variableGrads */
  trainableVariables(): tf.Variable[];
  /** teacher outputs in eval mode, outside any gradient; free them with disposeOutputs */
  teacherForward(batch: Batch): BertOutputs;
  /** student outputs (quantized, STE); train mode uses this step's dropout seeds. Call inside the gradient function */
  studentForward(batch: Batch, opts?: { training?: boolean; nextSeed?: () => number }): BertOutputs;
  /** ModelOpt's compute_kd_loss: total = balancer(student loss, c_t L_t(student, teacher, kd)); scalars */
  computeKdLoss(
    studentOutputs: BertOutputs,
    teacherOutputs: BertOutputs,
    kd: KdBatch,
    studentLoss?: tf.Scalar | null,
  ): KdLoss;
  onTrainBegin(info?: { totalSteps?: number }): void;
  onEpochBegin(epoch?: number): void;
  onStepBegin(step?: number): void;
  /** loss = your student's own loss or null; returns the total to differentiate (keep its terms for onStepEnd) */
  onAfterComputeLoss(
    inputs: StepInputs,
    studentOutputs: BertOutputs,
    loss: tf.Scalar | null | undefined,
    teacherOutputs: BertOutputs,
  ): tf.Scalar;
  /** grads from tf.variableGrads (keyed by variable name); returns the student's, keyed by parameter name */
  onBeforeOptimizerStep(grads: Record<string, tf.Tensor>): Record<string, tf.Tensor>;
  onStepEnd(): Promise<StepEnd>;
  onEpochEnd(epoch?: number): void;
  onTrainEnd(): void;
  addCallbacks(listener: Partial<CompressionCallbacks>): void;
  /** frees the student variables, the balancer and any kept loss terms (not the teacher) */
  dispose(): void;
}

/** outputs of a full-precision model in eval mode, computed in a tidy (nothing else kept); the caller disposes them */
export const teacherOutputs = (params: Params, model: BertConfig, batch: Batch): BertOutputs =>
  tf.tidy(
    () => bertForward(params, model, batch, { training: false }) as unknown as tf.TensorContainer,
  ) as unknown as BertOutputs;

/** free every tensor of a forward's outputs (teacherForward's, or a student's computed outside a tidy) */
export const disposeOutputs = (o: BertOutputs): void => tf.dispose(o as unknown as tf.TensorContainer);

/** dropout seeds of step k: a fixed stream per (run seed, step) */
export const stepSeeds = (seed: number, step: number): (() => number) => {
  const r = mulberry32((seed * 2_654_435_761 + step * 40_503 + 17) >>> 0);
  return () => Math.floor(r() * 2 ** 31);
};

/** a kd section resolved for one task: regression or not */
export type ResolvedKd = KdConfig & { regression: boolean };

/** What a handle is made of, its configs resolved: prepareCompression checks user options into these. */
export interface HandleSpec {
  model: BertConfig;
  student: Params;
  teacher: Params;
  quant: QuantConfig;
  kd: ResolvedKd;
  seed: number;
  name: string;
}

/** A student to distil (variables made from o.student), with its quantizers, KD loss table and balancer. */
export function prepareCompression(o: CompressionOptions): CompressionHandle {
  const { regression, ...kdIn } = o.kd ?? {};
  if (regression !== undefined && typeof regression !== 'boolean')
    throw new ConfigError(`config key "kd.regression" must be true or false, got ${JSON.stringify(regression)}`);
  const { quant, kd } = resolveCompression(o.quant, kdIn);
  return compressionHandle({
    model: o.model,
    student: o.student,
    teacher: o.teacher,
    quant,
    kd: { ...kd, regression: regression ?? o.model.num_labels === 1 },
    seed: o.seed ?? 42,
    name: o.name ?? 'student',
  });
}

/** The handle of configs resolved already (a validated run config): its weights are checked, nothing else. */
export function compressionHandle(s: HandleSpec): CompressionHandle {
  checkParams(s.model, s.teacher, 'teacher');
  checkParams(s.model, s.student, 'student');
  if (!Number.isInteger(s.seed)) throw new ConfigError(`config key "seed" must be an integer, got ${s.seed}`);
  const q = quantizeVariables(s.student, s.quant, s.name);
  const coeffs = kdCoeffs(s.kd);
  const balancer = makeBalancer(s.kd.balancer, coeffs);
  return createHandle({ ...s, student: q.params, hooks: q.hooks, coeffs, balancer });
}

interface HandleParts {
  model: BertConfig;
  teacher: Params;
  student: Record<string, tf.Variable>;
  hooks: StudentHooks;
  quant: QuantConfig;
  kd: ResolvedKd;
  coeffs: Coeffs;
  balancer: LossBalancer;
  seed: number;
}

function createHandle(p: HandleParts): CompressionHandle {
  const kdOptions: KdOptions = { regression: p.kd.regression, gtRegressionUsesLabels: p.kd.gtRegressionUsesLabels };
  const listeners: Partial<CompressionCallbacks>[] = [];
  const emit = <K extends keyof CompressionCallbacks>(k: K, ...args: Parameters<CompressionCallbacks[K]>) => {
    for (const l of listeners) (l[k] as ((...a: unknown[]) => void) | undefined)?.(...args);
  };
  const names = Object.keys(p.student);
  const balancerByVar = new Map(Object.entries(p.balancer.variables).map(([k, v]) => [v.name, k]));
  let step = 0,
    epoch = 0,
    seeds: (() => number) | undefined;
  let kept: Partial<Record<Term, tf.Scalar>> = {};
  const dropKept = () => {
    tf.dispose(Object.values(kept) as tf.Scalar[]);
    kept = {};
  };

  const computeKdLoss = (s: BertOutputs, t: BertOutputs, kd: KdBatch, studentLoss: tf.Scalar | null = null): KdLoss => {
    const terms = kdTerms(s, t, kd, p.coeffs, kdOptions);
    // a balancer that weighs the student's own loss, given none: the ground-truth term of the table (labels)
    const own = studentLoss ?? (p.balancer.needsStudentLoss ? TERM_FNS.gt(s, t, kd, kdOptions) : null);
    return { total: p.balancer.combine(terms, p.coeffs, own), terms };
  };

  const h: CompressionHandle = {
    model: p.model,
    student: p.student,
    teacher: p.teacher,
    quant: p.quant,
    kd: p.kd,
    coeffs: p.coeffs,
    hooks: p.hooks,
    balancer: p.balancer,
    seed: p.seed,
    get step() {
      return step;
    },
    get epoch() {
      return epoch;
    },
    trainableVariables: () => [...names.map((n) => p.student[n]), ...Object.values(p.balancer.variables)],
    teacherForward: (batch) => teacherOutputs(p.teacher, p.model, batch),
    studentForward: (batch, o = {}) => {
      const training = o.training ?? true;
      return bertForward(p.student, p.model, batch, {
        training,
        quant: p.hooks,
        nextSeed: o.nextSeed ?? (training ? seeds : undefined),
      });
    },
    computeKdLoss,
    onTrainBegin: (info = {}) => {
      emit('onTrainBegin', info);
    },
    onEpochBegin: (e = epoch) => {
      epoch = e;
      emit('onEpochBegin', e);
    },
    onStepBegin: (k = step) => {
      step = k;
      seeds = stepSeeds(p.seed, k);
      emit('onStepBegin', k);
    },
    onAfterComputeLoss: (inputs, s, loss, t) => {
      const l = computeKdLoss(s, t, inputs.kd, loss ?? null);
      dropKept();
      kept = Object.fromEntries(Object.entries(l.terms).map(([k, v]) => [k, tf.keep(v)]));
      emit('onAfterComputeLoss', inputs, s, loss ?? null, t);
      return l.total;
    },
    onBeforeOptimizerStep: (grads) => {
      const own: Record<string, tf.Tensor> = {};
      for (const [vn, g] of Object.entries(grads)) {
        const k = balancerByVar.get(vn);
        if (k) own[k] = g;
      }
      if (Object.keys(own).length) {
        p.balancer.update(own);
        tf.dispose(Object.values(own));
      }
      const byName: Record<string, tf.Tensor> = {};
      for (const n of names) byName[n] = grads[p.student[n].name];
      emit('onBeforeOptimizerStep', byName);
      return byName;
    },
    onStepEnd: async () => {
      const terms: Partial<Record<Term, number>> = {};
      for (const [k, v] of Object.entries(kept)) terms[k as Term] = (await v.data())[0];
      dropKept();
      const info: StepEnd = { step, terms, weights: p.balancer.weights() };
      step++;
      seeds = undefined;
      emit('onStepEnd', info);
      return info;
    },
    onEpochEnd: (e = epoch) => {
      emit('onEpochEnd', e);
      epoch = e + 1;
    },
    onTrainEnd: () => {
      dropKept();
      emit('onTrainEnd');
    },
    addCallbacks: (l) => {
      listeners.push(l);
    },
    dispose: () => {
      dropKept();
      p.balancer.dispose();
      for (const v of Object.values(p.student)) v.dispose();
    },
  };
  return h;
}
