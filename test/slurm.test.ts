import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { batchScript, shq } from '../src/sweep/slurm.js';
import { makeTeacherDir } from './helpers/teacher.js';
import { ROOT } from './helpers/env.js';
import { runSweep, sweepEnv, sweepResults, SWEEP_ARGS } from './helpers/sweep.js';
import { startCluster, type Cluster } from './helpers/slurm-cluster.js';

// longer runs than the local resume test, so that a task is still training when it is cancelled
const ARGS = [...SWEEP_ARGS.filter((a, i, all) => a !== '--epochs' && all[i - 1] !== '--epochs'), '--epochs', '4'];
const SLURM = [...ARGS, '--launcher', 'slurm', '--jobs', '2'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const runAsync = (args: string[], env: NodeJS.ProcessEnv) =>
  new Promise<{ status: number | null; stderr: string }>((res) => {
    const c = spawn(process.execPath, ['--import', 'tsx', 'src/cli/sweep.ts', ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('exit', (status) => res({ status, stderr }));
  });

test('shell quoting: every value reaches the command unchanged', (t) => {
  const values = [
    'plain',
    'with space',
    "it's",
    '{"a":"b c","d":[1,2]}',
    '$HOME `id` $(id) \\ " ; & | * ?',
    'new\nline',
    '',
  ];
  const r = spawnSync('bash', ['-c', `printf '%s\\0' ${values.map(shq).join(' ')}`], { encoding: 'utf8' });
  t.deepEqual(r.stdout.split('\0').slice(0, -1), values);
});

test('the batch script: #SBATCH lines from validated options, one exec per array task, bad values refused', (t) => {
  const spec = {
    jobName: 'kdqat-rte',
    log: '/out/slurm/logs/%A_%a.log',
    chdir: '/repo',
    env: { GLUE_DIR: "/data/it's glue" },
    comment: ['a comment\nrm -rf /'],
    opts: {
      partition: 'gpu',
      time: '04:00:00',
      cpusPerTask: 2,
      mem: '8G',
      gpus: 1,
      requeue: true,
      extra: ['--account=nlp'],
    },
    array: { ids: [0, 3], throttle: 2 },
    command: new Map([
      [0, ['node', 'a b']],
      [3, ['node', "c'd"]],
    ]),
  };
  const s = batchScript(spec);
  for (const l of [
    '#SBATCH --array=0,3%2',
    '#SBATCH --partition=gpu',
    '#SBATCH --time=04:00:00',
    '#SBATCH --cpus-per-task=2',
    '#SBATCH --mem=8G',
    '#SBATCH --gpus=1',
    '#SBATCH --requeue',
    '#SBATCH --account=nlp',
    '#SBATCH --output=/out/slurm/logs/%A_%a.log',
    "export GLUE_DIR='/data/it'\\''s glue'",
    "  0) exec node 'a b' ;;",
    "  3) exec node 'c'\\''d' ;;",
  ])
    t.true(s.split('\n').includes(l), l);
  t.true(s.split('\n').includes('# a comment rm -rf /'), 'a newline cannot end a comment line');
  t.is(spawnSync('bash', ['-n'], { input: s }).status, 0, 'valid bash');
  t.throws(() => batchScript({ ...spec, opts: { time: '4 hours' } }), { message: /--time must be/ });
  t.throws(() => batchScript({ ...spec, opts: { extra: ['--output=/x'] } }), { message: /set by the launcher/ });
  t.throws(() => batchScript({ ...spec, chdir: '/a b' }), { message: /whitespace/ });
});

test('bad or misplaced launcher flags fail before any work; a missing sbatch names --launcher local', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'kdqat-slurmflags-'));
  const env = sweepEnv(join(out, 'models'), out);
  const cases: [string[], RegExp][] = [
    [['--launcher', 'pbs'], /--launcher must be local or slurm/],
    [['--partition', 'gpu'], /--partition is a Slurm option: add --launcher slurm/],
    [['--launcher', 'slurm', '--time', '4h'], /--time must be a Slurm time limit/],
    [['--launcher', 'slurm', '--mem', '8 G'], /--mem must be a size/],
    [['--launcher', 'slurm', '--cpus-per-task', '0'], /--cpus-per-task must be an integer >= 1, got "0"/],
    [['--launcher', 'slurm', '--sbatch-arg=--array=0-99'], /--array is set by the launcher/],
    [['--launcher', 'slurm', '--sbatch-arg=--comment=$(reboot)'], /--sbatch-arg must be one sbatch option/],
    [['--launcher', 'slurm', '--qos', 'high'], /unknown flag --qos/],
    [['--status', '--launcher', 'slurm'], /--status reads the state/],
  ];
  const results = await Promise.all(cases.map(([a]) => runAsync([...ARGS, ...a], env)));
  cases.forEach(([a, re], i) => {
    t.is(results[i].status, 2, `${a.join(' ')}: ${results[i].stderr}`);
    t.regex(results[i].stderr, re);
    t.notRegex(results[i].stderr, /\n\s+at /, 'no stack trace');
  });
  const noSlurm = await runAsync([...ARGS, '--launcher', 'slurm'], {
    ...env,
    PATH: mkdtempSync(join(tmpdir(), 'kdqat-emptypath-')),
  });
  t.is(noSlurm.status, 2, noSlurm.stderr);
  t.regex(noSlurm.stderr, /sbatch not found.*--launcher local/s);
  t.false(existsSync(join(out, 'testbert')), 'nothing was planned, trained or submitted');
});

let cluster: Cluster | undefined;
test.after.always(async () => {
  await cluster?.stop();
});

test.serial(
  'a real Slurm cluster: the array gives the local results; runs of another configuration are refused; a task ' +
    'cancelled or requeued mid-run resumes with identical results; a missing teacher is a job first',
  async (t) => {
    t.timeout(540_000);
    cluster = await startCluster(); // throws with the reason (and the daemons' logs) when the cluster cannot start
    const base = mkdtempSync(join(tmpdir(), 'kdqat-slurm-'));
    const models = join(base, 'models');
    await makeTeacherDir(join(models, 'testbert', 'rte'));
    const env = (out: string) => ({ ...sweepEnv(models, join(base, out), cluster!.env), KDQAT_SLURM_POLL_MS: '300' });

    const t00 = Date.now(),
      lap = (what: string) => t.log(`${what}: ${((Date.now() - t00) / 1000).toFixed(1)} s`);
    lap('cluster up');
    const local = runSweep(env('local'), [...ARGS, '--jobs', '2']);
    lap('local sweep');
    t.is(local.status, 0, local.stderr);
    const expected = sweepResults(join(base, 'local'));
    t.deepEqual(Object.keys(expected).sort(), ['map_s42', 'output_s42']);

    // the whole sweep as one array, followed to its end
    const a = runSweep(env('slurm'), [...SLURM, '--wait']);
    t.is(a.status, 0, a.stderr);
    lap('slurm sweep');
    t.regex(a.stderr, /submitted array \d+ \(tasks 0,1\)/);
    t.deepEqual(sweepResults(join(base, 'slurm')), expected);
    const sdir = join(base, 'slurm', 'testbert', 'rte', 'slurm');
    const script = readFileSync(join(sdir, 'array.sbatch'), 'utf8');
    t.regex(script, /^#SBATCH --array=0,1%2$/m);
    t.regex(
      script,
      new RegExp(
        /^ {2}0\) exec .*src\/cli\/qat\.ts --config-json '\{.*"preset":"map".*\}' --run-dir \S+map_s42 /.source +
          /--progress-json --backend cpu --threads 1 ;;$/.source,
        'm',
      ),
    );
    const st = runSweep(env('slurm'), [...ARGS, '--status']);
    t.is(st.status, 0, st.stderr);
    t.regex(st.stdout, /map_s42 +done +task 0 .*log \S+_0\.log/);
    t.regex(st.stdout, /2 done, 0 running, 0 pending, 0 failed/);
    // the Slurm launcher plans as the local one: run folders of another configuration are refused before any submission
    const recBefore = readFileSync(join(sdir, 'array.json'), 'utf8');
    const other = runSweep(
      env('slurm'),
      SLURM.map((a, i, all) => (all[i - 1] === '--train-limit' ? '40' : a)),
    );
    t.is(other.status, 2, other.stderr);
    t.regex(other.stderr, /2 of 2 runs are refused/);
    t.regex(other.stderr, /data\.trainLimit: 48 \(existing\) vs 40 \(this command\)/);
    t.notRegex(other.stderr, /\n\s+at /, 'no stack trace');
    t.is(readFileSync(join(sdir, 'array.json'), 'utf8'), recBefore, 'nothing was submitted');

    // mid-run, cancel task 0 (on SIGTERM it saves a checkpoint and stops) and requeue task 1 (--requeue: Slurm restarts
    // it)
    const sub = runSweep(env('cancel'), [...SLURM, '--requeue']);
    t.is(sub.status, 0, sub.stderr);
    const rec = JSON.parse(readFileSync(join(base, 'cancel', 'testbert', 'rte', 'slurm', 'array.json'), 'utf8'));
    const runDir = join(base, 'cancel', 'testbert', 'rte', 'map_s42'),
      requeuedDir = join(base, 'cancel', 'testbert', 'rte', 'output_s42');
    const steps = (dir: string) =>
      existsSync(join(dir, 'log.jsonl'))
        ? readFileSync(join(dir, 'log.jsonl'), 'utf8')
            .split('\n')
            .filter((l) => l.includes('"loss"')).length
        : 0;
    const t0 = Date.now();
    while ((steps(runDir) < 2 || steps(requeuedDir) < 2) && Date.now() - t0 < 120_000) await sleep(50);
    t.true(steps(runDir) >= 2 && steps(requeuedDir) >= 2, 'the tasks never started training');
    const slurmCmd = (cmd: string, ...args: string[]) => spawnSync(cmd, args, { env: cluster!.env, encoding: 'utf8' });
    t.is(slurmCmd('scancel', `${rec.jobId}_0`).status, 0);
    t.is(slurmCmd('scontrol', 'requeue', `${rec.jobId}_1`).status, 0);
    // a requeued job waits ~2 min (BeginTime) before it may start again: let it start now
    while (
      !/PENDING/.test(slurmCmd('squeue', '--noheader', '--jobs', `${rec.jobId}_1`, '--format=%T').stdout) &&
      Date.now() - t0 < 120_000
    )
      await sleep(100);
    // refused while the array is still in the queue: checked while the requeued task waits for its BeginTime (before
    // it is let go below), so that a fast task cannot leave the queue first on a loaded machine
    const again = runSweep(env('cancel'), SLURM);
    t.is(again.status, 2, again.stderr);
    t.regex(again.stderr, new RegExp(`Slurm job ${rec.jobId} of this sweep .* is still queued or running`));
    t.is(slurmCmd('scontrol', 'update', `JobId=${rec.jobId}_1`, 'StartTime=now').status, 0);
    const w = runSweep(env('cancel'), [...ARGS, '--wait']); // follows the array to its end; the cancelled task fails it
    t.is(w.status, 1);
    t.regex(w.stderr, /1 of 2 jobs of .* failed; no report was written/);
    t.regex(w.stderr, /map_s42 \(task 0, CANCELLED/);
    t.regex(w.stderr, /received SIGTERM: saving a checkpoint/, "the failed task's log tail is shown");
    t.true(existsSync(join(runDir, 'state', 'latest.json')), 'a checkpoint was saved on SIGTERM');
    t.false(existsSync(join(runDir, 'metrics.json')));
    const st2 = runSweep(env('cancel'), [...ARGS, '--status']);
    t.regex(st2.stdout, /map_s42 +failed +task 0 +CANCELLED/);
    t.regex(st2.stdout, /output_s42 +done +task 1/);
    t.true(
      JSON.parse(readFileSync(join(requeuedDir, 'metrics.json'), 'utf8')).resumedFromStep >= 2,
      'the requeued task resumed from its SIGTERM checkpoint',
    );

    lap('cancelled');
    const b = runSweep(env('cancel'), [...SLURM, '--wait']);
    t.is(b.status, 0, b.stderr);
    lap('resumed');
    t.regex(b.stderr, /1 finished already, 1 to run/);
    t.regex(b.stderr, /\(tasks 0\)/);
    t.true(
      JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8')).resumedFromStep >= 2,
      'the cancelled run resumed from its SIGTERM checkpoint',
    );
    t.deepEqual(sweepResults(join(base, 'cancel')), expected);

    // a missing teacher: a fine-tune job (a from-scratch tiny BERT, a few steps) that the array depends on
    const grid = join(base, 'one.json');
    writeFileSync(grid, JSON.stringify({ arms: [{ arm: 'one', preset: 'output', seed: 42 }] }));
    const tiny = [
      ...ARGS.map((a) => (a === 'testbert' ? 'tiny' : a === 'smoke' ? grid : a)),
      '--max-steps',
      '3',
      '--vocab',
      join(models, 'testbert', 'rte', 'vocab.txt'),
      '--launcher',
      'slurm',
    ];
    // --wait goes through to the report (issue 21: it ended in "backend not initialised", exit 1, no report)
    const c = runSweep(env('teacher'), [...tiny.filter((a) => a !== '--no-report'), '--wait']);
    t.is(c.status, 0, c.stderr);
    lap('teacher job and array');
    t.regex(c.stderr, /submitted teacher job (\d+), then array \d+ \(tasks 0\)/);
    const reportDir = join(base, 'teacher', 'tiny', 'rte', 'report');
    t.true(existsSync(join(reportDir, 'index.html')), 'the report was written after the array');
    t.regex(c.stderr, /report \S+index\.html/);
    t.notRegex(c.stderr, /\n\s+at /, 'no stack trace');
    t.true(existsSync(join(models, 'tiny', 'rte', 'model.safetensors')), 'the teacher job saved the teacher');
    t.true(existsSync(join(base, 'teacher', 'tiny', 'rte', 'output_s42', 'metrics.json')));
    const st3 = runSweep(env('teacher'), [...tiny.slice(0, -2), '--status']);
    t.regex(st3.stdout, /teacher +done +task - .*log \S+teacher-\d+\.log/);
    // --status of a finished array (without --no-report) writes the report too
    rmSync(reportDir, { recursive: true });
    const st4 = runSweep(
      env('teacher'),
      tiny
        .slice(0, -2)
        .filter((a) => a !== '--no-report')
        .concat('--status'),
    );
    t.is(st4.status, 0, st4.stderr);
    t.true(existsSync(join(reportDir, 'index.html')), '--status wrote the report');
    t.regex(
      readFileSync(join(base, 'teacher', 'tiny', 'rte', 'slurm', 'teacher.sbatch'), 'utf8'),
      new RegExp(
        /^exec .*src\/cli\/finetune\.ts --config-json '\{.*\}' --bert tiny --out \S+tiny\/rte /.source +
          /--vocab \S+vocab\.txt --backend cpu --threads 1$/.source,
        'm',
      ),
    );
  },
);
