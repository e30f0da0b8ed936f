/**
 * Issue 21, points 5 and 6: finetune and qat end with the result (best and last dev metric; the student's beside the
 * teacher's); reports lead with the result columns; a teacher that learnt nothing (a single predicted class, or the
 * majority-class / chance level) is warned about in the terminal, in metrics.json and at the top of the report.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classCounts, teacherWarning } from '../src/train/teacher-health.js';
import { getTask } from '../src/data/tasks.js';
import { finetuneEnding, metricTable, qatEnding } from '../src/cli/summary.js';
import { writeTaskReport } from '../src/report/sweep-report.js';
import { initBackend } from '../src/backend/backend.js';
import { saveBertDir, loadBertDir } from '../src/model/checkpoint.js';
import { cli, sandbox } from './helpers/cli.js';
import { makeTeacherDir } from './helpers/teacher.js';

const rte = getTask('rte'),
  cola = getTask('cola'),
  stsb = getTask('sts-b');

test(
  'teacherWarning: a single predicted class, the majority-class level, MCC <= 0; none for a teacher that learnt ' +
    'something or for regression',
  (t) => {
    const labels = Int32Array.from([0, 0, 0, 1, 1, 0, 1, 0]); // majority 5/8
    t.deepEqual(classCounts(labels, 2), [5, 3]);
    t.regex(
      teacherWarning(rte, { acc: 0.625 }, [8, 0], labels) ?? '',
      /predicts a single class \("entailment"\) for all 8 dev examples/,
    );
    t.regex(
      teacherWarning(rte, { acc: 0.5 }, [4, 4], labels) ?? '',
      /dev accuracy 0\.5000 is at or below the majority-class level 0\.6250/,
    );
    t.regex(teacherWarning(rte, { acc: 0.625 }, [5, 3], labels) ?? '', /majority-class level/);
    t.is(teacherWarning(rte, { acc: 0.75 }, [4, 4], labels), null);
    t.regex(teacherWarning(cola, { mcc: 0 }, [4, 4], labels) ?? '', /MCC 0\.0000 is at chance level/);
    t.is(teacherWarning(cola, { mcc: 0.2 }, [4, 4], labels), null);
    t.is(teacherWarning(stsb, { pearson: 0, spearmanr: 0, corr: 0 }, undefined, Float32Array.from([1, 2])), null);
  },
);

test(
  "the endings: the student's best and last beside the teacher's, one row per metric, steps in the heads; " +
    'finetune says where',
  (t) => {
    const q = qatEnding(
      '/runs/x',
      {
        best: { step: 6, metrics: { acc: 0.61 } },
        last: { step: 12, metrics: { acc: 0.58 } },
        teacher: { metrics: { acc: 0.66 }, warning: 'w' },
      },
      'done in 1.0 s',
    );
    const lines = q.split('\n');
    t.is(lines[0], 'qat: done in 1.0 s; written to /runs/x');
    t.regex(lines[1], /^ {2}dev +student best \(step 6\) +student last \(step 12\) +teacher$/);
    t.regex(lines[2], /^ {2}acc +0\.6100 +0\.5800 +0\.6600$/);
    t.is(lines[3], '  WARNING: w');
    const f = finetuneEnding('/models/t', {
      best: { step: 3, metrics: { acc: 0.7, f1: 0.5 } },
      last: { step: 9, metrics: { acc: 0.6, f1: 0.4 } },
    }).split('\n');
    t.is(f[0], 'finetune: teacher saved to /models/t (metrics.json there)');
    t.regex(f[1], /best \(step 3\) +last \(step 9\)$/);
    t.regex(f[3], /^ {2}f1 +0\.5000 +0\.4000$/);
    t.is(f.length, 4, 'no warning line');
    t.is(metricTable([['best', null]]), '  (no dev evaluation)');
  },
);

test.serial(
  'report: result columns first in both tables; a teacher warning at the top of index.html and results.md',
  async (t) => {
    await initBackend('cpu', { quiet: true });
    const dir = mkdtempSync(join(tmpdir(), 'kdqat-health-report-'));
    const run = (name: string, seed: number, best: number, warning?: string) => {
      mkdirSync(join(dir, name), { recursive: true });
      writeFileSync(
        join(dir, name, 'metrics.json'),
        JSON.stringify({
          run: name,
          task: 'rte',
          seed,
          preset: 'map',
          coeffs: { map: 1, output: 1 },
          best: { step: 3, metrics: { acc: best } },
          last: { step: 6, metrics: { acc: best - 0.1 } },
          teacher: { dir: '/models/t', metrics: { acc: 0.5 }, ...(warning ? { warning } : {}) },
          wallTimeSec: 1,
          trainTokensPerSec: 1,
          steps: 6,
          provenance: { backend: 'cpu', git: { commit: 'x' } },
        }),
      );
    };
    run(
      'map_s1',
      1,
      0.6,
      'the teacher predicts a single class ("entailment") for all 24 dev examples: it has learnt nothing to distil',
    );
    run(
      'map_s2',
      2,
      0.7,
      'the teacher predicts a single class ("entailment") for all 24 dev examples: it has learnt nothing to distil',
    );
    const r = await writeTaskReport(dir, { title: 'rte (test)', task: 'rte' });
    t.is(
      readFileSync(r.csv, 'utf8').split('\n')[0].split(',').slice(0, 7).join(','),
      'run,best,last,teacher,gap,best_step,preset',
    );
    const md = readFileSync(r.md, 'utf8');
    t.regex(md, /^# rte \(test\): dev acc\n\n\*\*Warning:\*\* the teacher predicts a single class/);
    t.regex(
      md,
      new RegExp(
        /## Mean over seeds\n\n\|best_mean\|best_std\|best_min\|best_max\|/.source +
          /last_mean\|last_std\|last_min\|last_max\|teacher\|gap\|preset\|/.source,
      ),
    );
    const html = readFileSync(r.html, 'utf8');
    const w = html.indexOf('Warning:'),
      runs = html.indexOf('Runs');
    t.true(w > 0 && w < runs, 'the warning comes before the tables');
    t.is(html.split('predicts a single class').length - 1, 1, 'said once for the one teacher of both runs');
    t.regex(html, /runs: map_s1, map_s2\./);
  },
);

test.serial(
  'end to end: a teacher that always says "entailment": finetune and qat end with the table and the warning; ' +
    'metrics.json records it',
  async (t) => {
    t.timeout(480_000);
    await initBackend('cpu', { quiet: true });
    const sb = sandbox('kdqat-health-');
    const dir = join(sb.models, 'testbert', 'rte');
    await makeTeacherDir(dir);
    // a teacher whose classifier bias always wins: a single predicted class
    const m = loadBertDir(dir);
    const bias = m.params['classifier.bias'];
    t.deepEqual(bias.shape, [2]);
    await saveBertDir(
      dir,
      m.config,
      { ...m.params, 'classifier.bias': tf.tensor1d([50, -50]) },
      { kind: 'teacher', init: 'degenerate (test)' },
    );
    const args = [
      '--task',
      'rte',
      '--teacher',
      dir,
      '--preset',
      'output',
      '--train-limit',
      '16',
      '--eval-limit',
      '24',
      '--max-seq-len',
      '32',
      '--batch-size',
      '8',
      '--max-steps',
      '2',
      '--lr',
      '1e-3',
      '--backend',
      'cpu',
      '--run-dir',
      join(sb.out, 'q'),
    ];
    const q = cli('qat', args, sb.env);
    t.is(q.status, 0, q.stderr);
    t.regex(q.stderr, /WARNING: the teacher predicts a single class \("entailment"\) for all 24 dev examples/);
    t.regex(
      q.stderr,
      new RegExp(
        /qat: done in .*; written to \S+q\n/.source +
          / {2}dev +student best \(step \d+\) +student last \(step \d+\) +teacher\n/.source +
          / {2}acc +\d\.\d{4} +\d\.\d{4} +\d\.\d{4}\n {2}WARNING: /.source,
      ),
    );
    t.regex(JSON.parse(readFileSync(join(sb.out, 'q', 'metrics.json'), 'utf8')).teacher.warning, /single class/);

    const f = cli(
      'finetune',
      [
        '--task',
        'rte',
        '--bert',
        dir,
        '--out',
        join(sb.base, 'ft'),
        '--train-limit',
        '16',
        '--eval-limit',
        '24',
        '--max-seq-len',
        '32',
        '--batch-size',
        '8',
        '--max-steps',
        '2',
        '--backend',
        'cpu',
      ],
      sb.env,
    );
    t.is(f.status, 0, f.stderr);
    t.regex(
      f.stderr,
      new RegExp(
        /finetune: teacher saved to \S+ft \(metrics\.json there\)\n/.source +
          / {2}dev +best \(step \d+\) +last \(step \d+\)\n {2}acc +\d\.\d{4} +\d\.\d{4}/.source,
      ),
    );
    const fm = JSON.parse(readFileSync(join(sb.base, 'ft', 'metrics.json'), 'utf8'));
    t.is(f.stderr.includes('WARNING'), fm.warning !== undefined, 'the terminal and metrics.json agree');
  },
);
