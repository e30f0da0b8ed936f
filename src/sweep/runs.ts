/**
 * One KD-QAT run (`npm run qat`): the ternary student of a teacher, its resolved config, a JSONL log, the best and
 * last students and metrics.json with full provenance; all writes are atomic.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { loadBertDir, saveBertDir, type LoadedModel } from '../model/checkpoint.js';
import { loadTokenizer } from '../data/tokenizer.js';
import { ensureGlueTask } from '../data/first-use.js';
import { assertFitsBackend } from '../backend/backend.js';
import { atomicWrite, atomicWriteJson } from '../util/fsx.js';
import { acquireLock } from '../util/lock.js';
import { provenance } from '../backend/provenance.js';
import type { ResolvedConfig, RunConfig } from '../train/config.js';
import { clearState } from '../train/state.js';
import { teacherWarning } from '../train/teacher-health.js';
import type { ProgressInfo } from '../train/trainer.js';
import { qatTraining } from '../train/methods.js';
import { kdCoeffs } from '../distill/config.js';
import type { EvalRecord } from '../train/state.js';
import { STUDENT_DIRS, type EvalSettings, type StudentScore, type Which } from '../distill/students.js';
import { evaluate } from '../train/evaluate.js';
import {
  checkModelForTask,
  checkRunDir,
  readModelInfo,
  runIdentity,
  teacherSha256,
  type RunIdentity,
} from './identity.js';
import { balancerTag } from '../distill/balancers.js';

import { claimRunDir, loadData, OUTPUT_DIR, summary, estimateTrainBytes, type Data } from './run-setup.js';

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
      `${runDir}: the weights of the best evaluation (step ${out.best?.step}) were not kept (resumed from an older ` +
        `checkpoint); student/ holds the final weights, scored at step ${final.step}`,
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
