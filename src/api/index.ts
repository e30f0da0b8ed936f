/**
 * kdqat as a library (package entry, `exports` "."): distil a ternary BERT student in your own tfjs loop.
 *
 *   const kd = prepareCompression({ model, student, teacher, quant, distillation });   // handle + hooks
 *   kd.onTrainBegin(); ... kd.onStepBegin(k); loss = kd.onAfterComputeLoss(inputs, s, null, t); ... await kd.onStepEnd();
 *   await save(kd, 'student.safetensors'); const st = restore('student.safetensors');
 *
 * README.md ("Library API") documents every hook: when it runs and its arguments.
 */
export {
  prepareCompression, resolveCompressionConfig, disposeOutputs, kdCoeffs, stepSeeds, teacherOutputs,
  type CompressionOptions, type CompressionHandle, type CompressionCallbacks, type DistillationConfig, type StepInputs, type StepEnd,
} from './compression.js';
export { makeBalancer, BALANCER_KINDS, type BalancerConfig, type LossBalancer } from './balancers.js';
export { quantize, checkParams, type QuantizedStudent, type StudentHooks } from './quantize.js';
export { save, restore, restoreInto, quantizerState, SAVE_FORMAT, type RestoredStudent, type RestoreOptions, type QuantizerState } from './save.js';
export { type StudentScore, type EvalSettings } from '../train/students.js';

// the project's own pieces a loop needs: configs, optimizer, model, data, losses
export { QUANT_DEFAULTS, type QuantConfig, type QuantRule } from '../quant/plan.js';
export type { QuantizerSpec } from '../quant/quantizers.js';
export { KD_DEFAULTS, ConfigError, type KdConfig } from '../train/config.js';
export { BertAdam, ADAM_DEFAULTS, type BertAdamConfig } from '../train/bertadam.js';
export { bertForward, type Batch, type BertOutputs, type Params } from '../model/bert.js';
export { bertConfigFrom, BERT_DEFAULTS, BERT_PRESETS, type BertConfig } from '../model/config.js';
export { loadBertDir, saveBertDir, CheckpointError } from '../model/checkpoint.js';
export { initParams } from '../model/init.js';
export { TERMS, PRESETS, type Term, type Coeffs, type KdBatch } from '../kd/losses.js';
export { initBackend } from '../backend/backend.js';
