/**
 * Shared plumbing of the figure recipes in notebooks/: flags, sweep-run discovery (the map and output students of
 * a finished `npm run sweep` at one seed, the teacher they were distilled from), one analysis experiment, its
 * results.json and figures (SVG + PNG) in the output folder.
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/backend/backend.js';
import { atomicWriteJson } from '../src/util/fsx.js';
import { Progress } from '../src/util/progress.js';
import { getTask } from '../src/data/tasks.js';
import {
  findSweepRuns,
  loadExamples,
  loadModels,
  pickRun,
  PRESET_LABELS,
  tokenClassIds,
  tokenizerFor,
} from '../src/analysis/inputs.js';
import { runAnalysis, type AnalysisOptions, type AnalysisResults } from '../src/analysis/run.js';
import type { AnalysisSettings, Experiment } from '../src/analysis/registry.js';
import { allSpecs } from '../src/analysis/plots.js';
import { renderAll } from '../src/report/render.js';

/** a figure's analysis options, every analysis's settings given */
type FigureOptions = AnalysisOptions & Pick<AnalysisSettings, 'hessian' | 'norms' | 'range'>;

export interface FigureRecipe {
  name: string; // output sub-folder, e.g. "fig4-map-distance"
  experiment: Experiment;
  usage: string;
  /** default number of dev examples (the notebooks: one random example for Figures 4 and 5, all for 3 and 6) */
  defaultExamples?: number;
  /** student presets compared (default map and output, the paper's) */
  presets?: string[];
  quantizedTeacher?: boolean;
  /** which plots of src/analysis/plots.ts to write */
  plots: string[];
  tweak?: (o: FigureOptions, flags: Record<string, string | undefined>) => void;
  extraFlags?: Record<string, string>;
}

export async function runFigure(r: FigureRecipe): Promise<AnalysisResults> {
  const options: Record<string, { type: 'string' }> = {};
  for (const k of [
    'task',
    'run-dir',
    'seed',
    'examples',
    'out',
    'backend',
    'data-dir',
    'presets',
    ...Object.keys(r.extraFlags ?? {}),
  ])
    options[k] = { type: 'string' };
  let flags: Record<string, string | undefined>;
  try {
    flags = parseArgs({ options, strict: true }).values as Record<string, string | undefined>;
  } catch (e) {
    console.error(`${(e as Error).message}\nusage: ${r.usage}`);
    process.exit(2);
  }
  if (!flags.task || !flags['run-dir']) {
    console.error(`usage: ${r.usage}`);
    process.exit(2);
  }
  const task = getTask(flags.task).name;
  const seed = flags.seed !== undefined ? Number(flags.seed) : 42;
  const info = await initBackend(flags.backend);
  const runs = findSweepRuns(flags['run-dir']);
  const presets = flags.presets?.split(',') ?? r.presets ?? ['map', 'output'];
  const chosen = presets.map((p) => pickRun(runs, p, seed));
  const teachers = [...new Set(chosen.map((c) => resolve(c.teacher)))];
  if (teachers.length !== 1)
    throw new Error(`the chosen runs were distilled from different teachers: ${teachers.join(', ')}`);
  const { models, teacher } = loadModels({
    task,
    teacher: teachers[0],
    students: chosen.map((c) => c.dir),
    labels: presets.map((p) => PRESET_LABELS[p] ?? p),
    quantizedTeacher: r.quantizedTeacher ?? false,
  });
  const tok = tokenizerFor(teacher);
  const count = flags.examples !== undefined ? Number(flags.examples) : r.defaultExamples;
  const examples = loadExamples({ task, tok, glueDir: flags['data-dir'], count, sample: 'random', seed });
  const out = resolve(flags.out ?? join(flags['run-dir'], 'analysis', r.name));
  console.error(
    `${r.name}: ${task}, runs ${chosen.map((c) => c.name).join(', ')}, teacher ${teachers[0]}, ` +
      `${examples.length} dev example(s), backend ${info.backend}`,
  );
  const o: FigureOptions = {
    task,
    experiments: [r.experiment],
    tokenTypes: 'zeros',
    norms: { wo: 'latent', token: 'sep', classIds: tokenClassIds(tok, (s) => console.error(s)) },
    range: { example: 0 },
    hessian: {
      examples: examples.length,
      topN: 3,
      maxIter: 100,
      tol: 1e-3,
      seed,
      l2: 0.01,
      mode: 'example',
      method: 'power',
      layers: false,
      trace: false,
      roles: ['teacher', 'student'],
      params: null,
    },
    log: (s) => console.error(s),
  };
  r.tweak?.(o, flags);
  let bar: Progress | undefined;
  o.onProgress = (done, total, what) => {
    bar ??= new Progress({ total, label: r.name, logEverySec: 5 });
    bar.update(done, { last: what });
  };
  const res = await runAnalysis(models, examples, o);
  bar?.done();
  atomicWriteJson(join(out, 'results.json'), res);
  const specs = Object.fromEntries(Object.entries(allSpecs(res)).filter(([k]) => r.plots.includes(k)));
  await renderAll(specs, out);
  console.error(
    `${r.name}: wrote ${Object.keys(specs)
      .map((k) => `${k}.{svg,png}`)
      .join(', ')} and results.json to ${out}`,
  );
  return res;
}
