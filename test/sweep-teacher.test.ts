/**
 * Issue 22 (3): a sweep says the teacher it distils from (path, recipe, dev metric), and refuses one fine-tuned
 * with a reduced recipe relative to its own (train limit, epochs, step cap), naming the difference, before any
 * work, unless --teacher-ok.
 */
import test from 'ava';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, sandbox, snapshot } from './helpers/cli.js';

// a tiny teacher fine-tuned (from scratch) by the first sweep, then the smoke grid; every run capped at 2 steps
const COMMON = [
  '--task',
  'rte',
  '--bert',
  'tiny',
  '--grid',
  'smoke',
  '--eval-limit',
  '16',
  '--max-seq-len',
  '32',
  '--batch-size',
  '8',
  '--max-steps',
  '2',
  '--no-report',
  '--backend',
  'cpu',
];

test(
  'sweep --train-limit 64 --epochs 1, then a sweep of the full recipe with --force-new: the reduced teacher is ' +
    'named and refused before any work; --teacher-ok distils from it, said',
  (t) => {
    const sb = sandbox('kdqat-sweep-teacher-');
    const first = cli('sweep', [...COMMON, '--train-limit', '64', '--epochs', '1'], sb.env);
    t.is(first.status, 0, first.stderr);
    const teacher = join(sb.models, 'tiny', 'rte');
    t.true(existsSync(join(teacher, 'model.safetensors')));
    const runs = join(sb.out, 'tiny', 'rte');
    t.deepEqual(
      readdirSync(runs)
        .filter((d) => existsSync(join(runs, d, 'metrics.json')))
        .sort(),
      ['map_s42', 'output_s42'],
    );

    // the same sweep again: the teacher is said (path, recipe, dev metric) and accepted (not reduced relative to it)
    const same = cli('sweep', [...COMMON, '--train-limit', '64', '--epochs', '1'], sb.env);
    t.is(same.status, 0, same.stderr);
    const dev = (JSON.parse(readFileSync(join(teacher, 'metrics.json'), 'utf8')).best.metrics.acc as number).toFixed(4);
    t.regex(
      same.stderr,
      new RegExp(
        `sweep rte: teacher ${teacher} \\(fine-tuned with train limit 64, epochs 1, max steps 2, lr [^;]*; dev acc ` +
          `${Number(dev)}\\)`,
      ),
    );
    t.notRegex(same.stderr, /reduced recipe/);

    // the full recipe (all examples, the default epochs) with --force-new: refused, one line, nothing moved or trained
    const before = snapshot(sb.base);
    const full = cli('sweep', [...COMMON, '--force-new'], sb.env);
    t.is(full.status, 2, full.stderr);
    const lines = full.stderr
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('[kdqat]') && !l.startsWith('sweep rte: teacher '));
    t.is(lines.length, 1, full.stderr);
    t.regex(
      lines[0],
      new RegExp(
        /the teacher .*tiny\/rte was fine-tuned with a reduced recipe: /.source +
          /train limit 64 \(this sweep: none, all examples\); epochs 1 \(this sweep: 3\)\. Pass --teacher-ok/.source,
      ),
    );
    t.false(existsSync(join(runs, '.replaced')), 'no run folder moved aside');
    t.deepEqual(snapshot(sb.base), before, 'nothing written');

    // --teacher-ok: distils from it, with a warning naming the difference
    const ok = cli('sweep', [...COMMON, '--force-new', '--teacher-ok'], sb.env);
    t.is(ok.status, 0, ok.stderr);
    t.regex(
      ok.stderr,
      new RegExp(
        /warning: distilling from a teacher of reduced recipe /.source +
          /\(train limit 64 \(this sweep: none, all examples\); epochs 1 \(this sweep: 3\)\)/.source,
      ),
    );
    t.true(existsSync(join(runs, '.replaced')));
  },
);
