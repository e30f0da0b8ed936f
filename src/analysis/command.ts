/**
 * `npm run analyze` once its configuration is resolved: the models, tokenizer and dev examples it names, the run
 * (resumable after Ctrl-C, with ETAs and a progress bar), results.json and the report in the output folder.
 */
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BackendInfo } from '../backend/backend.js';
import { ensureGlueTask } from '../data/first-use.js';
import { mainMetric } from '../data/metrics.js';
import { getTask } from '../data/tasks.js';
import { atomicWriteJson } from '../util/fsx.js';
import { formatDuration, Progress } from '../util/progress.js';
import { Checkpoint } from './checkpoint.js';
import { DEFAULT_HESSIAN_EXAMPLES, type AnalyzeConfig } from './config.js';
import { loadExamples, loadModels, modelDir, tokenClassIds, tokenizerFor } from './inputs.js';
import { writeAnalysisReport } from './report.js';
import { runAnalysis, type AnalysisOptions } from './run.js';
import { AnalysisConfigError } from './settings.js';
import { checkModelForTask, describeScore, parseWhich, readModelInfo, resolveStudent } from './students.js';
import { AnalysisStopped } from './types.js';

export interface AnalyzeIo {
  /** starts the tensor backend (after the cheap checks) */
  initBackend: () => Promise<BackendInfo>;
  /** the command line, recorded in results.json */
  argv: string[];
  log: (s: string) => void;
}

/** Run the analysis of `cfg`; the exit code (130: stopped, the finished parts kept). */
export async function analyze(cfg: AnalyzeConfig, io: AnalyzeIo): Promise<number> {
  const { log } = io;
  const task = getTask(cfg.task);
  const out = resolve(cfg.out ?? join('output', 'analysis', task.name));
  const earlier = existsSync(join(out, 'results.json'));
  if (earlier && !cfg.overwrite)
    throw new AnalysisConfigError(
      `${out} holds the results of an earlier analysis; they are kept. Choose another --out, or pass --overwrite`,
    );
  const info = await io.initBackend();
  const t0 = performance.now();

  // models, tokenizer (token classes), examples
  const which = parseWhich(cfg.which);
  const students = cfg.students.map((s) => {
    let st: ReturnType<typeof resolveStudent>;
    try {
      st = resolveStudent(s, which);
    } catch (e) {
      throw new AnalysisConfigError(`--students: ${(e as Error).message}`);
    }
    if (st.note) log(`note: ${st.note}`);
    return st.dir;
  });
  const teacherInfo = readModelInfo(modelDir(cfg.teacher));
  checkModelForTask(teacherInfo, task.name, 'teacher');
  for (const s of students) checkModelForTask(readModelInfo(modelDir(s)), task.name, 'student', teacherInfo);
  const { models, teacher } = loadModels({
    task: task.name,
    teacher: cfg.teacher,
    students,
    labels: cfg.labels,
    quantizedTeacher: cfg.distance.quantizedTeacher && cfg.experiments.includes('distance'),
  });
  const tok = tokenizerFor(teacher, cfg.tokenizer);
  const classIds = tokenClassIds(tok, log);
  const hParams = cfg.hessian.params;
  if (hParams !== null && !Object.keys(teacher.params).some((n) => new RegExp(hParams).test(n)))
    throw new AnalysisConfigError(
      `--hessian-params ${hParams} matches no parameter (names like ${Object.keys(teacher.params)[5]})`,
    );
  if (!cfg.inputs) await ensureGlueTask(task, cfg.dataDir, log);
  // GLUE examples tokenised at the students' recorded evaluation length (else the task's), within the model's positions
  const lens = [...new Set(models.map((m) => m.score?.eval.maxSeqLen).filter((x): x is number => x !== undefined))];
  const maxSeqLen = Math.min(lens.length === 1 ? lens[0] : task.maxSeqLen, teacher.config.max_position_embeddings);
  const examples = loadExamples({
    task: task.name,
    tok,
    inputs: cfg.inputs,
    glueDir: cfg.dataDir,
    count: cfg.examples,
    sample: cfg.sample,
    seed: cfg.seed,
    maxSeqLen,
  });
  for (const m of models)
    if (m.role === 'student')
      log(
        m.score
          ? `${m.label}: the ${describeScore(m.score, mainMetric(task))} in its run ` +
              '(recorded; the analyses run one example at a time, batch 1)'
          : `${m.label}: no recorded evaluation of these weights`,
      );

  // an interrupted analysis (Ctrl-C) of the same configuration keeps its finished parts: resumed here
  const { plots: _p, overwrite: _o, ...kept } = cfg;
  const cp = new Checkpoint(out, JSON.stringify({ config: kept, backend: info.backend }), log);
  cp.catchInterrupt(log);
  log(
    `${task.name}: ${examples.length} dev examples (${cfg.sample}, seed ${cfg.seed}), ` +
      `models ${models.map((m) => m.label).join(' | ')}, experiments ${cfg.experiments.join(',')}, ` +
      `backend ${info.backend}`,
  );
  const h = cfg.hessian;
  const reports = progressReports(log, h.method === 'lanczos' ? 30 : 30 * h.topN);
  const options: AnalysisOptions = {
    task: task.name,
    experiments: cfg.experiments,
    tokenTypes: cfg.tokenTypes,
    distance: cfg.distance,
    range: cfg.range,
    norms: { ...cfg.norms, classIds },
    hessian: {
      examples: cfg.hessian.examples ?? Math.min(examples.length, DEFAULT_HESSIAN_EXAMPLES),
      topN: h.topN,
      maxIter: h.maxIter,
      tol: h.tol,
      seed: cfg.seed,
      l2: 0.01,
      loss: h.loss,
      normMin: h.normMin,
      mode: h.mode,
      method: h.method,
      params: h.params,
      layers: h.layers,
      trace: h.trace,
      roles: h.roles,
    },
    log,
    resume: cp.resume,
    shouldStop: () => cp.stopRequested,
    onPartial: (p) => cp.save(p),
    onPlan: reports.onPlan,
    onProgress: reports.onProgress,
  };
  let res: Awaited<ReturnType<typeof runAnalysis>>;
  try {
    res = await runAnalysis(models, examples, options);
  } catch (e) {
    if (!(e instanceof AnalysisStopped)) throw e;
    reports.close();
    log(`${e.message}; the finished parts are kept in ${cp.path}: run the same command again to resume`);
    return 130;
  }
  reports.close();
  cp.remove();
  const seconds = (performance.now() - t0) / 1000;
  res.meta.seconds.total = seconds;
  // --overwrite: the earlier analysis goes entirely (no old plot stays beside the new ones)
  if (earlier)
    for (const f of ['plots', 'report.html', 'results.json']) rmSync(join(out, f), { recursive: true, force: true });
  atomicWriteJson(join(out, 'results.json'), { ...res, backend: info, args: io.argv });
  if (cfg.plots) log(`report ${await writeAnalysisReport(res, out)}`);
  const took = Object.entries(res.meta.seconds)
    .map(([k, s]) => `${k} ${s.toFixed(1)} s`)
    .join(', ');
  log(`done in ${formatDuration(seconds)} (${took})\n  -> ${join(out, 'results.json')}`);
  return 0;
}

/**
 * ETAs before the long parts (typical: the Hv products a spectrum took on tiny models at tol 1e-3) and one progress
 * bar per part, closed by close().
 */
function progressReports(log: (s: string) => void, typical: number) {
  let bar: Progress | undefined,
    barWhat = '',
    fwdStart = 0;
  return {
    onPlan: (what: string, remaining: number, total: number, maxProducts?: number, secs?: number) => {
      if (what === 'forward') fwdStart = performance.now();
      else if (remaining) {
        const t = Math.min(maxProducts!, typical);
        log(
          `${what}: ${remaining} of ${total} spectra to compute, one Hv product ${secs!.toFixed(2)} s (measured): ` +
            `ETA ~${formatDuration(remaining * t * secs!)} at a typical ${t} products per spectrum, ` +
            `at most ${formatDuration(remaining * maxProducts! * secs!)} (${maxProducts} each)`,
        );
      }
    },
    close: () => bar?.done(),
    onProgress: (done: number, total: number, what: string) => {
      // the forward experiments' ETA from examples 2-4 (the first one warms up)
      if (what.startsWith('forward') && done === 1) fwdStart = performance.now();
      if (what.startsWith('forward') && done === 4 && total > 4)
        log(
          `forward experiments: ETA ~${formatDuration(((performance.now() - fwdStart) / 3000) * (total - 4))} ` +
            `for the other ${total - 4} examples`,
        );
      const key = what.split(':')[0];
      if (!bar || barWhat !== key) {
        bar?.done();
        bar = new Progress({ total, label: key, logEverySec: 5 });
        barWhat = key;
      }
      bar.update(done, what.includes(':') ? { last: what.slice(what.indexOf(':') + 1).trim() } : {});
    },
  };
}
