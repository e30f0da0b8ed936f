/**
 * npm run sweep -- --task cola[,rte] [--bert tiny] [--grid default|paper-mixing|<file>] [--jobs N] [run flags]
 *   [--launcher local|slurm [--partition P] [--time T] [--cpus-per-task N] [--mem M] [--gpus N] [--sbatch-arg A]...
 *   [--requeue] [--wait]] [--status]
 * Runs a grid of KD-QAT runs from experiments/, fine-tuning the teacher first when models/<bert>/<task> is
 * missing: here, as child processes (local), or as one Slurm job array behind a fine-tune job (slurm). Finished
 * runs are skipped, killed ones resume from their last checkpoint. Ends with the results table and plots
 * (output/<bert>/<task>/report/).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { getTask } from '../data/tasks.js';
import { BERT_PRESETS } from '../model/config.js';
import type { RunConfig } from '../train/config.js';
import { finetune, OUTPUT_DIR, SCRATCH_LR, teacherDir } from '../train/runs.js';
import { cliCommand, readGrid } from '../train/sweep.js';
import { lockSweepFolder, planSweep, runLocal } from '../train/launch.js';
import { formatStatus, submitSweep, sweepStatus, waitSweep } from '../train/slurm-sweep.js';
import { parseFlags, RUN_FLAGS, runConfigFromFlags, runMain, num, UsageError, initBackendFromFlags } from './common.js';
import { progressReporter } from './progress-line.js';
import { LAUNCH_FLAGS, launchFromFlags } from './slurm-flags.js';

const FLAGS = {
  ...RUN_FLAGS,
  bert: { type: 'string', help: 'teacher model: a preset (tiny, mini, small, base, large) or a name under models/ (default tiny)' },
  grid: { type: 'string', help: 'grid in experiments/ (name or path; default "default": the four presets at seed 42)' },
  jobs: { type: 'string', help: 'runs in parallel, each its own process (default 1); with --launcher slurm the array\'s %limit (default none)' },
  vocab: { type: 'string', help: 'vocabulary for a teacher fine-tuned from scratch (default: built from the task)' },
  'teacher-epochs': { type: 'string', help: 'epochs when the teacher has to be fine-tuned first (default: --epochs)' },
  'teacher-lr': { type: 'string', help: `learning rate of that fine-tuning (default ${SCRATCH_LR} from scratch, else 2e-5)` },
  'no-report': { type: 'boolean', help: 'skip the results table and plots at the end' },
  ...LAUNCH_FLAGS,
} as const;

type Flags = Record<string, string | boolean | undefined>;

/** The fine-tuning config of a missing teacher (its lr and epochs from --teacher-lr/--teacher-epochs). */
function teacherConfig(v: Flags, task: string, bert: string): RunConfig {
  const scratch = BERT_PRESETS[bert] !== undefined;
  const lr = num(v, 'teacher-lr') ?? (v.lr !== undefined ? num(v, 'lr') : scratch ? SCRATCH_LR : undefined);
  const epochs = num(v, 'teacher-epochs') ?? num(v, 'epochs');
  return runConfigFromFlags({ ...v, task }, { teacher: bert, train: { ...(lr !== undefined ? { lr } : {}), ...(epochs !== undefined ? { epochs } : {}) } });
}

/** Results table and plots of a task's finished runs (unless --no-report). */
async function report(v: Flags, outDir: string, task: string, bert: string, gridPath: string): Promise<void> {
  if (v['no-report']) return;
  const { writeTaskReport } = await import('../report/sweep-report.js');
  const rep = await writeTaskReport(outDir, { title: `${task} (${bert})`, grid: gridPath });
  console.error(`sweep ${task}: results table ${rep.csv}\n  report ${rep.html}`);
}

runMain('sweep', async () => {
  const v = parseFlags(FLAGS, 'npm run sweep -- --task <t>[,<t>...] [--bert tiny] [--grid default] [--jobs N] [--launcher local|slurm] [--status] [--wait] [...]');
  if (typeof v.task !== 'string') throw new UsageError('--task is required (e.g. --task cola or --task rte,mrpc)');
  const tasks = v.task.split(',').map((t) => getTask(t.trim()).name);
  const bert = (v.bert as string | undefined) ?? 'tiny';
  const jobs = num(v, 'jobs', 'int');
  if (jobs !== undefined && jobs < 1) throw new UsageError('--jobs must be at least 1');
  const launch = launchFromFlags(v);
  const { grid, path: gridPath } = readGrid((v.grid as string | undefined) ?? 'default');
  const outDirOf = (task: string) => join(OUTPUT_DIR(), bert, task);
  if (launch.mode === 'status') {
    for (const task of tasks) { const s = sweepStatus(outDirOf(task)); console.log(formatStatus(outDirOf(task), s.record, s.rows)); }
    return;
  }
  const backend = v.backend as string | undefined;
  const info = launch.mode === 'local' ? await initBackendFromFlags(v) : null;
  const follow = launch.mode === 'follow' ? [...tasks] : []; // tasks whose array to follow with --wait
  for (const task of tasks) {
    if (launch.mode === 'follow') break;
    const tdir = teacherDir(bert, task);
    const outDir = outDirOf(task);
    const release = lockSweepFolder(outDir);
    try {
      const hasTeacher = existsSync(join(tdir, 'model.safetensors'));
      const fcfg = hasTeacher ? null : teacherConfig(v, task, bert);
      const plan = planSweep(grid, runConfigFromFlags({ ...v, task }, { teacher: tdir }), outDir);
      const { runs, pending } = plan;
      const where = launch.mode === 'local' ? `${jobs ?? 1} at a time, backend ${info!.backend}` : `one Slurm job array${jobs ? `, ${jobs} at a time` : ''}`;
      console.error(`sweep ${task}: grid ${gridPath}: ${runs.length} runs, ${runs.length - pending.length} finished already, ${pending.length} to run (${where})`);
      if (launch.mode === 'slurm') {
        if (!pending.length) { await report(v, outDir, task, bert, gridPath); continue; }
        if (fcfg) console.error(`sweep: no teacher at ${tdir}: a fine-tune job goes first and the array waits for it`);
        const teacher = fcfg ? { dir: tdir, command: cliCommand('finetune', ['--config-json', JSON.stringify(fcfg), '--bert', bert, '--out', tdir, ...(v.vocab ? ['--vocab', v.vocab as string] : [])], backend, launch.threads) } : undefined;
        const rec = submitSweep({ outDir, label: task, plan, opts: launch.opts, throttle: jobs, backend, threads: launch.threads, teacher, invocation: `npm run sweep -- ${process.argv.slice(2).join(' ')}` });
        if (launch.wait) follow.push(task);
        console.error(`sweep ${task}: submitted ${rec.teacherJobId ? `teacher job ${rec.teacherJobId}, then ` : ''}array ${rec.jobId} (tasks ${rec.submittedIds.join(',')})\n  script ${rec.script}\n  logs ${rec.logDir}\n  see: npm run sweep -- --task ${task} --bert ${bert} --status   (or --wait)`);
        continue;
      }
      if (fcfg) {
        console.error(`sweep: no teacher at ${tdir}: fine-tuning it first`);
        const p = progressReporter(false, `finetune teacher ${bert}/${task}`);
        await finetune({ cfg: fcfg, bert, vocab: v.vocab as string | undefined, out: tdir, onProgress: p.update });
        p.done();
      }
      await runLocal(plan, jobs ?? 1, backend, num(v, 'threads', 'int') ?? ((jobs ?? 1) > 1 ? 1 : undefined));
      await report(v, outDir, task, bert, gridPath);
    } finally {
      release();
    }
  }
  for (const task of follow) {
    console.error(`sweep ${task}: following the Slurm array of ${outDirOf(task)}`);
    await waitSweep(outDirOf(task));
    await report(v, outDirOf(task), task, bert, gridPath);
  }
});
