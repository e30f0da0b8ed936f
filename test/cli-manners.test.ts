/**
 * CLI manners of every command (issues 14 and 15): --help / -h print the help and do nothing else; an unknown flag
 * is one line with the closest known flag; flags of another command are errors; every value is validated before
 * any work; user errors exit 2 without a stack trace.
 */
import test from 'ava';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers/env.js';
import { cli, sandbox, snapshot } from './helpers/cli.js';
import { jobsFlag, parseFlags, TRAIN_FLAGS } from '../src/cli/common.js';
import { closest, editDistance } from '../src/util/errors.js';
import { makeTeacherDir } from './helpers/teacher.js';

const COMMANDS = [
  'qat',
  'finetune',
  'sweep',
  'report',
  'analyze',
  'bench',
  'verify',
  'glue:download',
  'export',
  'benchmark',
];
const noStack = (s: string) => !/\n\s+at /.test(s);

test('--help and -h print the help of every command and do nothing else', (t) => {
  const sb = sandbox();
  const watched = () => ({
    ...snapshot(sb.base),
    ...snapshot(join(ROOT, 'bench-results')),
    ...snapshot(join(ROOT, 'output')),
    ...snapshot(join(ROOT, 'models')),
  });
  const before = watched();
  for (const cmd of COMMANDS) {
    for (const args of [['--help'], ['--task', 'rte', '-h']]) {
      const r = cli(cmd, args, sb.env, sb.base);
      t.is(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
      t.regex(r.stdout, /^usage: npm run /, cmd);
      t.regex(r.stdout, /-h, --help/, cmd);
    }
  }
  t.deepEqual(watched(), before, 'no file was written or touched');
});

test('a misspelt flag is one line naming the closest flag and the help, exit 2, on every training command', (t) => {
  const sb = sandbox();
  for (const cmd of ['qat', 'finetune', 'sweep']) {
    const r = cli(cmd, ['--task', 'rte', '--trian-limit', '10'], sb.env);
    t.is(r.status, 2, cmd);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    t.regex(
      r.stderr,
      new RegExp(
        `^${cmd}: unknown flag --trian-limit; did you mean --train-limit\\? \\(npm run ${cmd} -- --help lists the ` +
          `flags\\)`,
      ),
    );
  }
  const b = cli('bench', ['--bogus'], sb.env, sb.base);
  t.is(b.status, 2);
  t.regex(b.stderr, /unknown flag --bogus/);
  t.false(existsSync(join(sb.base, 'bench-results')), 'bench --bogus ran nothing');
});

test('the suggestion function and the parser', (t) => {
  t.is(closest('lrr', ['lr', 'dir', 'seed']), 'lr');
  t.is(closest('epoch', ['epochs', 'eval-every']), 'epochs');
  t.is(closest('bacth-size', Object.keys(TRAIN_FLAGS)), 'batch-size');
  t.is(closest('zzz', ['lr', 'dir']), undefined);
  t.is(closest('onyl', ['only', 'dry-run']), 'only', 'two swapped letters are one typo');
  t.is(editDistance('onyl', 'only'), 1);
  t.is(editDistance('kitten', 'sitting'), 3);
  t.throws(() => parseFlags(TRAIN_FLAGS, 'npm run x -- ...', ['--task', 'rte', 'extra']), {
    message: /unexpected argument "extra"/,
  });
  t.throws(() => parseFlags(TRAIN_FLAGS, 'npm run x -- ...', ['--lr']), { message: /--lr/ });
  t.throws(() => parseFlags(TRAIN_FLAGS, 'npm run x -- ...', ['--weight-bits', '4'], { 'weight-bits': 'QAT only' }), {
    message: /--weight-bits does not apply to x: QAT only/,
  });
  t.deepEqual(parseFlags(TRAIN_FLAGS, 'npm run x -- ...', ['--task', 'rte', '--dynamic-padding']), {
    task: 'rte',
    'dynamic-padding': true,
  });
});

test('--jobs above the core count warns', (t) => {
  const said: string[] = [];
  t.is(
    jobsFlag({ jobs: '4096' }, (s) => said.push(s)),
    4096,
  );
  t.regex(said.join(''), /--jobs 4096 is more than the \d+ cores/);
  said.length = 0;
  t.is(
    jobsFlag({}, (s) => said.push(s)),
    undefined,
  );
  t.deepEqual(said, []);
  t.throws(() => jobsFlag({ jobs: '0' }), { message: /at least 1/ });
});

test('every value is validated before any work: sweep --lr abc fine-tunes no teacher', (t) => {
  const sb = sandbox();
  const r = cli('sweep', ['--task', 'cola', '--lr', 'abc'], sb.env);
  t.is(r.status, 2, r.stderr);
  t.regex(r.stderr, /--lr must be a number > 0, got "abc"/);
  t.true(noStack(r.stderr));
  t.false(existsSync(sb.models), 'no teacher was fine-tuned');
  const bad = join(sb.base, 'bad.json');
  writeFileSync(bad, JSON.stringify({ train: { lrr: 1 } }));
  const c = cli('sweep', ['--task', 'cola', '--config', bad], sb.env);
  t.is(c.status, 2);
  t.regex(c.stderr, /unknown config key "train\.lrr"; did you mean train\.lr\?/);
  t.false(existsSync(sb.models));
});

test('user errors exit 2 with one message and no stack trace', (t) => {
  const sb = sandbox();
  const rep = cli('report', ['--task', 'cola'], sb.env);
  t.is(rep.status, 2);
  t.regex(rep.stderr, /no finished runs of cola/);
  t.true(noStack(rep.stderr), rep.stderr);
  const q = cli('qat', ['--task', 'rte', '--teacher', join(sb.base, 'nothing-here')], sb.env);
  t.is(q.status, 2);
  t.regex(q.stderr, /is not a model folder/);
  t.true(noStack(q.stderr), q.stderr);
  const v = cli('verify', ['--fixtures', join(sb.base, 'none')], sb.env);
  t.is(v.status, 2);
  t.regex(v.stderr, /does not exist/);
  const bk = cli('sweep', ['--task', 'cola', '--backend', 'abacus'], sb.env);
  t.is(bk.status, 2);
  t.regex(bk.stderr, /unknown backend "abacus"/);
  t.true(noStack(bk.stderr), bk.stderr);
});

test('finetune: QAT-only flags and config sections are errors; an existing teacher is kept', async (t) => {
  const sb = sandbox();
  for (const flag of [['--weight-bits', '4'], ['--gt-regression-labels']]) {
    const r = cli('finetune', ['--task', 'rte', '--bert', 'tiny', ...flag], sb.env);
    t.is(r.status, 2);
    t.regex(r.stderr, new RegExp(`${flag[0]} does not apply to finetune`));
  }
  const cfg = join(sb.base, 'kd.json');
  writeFileSync(cfg, JSON.stringify({ kd: { preset: 'map' } }));
  const k = cli('finetune', ['--task', 'rte', '--bert', 'tiny', '--config', cfg], sb.env);
  t.is(k.status, 2);
  t.regex(k.stderr, /"kd" settings do not apply to a teacher fine-tuning/);
  const tdir = join(sb.models, 'tiny', 'rte');
  mkdirSync(tdir, { recursive: true });
  await makeTeacherDir(tdir);
  const before = snapshot(tdir);
  const r = cli('finetune', ['--task', 'rte', '--bert', 'tiny', '--max-steps', '1'], sb.env);
  t.is(r.status, 2);
  t.regex(r.stderr, /holds a teacher already; it is kept\. Pass --overwrite/);
  t.deepEqual(snapshot(tdir), before);
  t.regex(
    cli('finetune', ['--help'], sb.env).stdout,
    /--lr\s+peak learning rate \(default 1e-4 for a preset trained from scratch, 2e-5 from pretrained weights\)/,
  );
  t.regex(readFileSync(join(ROOT, '.gitignore'), 'utf8'), /^\/bench-results\/history\/$/m);
});
