/**
 * Run identity (issue 15): a run folder records its effective configuration and a hash of what changes results; a
 * finished or unfinished run of another configuration is never reused or resumed; a teacher or student of another
 * task is refused; the report tells recipes apart, keeps to one task and counts a seed once.
 */
import { createHash } from 'node:crypto';
import test from 'ava';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../src/backend/backend.js';
import { resolveRunConfig } from '../src/train/config.js';
import { checkModelForTask, checkRunDir, readModelInfo, runIdentity } from '../src/sweep/identity.js';
import { checkPlannedRuns, planRuns } from '../src/sweep/sweep.js';
import { qatIdentity } from '../src/sweep/runs.js';
import { collectRuns, seedSummary } from '../src/report/sweep-runs.js';
import { makeTeacherDir } from './helpers/teacher.js';
import { cli, sandbox } from './helpers/cli.js';

test.before(async () => {
  await initBackend('cpu', { quiet: true });
});

const SMALL = [
  '--task',
  'rte',
  '--eval-limit',
  '8',
  '--max-seq-len',
  '32',
  '--batch-size',
  '8',
  '--lr',
  '1e-3',
  '--preset',
  'map',
  '--backend',
  'cpu',
];

test(
  'qat: a finished run is reused only with the same configuration; another is refused with the differences, ' +
    '--force-new starts anew',
  async (t) => {
    const sb = sandbox('kdqat-id-');
    const teacher = join(sb.models, 'testbert', 'rte');
    await makeTeacherDir(teacher);
    const args = [...SMALL, '--teacher', teacher];
    const a = cli('qat', [...args, '--train-limit', '16', '--max-steps', '1'], sb.env);
    t.is(a.status, 0, a.stderr);
    const run = join(sb.out, 'testbert', 'rte', 'map_s42');
    const cfg = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'));
    // the effective values are recorded: the task default eval interval, the given length and batch
    t.is(cfg.data.maxSeqLen, 32);
    t.is(cfg.data.batchSize, 8);
    t.is(cfg.train.evalEvery, resolveRunConfig({ task: 'rte' }).train.evalEvery);
    t.true(Number.isInteger(cfg.train.evalEvery));
    t.regex(cfg.configHash, /^[0-9a-f]{16}$/);
    t.regex(cfg.identity.source, /^sha256:/);
    const m = JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8'));
    t.is(m.config.data.maxSeqLen, 32);
    t.is(m.configHash, cfg.configHash);

    const same = cli('qat', [...args, '--train-limit', '16', '--max-steps', '1'], sb.env);
    t.is(same.status, 0);
    t.regex(same.stderr, /complete already, with this configuration/);

    const other = cli('qat', [...args, '--train-limit', '24', '--epochs', '2', '--max-steps', '1'], sb.env);
    t.is(other.status, 2, other.stderr);
    t.regex(other.stderr, /holds a finished run of another configuration, which is neither reused nor resumed/);
    t.regex(other.stderr, /data\.trainLimit: 16 \(existing\) vs 24 \(this command\)/);
    t.regex(other.stderr, /train\.epochs: 3 \(existing\) vs 2 \(this command\)/);
    t.regex(other.stderr, /--force-new/);
    t.false(/\n\s+at /.test(other.stderr), 'no stack trace');

    const forced = cli(
      'qat',
      [...args, '--train-limit', '24', '--epochs', '2', '--max-steps', '1', '--force-new'],
      sb.env,
    );
    t.is(forced.status, 0, forced.stderr);
    t.is(JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')).data.trainLimit, 24);
    const replaced = readdirSync(join(sb.out, 'testbert', 'rte', '.replaced'));
    t.is(replaced.length, 1);
    t.is(
      JSON.parse(readFileSync(join(sb.out, 'testbert', 'rte', '.replaced', replaced[0], 'config.json'), 'utf8')).data
        .trainLimit,
      16,
    );
  },
);

test('an unfinished run of another configuration is neither resumed nor silently replaced', (t) => {
  const sb = sandbox('kdqat-id-');
  const dir = join(sb.out, 'run');
  const a = runIdentity(resolveRunConfig({ task: 'rte', data: { trainLimit: 64 } }), 'qat', 'sha256:aa');
  const b = runIdentity(
    resolveRunConfig({ task: 'rte', data: { trainLimit: 96 }, train: { epochs: 2 } }),
    'qat',
    'sha256:aa',
  );
  const c = runIdentity(resolveRunConfig({ task: 'rte', data: { trainLimit: 64 } }), 'qat', 'sha256:bb');
  t.is(checkRunDir(dir, a), 'new');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ configHash: a.hash, identity: a.identity }));
  t.is(checkRunDir(dir, a), 'unfinished');
  t.throws(() => checkRunDir(dir, b), {
    message: new RegExp(
      /an unfinished run of another configuration.*data\.trainLimit: 64 \(existing\) vs 96/.source +
        /.*train\.epochs: 3 \(existing\) vs 2/.source,
    ),
  });
  t.throws(
    () => checkRunDir(dir, c),
    { message: /source: "sha256:aa" \(existing\) vs "sha256:bb"/ },
    'another teacher is another run',
  );
  // a folder recorded before identities existed is not trusted either
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ mode: 'qat', task: 'rte' }));
  t.throws(() => checkRunDir(dir, a), { message: /without a configuration hash/ });
  // what does not change results does not change the identity; the task defaults are the same as stating them
  t.is(
    runIdentity(resolveRunConfig({ task: 'rte', data: { glueDir: '/x' }, train: { checkpointEvery: 7 } }), 'qat', 's')
      .hash,
    runIdentity(resolveRunConfig({ task: 'rte' }), 'qat', 's').hash,
  );
  const rte = resolveRunConfig({ task: 'rte' });
  t.is(
    runIdentity(resolveRunConfig({ task: 'rte', data: { maxSeqLen: rte.data.maxSeqLen } }), 'qat', 's').hash,
    runIdentity(resolveRunConfig({ task: 'rte' }), 'qat', 's').hash,
  );
});

test('sweep: runs of another configuration are refused before any work; a grid cannot name a run twice', async (t) => {
  const sb = sandbox('kdqat-id-');
  const teacher = join(sb.models, 'testbert', 'rte');
  await makeTeacherDir(teacher);
  const grid = { arms: [{ arm: 'a', preset: ['map', 'output'], seed: [42] }] };
  const out = join(sb.out, 'testbert', 'rte');
  const runs = planRuns(grid, resolveRunConfig({ task: 'rte', teacher, data: { trainLimit: 64 } }), out);
  t.deepEqual(checkPlannedRuns(runs, true, false, () => {}).pending.length, 2);
  mkdirSync(runs[0].dir, { recursive: true });
  const other = runIdentity(resolveRunConfig({ task: 'rte', teacher, data: { trainLimit: 256 } }), 'qat', 'x');
  writeFileSync(join(runs[0].dir, 'config.json'), JSON.stringify({ configHash: other.hash, identity: other.identity }));
  writeFileSync(join(runs[0].dir, 'metrics.json'), '{}');
  t.throws(() => checkPlannedRuns(runs, true, false, () => {}), {
    message: /1 of 2 runs are refused:[\s\S]*map_s42 holds a finished run of another configuration/,
  });
  t.throws(
    () => checkPlannedRuns(runs, false, false, () => {}),
    { message: /the teacher this sweep fine-tunes first/ },
    'a teacher still to be made is another teacher',
  );
  const said: string[] = [];
  mkdirSync(join(out, 'report'), { recursive: true });
  writeFileSync(join(out, 'report', 'index.html'), 'map_s42 of another configuration');
  t.is(checkPlannedRuns(runs, true, true, (s) => said.push(s)).pending.length, 2);
  t.regex(said.join('\n'), /moved to .*\.replaced/);
  t.false(existsSync(join(out, 'report')), 'a report showing the moved run is not left behind');
  t.regex(said.join('\n'), /report showed the moved run: removed/);
  // an unfinished run of the same configuration resumes, and says from which step
  const id = qatIdentity(runs[1].cfg);
  mkdirSync(join(runs[1].dir, 'state'), { recursive: true });
  writeFileSync(join(runs[1].dir, 'config.json'), JSON.stringify({ configHash: id.hash, identity: id.identity }));
  mkdirSync(join(runs[1].dir, 'state', 'ckpt-0000005'));
  writeFileSync(join(runs[1].dir, 'state', 'ckpt-0000005', 'state.safetensors'), 'x');
  writeFileSync(
    join(runs[1].dir, 'state', 'latest.json'),
    JSON.stringify({
      step: 5,
      dir: 'ckpt-0000005',
      bytes: 1,
      sha256: createHash('sha256').update('x').digest('hex'),
      previous: null,
    }),
  );
  said.length = 0;
  t.is(checkPlannedRuns(runs, true, false, (s) => said.push(s)).pending.length, 2);
  t.regex(said.join('\n'), /output_s42: unfinished, resumes from step 5/);
  t.throws(
    () =>
      planRuns(
        {
          arms: [
            { arm: 'a', preset: 'map' },
            { arm: 'b', preset: 'map', config: { train: { epochs: 1 } } },
          ],
        },
        resolveRunConfig({ task: 'rte', teacher }),
        out,
      ),
    { message: /two arms make run map_s42 with different configurations/ },
  );
});

test('a teacher or student of another task, label count or vocabulary is refused, naming both', async (t) => {
  const sb = sandbox('kdqat-id-');
  const rte = join(sb.models, 'rte'),
    three = join(sb.models, 'three'),
    student = join(sb.models, 'student');
  await makeTeacherDir(rte);
  writeFileSync(join(rte, 'kdqat.json'), JSON.stringify({ kind: 'teacher', task: 'rte' }));
  await makeTeacherDir(three, 3);
  const info = readModelInfo(rte);
  t.is(info.task, 'rte');
  t.notThrows(() => checkModelForTask(info, 'rte', 'teacher'));
  t.throws(() => checkModelForTask(info, 'cola', 'teacher'), {
    message: /the teacher .*rte was trained on rte, but the task of this command is cola/,
  });
  t.throws(() => checkModelForTask(readModelInfo(three), 'rte', 'teacher'), {
    message: /has 3 output label\(s\), but rte needs 2/,
  });
  // a student with another vocabulary than its teacher
  await makeTeacherDir(student);
  const cfg = JSON.parse(readFileSync(join(student, 'config.json'), 'utf8'));
  writeFileSync(join(student, 'config.json'), JSON.stringify({ ...cfg, vocab_size: cfg.vocab_size + 5 }));
  t.throws(() => checkModelForTask(readModelInfo(student), 'rte', 'student', info), {
    message: /vocabulary of \d+ pieces, the teacher .* one of \d+/,
  });
  // the command line: qat --task cola with an RTE teacher stops before training, exit 2
  const r = cli('qat', ['--task', 'cola', '--teacher', rte, '--max-steps', '1', '--backend', 'cpu'], sb.env);
  t.is(r.status, 2, r.stderr);
  t.regex(r.stderr, /trained on rte, but the task of this command is cola/);
  t.false(existsSync(join(sb.out, 'models', 'cola')));
});

function fakeRun(
  dir: string,
  run: string,
  o: { task?: string; seed?: number; trainLimit?: number | null; best: number; preset?: string },
): void {
  const cfg = resolveRunConfig({
    task: o.task ?? 'rte',
    seed: o.seed ?? 42,
    data: { trainLimit: o.trainLimit ?? null },
  });
  mkdirSync(join(dir, run), { recursive: true });
  writeFileSync(
    join(dir, run, 'metrics.json'),
    JSON.stringify({
      run,
      task: cfg.task,
      seed: cfg.seed,
      preset: o.preset ?? 'map',
      coeffs: { map: 1, output: 0 },
      config: cfg,
      best: { step: 10, metrics: { acc: o.best, mcc: o.best } },
      last: { step: 12, metrics: { acc: o.best, mcc: o.best } },
      teacher: { metrics: { acc: 0.6, mcc: 0.2 } },
      wallTimeSec: 1,
      trainTokensPerSec: 1,
      steps: 12,
      provenance: { backend: 'cpu', git: { commit: 'x' } },
    }),
  );
}

test('the report: recipe columns, one task, a seed counted once', (t) => {
  const sb = sandbox('kdqat-rep-');
  const dir = join(sb.out, 'runs');
  fakeRun(dir, 'map_s42', { best: 0.5 });
  fakeRun(dir, 'map_s42_again', { best: 0.7 });
  fakeRun(dir, 'map_s43', { seed: 43, best: 0.9 });
  fakeRun(dir, 'map_s42_smoke', { trainLimit: 256, best: 0.1 });
  fakeRun(dir, 'cola_map_s42', { task: 'cola', best: 0.3 });
  t.throws(() => collectRuns(dir), { message: /holds runs of several tasks \(cola, rte\)/ });
  const { rows, notes } = collectRuns(dir, 'rte');
  t.is(rows.length, 4);
  t.regex(notes.join(' '), /1 run\(s\) of another task left out: cola_map_s42 \(cola\)/);
  for (const c of ['train_limit', 'eval_limit', 'epochs', 'max_steps', 'steps', 'max_seq_len', 'batch', 'lr'])
    t.true(c in rows[0], c);
  const s = seedSummary(rows);
  t.is(s.summary.length, 2, 'the smoke recipe is its own group');
  const full = s.summary.find((r) => r.train_limit === 'all')!;
  t.is(full.seeds, 2);
  t.is(full.runs, 3);
  t.is(full.best_mean, (0.6 + 0.9) / 2, 'seed 42 averaged first, then over seeds');
  t.regex(
    s.notes.join(' '),
    /map_s42, map_s42_again have the same configuration and seed 42: averaged into one value, counted as one seed/,
  );
  const smoke = s.summary.find((r) => r.train_limit === 256)!;
  t.is(smoke.seeds, 1);
  t.is(smoke.best_mean, 0.1);
});

test('finetune records the effective configuration without KD settings, and keeps an existing teacher', (t) => {
  const sb = sandbox('kdqat-ft-');
  const args = [
    '--task',
    'rte',
    '--bert',
    'tiny',
    '--train-limit',
    '16',
    '--eval-limit',
    '8',
    '--max-seq-len',
    '32',
    '--batch-size',
    '8',
    '--max-steps',
    '1',
    '--backend',
    'cpu',
  ];
  const a = cli('finetune', args, sb.env);
  t.is(a.status, 0, a.stderr);
  const dir = join(sb.models, 'tiny', 'rte');
  const prov = JSON.parse(readFileSync(join(dir, 'kdqat.json'), 'utf8'));
  t.is(prov.task, 'rte');
  t.false('kd' in prov.config || 'quant' in prov.config, 'no KD preset or quantizer in a teacher');
  t.is(prov.config.data.maxSeqLen, 32);
  t.is(prov.config.train.lr, 1e-4, 'from scratch: the scratch learning rate, as --help says');
  t.true(Number.isInteger(prov.config.train.evalEvery));
  const m = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8'));
  t.false('kd' in m.config);
  const again = cli('finetune', args, sb.env);
  t.is(again.status, 2);
  t.regex(again.stderr, /holds a teacher already; it is kept/);
  t.is(
    JSON.parse(readFileSync(join(dir, 'kdqat.json'), 'utf8')).metrics.wallTimeSec,
    prov.metrics.wallTimeSec,
    'the first teacher is untouched',
  );
});
