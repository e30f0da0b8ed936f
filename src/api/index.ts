/**
 * kdqat as a library (package entry, `exports` "."): distil a ternary BERT student in your own tfjs loop.
 *
 *   const kd = prepareCompression({ model, student, teacher, quant, distillation });   // handle + hooks
 *   kd.onTrainBegin(); ... kd.onStepBegin(k); loss = kd.onAfterComputeLoss(inputs, s, null, t); ... await kd.onStepEnd();
 *   await save(kd, 'student.safetensors'); const st = restore('student.safetensors');
 *
 * docs/library.md documents every hook (when it runs, its arguments) and the rest of this surface.
 */
export {
  prepareCompression,
  disposeOutputs,
  type CompressionOptions,
  type CompressionHandle,
  type CompressionCallbacks,
  type DistillationConfig,
  type StepInputs,
  type StepEnd,
} from './compression.js';
export { makeBalancer, BALANCER_KINDS, type BalancerConfig, type LossBalancer } from './balancers.js';
export { quantize, type QuantizedStudent, type StudentHooks } from './quantize.js';
export { save, restore, restoreInto, type RestoredStudent, type RestoreOptions, type QuantizerState } from './save.js';
export type { StudentScore, EvalSettings } from '../train/students.js';
// one call per step for a loop that needs nothing between the hooks: kdStep({ handle, optimizer }, batch)
export { kdStep, type HandleStepContext, type StepResult } from '../train/step.js';

// the project's own pieces a loop needs: configs, optimizer, model, checkpoints, GLUE data in batches, losses
export { QUANT_DEFAULTS, type QuantConfig, type QuantRule } from '../quant/plan.js';
export type { QuantizerSpec } from '../quant/quantizers.js';
export { KD_DEFAULTS, ConfigError, type KdConfig } from '../train/config.js';
export { BertAdam, ADAM_DEFAULTS, type BertAdamConfig } from '../train/bertadam.js';
export { bertForward, type Batch, type BertOutputs, type Params } from '../model/bert.js';
export { bertConfigFrom, BERT_DEFAULTS, BERT_PRESETS, type BertConfig } from '../model/config.js';
export { loadBertDir, saveBertDir, CheckpointError, type LoadedModel } from '../model/checkpoint.js';
export { readSafetensors } from '../util/safetensors.js';
export { initParams } from '../model/init.js';
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
