/**
 * npm run sweep -- --task cola[,rte] [--bert tiny] [--grid default|paper-mixing|<file>] [--jobs N] [--out DIR] [run
 * flags]
 *   [--launcher local|slurm [--partition P] [--time T] [--cpus-per-task N] [--mem M] [--gpus N] [--sbatch-arg A]...
 *   [--requeue] [--wait]] [--status]
 * Runs a grid of KD-QAT runs from experiments/, fine-tuning the teacher first when models/<bert>/<task> is
 * missing: here, as child processes (local), or as one Slurm job array behind a fine-tune job (slurm). Finished
 * runs of the same configuration are skipped, killed ones resume from their last checkpoint; run folders holding
 * another configuration are refused before any work (--force-new moves them aside). Every flag and configuration is
 * checked before any work. Ends with the results table and plots (output/<bert>/<task>/report/).
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { getTask } from '../data/tasks.js';
import { ensureGlueTask } from '../data/first-use.js';
import { BERT_PRESETS } from '../model/config.js';
import { TRAIN_DEFAULTS, type ResolvedConfig } from '../train/config.js';
import { finetune, SCRATCH_LR } from '../sweep/finetune.js';
import { MODELS_DIR, OUTPUT_DIR, teacherDir } from '../sweep/run-setup.js';
import { cliCommand, readGrid } from '../sweep/sweep.js';
import { lockSweepFolder, planSweep, runLocal } from '../sweep/launch.js';
import { formatStatus, submitSweep, sweepStatus, waitSweep } from '../sweep/slurm-sweep.js';
import {
  jobsFlag,
  parseFlags,
  RUN_FLAGS,
  runConfigFromFlags,
  runMain,
  num,
  UsageError,
  initBackendFromFlags,
} from './common.js';
import { progressReporter } from './progress-line.js';
import { STOP_SIGNALS, stopOnSignals } from '../train/stop.js';
import { backendReady, initBackend, nativeThreadsWanted } from '../backend/backend.js';
import { describeParallelism, passiveOpenMpWait, sweepMemoryBudget, sweepParallelism } from '../sweep/parallelism.js';
import { describeRecipe, recipeReductions, teacherInfo } from '../sweep/teacher-check.js';
import { LAUNCH_FLAGS, launchFromFlags } from './slurm-flags.js';

const FLAGS = {
  ...RUN_FLAGS,
  bert: {
    type: 'string',
    help: 'teacher model: a preset (tiny, mini, small, base, large) or a name under models/ (default tiny)',
  },
  grid: { type: 'string', help: 'grid in experiments/ (name or path; default "default": the four presets at seed 42)' },
  jobs: {
    type: 'string',
    help:
      'runs in parallel, each its own process (default: one per core, as memory allows; more than the cores: a ' +
      "warning); with --launcher slurm the array's %limit (default none)",
    num: { kind: 'int', min: 1 },
  },
  out: {
    type: 'string',
    help:
      'a folder of its own (e.g. a smoke configuration): runs in DIR/<task>/, the teacher in ' +
      'DIR/teachers/<bert>/<task>/ (default output/<bert>/<task>/ and models/<bert>/<task>/)',
  },
  vocab: { type: 'string', help: 'vocabulary for a teacher fine-tuned from scratch (default: built from the task)' },
  'teacher-epochs': {
    type: 'string',
    help: 'epochs when the teacher has to be fine-tuned first (default: --epochs)',
    num: { kind: 'float', above: 0 },
  },
  'teacher-lr': {
    type: 'string',
    help:
      `learning rate of that fine-tuning (default --lr, else ${SCRATCH_LR.toExponential()} from scratch, ` +
      `${TRAIN_DEFAULTS.lr.toExponential()} from pretrained weights)`,
    num: { kind: 'float', above: 0 },
  },
  'no-report': { type: 'boolean', help: 'skip the results table and plots at the end' },
  'teacher-ok': {
    type: 'boolean',
    help:
      "distil from the existing teacher even when its recorded recipe is reduced relative to this sweep's (a " +
      'smaller train limit, fewer epochs, a step cap): default refused',
  },
  ...LAUNCH_FLAGS,
} as const;

type Flags = Record<string, string | boolean | undefined>;

/** The fine-tuning config of a missing teacher (its lr and epochs from --teacher-lr/--teacher-epochs). */
function missingTeacherConfig(v: Flags, task: string, bert: string): ResolvedConfig {
  const scratch = BERT_PRESETS[bert] !== undefined;
  const lr = num(v, 'teacher-lr') ?? (v.lr !== undefined ? num(v, 'lr') : scratch ? SCRATCH_LR : undefined);
  const epochs = num(v, 'teacher-epochs') ?? num(v, 'epochs');
  return runConfigFromFlags(
    { ...v, task },
    { train: { ...(lr !== undefined ? { lr } : {}), ...(epochs !== undefined ? { epochs } : {}) } },
  );
}

/** Results table and plots of a task's finished runs (unless --no-report). */
async function report(v: Flags, outDir: string, task: string, bert: string, gridPath: string): Promise<void> {
  if (v['no-report']) return;
  // the report's provenance records a backend: a Slurm sweep (--wait, --status) computes nothing here and has none yet
  if (!backendReady()) await initBackend('cpu', { quiet: true });
  const { writeTaskReport } = await import('../report/sweep-report.js');
  const rep = await writeTaskReport(outDir, { title: `${task} (${bert})`, grid: gridPath, task });
  console.error(`sweep ${task}: results table ${rep.csv}\n  report ${rep.html}`);
}

runMain('sweep', async () => {
  // SIGINT, SIGTERM, SIGHUP: no new run starts, those under way (and a teacher being fine-tuned here) save and stop
  stopOnSignals(STOP_SIGNALS, 'the runs under way to save their checkpoints');
  const v = parseFlags(
    FLAGS,
    'npm run sweep -- --task <t>[,<t>...] [--bert tiny] [--grid default] [--jobs N] [--out DIR] [--launcher ' +
      'local|slurm] [--status] [--wait] [...]',
  );
  if (typeof v.task !== 'string') throw new UsageError('--task is required (e.g. --task cola or --task rte,mrpc)');
  const tasks = v.task.split(',').map((t) => getTask(t.trim()).name);
  const bert = (v.bert as string | undefined) ?? 'tiny';
  const launch = launchFromFlags(v);
  const jobs = jobsFlag(v, launch.mode === 'local' ? undefined : () => {}); // the core-count warning is for local runs
  const { grid, path: gridPath } = readGrid((v.grid as string | undefined) ?? 'default');
  const outDirOf = (task: string) =>
    typeof v.out === 'string' ? resolve(v.out, task) : join(OUTPUT_DIR(), bert, task);
  const tdirOf = (task: string) =>
    typeof v.out === 'string' ? resolve(v.out, 'teachers', bert, task) : teacherDir(bert, task);
  const forceNew = v['force-new'] === true;
  const log = (task: string) => (s: string) => console.error(`sweep ${task}: ${s}`);
  const follow = async (task: string) => {
    console.error(`sweep ${task}: following the Slurm array of ${outDirOf(task)}`);
    await waitSweep(outDirOf(task));
    await report(v, outDirOf(task), task, bert, gridPath);
  };
  if (launch.mode === 'status') {
    for (const task of tasks) {
      const s = sweepStatus(outDirOf(task));
      console.log(formatStatus(outDirOf(task), s.record, s.rows));
      // every run finished: the report, as --wait and a local sweep end with it
      if (s.rows.every((r) => r.state === 'done')) await report(v, outDirOf(task), task, bert, gridPath);
    }
    return;
  }
  if (launch.mode === 'follow') {
    for (const task of tasks) await follow(task);
    return;
  }
  // every configuration resolved, then every sweep folder locked and every run folder checked, before any work: a bad
  // value or a folder holding another configuration stops here, not after a teacher's fine-tuning; nothing is moved
  // aside (--force-new) in a folder that another sweep or a Slurm array is writing
  const configs = tasks.map((task) => {
    const hasTeacher = existsSync(join(tdirOf(task), 'model.safetensors'));
    return {
      task,
      hasTeacher,
      fcfg: hasTeacher ? null : missingTeacherConfig(v, task, bert),
      base: runConfigFromFlags({ ...v, task }, { teacher: tdirOf(task) }),
    };
  });
  // the teacher each task distils from, said; one fine-tuned with a reduced recipe (e.g. a smoke sweep's) is refused
  // before anything is locked, moved aside (--force-new) or trained, unless --teacher-ok
  for (const c of configs) {
    if (!c.hasTeacher) continue;
    const t = teacherInfo(tdirOf(c.task));
    console.error(
      `sweep ${c.task}: teacher ${t.dir} (` +
        `${t.recipe ? `fine-tuned with ${describeRecipe(t.recipe)}` : 'recipe not recorded'}; dev ` +
        `${t.metric ?? 'metric not recorded'})`,
    );
    const reduced = t.recipe ? recipeReductions(t.recipe, missingTeacherConfig(v, c.task, bert)) : [];
    if (reduced.length && v['teacher-ok'] !== true)
      throw new UsageError(
        `sweep ${c.task}: the teacher ${t.dir} was fine-tuned with a reduced recipe: ${reduced.join('; ')}. Pass ` +
          `--teacher-ok to distil from it anyway, or fine-tune a full teacher (npm run finetune -- --overwrite, or ` +
          `sweep --out ` +
          `DIR for a folder of its own)`,
      );
    if (reduced.length)
      console.error(
        `sweep ${c.task}: warning: distilling from a teacher of reduced recipe (${reduced.join('; ')}): --teacher-ok`,
      );
  }
  const backend = v.backend as string | undefined;
  const following: string[] = []; // tasks whose array to follow with --wait
  const releases: (() => void)[] = [];
  try {
    for (const { task } of configs) releases.push(lockSweepFolder(outDirOf(task)));
    const checked = configs.map((c) => ({
      ...c,
      plan: planSweep(grid, c.base, outDirOf(c.task), { teacherReady: c.hasTeacher, forceNew, log: log(c.task) }),
    }));
    // before the native addon loads: its OpenMP threads then sleep at once when they wait (here and in the runs)
    if (launch.mode === 'local') passiveOpenMpWait(process.env);
    const info = launch.mode === 'local' ? await initBackendFromFlags(v) : null;
    // runs at a time x threads each: the flags (or KDQAT_THREADS), else the fastest measured for this machine
    const cores = availableParallelism();
    const asked = {
      jobs,
      threads: num(v, 'threads', 'int') ?? (process.env.KDQAT_THREADS ? nativeThreadsWanted() : undefined),
    };
    const memory = sweepMemoryBudget(bert, [tdirOf(tasks[0]), join(MODELS_DIR(), bert)]);
    const pendingMost = Math.max(0, ...checked.map((c) => c.plan.pending.length));
    const par = sweepParallelism(asked, cores, pendingMost, memory);
    if (launch.mode === 'local' && pendingMost)
      console.error(describeParallelism(par, cores, asked.jobs !== undefined || asked.threads !== undefined, memory));
    // GLUE data on first use, fetched here once (not by runs started at once, nor by Slurm array tasks)
    for (const c of checked)
      if (c.fcfg || c.plan.pending.length) await ensureGlueTask(c.task, c.base.data.glueDir, log(c.task));
    for (const { task, fcfg, base, plan: checkedPlan } of checked) {
      let plan = checkedPlan;
      const tdir = tdirOf(task),
        outDir = outDirOf(task);
      const { runs, pending } = plan;
      const where =
        launch.mode === 'local'
          ? `${par.jobs} at a time, backend ${info!.backend}`
          : `one Slurm job array${jobs ? `, ${jobs} at a time` : ''}`;
      console.error(
        `sweep ${task}: grid ${gridPath}: ${runs.length} runs, ${runs.length - pending.length} finished already, ` +
          `${pending.length} to run (${where})`,
      );
      if (launch.mode === 'slurm') {
        if (!pending.length) {
          await report(v, outDir, task, bert, gridPath);
          continue;
        }
        if (fcfg) console.error(`sweep: no teacher at ${tdir}: a fine-tune job goes first and the array waits for it`);
        const teacher = fcfg
          ? {
              dir: tdir,
              command: cliCommand(
                'finetune',
                [
                  '--config-json',
                  JSON.stringify(fcfg),
                  '--bert',
                  bert,
                  '--out',
                  tdir,
                  ...(v.vocab ? ['--vocab', v.vocab as string] : []),
                ],
                backend,
                launch.threads,
              ),
            }
          : undefined;
        const rec = submitSweep({
          outDir,
          label: task,
          plan,
          opts: launch.opts,
          throttle: jobs,
          backend,
          threads: launch.threads,
          teacher,
          invocation: `npm run sweep -- ${process.argv.slice(2).join(' ')}`,
        });
        if (launch.wait) following.push(task);
        console.error(
          `sweep ${task}: submitted ${rec.teacherJobId ? `teacher job ${rec.teacherJobId}, then ` : ''}array ` +
            `${rec.jobId} (tasks ${rec.submittedIds.join(',')})\n  script ${rec.script}\n  logs ${rec.logDir}\n  ` +
            `see: npm run ` +
            `sweep -- --task ${task} --bert ${bert}${typeof v.out === 'string' ? ` --out ${v.out}` : ''} --status   ` +
            `(or --wait)`,
        );
        continue;
      }
      if (fcfg) {
        console.error(`sweep: no teacher at ${tdir}: fine-tuning it first`);
        const p = progressReporter(false, `finetune teacher ${bert}/${task}`);
        await finetune({ cfg: fcfg, bert, vocab: v.vocab as string | undefined, out: tdir, onProgress: p.update });
        p.done();
        // with the teacher just made, the runs' identities (its weights included) are known only now
        plan = planSweep(grid, base, outDir, { teacherReady: true, forceNew, log: log(task) });
      }
      await runLocal(plan, par.jobs, backend, par.threads);
      await report(v, outDir, task, bert, gridPath);
    }
  } finally {
    for (const release of releases.reverse()) release();
  }
  for (const task of following) await follow(task);
});
