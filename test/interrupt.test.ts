/**
 * Ctrl-C and friends (issue 21): SIGINT, SIGTERM, SIGHUP stop a qat run, a finetune and a local sweep at the next step
 * boundary, save a checkpoint, release the locks, say so in one line and exit 128 + the signal; the same command
 * resumes from that step, with the results of an uninterrupted run. Deterministic: the child freezes itself at a
 * chosen step (KDQAT_FAULT=stop@step:N, SIGSTOP to its own process group), the signals are sent while it is frozen,
 * then SIGCONT.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { makeTeacherDir } from './helpers/teacher.js';
import { ROOT } from './helpers/env.js';
import { cli, sandbox } from './helpers/cli.js';
import { SWEEP_ARGS, sweepEnv } from './helpers/sweep.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const frozen = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] === 'T';
  } catch {
    return false;
  }
};
/** wake a frozen process group (the fault froze the whole group: tsx's esbuild service too) */
const wake = (pgid: number) => process.kill(-pgid, 'SIGCONT');

/**
 * Start a CLI in its own process group (the fault freezes that group), wait until `ready()` says the moment has come
 * (by default: the process froze itself), call `act(pid)`, and collect its exit.
 */
async function interrupted(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  act: (pid: number) => Promise<void>,
  ready?: (pid: number) => boolean,
) {
  const c = spawn(
    process.execPath,
    [
      '--import',
      pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href,
      join(ROOT, 'src/cli', `${cmd}.ts`),
      ...args,
    ],
    { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let stderr = '';
  c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  c.stdout.resume();
  const exited = new Promise<number | null>((res) => c.on('exit', (code) => res(code)));
  const t0 = Date.now();
  let done = false;
  void exited.then(() => (done = true));
  while (!done && !(ready ?? frozen)(c.pid!) && Date.now() - t0 < 240_000) await sleep(50);
  if (!done) await act(c.pid!);
  const status = await exited;
  try {
    wake(c.pid!);
  } catch {
    /* the group is gone */
  }
  return { status, stderr };
}

const QAT = (teacher: string, runDir: string) => [
  '--task',
  'rte',
  '--teacher',
  teacher,
  '--preset',
  'output',
  '--train-limit',
  '48',
  '--eval-limit',
  '24',
  '--max-seq-len',
  '32',
  '--batch-size',
  '8',
  '--epochs',
  '3',
  '--eval-every',
  '4',
  '--lr',
  '1e-3',
  '--backend',
  'cpu',
  '--run-dir',
  runDir,
];
const noStack = /\n\s+at /;

test(
  'qat: SIGINT and a second signal pending with it: saved at the step boundary, one line, exit 128 + the first ' +
    'signal, no lock left; the same command resumes with identical results',
  async (t) => {
    t.timeout(480_000);
    const sb = sandbox('kdqat-sigint-');
    const teacher = join(sb.models, 'testbert', 'rte');
    await makeTeacherDir(teacher);
    const full = cli('qat', QAT(teacher, join(sb.out, 'full')), sb.env);
    t.is(full.status, 0, full.stderr);

    const dir = join(sb.out, 'cut');
    const r = await interrupted('qat', QAT(teacher, dir), { ...sb.env, KDQAT_FAULT: 'stop@step:7' }, async (pid) => {
      process.kill(pid, 'SIGINT');
      process.kill(pid, 'SIGTERM'); // a second signal (pending together with the first): it waits for the save
      wake(pid);
    });
    // both signals were pending at once: the kernel picks which comes first; that one is the stop, the other waits
    const first = /received (SIG\w+): saving a checkpoint/.exec(r.stderr)?.[1];
    t.true(first === 'SIGINT' || first === 'SIGTERM', r.stderr);
    t.is(r.status, first === 'SIGINT' ? 130 : 143, r.stderr);
    t.regex(r.stderr, new RegExp(`received ${first === 'SIGINT' ? 'SIGTERM' : 'SIGINT'} again: waiting for`));
    const lines = r.stderr.split('\n').filter((l) => /interrupted at step/.test(l));
    t.is(lines.length, 1, r.stderr);
    const m = /^qat: interrupted at step (\d+): saved; run the same command to resume/.exec(lines[0]);
    t.truthy(m, lines[0]);
    const step = Number(m![1]);
    t.is(step, 7, 'the step in which it froze ends, then it stops');
    t.notRegex(r.stderr, noStack);
    t.false(existsSync(join(dir, '.run.lock')), "the run folder's lock was released");
    t.true(existsSync(join(dir, 'state', 'latest.json')));
    t.false(existsSync(join(dir, 'metrics.json')));

    const again = cli('qat', QAT(teacher, dir), sb.env);
    t.is(again.status, 0, again.stderr);
    t.notRegex(again.stderr, /stale/i);
    t.regex(again.stderr, new RegExp(`resuming \\S+ from step ${step}`));
    const a = JSON.parse(readFileSync(join(sb.out, 'full', 'metrics.json'), 'utf8')),
      b = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8'));
    t.is(b.resumedFromStep, step);
    t.deepEqual(b.best, a.best);
    t.deepEqual(b.last, a.last);
    t.is(
      readFileSync(join(dir, 'log.jsonl'), 'utf8'),
      readFileSync(join(sb.out, 'full', 'log.jsonl'), 'utf8'),
      'every step loss and evaluation as uninterrupted',
    );
  },
);

test('finetune: SIGHUP saves and exits 129 in one line; SIGTERM 143; the same command resumes', async (t) => {
  t.timeout(480_000);
  const sb = sandbox('kdqat-sighup-');
  const teacher = join(sb.models, 'testbert', 'rte');
  await makeTeacherDir(teacher);
  const out = join(sb.base, 'teacher');
  const args = [
    '--task',
    'rte',
    '--bert',
    teacher,
    '--out',
    out,
    '--train-limit',
    '48',
    '--eval-limit',
    '24',
    '--max-seq-len',
    '32',
    '--batch-size',
    '8',
    '--epochs',
    '2',
    '--eval-every',
    '4',
    '--backend',
    'cpu',
  ];
  for (const [sig, code, at] of [
    ['SIGHUP', 129, 3],
    ['SIGTERM', 143, 6],
  ] as const) {
    const r = await interrupted(
      'finetune',
      args,
      { ...sb.env, KDQAT_FAULT: `stop@step:${at - (sig === 'SIGTERM' ? 3 : 0)}` },
      async (pid) => {
        process.kill(pid, sig);
        wake(pid);
      },
    );
    t.is(r.status, code, r.stderr);
    t.is(r.stderr.split('\n').filter((l) => /interrupted at step/.test(l)).length, 1, r.stderr);
    t.regex(r.stderr, new RegExp(`^finetune: interrupted at step ${at}: saved; run the same command to resume`, 'm'));
    t.notRegex(r.stderr, noStack);
  }
  const again = cli('finetune', args, sb.env);
  t.is(again.status, 0, again.stderr);
  t.regex(again.stderr, /from step 6/);
  t.notRegex(again.stderr, /stale/i);
  t.true(existsSync(join(out, 'model.safetensors')));
});

test(
  'sweep: SIGINT goes on to the runs under way; each saves; the sweep releases its lock, says so in one line and ' +
    'exits 130; the same command resumes them',
  async (t) => {
    t.timeout(480_000);
    const sb = sandbox('kdqat-sweepint-');
    const models = join(sb.base, 'models');
    await makeTeacherDir(join(models, 'testbert', 'rte'));
    const env = sweepEnv(models, sb.out);
    const args = [...SWEEP_ARGS.map((a, i, all) => (all[i - 1] === '--epochs' ? '20' : a)), '--jobs', '2'];
    const task = join(sb.out, 'testbert', 'rte');
    const steps = (run: string) => {
      try {
        return readFileSync(join(task, run, 'log.jsonl'), 'utf8')
          .split('\n')
          .filter((l) => l.includes('"loss"')).length;
      } catch {
        return 0;
      }
    };
    const r = await interrupted(
      'sweep',
      args,
      env,
      async (pid) => {
        process.kill(pid, 'SIGINT');
      },
      () => steps('map_s42') >= 2 && steps('output_s42') >= 2,
    );
    t.is(r.status, 130, r.stderr);
    const lines = r.stderr.split('\n').filter((l) => /^sweep: interrupted/.test(l));
    t.is(lines.length, 1, r.stderr);
    t.regex(
      lines[0],
      new RegExp(
        /^sweep: interrupted: (map|output)_s42 at step \d+, (map|output)_s42 at step \d+ saved; /.source +
          /run the same command to resume$/.source,
      ),
    );
    t.notRegex(r.stderr, noStack);
    t.false(existsSync(join(task, '.sweep.lock')), "the sweep folder's lock was released");
    for (const run of ['map_s42', 'output_s42'])
      t.false(existsSync(join(task, run, '.run.lock')), `${run}: lock released`);
    const saved = Object.fromEntries(
      [...lines[0].matchAll(/(\w+_s42) at step (\d+)/g)].map((m) => [m[1], Number(m[2])]),
    );

    const again = cli('sweep', args, env);
    t.is(again.status, 0, again.stderr);
    t.notRegex(again.stderr, /stale/i);
    for (const run of ['map_s42', 'output_s42'])
      t.is(JSON.parse(readFileSync(join(task, run, 'metrics.json'), 'utf8')).resumedFromStep, saved[run], run);
  },
);
