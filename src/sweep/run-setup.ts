/**
 * What teacher fine-tuning and a KD-QAT run share: where models and runs live, the task's data, the memory a step
 * needs, the run folder's claim (identity recorded, resumption said) and the summary written as metrics.json.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BertConfig } from '../model/config.js';
import { getTask, type TaskSpec } from '../data/tasks.js';
import { loadGlueSplit } from '../data/glue.js';
import type { GlueTokenizer } from '../data/tokenizer.js';
import { atomicWriteJson } from '../util/fsx.js';
import { PROJECT_ROOT } from '../util/provenance.js';
import { provenance } from '../backend/provenance.js';
import type { ResolvedConfig, RunConfig } from '../train/config.js';
import { resumeStep } from '../train/state.js';
import type { TrainingOutcome } from '../train/trainer.js';
import { checkRunDir, type RunIdentity } from './identity.js';
import type { Features } from '../data/features.js';

export const MODELS_DIR = () => resolve(process.env.KDQAT_MODELS ?? join(PROJECT_ROOT, 'models'));
export const OUTPUT_DIR = () => resolve(process.env.KDQAT_OUTPUT ?? join(PROJECT_ROOT, 'output'));

/** models/<bert>/<task>: where `finetune` saves the teacher and `qat`/`sweep` look for it. */
export const teacherDir = (bert: string, task: string): string => join(MODELS_DIR(), bert, task);

export interface Data {
  task: TaskSpec;
  tok: GlueTokenizer;
  train: Features;
  dev: Features;
}

/** The task's train and dev features at the run's length and example limits (each load said by `log`). */
export function loadData(cfg: ResolvedConfig, tok: GlueTokenizer, log: (s: string) => void): Data {
  const task = getTask(cfg.task);
  const maxSeqLen = cfg.data.maxSeqLen;
  const load = (split: 'train' | 'dev', limit: number | null) => {
    const s = loadGlueSplit({
      task,
      split,
      tokenizer: tok,
      glueDir: cfg.data.glueDir ?? undefined,
      maxSeqLen,
      limit: limit ?? undefined,
    });
    log(
      `${task.name} ${split}: ${s.features.n} examples from ${s.file}${s.cache?.hit ? ' (feature cache)' : ''}` +
        (s.stats.rejected ? `, ${s.stats.rejected} rows skipped` : ''),
    );
    return s.features;
  };
  return {
    task,
    tok,
    train: load('train', cfg.data.trainLimit),
    dev: load('dev', cfg.data.evalLimit),
  };
}

/** Bytes of a training step's live tensors, roughly (activations kept for backward dominate). */
export function estimateTrainBytes(c: BertConfig, batch: number, T: number, models = 2): number {
  const perLayer =
    batch * T * (12 * c.hidden_size + 2 * c.intermediate_size) + 6 * batch * c.num_attention_heads * T * T;
  const params =
    4 *
    (c.vocab_size * c.hidden_size +
      c.num_hidden_layers * (4 * c.hidden_size ** 2 + 2 * c.hidden_size * c.intermediate_size));
  return 4 * perLayer * c.num_hidden_layers * models * 2 + params * 4;
}

/** Record a run's identity in config.json (first start), say when it resumes, refuse another configuration. */
export function claimRunDir(
  runDir: string,
  id: RunIdentity,
  record: Record<string, unknown>,
  forceNew: boolean,
  log: (s: string) => void,
): void {
  checkRunDir(runDir, id, forceNew, log);
  const cfgPath = join(runDir, 'config.json');
  if (!existsSync(cfgPath)) atomicWriteJson(cfgPath, { ...record, configHash: id.hash, identity: id.identity });
  const from = resumeStep(runDir);
  if (from !== null) log(`resuming ${runDir} from step ${from} (its last checkpoint)`);
}

/** metrics.json of a run: its outcome, timing, the recorded config and provenance. */
export function summary(
  out: TrainingOutcome,
  cfg: Omit<RunConfig, 'kd' | 'quant'>,
  wallMs: number,
  extra: Record<string, unknown>,
): Record<string, unknown> {
  return {
    task: cfg.task,
    seed: cfg.seed,
    best: out.best,
    last: out.last,
    steps: out.steps,
    tTotal: out.tTotal,
    wallTimeSec: wallMs / 1000,
    trainTokensPerSec: out.trainTokens / Math.max(out.trainSeconds, 1e-9),
    resumedFromStep: out.resumedFrom,
    ...extra,
    config: cfg,
    provenance: provenance(),
  };
}
