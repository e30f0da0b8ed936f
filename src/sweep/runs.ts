/**
 * Run orchestration: teacher fine-tuning (`npm run finetune`) and one KD-QAT run (`npm run qat`). Each writes its
 * resolved config, a JSONL log and metrics.json with full provenance; all writes are atomic.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { loadBertDir, saveBertDir, type LoadedModel } from '../model/checkpoint.js';
import { BERT_DEFAULTS, BERT_PRESETS, bertConfigFrom, type BertConfig } from '../model/config.js';
import { initParams } from '../model/init.js';
import { getTask, type TaskSpec } from '../data/tasks.js';
import { loadGlueSplit } from '../data/glue.js';
import { loadTokenizer, tokenizerFromVocabText, type GlueTokenizer } from '../data/tokenizer.js';
import { readExamples } from '../data/tasks.js';
import { buildWordPieceVocab } from '../data/wordpiece-vocab.js';
import { ensureGlueTask } from '../data/first-use.js';
import { assertFitsBackend } from '../backend/backend.js';
import { atomicWrite, atomicWriteJson } from '../util/fsx.js';
import { acquireLock } from '../util/lock.js';
import { PROJECT_ROOT } from '../util/provenance.js';
import { provenance } from '../backend/provenance.js';
import type { ResolvedConfig, RunConfig } from '../train/config.js';
import { clearState, resumeStep } from '../train/state.js';
import { teacherWarning } from '../train/teacher-health.js';
import type { ProgressInfo, TrainingOutcome } from '../train/trainer.js';
import { finetuneTraining, qatTraining } from '../train/methods.js';
import { kdCoeffs } from '../distill/config.js';
import type { EvalRecord } from '../train/state.js';
import { STUDENT_DIRS, type EvalSettings, type StudentScore, type Which } from '../distill/students.js';
import { evaluate } from '../train/evaluate.js';
import {
  checkModelForTask,
  checkRunDir,
  filesSha256,
  finetuneRecord,
  readModelInfo,
  runIdentity,
  teacherSha256,
  type RunIdentity,
} from './identity.js';
import { UserError } from '../util/errors.js';
import type { Features } from '../data/features.js';
import { balancerTag } from '../distill/balancers.js';

/** Fine-tuning from scratch needs a larger step than the QAT recipe's 2e-5. */
export const SCRATCH_LR = 1e-4;

export const MODELS_DIR = () => resolve(process.env.KDQAT_MODELS ?? join(PROJECT_ROOT, 'models'));
export const OUTPUT_DIR = () => resolve(process.env.KDQAT_OUTPUT ?? join(PROJECT_ROOT, 'output'));

/** models/<bert>/<task>: where `finetune` saves the teacher and `qat`/`sweep` look for it. */
export const teacherDir = (bert: string, task: string): string => join(MODELS_DIR(), bert, task);

interface Data {
  task: TaskSpec;
  tok: GlueTokenizer;
  train: Features;
  dev: Features;
}

function loadData(cfg: ResolvedConfig, tok: GlueTokenizer, log: (s: string) => void): Data {
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
      `${task.name} ${split}: ${s.features.n} examples from ${s.file}${s.cache?.hit ? ' (feature cache)' : ''}${s.stats.rejected ? `, ${s.stats.rejected} rows skipped` : ''}`,
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

export interface FinetuneOptions {
  cfg: ResolvedConfig;
  bert: string;
  vocab?: string;
  out?: string;
  log?: (s: string) => void;
  onProgress?: (p: ProgressInfo) => void;
  /** replace a teacher already in `out` (default: refused) */
  overwrite?: boolean;
}

/** The teacher folder of a finetune: refused when it holds a teacher already, unless `overwrite`. */
export function finetuneTarget(bert: string, task: string, out?: string, overwrite = false): string {
  const dir = out ?? teacherDir(BERT_PRESETS[bert] ? bert : basename(resolve(bert)), getTask(task).name);
  if (!overwrite && existsSync(join(dir, 'model.safetensors')))
    throw new UserError(
      `${dir} holds a teacher already; it is kept. Pass --overwrite to replace it, or --out DIR for a new folder`,
    );
  return dir;
}

/** Record a run's identity in config.json (first start), say when it resumes, refuse another configuration. */
function claimRunDir(
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

/**
 * Fine-tune a full-precision teacher. `bert` is a Hugging Face BERT directory, or a preset name (tiny, mini,
 * small, base, large): models/<preset>/ with pretrained weights is used when present, otherwise the model is
 * initialised from scratch (said loudly, and recorded in kdqat.json).
 */
export async function finetune(o: FinetuneOptions): Promise<{ dir: string; metrics: Record<string, unknown> }> {
  const log = o.log ?? ((s: string) => console.error(s));
  const task = getTask(o.cfg.task);
  const bertName = BERT_PRESETS[o.bert] ? o.bert : basename(resolve(o.bert));
  const outDir = finetuneTarget(o.bert, task.name, o.out, o.overwrite);
  const presetDir = join(MODELS_DIR(), o.bert);
  const pretrainedDir = BERT_PRESETS[o.bert]
    ? existsSync(join(presetDir, 'model.safetensors'))
      ? presetDir
      : null
    : resolve(o.bert);
  await ensureGlueTask(task, o.cfg.data.glueDir, log); // data on first use (a sweep has fetched it already)
  let config: BertConfig,
    params: Record<string, tf.Tensor>,
    tok: GlueTokenizer,
    vocabText: string | null = null,
    init: string;
  if (pretrainedDir) {
    const m = loadBertDir(pretrainedDir, { numLabels: task.numLabels, initMissingHead: { seed: o.cfg.seed } });
    if (m.config.num_labels !== task.numLabels)
      throw new Error(
        `${pretrainedDir}/config.json: num_labels ${m.config.num_labels} but task ${task.name} needs ${task.numLabels}`,
      );
    const tokFile = o.vocab ?? m.tokenizerFile;
    if (!tokFile) throw new Error(`${pretrainedDir}: no tokenizer.json or vocab.txt (pass --vocab)`);
    ({ config, params } = m);
    tok = loadTokenizer(tokFile);
    init = `pretrained weights from ${pretrainedDir}`;
    for (const n of m.notes) log(`note: ${n}`);
  } else {
    if (o.vocab) tok = loadTokenizer(o.vocab);
    else {
      const ex = readExamples({ task, split: 'train', glueDir: o.cfg.data.glueDir ?? undefined });
      const vocab = buildWordPieceVocab(ex.examples.flatMap((e) => (e.textB ? [e.textA, e.textB] : [e.textA])));
      vocabText = vocab.join('\n') + '\n';
      tok = tokenizerFromVocabText(vocabText, `vocab built from ${task.name} train`);
      log(
        `built a ${vocab.length}-piece WordPiece vocabulary from ${ex.examples.length} ${task.name} training examples`,
      );
    }
    const maxLen = Math.max(512, o.cfg.data.maxSeqLen);
    config = bertConfigFrom(
      {
        ...BERT_DEFAULTS,
        ...BERT_PRESETS[o.bert],
        vocab_size: tok.vocabSize,
        num_labels: task.numLabels,
        max_position_embeddings: maxLen,
      },
      `preset ${o.bert}`,
    );
    params = initParams(config, o.cfg.seed);
    init = 'FROM SCRATCH (random initialisation, no pre-training)';
    log(
      `\n*** WARNING: no pretrained weights for "${o.bert}" in ${presetDir}: the teacher is trained FROM SCRATCH on ${task.name}. ***\n*** Its accuracy is far below a pre-trained BERT's; put a Hugging Face checkpoint in ${presetDir} to use one. ***\n`,
    );
  }
  const data = loadData(o.cfg, tok, log);
  assertFitsBackend(
    estimateTrainBytes(config, o.cfg.data.batchSize, o.cfg.data.maxSeqLen, 1),
    `fine-tuning ${bertName}`,
  );
  const runDir = join(outDir, '.finetune');
  const source = `${pretrainedDir ? teacherSha256(pretrainedDir) : `preset ${o.bert} from scratch`}; vocab ${o.vocab ? filesSha256([o.vocab]).slice(0, 16) : 'default'}`;
  const tcfg = finetuneRecord(o.cfg, o.bert);
  claimRunDir(
    runDir,
    runIdentity(o.cfg, 'finetune', source),
    { mode: 'finetune', bert: o.bert, ...tcfg },
    o.overwrite === true,
    log,
  );
  const t0 = performance.now();
  const out = await finetuneTraining({
    cfg: o.cfg,
    runDir,
    model: config,
    init: params,
    task: data.task,
    train: data.train,
    dev: data.dev,
    onProgress: o.onProgress,
    log,
  });
  const last = out.last;
  const warning = last ? teacherWarning(data.task, last.metrics, out.lastPredicted, data.dev.labels) : null;
  if (warning) log(`WARNING: ${warning}`);
  const metrics = summary(out, tcfg, performance.now() - t0, { init, ...(warning ? { warning } : {}) });
  await saveBertDir(outDir, config, out.params, {
    kind: 'teacher',
    task: task.name,
    bert: o.bert,
    init,
    metrics,
    config: tcfg,
    ...provenance(),
  });
  if (vocabText !== null) atomicWrite(join(outDir, 'vocab.txt'), vocabText);
  else if (!existsSync(join(outDir, 'tokenizer.json')) && !existsSync(join(outDir, 'vocab.txt')))
    atomicWrite(join(outDir, basename(tok.source)), readFileSync(tok.source));
  atomicWriteJson(join(outDir, 'metrics.json'), metrics);
  clearState(runDir);
  tf.dispose([...Object.values(params), ...Object.values(out.params)]);
  return { dir: outDir, metrics };
}

function summary(
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

export function runName(cfg: RunConfig): string {
  const c = kdCoeffs(cfg.kd);
  const parts = [cfg.kd.preset];
  if (cfg.kd.preset.includes('map') && c.map !== 1) parts.push(`m${c.map}`);
  if (cfg.kd.preset.includes('output') && c.output !== 1) parts.push(`o${c.output}`);
  if (cfg.quant.weightBits !== 2) parts.push(`w${cfg.quant.weightBits}`);
  if (balancerTag(cfg.kd.balancer)) parts.push(balancerTag(cfg.kd.balancer));
  if (cfg.data.dynamicPadding) parts.push('dp');
  parts.push(`s${cfg.seed}`);
  return parts.join('_');
}

export interface QatOptions {
  cfg: ResolvedConfig;
  runDir?: string;
  log?: (s: string) => void;
  onProgress?: (p: ProgressInfo) => void;
  /** a run folder holding another configuration is moved to .replaced/ (default: refused) */
  forceNew?: boolean;
}

/** A KD-QAT run's teacher checked against its task, and the run's identity (teacher weights included). */
export function qatIdentity(cfg: ResolvedConfig): RunIdentity {
  const tdir = resolve(cfg.teacher);
  checkModelForTask(readModelInfo(tdir), cfg.task, 'teacher');
  return runIdentity(cfg, 'qat', teacherSha256(tdir));
}

/**
 * One KD-QAT run; returns metrics.json's content. A completed run of the same identity is not redone; a folder
 * holding another configuration is refused (or moved aside with forceNew); an unfinished one resumes.
 */
export async function qat(
  o: QatOptions,
): Promise<{ runDir: string; metrics: Record<string, unknown>; skipped: boolean }> {
  const log = o.log ?? ((s: string) => console.error(s));
  const cfg = o.cfg;
  const tdir = resolve(cfg.teacher);
  const bertName = basename(dirname(tdir));
  const runDir = o.runDir ?? join(OUTPUT_DIR(), bertName, cfg.task, runName(cfg));
  const mpath = join(runDir, 'metrics.json');
  const id = qatIdentity(cfg);
  if (checkRunDir(runDir, id, o.forceNew, log) === 'finished')
    return { runDir, metrics: JSON.parse(readFileSync(mpath, 'utf8')), skipped: true };
  // teacher and data are read (and checked) before the run folder is made: bad inputs leave nothing behind
  const teacher = loadBertDir(tdir);
  try {
    if (!teacher.tokenizerFile) throw new Error(`${tdir}: the teacher has no tokenizer.json or vocab.txt`);
    await ensureGlueTask(cfg.task, cfg.data.glueDir, log); // data on first use (a sweep has fetched it already)
    const data = loadData(cfg, loadTokenizer(teacher.tokenizerFile), log);
    assertFitsBackend(
      estimateTrainBytes(teacher.config, cfg.data.batchSize, cfg.data.maxSeqLen, 2),
      `KD-QAT of ${bertName}`,
    );
    mkdirSync(runDir, { recursive: true });
    const release = acquireLock(runDir, '.run.lock', 'another process');
    try {
      return await qatLocked(o, id, teacher, data, runDir, mpath, log);
    } finally {
      release();
    }
  } finally {
    tf.dispose(Object.values(teacher.params));
  }
}

async function qatLocked(
  o: QatOptions,
  id: RunIdentity,
  teacher: LoadedModel,
  data: Data,
  runDir: string,
  mpath: string,
  log: (s: string) => void,
): Promise<{ runDir: string; metrics: Record<string, unknown>; skipped: boolean }> {
  if (checkRunDir(runDir, id, false, log) === 'finished')
    return { runDir, metrics: JSON.parse(readFileSync(mpath, 'utf8')), skipped: true };
  const tdir = teacher.dir;
  claimRunDir(
    runDir,
    id,
    { mode: 'qat', ...o.cfg, coeffs: kdCoeffs(o.cfg.kd), teacherSha256: id.identity.source },
    false,
    log,
  );
  const teacherEval = await evaluate(
    teacher.params,
    teacher.config,
    data.dev,
    data.task,
    o.cfg.data.batchSize,
    undefined,
    o.cfg.data.dynamicPadding,
  );
  const teacherWarn = teacherWarning(data.task, teacherEval.metrics, teacherEval.predicted, data.dev.labels);
  if (teacherWarn) log(`WARNING: ${teacherWarn} (${tdir})`);
  const t0 = performance.now();
  const out = await qatTraining(
    {
      cfg: o.cfg,
      runDir,
      model: teacher.config,
      init: teacher.params,
      task: data.task,
      train: data.train,
      dev: data.dev,
      onProgress: o.onProgress,
      log,
    },
    teacher.params,
  );
  // the students kept (docs/students.md): student/ = the best evaluation's weights, student-last/ = the final ones,
  // each with the evaluation that scored it
  const evalSettings: EvalSettings = {
    split: 'dev',
    batchSize: o.cfg.data.batchSize,
    maxSeqLen: o.cfg.data.maxSeqLen,
    evalLimit: o.cfg.data.evalLimit,
    dynamicPadding: o.cfg.data.dynamicPadding,
    examples: data.dev.n,
  };
  const scored = (which: Which, r: EvalRecord): StudentScore => ({
    which,
    step: r.step,
    metrics: r.metrics as Record<string, number>,
    selection: r.selection,
    eval: evalSettings,
  });
  const final = out.final!;
  let bestScore: StudentScore,
    bestParams: Record<string, tf.Tensor>,
    ownBest = false;
  if (out.best && out.bestWeights) {
    bestScore = scored('best', out.best);
    bestParams = Object.fromEntries(
      [...out.bestWeights].map(([n, t]) => [n, tf.tensor(Float32Array.from(t.data), t.shape, 'float32')]),
    );
    ownBest = true;
  } else {
    // resumed from an older kdqat's checkpoint, whose best weights were not kept: student/ is the final weights
    log(
      `${runDir}: the weights of the best evaluation (step ${out.best?.step}) were not kept (resumed from an older checkpoint); student/ holds the final weights, scored at step ${final.step}`,
    );
    bestScore = scored('last', final);
    bestParams = out.params;
  }
  const metrics = summary(out, o.cfg, performance.now() - t0, {
    final,
    students: {
      best: { dir: STUDENT_DIRS.best, ...bestScore },
      last: { dir: STUDENT_DIRS.last, ...scored('last', final) },
    },
    configHash: id.hash,
    run: basename(runDir),
    preset: o.cfg.kd.preset,
    coeffs: kdCoeffs(o.cfg.kd),
    teacher: {
      dir: tdir,
      metrics: teacherEval.metrics,
      selection: teacherEval.selection,
      ...(teacherWarn ? { warning: teacherWarn } : {}),
      provenance: teacher.provenance ?? null,
    },
  });
  const tokFile = teacher.tokenizerFile!;
  for (const [which, params, score] of [
    ['best', bestParams, bestScore],
    ['last', out.params, scored('last', final)],
  ] as const) {
    const dir = join(runDir, STUDENT_DIRS[which]);
    await saveBertDir(dir, teacher.config, params, {
      kind: 'student',
      quant: o.cfg.quant,
      teacher: tdir,
      task: data.task.name,
      scored: score,
      ...provenance(),
    });
    atomicWrite(join(dir, basename(tokFile)), readFileSync(tokFile));
  }
  if (ownBest) tf.dispose(Object.values(bestParams));
  atomicWriteJson(mpath, metrics); // the completion marker: written last
  clearState(runDir);
  tf.dispose(Object.values(out.params));
  return { runDir, metrics, skipped: false };
}
