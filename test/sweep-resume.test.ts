import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/backend/backend.js';
import { acquireLock } from '../src/sweep/sweep.js';
import { makeTeacherDir } from './helpers/teacher.js';
import { ROOT } from './helpers/env.js';
import { runSweep, sweepEnv, sweepResults, SWEEP_ARGS } from './helpers/sweep.js';

test.before(async () => {
  await initBackend('cpu', { quiet: true });
});

test('a sweep killed with SIGKILL mid-run resumes and ends with the results of an uninterrupted sweep', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'kdqat-sweep-'));
  const models = join(base, 'models');
  await makeTeacherDir(join(models, 'testbert', 'rte'));

  const a = runSweep(sweepEnv(models, join(base, 'outA')));
  t.is(a.status, 0, a.stderr);
  const ra = sweepResults(join(base, 'outA'));
  t.deepEqual(Object.keys(ra).sort(), ['map_s42', 'output_s42']);

  // interrupted: kill the whole sweep as soon as the first run has written a mid-run checkpoint
  const outB = join(base, 'outB');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/sweep.ts', ...SWEEP_ARGS], {
    cwd: ROOT,
    env: sweepEnv(models, outB),
    stdio: 'ignore',
  });
  const runDir = join(outB, 'testbert', 'rte', 'map_s42');
  const t0 = Date.now();
  while (!existsSync(join(runDir, 'state', 'latest.json')) && Date.now() - t0 < 240_000)
    await new Promise((r) => setTimeout(r, 50));
  t.true(existsSync(join(runDir, 'state', 'latest.json')), 'the first run never checkpointed');
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  await new Promise((r) => setTimeout(r, 1500)); // its run process notices the closed pipe and exits
  t.false(existsSync(join(runDir, 'metrics.json')), 'the run was killed before finishing');

  const b = runSweep(sweepEnv(models, outB));
  t.is(b.status, 0, b.stderr);
  t.regex(b.stderr, /0 finished already, 2 to run/);
  const mb = JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8'));
  t.true(mb.resumedFromStep > 0, 'the killed run resumed from its checkpoint, not from scratch');
  t.deepEqual(sweepResults(outB), ra);

  // a third start finds everything finished
  const c = runSweep(sweepEnv(models, outB));
  t.is(c.status, 0, c.stderr);
  t.regex(c.stderr, /2 finished already, 0 to run/);
});

test('two sweeps on the same output folder: the second stops with a clear message', (t) => {
  const out = mkdtempSync(join(tmpdir(), 'kdqat-lock-'));
  const dir = join(out, 'testbert', 'rte');
  mkdirSync(dir, { recursive: true });
  // a run folder of another configuration: --force-new would move it aside, but not while another sweep holds the
  // folder
  const held = join(dir, 'map_s42');
  mkdirSync(held, { recursive: true });
  writeFileSync(
    join(held, 'config.json'),
    JSON.stringify({ configHash: '0000000000000000', identity: { mode: 'qat' } }),
  );
  const release = acquireLock(dir);
  try {
    const r = runSweep(sweepEnv(join(out, 'models'), out));
    t.is(r.status, 2);
    t.regex(r.stderr, /another sweep \(pid \d+, started .*\) is writing to/);
    const f = runSweep(sweepEnv(join(out, 'models'), out), [...SWEEP_ARGS, '--force-new']);
    t.is(f.status, 2);
    t.regex(f.stderr, /another sweep \(pid \d+, started .*\) is writing to/);
    t.true(existsSync(join(held, 'config.json')), 'nothing was moved aside in the locked folder');
    t.false(existsSync(join(dir, '.replaced')));
  } finally {
    release();
  }
  t.false(existsSync(join(dir, '.sweep.lock')));
});
