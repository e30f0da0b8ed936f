/**
 * kdqat as a library (package entry, `exports` "."): distil a ternary BERT student in your own tfjs loop.
 *
 *   const kd = prepareCompression({ model, student, teacher, quant, kd: { preset } });   // handle + hooks
 *   kd.onStepBegin(k); const { loss } = await kdStep({ handle: kd, optimizer }, batch);   // or the hooks one by one
 *   await save(kd, 'student.safetensors'); const st = restore('student.safetensors');
 *
 * docs/library.md documents every hook (when it runs, its arguments) and the rest of this surface.
 */

// the handle and its hooks, the loss balancers, one whole step
export {
  prepareCompression,
  disposeOutputs,
  type CompressionOptions,
  type CompressionHandle,
  type CompressionCallbacks,
  type KdOptionsConfig,
  type StepInputs,
  type StepEnd,
} from '../distill/compression.js';
export { makeBalancer, BALANCER_KINDS, type BalancerConfig, type LossBalancer } from '../distill/balancers.js';
export { kdStep, type HandleStepContext, type StepOptimizer, type StepResult } from '../distill/step.js';
export { KD_DEFAULTS, type KdConfig } from '../distill/config.js';
export { QUANT_DEFAULTS, type QuantConfig, type QuantRule } from '../quant/plan.js';
export type { QuantizerSpec } from '../quant/quantizers.js';
export { ConfigError } from '../util/errors.js';

// quantize, save, restore
export { quantize, type QuantizedStudent, type StudentHooks } from '../distill/quantize.js';
export { save, restoreInto, type RestoredStudent, type QuantizerState } from '../distill/save.js';
export { restore, type RestoreOptions } from '../sweep/restore.js';
export type { StudentScore, EvalSettings } from '../distill/students.js';

// the model, its checkpoints and the optimizer
export { BertAdam, ADAM_DEFAULTS, type BertAdamConfig } from '../train/bertadam.js';
export { bertForward, type Batch, type BertOutputs, type Params } from '../model/bert.js';
export { bertConfigFrom, BERT_DEFAULTS, BERT_PRESETS, type BertConfig } from '../model/config.js';
export { loadBertDir, saveBertDir, CheckpointError, type LoadedModel } from '../model/checkpoint.js';
export { readSafetensors } from '../util/safetensors.js';
export { initParams } from '../model/init.js';

// GLUE tasks loaded into batches
export { loadTokenizer, type GlueTokenizer } from '../data/tokenizer.js';
export { loadGlueSplit, type LoadGlueOptions, type GlueSplit } from '../data/glue.js';
export type { Features } from '../data/features.js';
export { TASKS, TASK_NAMES, getTask, type TaskName, type TaskSpec } from '../data/tasks.js';
export {
  makeBatch,
  evalBatches,
  trainBatchIndices,
  stepsPerEpoch,
  disposeBatch,
  type TensorBatch,
} from '../train/batches.js';
export { TERMS, PRESETS, type Term, type Coeffs, type KdBatch } from '../kd/losses.js';
export { initBackend, type BackendInfo } from '../backend/backend.js';
