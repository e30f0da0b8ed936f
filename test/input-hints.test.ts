/**
 * Issue 22 (6): where a user points a command at the wrong folder, the error names it: a GLUE_DIR or --data-dir that
 * does not exist (no silent fall-through to data/glue and a download), a --data-dir that is a task folder, a report
 * --dir that is a sweep's --out (its runs are in <out>/<task>/).
 */
import test from 'ava';
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, sandbox, snapshot } from './helpers/cli.js';
import { GLUE_DIR, ROOT } from './helpers/env.js';

const ARGS = ['--task', 'rte', '--bert', 'tiny', '--max-steps', '1', '--backend', 'cpu'];

test('a GLUE_DIR or --data-dir that does not exist: exit 2, one line naming it; nothing downloaded or written', (t) => {
  const sb = sandbox('kdqat-hints-');
  const missing = join(sb.base, 'no-such-glue');
  const local = join(ROOT, 'data', 'glue');
  const before = existsSync(local) ? snapshot(local) : null;
  let r = cli('finetune', [...ARGS, '--out', join(sb.base, 't')], { ...sb.env, GLUE_DIR: missing });
  t.is(r.status, 2, r.stderr);
  t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  t.regex(r.stderr, new RegExp(`GLUE_DIR=${missing}: ${missing} does not exist`));
  r = cli('finetune', [...ARGS, '--out', join(sb.base, 't'), '--data-dir', missing], sb.env);
  t.is(r.status, 2, r.stderr);
  t.regex(r.stderr, new RegExp(`--data-dir ${missing}: ${missing} does not exist`));
  t.false(existsSync(join(sb.base, 't')));
  t.deepEqual(existsSync(local) ? snapshot(local) : null, before, 'nothing fetched into data/glue');
});

test('a --data-dir pointed at a task folder gets a hint naming the folder to give instead', (t) => {
  const sb = sandbox('kdqat-hints-');
  const r = cli('finetune', [...ARGS, '--out', join(sb.base, 't'), '--data-dir', join(GLUE_DIR, 'RTE')], sb.env);
  t.is(r.status, 2, r.stderr);
  t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  t.regex(
    r.stderr,
    new RegExp(
      `looks like a task folder \\(it is named RTE\\); point it at the GLUE folder holding the task folders, ` +
        `e\\.g\\. ${GLUE_DIR}`,
    ),
  );
  // a folder of another name holding train.tsv / dev.tsv itself
  const flat = join(sb.base, 'rte-data');
  mkdirSync(flat);
  cpSync(join(GLUE_DIR, 'RTE', 'dev.tsv'), join(flat, 'dev.tsv'));
  const f = cli('finetune', [...ARGS, '--out', join(sb.base, 't'), '--data-dir', flat], sb.env);
  t.is(f.status, 2, f.stderr);
  t.regex(f.stderr, /looks like a task folder \(it holds train\.tsv\/dev\.tsv\)/);
});

test("report --dir at a sweep's --out folder names the task folder inside it", (t) => {
  const sb = sandbox('kdqat-hints-');
  const out = join(sb.base, 'smoke');
  const run = join(out, 'rte', 'map_s42');
  mkdirSync(run, { recursive: true });
  writeFileSync(
    join(run, 'metrics.json'),
    JSON.stringify({
      task: 'rte',
      run: 'map_s42',
      preset: 'map',
      coeffs: { map: 1, output: 1 },
      seed: 42,
      best: { step: 1, metrics: { acc: 0.5 }, selection: 0.5 },
      last: null,
      steps: 1,
      teacher: { metrics: { acc: 0.6 } },
      wallTimeSec: 1,
      trainTokensPerSec: 1,
    }),
  );
  const r = cli('report', ['--dir', out], sb.env);
  t.is(r.status, 2, r.stderr);
  t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  t.regex(
    r.stderr,
    new RegExp(
      `looks like a sweep's --out folder: its runs are in ${join(out, 'rte')} \\(pass --dir ${join(out, 'rte')}\\)`,
    ),
  );
});
