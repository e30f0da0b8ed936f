/**
 * npm run analyze -- --task rte --teacher models/tiny/rte --students output/tiny/rte/map_s42,output/tiny/rte/output_s42
 *                    [--exp distance,hessian,range,norms] [--examples N] [--out DIR] [--inputs inputs.safetensors]
 * The reference's analysis notebooks (docs/method.md §7): attention-map distances, Hessian spectra, attention-output
 * ranges, norm-based analysis, on dev examples one at a time (batch 1, sliced to seq_length). Writes
 * results.json, plots/*.{svg,png} and report.html into --out.
 */
import { join, resolve } from 'node:path';
import { atomicWriteJson } from '../util/fsx.js';
import { Progress, formatDuration } from '../util/progress.js';
import { getTask } from '../data/tasks.js';
import { ensureGlueTask } from '../data/first-use.js';
import { AnalysisStopped, EXPERIMENTS, runAnalysis, type Experiment, type PartialResults } from '../analysis/run.js';
import { loadExamples, loadModels, modelDir, tokenClassIds, tokenizerFor } from '../analysis/inputs.js';
import { checkModelForTask, readModelInfo } from '../sweep/identity.js';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { writeAnalysisReport } from '../analysis/report.js';
import { describeScore, parseWhich, resolveStudent } from '../distill/students.js';
import { mainMetric } from '../data/metrics.js';
import { parseFlags, RUN_FLAGS, runMain, num, UsageError, initBackendFromFlags, SEED_RANGE } from './common.js';

/** defaults that finish in minutes on a tiny model (docs/students.md); the notebooks' full settings are flags away */
const DEFAULT_EXAMPLES = 64,
  DEFAULT_HESSIAN_EXAMPLES = 2;

const FLAGS = {
  task: { type: 'string', help: 'GLUE task (rte, sst-2, ...)' },
  teacher: { type: 'string', help: 'full-precision teacher directory' },
  students: {
    type: 'string',
    help: 'comma-separated students: KD-QAT run folders (their best student, see --which) or student folders',
  },
  which: {
    type: 'string',
    help: 'of each run folder: best (default: the weights of its best evaluation, student/) or last (the final weights, student-last/)',
  },
  labels: { type: 'string', help: 'comma-separated legend labels of the students (default: run folder names)' },
  exp: { type: 'string', help: `experiments: ${EXPERIMENTS.join(',')} (default all)` },
  examples: {
    type: 'string',
    help: `number of dev examples (default ${DEFAULT_EXAMPLES}, a seeded random sample; the notebooks use all)`,
    num: { kind: 'int', min: 1 },
  },
  sample: { type: 'string', help: "random (default; seeded, as the notebooks' RandomSampler) or first" },
  seed: {
    type: 'string',
    help: 'seed of the example sample and the Hessian start vectors (default 42)',
    num: SEED_RANGE,
  },
  inputs: {
    type: 'string',
    help: 'read examples from an inputs.safetensors (input_ids, token_type_ids, seq_lengths, labels) instead of GLUE',
  },
  'data-dir': RUN_FLAGS['data-dir'],
  tokenizer: { type: 'string', help: "tokenizer.json / vocab.txt (default: the teacher directory's)" },
  out: { type: 'string', help: 'output folder (default output/analysis/<task>)' },
  'token-types': { type: 'string', help: 'zeros (default: the notebooks call the model with input ids only) or real' },
  'norm-token': {
    type: 'string',
    help: 'token of the per-head norm heatmaps: sep (first [SEP], default) or an index',
    num: { kind: 'int', min: 0, words: ['sep'] },
  },
  'norm-wo': { type: 'string', help: "W_O of the students' norms: latent (reference, default) or quantized" },
  'range-example': {
    type: 'string',
    help: 'which analysed example (0-based position) the range figure shows (default 0)',
    num: { kind: 'int', min: 0 },
  },
  'no-quantized': {
    type: 'boolean',
    help: 'leave out the "quantized teacher, no QAT" model of the distance experiment',
  },
  'hessian-examples': {
    type: 'string',
    help: `how many of the examples get Hessian spectra (default ${DEFAULT_HESSIAN_EXAMPLES}: each spectrum is 30-300 exact Hv products)`,
    num: { kind: 'int', min: 1 },
  },
  'hessian-models': { type: 'string', help: 'teacher,student (default) or either' },
  'hessian-top': {
    type: 'string',
    help: 'eigenvalues per example (default 3, as the notebook)',
    num: { kind: 'int', min: 1 },
  },
  'hessian-iters': { type: 'string', help: 'power-iteration maxIter (default 100)', num: { kind: 'int', min: 1 } },
  'hessian-tol': {
    type: 'string',
    help: 'power-iteration relative tolerance (default 1e-3)',
    num: { kind: 'float', above: 0 },
  },
  'hessian-mode': {
    type: 'string',
    help: 'example (default: one spectrum per example) or dataset (Hv averaged over the examples)',
  },
  'hessian-method': {
    type: 'string',
    help: 'lanczos (default: the top eigenvalues by magnitude in ~3x fewer products; where two have nearly equal magnitude, e.g. +17 and -17, power iteration converges slowly to a mix of them and lanczos separates them) or power (the reference: PyHessian power iteration with deflation)',
  },
  'hessian-loss': {
    type: 'string',
    help: 'reference (default: CE/MSE + 0.01 sum ||p||, as the reference; tensors with ||p|| <= --hessian-norm-min left out of the norm term) or data (the task loss alone)',
  },
  'hessian-norm-min': {
    type: 'string',
    help: 'reference loss: tensors with ||p|| at most this are left out of the norm term, whose curvature 0.01/||p|| would swamp the spectrum (default 1e-3; 0 = only exact zeros, as the reference)',
    num: { kind: 'float', min: 0 },
  },
  'hessian-params': {
    type: 'string',
    help: 'regex of the parameters to differentiate (default: all, as the reference)',
  },
  'hessian-layers': {
    type: 'boolean',
    help: 'also the top eigenvalue of each parameter group (embeddings, layer.i, head)',
  },
  'hessian-trace': { type: 'boolean', help: 'also the Hutchinson trace' },
  'no-plots': { type: 'boolean', help: 'results.json only' },
  overwrite: {
    type: 'boolean',
    help: 'replace the results of an earlier analysis in --out (default: refused, they are kept)',
  },
  backend: RUN_FLAGS.backend,
  threads: RUN_FLAGS.threads,
} as const;

runMain('analyze', async () => {
  const v = parseFlags(
    FLAGS,
    'npm run analyze -- --task <t> --teacher <dir> --students <dir,...> [--exp distance,hessian,range,norms] [--examples N] [--out DIR]',
  );
  if (typeof v.task !== 'string') throw new UsageError('--task is required');
  if (typeof v.teacher !== 'string') throw new UsageError('--teacher is required');
  const task = getTask(v.task);
  const exps = (typeof v.exp === 'string' ? v.exp.split(',').map((s) => s.trim()) : [...EXPERIMENTS]) as Experiment[];
  for (const e of exps)
    if (!EXPERIMENTS.includes(e))
      throw new UsageError(`--exp: unknown experiment "${e}" (choose from ${EXPERIMENTS.join(', ')})`);
  const seed = num(v, 'seed', 'int') ?? 42;
  const hLoss = (v['hessian-loss'] as string | undefined) ?? 'reference';
  if (hLoss !== 'reference' && hLoss !== 'data')
    throw new UsageError(`--hessian-loss must be reference or data, got "${hLoss}"`);
  const normMin = num(v, 'hessian-norm-min') ?? 1e-3;
  if (normMin < 0) throw new UsageError('--hessian-norm-min must be >= 0');
  const out = resolve((v.out as string | undefined) ?? join('output', 'analysis', task.name));
  const earlier = existsSync(join(out, 'results.json'));
  if (earlier && !v.overwrite)
    throw new UsageError(
      `${out} holds the results of an earlier analysis; they are kept. Choose another --out, or pass --overwrite`,
    );
  const info = await initBackendFromFlags(v);
  const t0 = performance.now();

  // models, tokenizer (token classes), examples
  const which = (() => {
    try {
      return parseWhich(v.which);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  })();
  const students = (
    typeof v.students === 'string'
      ? v.students
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean)
      : []
  ).map((s) => {
    let st: ReturnType<typeof resolveStudent>;
    try {
      st = resolveStudent(s, which);
    } catch (e) {
      throw new UsageError(`--students: ${(e as Error).message}`);
    }
    if (st.note) console.error(`analyze: note: ${st.note}`);
    return st.dir;
  });
  const labels = typeof v.labels === 'string' ? v.labels.split(',').map((x) => x.trim()) : undefined;
  if (labels && labels.length !== students.length)
    throw new UsageError(`--labels has ${labels.length} entries for ${students.length} students`);
  if (!students.length && exps.some((e) => e === 'distance' || e === 'norms'))
    throw new UsageError('--students is required for the distance and norms experiments');
  const teacherInfo = readModelInfo(modelDir(v.teacher));
  checkModelForTask(teacherInfo, task.name, 'teacher');
  for (const s of students) checkModelForTask(readModelInfo(modelDir(s)), task.name, 'student', teacherInfo);
  const { models, teacher: teacherM } = loadModels({
    task: task.name,
    teacher: v.teacher,
    students,
    labels,
    quantizedTeacher: !v['no-quantized'] && exps.includes('distance'),
  });
  const tok = tokenizerFor(teacherM, v.tokenizer as string | undefined);
  const classIds = tokenClassIds(tok, (x) => console.error(`analyze: ${x}`));
  const sample = (v.sample as string | undefined) ?? 'random';
  if (sample !== 'random' && sample !== 'first')
    throw new UsageError(`--sample must be random or first, got "${sample}"`);

  const tokenTypes = (v['token-types'] as string | undefined) ?? 'zeros';
  if (tokenTypes !== 'zeros' && tokenTypes !== 'real') throw new UsageError('--token-types must be zeros or real');
  const normToken = v['norm-token'] === undefined || v['norm-token'] === 'sep' ? 'sep' : num(v, 'norm-token', 'int')!;
  const wo = (v['norm-wo'] as string | undefined) ?? 'latent';
  if (wo !== 'latent' && wo !== 'quantized') throw new UsageError('--norm-wo must be latent or quantized');
  const hRoles = ((v['hessian-models'] as string | undefined) ?? 'teacher,student').split(',').map((s) => s.trim());
  for (const r of hRoles)
    if (r !== 'teacher' && r !== 'student') throw new UsageError(`--hessian-models: "${r}" is not teacher or student`);
  const hMode = (v['hessian-mode'] as string | undefined) ?? 'example';
  if (hMode !== 'example' && hMode !== 'dataset') throw new UsageError('--hessian-mode must be example or dataset');
  const hMethod = (v['hessian-method'] as string | undefined) ?? 'lanczos';
  if (hMethod !== 'power' && hMethod !== 'lanczos') throw new UsageError('--hessian-method must be power or lanczos');
  const hParams = (v['hessian-params'] as string | undefined) ?? null;
  if (hParams !== null) {
    let re: RegExp;
    try {
      re = new RegExp(hParams);
    } catch (e) {
      throw new UsageError(`--hessian-params: ${(e as Error).message}`);
    }
    if (!Object.keys(teacherM.params).some((n) => re.test(n)))
      throw new UsageError(
        `--hessian-params ${hParams} matches no parameter (names like ${Object.keys(teacherM.params)[5]})`,
      );
  }
  const count = num(v, 'examples', 'int') ?? DEFAULT_EXAMPLES,
    rangeExample = num(v, 'range-example', 'int') ?? 0;
  const hNums = {
    examples: num(v, 'hessian-examples', 'int'),
    topN: num(v, 'hessian-top', 'int') ?? 3,
    maxIter: num(v, 'hessian-iters', 'int') ?? 100,
    tol: num(v, 'hessian-tol') ?? 1e-3,
  };
  if (typeof v.inputs !== 'string')
    await ensureGlueTask(task, v['data-dir'] as string | undefined, (s) => console.error(`analyze: ${s}`));
  // GLUE examples tokenised at the students' recorded evaluation length (else the task's), within the model's positions
  const lens = [...new Set(models.map((m) => m.score?.eval.maxSeqLen).filter((x): x is number => x !== undefined))];
  const maxSeqLen = Math.min(lens.length === 1 ? lens[0] : task.maxSeqLen, teacherM.config.max_position_embeddings);
  const examples = loadExamples({
    task: task.name,
    tok,
    inputs: v.inputs as string | undefined,
    glueDir: v['data-dir'] as string | undefined,
    count,
    sample,
    seed,
    maxSeqLen,
  });

  for (const m of models)
    if (m.role === 'student')
      console.error(
        `analyze: ${m.label}: ${m.score ? `the ${describeScore(m.score, mainMetric(task))} in its run (recorded; the analyses run one example at a time, batch 1)` : 'no recorded evaluation of these weights'}`,
      );
  // an interrupted analysis (Ctrl-C) of the same command keeps its finished parts in partial.json: resumed here
  const partialPath = join(out, 'partial.json');
  const key = JSON.stringify({
    args: process.argv.slice(2).filter((a) => a !== '--overwrite' && a !== '--no-plots'),
    backend: info.backend,
  });
  let resume: PartialResults | undefined;
  if (existsSync(partialPath)) {
    let p: (PartialResults & { key?: string }) | null = null;
    try {
      p = JSON.parse(readFileSync(partialPath, 'utf8'));
    } catch {
      /* damaged: started anew */
    }
    if (p && p.key === key) {
      resume = { forward: p.forward, hessian: p.hessian };
      const spectra = Object.values(p.hessian ?? {}).reduce((a, r) => a + r.length, 0);
      console.error(
        `analyze: resuming the interrupted analysis in ${out}: ${p.forward ? 'forward experiments done' : 'forward experiments to do'}, ${spectra} Hessian spectra done`,
      );
    } else
      console.error(
        `analyze: ${partialPath} holds an interrupted analysis of another command (or is damaged); starting anew`,
      );
  }
  let stop = false;
  process.on('SIGINT', () => {
    if (stop) process.exit(130); // a second Ctrl-C: at once
    stop = true;
    console.error(
      `\nanalyze: SIGINT: stopping after the current example or spectrum; finished parts are kept in ${partialPath} (Ctrl-C again: stop at once)`,
    );
  });
  console.error(
    `analyze ${task.name}: ${examples.length} dev examples (${sample}, seed ${seed}), models ${models.map((m) => m.label).join(' | ')}, experiments ${exps.join(',')}, backend ${info.backend}`,
  );
  let bar: Progress | undefined,
    barWhat = '';
  let fwdStart = 0;
  let res: Awaited<ReturnType<typeof runAnalysis>>;
  try {
    res = await runAnalysis(models, examples, {
      task: task.name,
      experiments: exps,
      tokenTypes,
      norms: { wo, token: normToken, classIds },
      rangeExample,
      hessian: {
        ...hNums,
        examples: hNums.examples ?? Math.min(examples.length, DEFAULT_HESSIAN_EXAMPLES),
        seed,
        l2: 0.01,
        loss: hLoss,
        normMin,
        mode: hMode,
        method: hMethod,
        params: hParams,
        layers: v['hessian-layers'] === true,
        trace: v['hessian-trace'] === true,
        roles: hRoles as ('teacher' | 'student')[],
      },
      log: (s) => console.error(`analyze: ${s}`),
      resume,
      shouldStop: () => stop,
      onPartial: (p) => atomicWriteJson(partialPath, { key, ...p }),
      onPlan: (what, remaining, total, maxProducts, secs) => {
        if (what === 'forward') fwdStart = performance.now();
        else if (remaining) {
          const typical = Math.min(maxProducts!, hMethod === 'lanczos' ? 30 : 30 * hNums.topN); // what tiny models took here (tol 1e-3)
          console.error(
            `analyze: hessian: ${remaining} of ${total} spectra to compute, one Hv product ${secs!.toFixed(2)} s (measured): ETA ~${formatDuration(remaining * typical * secs!)} at a typical ${typical} products per spectrum, at most ${formatDuration(remaining * maxProducts! * secs!)} (${maxProducts} each)`,
          );
        }
      },
      onProgress: (done, total, what) => {
        // the forward experiments' ETA from examples 2-4 (the first one warms up)
        if (what.startsWith('forward') && done === 1) fwdStart = performance.now();
        if (what.startsWith('forward') && done === 4 && total > 4)
          console.error(
            `analyze: forward experiments: ETA ~${formatDuration(((performance.now() - fwdStart) / 3000) * (total - 4))} for the other ${total - 4} examples`,
          );
        const key = what.split(':')[0];
        if (!bar || barWhat !== key) {
          bar?.done();
          bar = new Progress({ total, label: key, logEverySec: 5 });
          barWhat = key;
        }
        bar.update(done, what.includes(':') ? { last: what.slice(what.indexOf(':') + 1).trim() } : {});
      },
    });
  } catch (e) {
    if (!(e instanceof AnalysisStopped)) throw e;
    bar?.done();
    console.error(
      `analyze: ${e.message}; the finished parts are kept in ${partialPath}: run the same command again to resume`,
    );
    return 130;
  }
  bar?.done();
  rmSync(partialPath, { force: true });
  const seconds = (performance.now() - t0) / 1000;
  res.meta.seconds.total = seconds;
  // --overwrite: the earlier analysis goes entirely (no old plot stays beside the new ones)
  if (earlier)
    for (const f of ['plots', 'report.html', 'results.json']) rmSync(join(out, f), { recursive: true, force: true });
  atomicWriteJson(join(out, 'results.json'), { ...res, backend: info, args: process.argv.slice(2) });
  if (!v['no-plots']) {
    const html = await writeAnalysisReport(res, out);
    console.error(`analyze: report ${html}`);
  }
  console.error(
    `analyze: done in ${formatDuration(seconds)} (${Object.entries(res.meta.seconds)
      .map(([k, s]) => `${k} ${s.toFixed(1)} s`)
      .join(', ')})\n  -> ${join(out, 'results.json')}`,
  );
});
