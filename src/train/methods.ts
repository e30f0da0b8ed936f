/**
 * The two trainings over the one loop (trainer.ts): teacher fine-tuning (full precision, loss on labels) and KD-QAT
 * (the ternary student of a teacher, through the compression handle).
 */
import * as tf from '@tensorflow/tfjs';
import { bertForward, type Params } from '../model/bert.js';
import { mse } from '../kd/losses.js';
import { compressionHandle, stepSeeds } from '../distill/compression.js';
import { kdStep } from '../distill/step.js';
import { toVariables } from '../distill/quantize.js';
import { stepsPerEpoch } from './batches.js';
import { runTraining, type TrainerSpec, type TrainingOutcome } from './trainer.js';

/** Fine-tuning loss on labels: mean cross-entropy (classification) or MSE (regression). */
function finetuneLoss(logits: tf.Tensor2D, labels: tf.Tensor1D, regression: boolean): tf.Scalar {
  if (regression) return mse(logits.reshape([-1]), labels);
  return tf.neg(
    tf.mean(
      tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(tf.cast(labels, 'int32') as tf.Tensor1D, logits.shape[1])), -1),
    ),
  ) as tf.Scalar;
}

/** Teacher fine-tuning: full precision, the loss on labels, dropout seeds of (run seed, step). */
export function finetuneTraining(spec: TrainerSpec): Promise<TrainingOutcome> {
  const { cfg, model } = spec;
  const regression = spec.task.outputMode === 'regression';
  const vars = toVariables(spec.init, 'finetune');
  return runTraining(spec, {
    vars,
    keepBest: false,
    begin: () => {},
    step: async (tb, k, opt) => {
      const nextSeed = stepSeeds(cfg.seed, k);
      const { value, grads } = tf.variableGrads(
        () =>
          finetuneLoss(
            bertForward(vars, model, tb.batch, { training: true, nextSeed }).logits,
            tb.kd.labels,
            regression,
          ),
        Object.values(vars),
      );
      opt.apply(vars, Object.fromEntries(Object.entries(vars).map(([n, v]) => [n, grads[v.name]])));
      tf.dispose(grads);
      const loss = (await value.data())[0];
      value.dispose();
      return { loss, log: {} };
    },
    stepped: () => {},
    end: () => {},
    exportState: () => ({}),
    importState: () => {},
    dispose: () => {},
  });
}

/** KD-QAT: the ternary student of `teacher` through the compression handle, the hooks a user's own loop calls. */
export function qatTraining(spec: TrainerSpec, teacher: Params): Promise<TrainingOutcome> {
  const { cfg } = spec;
  const h = compressionHandle({
    model: spec.model,
    student: spec.init,
    teacher,
    quant: cfg.quant,
    kd: { ...cfg.kd, regression: spec.task.outputMode === 'regression' },
    seed: cfg.seed,
    name: 'qat',
  });
  const spe = stepsPerEpoch(spec.train.n, cfg.data.batchSize);
  const weighted = h.kd.balancer && h.kd.balancer.kind !== 'static';
  let lastStep = 0,
    epochOpen = false;
  return runTraining(spec, {
    vars: h.student,
    hooks: h.hooks,
    keepBest: true,
    begin: (n) => {
      lastStep = n;
      h.onTrainBegin({ totalSteps: n });
    },
    step: async (tb, k, opt) => {
      if (!epochOpen) {
        h.onEpochBegin(Math.floor(k / spe));
        epochOpen = true;
      }
      h.onStepBegin(k);
      const r = await kdStep({ handle: h, optimizer: opt }, { batch: tb.batch, kd: tb.kd });
      return { loss: r.loss, log: { terms: r.terms, ...(weighted ? { weights: h.balancer.weights() } : {}) } };
    },
    stepped: (k) => {
      if (k % spe === 0 || k === lastStep) {
        h.onEpochEnd(Math.floor((k - 1) / spe));
        epochOpen = false;
      }
    },
    end: () => h.onTrainEnd(),
    exportState: () => h.balancer.exportState(),
    importState: (state) => h.balancer.importState(state),
    dispose: () => h.balancer.dispose(),
  });
}
