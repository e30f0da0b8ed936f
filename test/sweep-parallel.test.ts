import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/backend/backend.js';
import {
  bertParameters,
  defaultParallelism,
  describeParallelism,
  passiveOpenMpWait,
  runMemoryEstimate,
  sweepMemoryBudget,
  sweepParallelism,
} from '../src/sweep/parallelism.js';
import { makeTeacherDir } from './helpers/teacher.js';
import { runSweep, sweepEnv, SWEEP_ARGS } from './helpers/sweep.js';

const GiB = 2 ** 30;

test('one single-threaded run per core, no more runs than there are, the cores shared out among them', (t) => {
  t.deepEqual(defaultParallelism(2, 4), { jobs: 2, threads: 1 });
  t.deepEqual(defaultParallelism(2, 2), { jobs: 2, threads: 1 });
  t.deepEqual(defaultParallelism(2, 1), { jobs: 1, threads: 2 });
  t.deepEqual(defaultParallelism(8, 4), { jobs: 4, threads: 2 });
  t.deepEqual(defaultParallelism(8, 3), { jobs: 3, threads: 2 });
  t.deepEqual(defaultParallelism(1, 4), { jobs: 1, threads: 1 });
  t.deepEqual(defaultParallelism(2, 0), { jobs: 1, threads: 2 });
});

test('memory caps the runs at a time', (t) => {
  t.deepEqual(defaultParallelism(2, 4, { availableBytes: 22 * GiB, perRunBytes: 13 * GiB }), {
    jobs: 1,
    threads: 2,
    memoryCapped: 2,
  });
  t.deepEqual(defaultParallelism(8, 8, { availableBytes: 22 * GiB, perRunBytes: 5 * GiB }), {
    jobs: 4,
    threads: 2,
    memoryCapped: 8,
  });
  // even when one run does not fit, one runs (it says so itself if it cannot)
  t.is(defaultParallelism(2, 4, { availableBytes: 1 * GiB, perRunBytes: 13 * GiB }).jobs, 1);
  t.deepEqual(defaultParallelism(2, 4, { availableBytes: 22 * GiB, perRunBytes: 1 * GiB }), { jobs: 2, threads: 1 });
});

test('the estimate: two BERT-base runs do not fit in 24 GiB, tiny runs do', (t) => {
  const base = bertParameters({ vocab: 30522, layers: 12, hidden: 768, ff: 3072, positions: 512 });
  t.true(base > 105e6 && base < 115e6, `${base}`);
  t.true(runMemoryEstimate(base) > 11 * GiB);
  t.is(defaultParallelism(2, 4, { availableBytes: 23 * GiB, perRunBytes: runMemoryEstimate(base) }).jobs, 1);
  const tiny = sweepMemoryBudget('tiny', []);
  t.truthy(tiny);
  t.true(tiny!.perRunBytes < 2 * GiB);
  t.is(sweepMemoryBudget('no-such-model', [join(tmpdir(), 'no-such-dir')]), undefined);
});

test('explicit --jobs/--threads win', (t) => {
  t.deepEqual(sweepParallelism({ jobs: 1 }, 2, 4), { jobs: 1, threads: 2 });
  t.deepEqual(sweepParallelism({ jobs: 2 }, 8, 4), { jobs: 2, threads: 1 });
  t.deepEqual(sweepParallelism({ jobs: 3, threads: 2 }, 2, 4), { jobs: 3, threads: 2 });
  t.deepEqual(sweepParallelism({ threads: 2 }, 2, 4), { jobs: 1, threads: 2 });
  t.deepEqual(sweepParallelism({ threads: 1 }, 2, 4), { jobs: 2, threads: 1 });
  t.deepEqual(sweepParallelism({}, 2, 4), { jobs: 2, threads: 1 });
});

test('the choice line', (t) => {
  t.is(
    describeParallelism({ jobs: 2, threads: 1 }, 2, false),
    'sweep: parallel: 2 runs at a time x 1 thread (2 cores); --jobs/--threads to change',
  );
  t.is(
    describeParallelism({ jobs: 1, threads: 2 }, 2, true),
    'sweep: parallel: 1 run at a time x 2 threads (2 cores); from --jobs/--threads',
  );
  t.regex(
    describeParallelism({ jobs: 1, threads: 2, memoryCapped: 2 }, 2, false, {
      availableBytes: 22 * GiB,
      perRunBytes: 13 * GiB,
    }),
    /\(2 cores; memory: ~13\.0 GiB a run, 22\.0 GiB available\)/,
  );
});

test('OpenMP threads wait passively in a sweep unless the user chose a wait policy', (t) => {
  const env: NodeJS.ProcessEnv = {};
  t.true(passiveOpenMpWait(env));
  t.is(env.OMP_WAIT_POLICY, 'PASSIVE');
  const active: NodeJS.ProcessEnv = { OMP_WAIT_POLICY: 'ACTIVE' };
  t.false(passiveOpenMpWait(active));
  t.is(active.OMP_WAIT_POLICY, 'ACTIVE');
  const spin: NodeJS.ProcessEnv = { GOMP_SPINCOUNT: '10000' };
  t.false(passiveOpenMpWait(spin));
  t.is(spin.OMP_WAIT_POLICY, undefined);
});

test('a sweep prints its choice once, and not when nothing is left to run', async (t) => {
  await initBackend('cpu', { quiet: true });
  const base = mkdtempSync(join(tmpdir(), 'kdqat-par-'));
  const models = join(base, 'models');
  await makeTeacherDir(join(models, 'testbert', 'rte'));
  const env = sweepEnv(models, join(base, 'out'));
  delete env.KDQAT_THREADS;
  const a = runSweep(env);
  t.is(a.status, 0, a.stderr);
  const lines = a.stderr.split('\n').filter((l) => l.startsWith('sweep: parallel:'));
  const cores = availableParallelism();
  const want = defaultParallelism(cores, 2);
  t.deepEqual(lines, [describeParallelism(want, cores, false)]);
  t.regex(a.stderr, new RegExp(`2 to run \\(${want.jobs} at a time`));
  const b = runSweep(env, [...SWEEP_ARGS, '--jobs', '1']);
  t.is(b.status, 0, b.stderr);
  t.regex(b.stderr, /2 finished already, 0 to run/);
  t.notRegex(b.stderr, /sweep: parallel:/);
});
