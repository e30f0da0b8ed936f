/**
 * The training loop shared by teacher fine-tuning (FP, loss on labels) and KD-QAT (ternary student, KD loss
 * table): fixed step schedule, periodic dev evaluation with the reference's best/last conventions, a JSONL log,
 * and checkpoints from which a killed run resumes bit-for-bit (same batches, same dropout masks, same optimizer
 * state).
 */
import * as tf from '@tensorflow/tfjs';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bertForward, type Params } from '../model/bert.js';
import type { BertConfig } from '../model/config.js';
import type { Features } from '../data/features.js';
import type { TaskSpec } from '../data/tasks.js';
import { mse, type Coeffs, type Term } from '../kd/losses.js';
import { prepareCompression, stepSeeds, type CompressionHandle } from '../distill/compression.js';
import { kdCoeffs } from '../distill/config.js';
import { atomicWrite } from '../util/fsx.js';
import type { WriteTensor } from '../util/safetensors.js';
import { loadBestWeights, loadState, saveBestWeights, saveState, type EvalRecord, type SavedState } from './state.js';
import { faultPoint } from '../util/fault.js';
import { BertAdam, ADAM_DEFAULTS } from './bertadam.js';
import { disposeBatch, makeBatch, stepsPerEpoch, trainBatchIndices } from './batches.js';
import { evaluate, type EvalResult } from './evaluate.js';
import type { RunConfig } from './config.js';
import { kdStep } from '../distill/step.js';
import { toVariables } from '../distill/quantize.js';
import { markSaving, stopRequested, TrainingStopped } from './stop.js';

export interface TrainerSpec {
  mode: 'finetune' | 'qat';
  cfg: RunConfig;
  runDir: string;
  model: BertConfig;
  /** initial weights of the trained model (the teacher's for QAT) */
  init: Params;
  teacher?: Params;
  task: TaskSpec;
  train: Features;
  dev: Features;
  batchSize: number;
  evalEvery: number;
  onProgress?: (p: ProgressInfo) => void;
  /** messages (a damaged checkpoint not used); default stderr */
  log?: (s: string) => void;
}

export interface ProgressInfo {
  step: number;
  total: number;
  loss: number;
  lr: number;
  evalMetric?: number;
}

export interface TrainingOutcome {
  params: Record<string, tf.Variable>;
  best: EvalRecord | null;
  last: EvalRecord | null;
  /**
   * KD-QAT: the evaluation of the weights after the final step (`params`). The reference's last evaluation is a
   * step earlier (global_step == t_total - 1), so unless one fell on the final step this is an extra evaluation,
   * logged as `final` and kept out of best/last.
   */
  final: EvalRecord | null;
  /** KD-QAT: the weights of the best evaluation (as file tensors), or null when unavailable (a run resumed from an older kdqat's checkpoint) */
  bestWeights: Map<string, { shape: number[]; data: ArrayLike<number> }> | null;
  steps: number;
  tTotal: number;
  trainTokens: number;
  trainSeconds: number;
  resumedFrom: number | null;
  /** dev predictions per class at the last evaluation of this process (classification), for teacher-health.ts */
  lastPredicted?: number[];
}

/** Fine-tuning loss on labels: mean cross-entropy (classification) or MSE (regression). */
function finetuneLoss(logits: tf.Tensor2D, labels: tf.Tensor1D, regression: boolean): tf.Scalar {
  if (regression) return mse(logits.reshape([-1]), labels);
  return tf.neg(
    tf.mean(
      tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(tf.cast(labels, 'int32') as tf.Tensor1D, logits.shape[1])), -1),
    ),
  ) as tf.Scalar;
}

export const coeffsOf = (cfg: RunConfig): Coeffs => kdCoeffs(cfg.kd);

async function checkpoint(
  runDir: string,
  vars: Record<string, tf.Variable>,
  opt: BertAdam,
  handle: CompressionHandle | null,
  s: SavedState,
): Promise<void> {
  const tensors: Record<string, WriteTensor> = {};
  for (const [n, v] of Object.entries(vars))
    tensors[`param.${n}`] = { dtype: 'F32', shape: v.shape, data: (await v.data()) as Float32Array };
  const a = await opt.exportState();
  for (const [n, t] of Object.entries(a.tensors)) tensors[n] = { dtype: 'F32', shape: t.shape, data: t.data };
  for (const [n, t] of Object.entries(handle?.balancer.exportState() ?? {}))
    tensors[`balancer.${n}`] = { dtype: 'F32', shape: t.shape, data: t.data };
  saveState(runDir, tensors, s);
}

/** Keep the first n lines of the JSONL log (drop what was written after the checkpoint we resume from). */
function truncateLog(path: string, n: number): void {
  if (!existsSync(path)) return;
  const lines = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0);
  atomicWrite(
    path,
    lines
      .slice(0, n)
      .map((l) => l + '\n')
      .join(''),
  );
}

export async function runTraining(spec: TrainerSpec): Promise<TrainingOutcome> {
  const { cfg, runDir, model, task } = spec;
  const regression = task.outputMode === 'regression';
  mkdirSync(runDir, { recursive: true });
  const logPath = join(runDir, 'log.jsonl');
  const spe = stepsPerEpoch(spec.train.n, spec.batchSize);
  const tTotal = Math.ceil(spe * cfg.train.epochs);
  const lastStep = cfg.train.maxSteps ? Math.min(cfg.train.maxSteps, tTotal) : tTotal;
  const ckptEvery = cfg.train.checkpointEvery ?? spec.evalEvery;
  // KD-QAT runs through the public API's handle (src/api): the same hooks a user's own loop calls
  const handle =
    spec.mode === 'qat'
      ? prepareCompression({
          model,
          student: spec.init,
          teacher: spec.teacher!,
          quant: cfg.quant,
          kd: { ...cfg.kd, regression },
          seed: cfg.seed,
          name: spec.mode,
        })
      : null;
  const vars = handle ? handle.student : toVariables(spec.init, spec.mode);
  const opt = new BertAdam({
    ...ADAM_DEFAULTS,
    lr: cfg.train.lr,
    warmup: cfg.train.warmup,
    weightDecay: cfg.train.weightDecay,
    maxGradNorm: cfg.train.maxGradNorm,
    tTotal,
  });
  const hooks = handle?.hooks;

  let step = 0,
    best: EvalRecord | null = null,
    last: EvalRecord | null = null,
    logLines = 0,
    trainTokens = 0,
    trainSeconds = 0;
  let resumedFrom: number | null = null;
  let lastPredicted: number[] | undefined;
  const saved = loadState(runDir, spec.log ?? ((s: string) => console.error(s)));
  if (saved) {
    for (const [n, v] of Object.entries(vars)) {
      const t = saved.tensors.get(`param.${n}`);
      if (!t) throw new Error(`${runDir}/state/${saved.dir}: checkpoint lacks parameter ${n}`);
      v.assign(tf.tensor(Float32Array.from(t.data), t.shape));
    }
    opt.importState(saved.step, saved.tensors);
    const bal = [...saved.tensors].filter(([k]) => k.startsWith('balancer.')).map(([k, t]) => [k.slice(9), t] as const);
    if (handle && bal.length) handle.balancer.importState(new Map(bal));
    ({ step, best, last, logLines, trainTokens, trainSeconds } = saved);
    resumedFrom = step;
    truncateLog(logPath, logLines);
  } else if (existsSync(logPath)) {
    truncateLog(logPath, 0);
  }
  const log = (o: object) => {
    appendFileSync(logPath, JSON.stringify(o) + '\n');
    logLines++;
  };

  // KD-QAT keeps the weights of its best evaluation (state/best.safetensors, written when the best changes)
  const keepBest = spec.mode === 'qat';
  const snapshot = async (): Promise<Record<string, WriteTensor>> => {
    const t: Record<string, WriteTensor> = {};
    for (const [n, v] of Object.entries(vars))
      t[n] = { dtype: 'F32', shape: v.shape, data: (await v.data()) as Float32Array };
    return t;
  };
  // a resumed run's best weights: the file when it holds the checkpoint's best step, or the checkpoint's own weights
  // when the best was scored at the checkpoint's step; a later best (written after the checkpoint) is scored again
  if (
    keepBest &&
    saved &&
    best &&
    !loadBestWeights(runDir, (best as EvalRecord).step) &&
    (best as EvalRecord).step === step
  )
    saveBestWeights(runDir, await snapshot(), step);
  const doEval = async (): Promise<EvalRecord> => {
    const r: EvalResult = await evaluate(vars, model, spec.dev, task, spec.batchSize, hooks, cfg.data.dynamicPadding);
    const rec = { step, metrics: r.metrics, selection: r.selection };
    lastPredicted = r.predicted;
    if (!best || r.selection > best.selection) {
      best = rec;
      if (keepBest) saveBestWeights(runDir, await snapshot(), step);
    }
    last = rec;
    log({ step, eval: r.metrics, selection: r.selection });
    return rec;
  };

  handle?.onTrainBegin({ totalSteps: lastStep });
  let epochOpen = false;
  while (step < lastStep) {
    await new Promise((r) => setImmediate(r)); // let signals and I/O (e.g. a closed parent pipe) through each step
    const stop = stopRequested(); // SIGINT, SIGTERM (e.g. Slurm's time limit), SIGHUP: checkpoint this step boundary, then stop
    if (stop) {
      markSaving(true);
      try {
        await checkpoint(runDir, vars, opt, handle, { step, best, last, logLines, trainTokens, trainSeconds });
      } finally {
        markSaving(false);
      }
      throw new TrainingStopped(runDir, step, stop);
    }
    const t0 = performance.now();
    const tb = makeBatch(
      spec.train,
      trainBatchIndices(spec.train.n, spec.batchSize, cfg.seed, step),
      regression,
      cfg.data.dynamicPadding,
    );
    const lr = opt.lrAt();
    let loss: number,
      terms: Partial<Record<Term, number>> = {};
    if (handle) {
      if (!epochOpen) {
        handle.onEpochBegin(Math.floor(step / spe));
        epochOpen = true;
      }
      handle.onStepBegin(step);
      const r = await kdStep({ handle, optimizer: opt }, { batch: tb.batch, kd: tb.kd });
      loss = r.loss;
      terms = r.terms;
    } else {
      const nextSeed = stepSeeds(cfg.seed, step);
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
      loss = (await value.data())[0];
      value.dispose();
    }
    faultPoint('step'); // KDQAT_FAULT (src/util/fault.ts): a kill inside a training step, its update made, not logged
    disposeBatch(tb);
    if (!Number.isFinite(loss))
      throw new Error(`training diverged at step ${step}: loss is ${loss} (lr ${lr}); try a smaller --lr`);
    trainTokens += tb.tokens;
    trainSeconds += (performance.now() - t0) / 1000;
    log({
      step,
      loss,
      ...(handle ? { terms } : {}),
      ...(handle?.kd.balancer && handle.kd.balancer.kind !== 'static' ? { weights: handle.balancer.weights() } : {}),
      lr,
    });
    step++;
    if (handle && (step % spe === 0 || step === lastStep)) {
      handle.onEpochEnd(Math.floor((step - 1) / spe));
      epochOpen = false;
    }
    // the reference evaluates when global_step % eval_step == 0 or global_step == t_total - 1 (its global_step is
    // counted after the increment); optionally also after the very last step
    const evalNow =
      step % spec.evalEvery === 0 || step === tTotal - 1 || (cfg.train.evalAfterLastStep && step === lastStep);
    let rec: EvalRecord | undefined;
    if (evalNow) rec = await doEval();
    spec.onProgress?.({ step, total: lastStep, loss, lr, evalMetric: rec?.selection });
    if (step % ckptEvery === 0 && step < lastStep)
      await checkpoint(runDir, vars, opt, handle, { step, best, last, logLines, trainTokens, trainSeconds });
  }
  handle?.onTrainEnd();
  if (!last) await doEval(); // a run shorter than one eval interval still reports a dev metric
  let final: EvalRecord | null = null,
    bestWeights: TrainingOutcome['bestWeights'] = null;
  if (keepBest) {
    const l = last as EvalRecord | null;
    if (l && l.step === step) final = l;
    else {
      // the extra evaluation of the final weights: recorded, outside the reference's best/last selection
      const r = await evaluate(vars, model, spec.dev, task, spec.batchSize, hooks, cfg.data.dynamicPadding);
      final = { step, metrics: r.metrics, selection: r.selection };
      log({ step, final: r.metrics, selection: r.selection });
    }
    const b = best as EvalRecord | null;
    bestWeights = b ? loadBestWeights(runDir, b.step) : null;
  }
  opt.dispose();
  handle?.balancer.dispose();
  return {
    params: vars,
    best,
    last,
    final,
    bestWeights,
    steps: step,
    tTotal,
    trainTokens,
    trainSeconds,
    resumedFrom,
    lastPredicted,
  };
}
