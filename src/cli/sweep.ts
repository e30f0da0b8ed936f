/**
 * npm run sweep -- --task cola[,rte] [--bert tiny] [--grid default|paper-mixing|<file>] [--jobs N] [run flags]
 * Runs a grid of KD-QAT runs from experiments/, fine-tuning the teacher first when models/<bert>/<task> is
 * missing. Finished runs of the same configuration are skipped, killed ones resume from their last checkpoint, run
 * folders holding another configuration are refused before any work (--force-new moves them aside). Ends with the results table
 * and plots (output/<bert>/<task>/report/).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { getTask } from '../data/tasks.js';
import { BERT_PRESETS } from '../model/config.js';
import { finetune, OUTPUT_DIR, SCRATCH_LR, teacherDir } from '../train/runs.js';
import { acquireLock, checkPlannedRuns, planRuns, readGrid, runChild, type PlannedRun } from '../train/sweep.js';
import { Progress } from '../util/progress.js';
import { TRAIN_DEFAULTS } from '../train/config.js';
import { jobsFlag, parseFlags, RUN_FLAGS, runConfigFromFlags, runMain, num, UsageError, initBackendFromFlags } from './common.js';
import { progressReporter } from './progress-line.js';

const FLAGS = {
  ...RUN_FLAGS,
  bert: { type: 'string', help: 'teacher model: a preset (tiny, mini, small, base, large) or a name under models/ (default tiny)' },
  grid: { type: 'string', help: 'grid in experiments/ (name or path; default "default": the four presets at seed 42)' },
  jobs: { type: 'string', help: 'runs in parallel, each its own process (default 1; more than the cores: a warning)' },
  out: { type: 'string', help: 'a folder of its own (e.g. a smoke configuration): runs in DIR/<task>/, the teacher in DIR/teachers/<bert>/<task>/ (default output/<bert>/<task>/ and models/<bert>/<task>/)' },
  vocab: { type: 'string', help: 'vocabulary for a teacher fine-tuned from scratch (default: built from the task)' },
  'teacher-epochs': { type: 'string', help: 'epochs when the teacher has to be fine-tuned first (default: --epochs)' },
  'teacher-lr': { type: 'string', help: `learning rate of that fine-tuning (default --lr, else ${SCRATCH_LR.toExponential()} from scratch, ${TRAIN_DEFAULTS.lr.toExponential()} from pretrained weights)` },
  'no-report': { type: 'boolean', help: 'skip the results table and plots at the end' },
} as const;

runMain('sweep', async () => {
  const v = parseFlags(FLAGS, 'npm run sweep -- --task <t>[,<t>...] [--bert tiny] [--grid default] [--jobs N] [...]');
  if (typeof v.task !== 'string') throw new UsageError('--task is required (e.g. --task cola or --task rte,mrpc)');
  const tasks = v.task.split(',').map((t) => getTask(t.trim()).name);
  const bert = (v.bert as string | undefined) ?? 'tiny';
  const jobs = jobsFlag(v);
  const { grid, path: gridPath } = readGrid((v.grid as string | undefined) ?? 'default');
  const forceNew = v['force-new'] === true;
  // every configuration is resolved and checked before any work: a bad value stops here, not after a teacher's fine-tuning
  const plans = tasks.map((task) => {
    const tdir = typeof v.out === 'string' ? resolve(v.out, 'teachers', bert, task) : teacherDir(bert, task);
    const outDir = typeof v.out === 'string' ? resolve(v.out, task) : join(OUTPUT_DIR(), bert, task);
    const scratch = BERT_PRESETS[bert] !== undefined;
    const lr = num(v, 'teacher-lr') ?? (v.lr !== undefined ? num(v, 'lr') : scratch ? SCRATCH_LR : undefined);
    const epochs = num(v, 'teacher-epochs') ?? num(v, 'epochs');
    const fcfg = runConfigFromFlags({ ...v, task }, { teacher: bert, train: { ...(lr !== undefined ? { lr } : {}), ...(epochs !== undefined ? { epochs } : {}) } });
    const runs = planRuns(grid, runConfigFromFlags({ ...v, task }, { teacher: tdir }), outDir);
    const teacherReady = existsSync(join(tdir, 'model.safetensors'));
    return { task, tdir, outDir, fcfg, runs, teacherReady, checked: checkPlannedRuns(runs, teacherReady, forceNew, (s) => console.error(`sweep ${task}: ${s}`)) };
  });
  const info = await initBackendFromFlags(v);
  for (const { task, tdir, outDir, fcfg, runs, teacherReady, checked } of plans) {
    mkdirSync(outDir, { recursive: true });
    const release = acquireLock(outDir);
    try {
      if (!teacherReady) {
        console.error(`sweep: no teacher at ${tdir}: fine-tuning it first`);
        const p = progressReporter(false, `finetune teacher ${bert}/${task}`);
        await finetune({ cfg: fcfg, bert, vocab: v.vocab as string | undefined, out: tdir, onProgress: p.update });
        p.done();
      }
      // with a teacher just made, the runs' identities (its weights included) are known only now
      const { pending, finished } = teacherReady ? checked : checkPlannedRuns(runs, true, forceNew, (s) => console.error(`sweep ${task}: ${s}`));
      console.error(`sweep ${task}: grid ${gridPath}: ${runs.length} runs, ${finished.length} finished already, ${pending.length} to run (${jobs} at a time, backend ${info.backend})`);
      await runPool(pending, jobs, v.backend as string | undefined, finished.length, runs.length, num(v, 'threads', 'int') ?? (jobs > 1 ? 1 : undefined));
      if (!v['no-report']) {
        const { writeTaskReport } = await import('../report/sweep-report.js');
        const rep = await writeTaskReport(outDir, { title: `${task} (${bert})`, grid: gridPath, task });
        console.error(`sweep ${task}: results table ${rep.csv}\n  report ${rep.html}`);
      }
    } finally {
      release();
    }
  }
});

/** Run `pending` with at most `jobs` child processes; one progress line for the whole sweep. */
async function runPool(pending: PlannedRun[], jobs: number, backend: string | undefined, doneBefore: number, total: number, threads?: number): Promise<void> {
  const bar = new Progress({ total, label: 'runs' });
  const live = new Map<string, { step: number; total: number; loss: number }>();
  let done = doneBefore, next = 0;
  const failures: string[] = [];
  const t0 = performance.now();
  // progress in runs, counting the finished fraction of the runs under way, so the ETA is meaningful from the start
  const draw = () => {
    const cur = [...live.entries()].map(([n, p]) => (p.total ? `${n} ${p.step}/${p.total} loss ${p.loss.toPrecision(4)}` : `${n} starting`)).join(' | ');
    const partial = [...live.values()].reduce((a, p) => a + (p.total ? p.step / p.total : 0), 0);
    bar.update(Math.round((done + partial) * 100) / 100, { current: cur || '-' });
  };
  draw();
  const worker = async () => {
    while (next < pending.length) {
      const run = pending[next++];
      live.set(run.name, { step: 0, total: 0, loss: NaN });
      try {
        await runChild(run, backend, (p) => { live.set(run.name, p); draw(); }, threads);
      } catch (e) {
        failures.push((e as Error).message);
      }
      live.delete(run.name);
      done++;
      draw();
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, pending.length) }, worker));
  bar.done();
  if (pending.length) console.error(`sweep: ${pending.length} runs in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  if (failures.length) throw new Error(`${failures.length} of ${pending.length} runs failed:\n${failures.join('\n')}`);
}
