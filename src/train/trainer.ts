/**
 * The training loop shared by teacher fine-tuning (FP, loss on labels) and KD-QAT (ternary student, KD loss
 * table): fixed step schedule, periodic dev evaluation with the reference's best/last conventions, a JSONL log,
 * and checkpoints from which a killed run resumes bit-for-bit (same batches, same dropout masks, same optimizer
 * state).
 */
import * as tf from '@tensorflow/tfjs';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Params } from '../model/bert.js';
import type { BertConfig } from '../model/config.js';
import type { Features } from '../data/features.js';
import type { TaskSpec } from '../data/tasks.js';
import type { StateTensor } from '../distill/balancers.js';
import type { StudentHooks } from '../distill/quantize.js';
import { atomicWrite } from '../util/fsx.js';
import type { WriteTensor } from '../util/safetensors.js';
import { loadBestWeights, loadState, saveBestWeights, saveState, type EvalRecord, type SavedState } from './state.js';
import { faultPoint } from '../util/fault.js';
import { BertAdam, ADAM_DEFAULTS } from './bertadam.js';
import { disposeBatch, makeBatch, stepsPerEpoch, trainBatchIndices, type TensorBatch } from './batches.js';
import { evaluate, type EvalResult } from './evaluate.js';
import type { ResolvedConfig } from './config.js';
import { markSaving, stopRequested, TrainingStopped } from './stop.js';

export interface TrainerSpec {
  cfg: ResolvedConfig;
  runDir: string;
  model: BertConfig;
  /** initial weights of the trained model (the teacher's for QAT) */
  init: Params;
  task: TaskSpec;
  train: Features;
  dev: Features;
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
  /**
   * KD-QAT: the weights of the best evaluation (as file tensors), or null when unavailable (a run resumed from an
   * older kdqat's checkpoint)
   */
  bestWeights: Map<string, { shape: number[]; data: ArrayLike<number> }> | null;
  steps: number;
  tTotal: number;
  trainTokens: number;
  trainSeconds: number;
  resumedFrom: number | null;
  /** dev predictions per class at the last evaluation of this process (classification), for teacher-health.ts */
  lastPredicted?: number[];
}

/** What fine-tuning and KD-QAT do differently inside the one loop: the variables trained and one step of them. */
export interface Method {
  vars: Record<string, tf.Variable>;
  /** quantizers of the evaluated model (KD-QAT's student) */
  hooks?: StudentHooks;
  /** keep the weights of the best evaluation (state/best.safetensors) */
  keepBest: boolean;
  begin(lastStep: number): void;
  /** one optimizer step on the batch of step k; `log`: what the step's log line holds between loss and lr */
  step(tb: TensorBatch, k: number, opt: BertAdam): Promise<{ loss: number; log: object }>;
  /** after step k - 1, k steps done */
  stepped(k: number): void;
  end(): void;
  /** tensors that a checkpoint keeps beside the weights and the optimizer (KD-QAT's balancer) */
  exportState(): Record<string, StateTensor>;
  importState(state: Map<string, { shape: number[]; data: ArrayLike<number> }>): void;
  dispose(): void;
}

async function checkpoint(
  runDir: string,
  vars: Record<string, tf.Variable>,
  opt: BertAdam,
  m: Method,
  s: SavedState,
): Promise<void> {
  const tensors: Record<string, WriteTensor> = {};
  for (const [n, v] of Object.entries(vars))
    tensors[`param.${n}`] = { dtype: 'F32', shape: v.shape, data: (await v.data()) as Float32Array };
  const a = await opt.exportState();
  for (const [n, t] of Object.entries(a.tensors)) tensors[n] = { dtype: 'F32', shape: t.shape, data: t.data };
  for (const [n, t] of Object.entries(m.exportState()))
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

/** The loop of every training run: `m` says what is trained and how one step goes. */
export async function runTraining(spec: TrainerSpec, m: Method): Promise<TrainingOutcome> {
  const { cfg, runDir, model, task } = spec;
  const { batchSize, dynamicPadding } = cfg.data;
  const regression = task.outputMode === 'regression';
  mkdirSync(runDir, { recursive: true });
  const logPath = join(runDir, 'log.jsonl');
  const spe = stepsPerEpoch(spec.train.n, batchSize);
  const tTotal = Math.ceil(spe * cfg.train.epochs);
  const lastStep = cfg.train.maxSteps ? Math.min(cfg.train.maxSteps, tTotal) : tTotal;
  const evalEvery = cfg.train.evalEvery;
  const ckptEvery = cfg.train.checkpointEvery ?? evalEvery;
  const vars = m.vars;
  const opt = new BertAdam({
    ...ADAM_DEFAULTS,
    lr: cfg.train.lr,
    warmup: cfg.train.warmup,
    weightDecay: cfg.train.weightDecay,
    maxGradNorm: cfg.train.maxGradNorm,
    tTotal,
  });

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
    if (bal.length) m.importState(new Map(bal));
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
  const keepBest = m.keepBest;
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
    const r: EvalResult = await evaluate(vars, model, spec.dev, task, batchSize, m.hooks, dynamicPadding);
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

  m.begin(lastStep);
  while (step < lastStep) {
    await new Promise((r) => setImmediate(r)); // let signals and I/O (e.g. a closed parent pipe) through each step
    // SIGINT, SIGTERM (e.g. Slurm's time limit), SIGHUP: checkpoint this step boundary, then stop
    const stop = stopRequested();
    if (stop) {
      markSaving(true);
      try {
        await checkpoint(runDir, vars, opt, m, { step, best, last, logLines, trainTokens, trainSeconds });
      } finally {
        markSaving(false);
      }
      throw new TrainingStopped(runDir, step, stop);
    }
    const t0 = performance.now();
    const tb = makeBatch(
      spec.train,
      trainBatchIndices(spec.train.n, batchSize, cfg.seed, step),
      regression,
      dynamicPadding,
    );
    const lr = opt.lrAt();
    const { loss, log: extra } = await m.step(tb, step, opt);
    faultPoint('step'); // KDQAT_FAULT (src/util/fault.ts): a kill inside a training step, its update made, not logged
    disposeBatch(tb);
    if (!Number.isFinite(loss))
      throw new Error(`training diverged at step ${step}: loss is ${loss} (lr ${lr}); try a smaller --lr`);
    trainTokens += tb.tokens;
    trainSeconds += (performance.now() - t0) / 1000;
    log({ step, loss, ...extra, lr });
    step++;
    m.stepped(step);
    // the reference evaluates when global_step % eval_step == 0 or global_step == t_total - 1 (its global_step is
    // counted after the increment); optionally also after the very last step
    const evalNow = step % evalEvery === 0 || step === tTotal - 1 || (cfg.train.evalAfterLastStep && step === lastStep);
    let rec: EvalRecord | undefined;
    if (evalNow) rec = await doEval();
    spec.onProgress?.({ step, total: lastStep, loss, lr, evalMetric: rec?.selection });
    if (step % ckptEvery === 0 && step < lastStep)
      await checkpoint(runDir, vars, opt, m, { step, best, last, logLines, trainTokens, trainSeconds });
  }
  m.end();
  if (!last) await doEval(); // a run shorter than one eval interval still reports a dev metric
  let final: EvalRecord | null = null,
    bestWeights: TrainingOutcome['bestWeights'] = null;
  if (keepBest) {
    const l = last as EvalRecord | null;
    if (l && l.step === step) final = l;
    else {
      // the extra evaluation of the final weights: recorded, outside the reference's best/last selection
      const r = await evaluate(vars, model, spec.dev, task, batchSize, m.hooks, dynamicPadding);
      final = { step, metrics: r.metrics, selection: r.selection };
      log({ step, final: r.metrics, selection: r.selection });
    }
    const b = best as EvalRecord | null;
    bestWeights = b ? loadBestWeights(runDir, b.step) : null;
  }
  opt.dispose();
  m.dispose();
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
