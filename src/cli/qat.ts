/**
 * npm run qat -- --task rte --teacher models/tiny/rte --preset map+output --map-coeff 1 --output-coeff 1 --seed 42
 * One KD-QAT run with the reference recipe; every value overridable (see --help). Writes
 * output/<bert>/<task>/<run>/: config.json, log.jsonl, metrics.json, student/ (the best evaluation's latent weights +
 * quantizer settings) and student-last/ (the final weights), each with the metric it scored (docs/students.md).
 */
import { stopOnSignals } from '../train/stop.js';
import { qat } from '../sweep/runs.js';
import {
  parseFlags,
  KD_FLAGS,
  RUN_FLAGS,
  runConfigFromFlags,
  runConfigFromJson,
  runMain,
  UsageError,
  initBackendFromFlags,
} from './common.js';
import { progressReporter } from './progress-line.js';
import { qatEnding } from './summary.js';

const FLAGS = {
  ...RUN_FLAGS,
  teacher: { type: 'string', help: 'teacher directory (models/<bert>/<task>, made by npm run finetune)' },
  ...KD_FLAGS,
  'run-dir': { type: 'string', help: 'output folder of this run (default output/<bert>/<task>/<run name>)' },
  'config-json': { type: 'string', help: 'the whole resolved run config as JSON (used by sweep)' },
  'progress-json': { type: 'boolean', help: 'machine-readable progress on stdout (used by sweep)' },
  'exit-on-stdin-close': {
    type: 'boolean',
    help: 'exit when stdin closes (used by sweep: children die with their parent)',
  },
} as const;

runMain('qat', async () => {
  // SIGINT, SIGTERM (Slurm's time limit, preemption, scancel), SIGHUP: checkpoint at the next step, then exit
  // 130/143/129
  stopOnSignals();
  const v = parseFlags(
    FLAGS,
    'npm run qat -- --task <t> --teacher <dir> [--preset p] [--map-coeff a] [--output-coeff b] [--seed s] [...]',
  );
  if (v['exit-on-stdin-close']) {
    // a sweep's child: die with the parent (its pipe closes, or we are re-parented), never write on alone
    const ppid = process.ppid;
    const orphaned = () => process.exit(130);
    process.stdin.on('close', orphaned);
    process.stdin.on('end', orphaned);
    process.stdin.resume();
    setInterval(() => {
      if (process.ppid !== ppid) orphaned();
    }, 200).unref();
  }
  let cfg: ReturnType<typeof runConfigFromJson>;
  if (typeof v['config-json'] === 'string') cfg = runConfigFromJson(v['config-json']);
  else {
    if (!v.teacher)
      throw new UsageError(
        '--teacher is required (a directory made by npm run finetune, or a Hugging Face BERT fine-tuned on the task)',
      );
    if (!v.task) throw new UsageError('--task is required');
    cfg = runConfigFromFlags(v, { teacher: v.teacher });
  }
  await initBackendFromFlags(v);
  const progress = progressReporter(v['progress-json'] === true, `qat ${cfg.task} ${cfg.kd.preset} seed ${cfg.seed}`);
  const r = await qat({
    cfg,
    runDir: v['run-dir'] as string | undefined,
    forceNew: v['force-new'] === true,
    onProgress: progress.update,
    log: (s) => console.error(s),
  });
  progress.done();
  if (r.skipped)
    console.error(
      `qat: ${r.runDir} is complete already, with this configuration (config hash ` +
        `${r.metrics.configHash ?? 'not recorded'}); nothing to do`,
    );
  const m = r.metrics as Parameters<typeof qatEnding>[1] & {
    final?: { step: number; metrics: Record<string, number> };
    trainTokensPerSec: number;
    wallTimeSec: number;
  };
  const fin = m.final ? `; final weights (step ${m.final.step}, student-last/) ${JSON.stringify(m.final.metrics)}` : '';
  console.error(
    qatEnding(
      r.runDir,
      m,
      `done in ${m.wallTimeSec.toFixed(1)} s (${m.trainTokensPerSec.toFixed(0)} train tokens/s)${fin}`,
    ),
  );
});
