/**
 * Issue 22, "the student you export is the student you scored": a KD-QAT run keeps student/ (the best evaluation's
 * weights) and student-last/ (the final weights), each with the evaluation that scored it; restore, export,
 * benchmark and analyze take the best by default and reproduce its metric to every digit (same machine, backend,
 * evaluation batch); a run folder made before (student/ only, unscored) still counts as finished and is accepted.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../src/backend/backend.js';
import { restore } from '../src/api/index.js';
import { evaluate } from '../src/train/evaluate.js';
import { loadGlueSplit } from '../src/data/glue.js';
import { loadTokenizer } from '../src/data/tokenizer.js';
import { getTask } from '../src/data/tasks.js';
import { loadExportedModel } from '../src/export/packed-model.js';
import type { StudentScore } from '../src/distill/students.js';
import { makeTeacherDir } from './helpers/teacher.js';
import { cli, sandbox } from './helpers/cli.js';
import { GLUE_DIR } from './helpers/env.js';

test.before(async () => {
  await initBackend('cpu', { quiet: true });
});

const task = getTask('sts-b'); // a regression task: its correlations have many digits to compare
// 12 steps, evaluations at 3, 6, 9, 11 (the reference's t_total - 1) and 12: the best is not the last
const ARGS = [
  '--task',
  'sts-b',
  '--eval-limit',
  '24',
  '--max-seq-len',
  '32',
  '--batch-size',
  '8',
  '--lr',
  '1e-3',
  '--preset',
  'map',
  '--train-limit',
  '48',
  '--epochs',
  '2',
  '--eval-every',
  '3',
  '--backend',
  'cpu',
];

interface Rec {
  step: number;
  metrics: Record<string, number>;
  selection: number;
}
const kdqatJson = (dir: string) =>
  JSON.parse(readFileSync(join(dir, 'kdqat.json'), 'utf8')) as { scored?: StudentScore };

/** the run's dev set as the run evaluated it */
function devOf(teacher: string, s: StudentScore) {
  return loadGlueSplit({
    task,
    split: 'dev',
    tokenizer: loadTokenizer(join(teacher, 'vocab.txt')),
    glueDir: GLUE_DIR,
    maxSeqLen: s.eval.maxSeqLen,
    limit: s.eval.evalLimit ?? undefined,
  }).features;
}

test(
  'a run keeps its best and last students, each scored; restore, export + the packed model, benchmark and analyze ' +
    'reproduce the best dev metric to every digit',
  async (t) => {
    const sb = sandbox('kdqat-students-');
    const teacher = join(sb.models, 'testbert', 'sts-b');
    await makeTeacherDir(teacher, 1);
    const r = cli('qat', [...ARGS, '--teacher', teacher], sb.env);
    t.is(r.status, 0, r.stderr);
    const run = join(sb.out, 'testbert', 'sts-b', 'map_s42');
    const m = JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8')) as {
      best: Rec;
      last: Rec;
      final: Rec;
      steps: number;
      students: Record<string, StudentScore & { dir: string }>;
    };

    // the reference's best/last selection as before; the final weights scored once more, outside it
    const evals = readFileSync(join(run, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((e) => e.eval);
    t.deepEqual(
      evals.map((e) => e.step),
      [3, 6, 9, 11, 12],
    );
    t.is(m.best.selection, Math.max(...evals.map((e) => e.selection)));
    t.is(m.last.step, 12);
    t.is(m.final.step, m.steps);
    t.not(
      m.best.step,
      m.final.step,
      "this recipe's best evaluation is not its final step (else best and last would not be told apart)",
    );

    // each student with the evaluation that scored it
    const best = kdqatJson(join(run, 'student')).scored!,
      last = kdqatJson(join(run, 'student-last')).scored!;
    t.deepEqual(
      [best.which, best.step, best.metrics, best.selection],
      ['best', m.best.step, m.best.metrics, m.best.selection],
    );
    t.deepEqual([last.which, last.step, last.metrics], ['last', m.final.step, m.final.metrics]);
    t.deepEqual(best.eval, {
      split: 'dev',
      batchSize: 8,
      maxSeqLen: 32,
      evalLimit: 24,
      dynamicPadding: false,
      examples: 24,
    });
    t.deepEqual(m.students.best.metrics, m.best.metrics);

    // restore(run) = the best weights: evaluated the run's way, the same metrics to every digit; 'last' = the final
    // weights
    const dev = devOf(teacher, best);
    const logs: string[] = [];
    for (const [which, want] of [
      ['best', m.best.metrics],
      ['last', m.final.metrics],
    ] as const) {
      const s = restore(run, { which, log: (x) => logs.push(x) });
      t.is(s.score?.which, which);
      const ev = await evaluate(s.params, s.model, dev, task, best.eval.batchSize, s.hooks);
      t.deepEqual(ev.metrics, want, which);
      tf.dispose(Object.values(s.params));
    }
    t.regex(logs[0], new RegExp(`best student \\(step ${m.best.step}\\): dev corr ${m.best.metrics.corr}`));
    // the student's own model.safetensors (a CLI-written student, not a save() file) opens too
    const viaFile = restore(join(run, 'student', 'model.safetensors'), { log: () => {} });
    t.is(viaFile.score?.step, m.best.step);
    tf.dispose(Object.values(viaFile.params));

    // export takes the run folder (the best by default) and says what the exported weights scored
    const ex = cli('export', ['--student', run, '--backend', 'cpu'], sb.env);
    t.is(ex.status, 0, ex.stderr);
    t.regex(
      ex.stdout,
      new RegExp(`exported the best student \\(step ${m.best.step}\\): dev corr ${m.best.metrics.corr} `),
    );
    const packed = loadExportedModel(join(run, 'export'));
    t.deepEqual(
      (await evaluate(packed.params, packed.config, dev, task, best.eval.batchSize, packed.hooks)).metrics,
      m.best.metrics,
      'the packed model scores what its run scored',
    );
    packed.dispose();
    const exl = cli('export', ['--student', run, '--which', 'last', '--backend', 'cpu'], sb.env);
    t.is(exl.status, 0, exl.stderr);
    t.true(existsSync(join(run, 'export-last', 'model.safetensors')));
    t.regex(exl.stdout, /exported the last student/);

    // benchmark: the student's row at its run's evaluation settings (the defaults) = the run's best metric
    const bench = join(sb.base, 'bench');
    const b = cli(
      'benchmark',
      [
        '--task',
        'sts-b',
        '--teacher',
        teacher,
        '--students',
        run,
        '--out',
        bench,
        '--reps',
        '1',
        '--warmup',
        '1',
        '--throughput-reps',
        '1',
        '--backend',
        'cpu',
      ],
      sb.env,
    );
    t.is(b.status, 0, b.stderr);
    const rows = JSON.parse(readFileSync(join(bench, 'benchmark.json'), 'utf8')).rows as {
      model: string;
      value: number;
      run_value: number | null;
      eval_batch: number;
    }[];
    const row = rows.find((x) => x.model === 'KD-QAT map_s42')!;
    t.is(row.value, m.best.metrics.corr);
    t.is(row.run_value, m.best.metrics.corr);
    t.is(row.eval_batch, 8);
    t.notRegex(b.stderr, /make its metric differ/);
    // another batch: said, with the run's own metric beside
    const b2 = cli(
      'benchmark',
      [
        '--task',
        'sts-b',
        '--teacher',
        teacher,
        '--students',
        run,
        '--out',
        join(sb.base, 'bench2'),
        '--eval-batch',
        '5',
        '--reps',
        '1',
        '--warmup',
        '1',
        '--throughput-reps',
        '1',
        '--backend',
        'cpu',
      ],
      sb.env,
    );
    t.is(b2.status, 0, b2.stderr);
    t.regex(
      b2.stderr,
      new RegExp(
        `evaluated at batch 5 \\(its run: 8\\): dynamic activation scales make its metric differ from its run's own, ` +
          `corr ${m.best.metrics.corr}`,
      ),
    );

    // analyze records the metric of the student it analyses (the best by default)
    const an = join(sb.base, 'analysis');
    const a = cli(
      'analyze',
      [
        '--task',
        'sts-b',
        '--teacher',
        teacher,
        '--students',
        run,
        '--exp',
        'range',
        '--examples',
        '2',
        '--no-plots',
        '--data-dir',
        GLUE_DIR,
        '--out',
        an,
        '--backend',
        'cpu',
      ],
      sb.env,
    );
    t.is(a.status, 0, a.stderr);
    const res = JSON.parse(readFileSync(join(an, 'results.json'), 'utf8'));
    const st = res.meta.models.find((x: { role: string }) => x.role === 'student');
    t.deepEqual(st.score.metrics, m.best.metrics);
    t.is(st.score.selection, m.best.selection);
    t.regex(
      a.stderr,
      new RegExp(`map_s42: the best student \\(step ${m.best.step}\\): dev corr ${m.best.metrics.corr}`),
    );
  },
);

test(
  'a run folder made before kept students (student/ = final weights, unscored, no student-last/) still counts as ' +
    'finished and is accepted, said',
  async (t) => {
    const sb = sandbox('kdqat-students-old-');
    const teacher = join(sb.models, 'testbert', 'sts-b');
    await makeTeacherDir(teacher, 1);
    const args = [...ARGS, '--teacher', teacher, '--max-steps', '2'];
    t.is(cli('qat', args, sb.env).status, 0);
    const run = join(sb.out, 'testbert', 'sts-b', 'map_s42');
    // as the previous kdqat left it
    rmSync(join(run, 'student-last'), { recursive: true });
    const k = kdqatJson(join(run, 'student')) as Record<string, unknown>;
    delete k.scored;
    writeFileSync(join(run, 'student', 'kdqat.json'), JSON.stringify(k));
    const again = cli('qat', args, sb.env);
    t.is(again.status, 0, again.stderr);
    t.regex(again.stderr, /is complete already/);
    t.false(existsSync(join(run, 'student-last')), 'a finished run is not redone');
    const ex = cli('export', ['--student', run, '--backend', 'cpu'], sb.env);
    t.is(ex.status, 0, ex.stderr);
    t.regex(ex.stderr, /made before kdqat kept its best student: student\/ holds the final weights/);
    t.regex(ex.stdout, /no recorded evaluation of these weights/);
    const s = restore(run, { which: 'last', log: () => {} });
    t.is(s.score, null);
    tf.dispose(Object.values(s.params));
    const bad = cli('export', ['--student', run, '--which', 'worst'], sb.env);
    t.is(bad.status, 2);
    t.is(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  },
);
