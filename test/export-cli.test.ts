import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../src/backend/backend.js';
import { loadBertDir } from '../src/model/checkpoint.js';
import { makeTeacherDir } from './helpers/teacher.js';
import { randomStudent, tmp } from './helpers/export.js';
import { ROOT, GLUE_DIR } from './helpers/env.js';
import { benchmarkSections } from '../src/report/benchmark-report.js';

test.before(async () => {
  await initBackend('cpu', { quiet: true });
});

const cli = (script: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, ['--import', 'tsx', `src/cli/${script}.ts`, ...args], {
    cwd: ROOT,
    env: { ...process.env, GLUE_DIR, ...env },
    encoding: 'utf8',
  });

test(
  'benchmark: one row per model (teacher, int8 PTQ, ternary PTQ, exported student) in CSV, Markdown and HTML; ' +
    'quantized latencies marked simulated',
  async (t) => {
    const base = tmp();
    const teacher = join(base, 'models', 'testbert', 'rte');
    await makeTeacherDir(teacher);
    const run = join(base, 'out', 'testbert', 'rte', 'map_s42');
    const tm = loadBertDir(teacher);
    tf.dispose([
      ...Object.values(tm.params),
      ...Object.values(await randomStudent(join(run, 'student'), tm.config, 3)),
    ]);
    copyFileSync(join(teacher, 'vocab.txt'), join(run, 'student', 'vocab.txt'));
    const r = cli(
      'benchmark',
      [
        '--task',
        'rte',
        '--teacher',
        teacher,
        '--students',
        'map_s42',
        '--eval-limit',
        '12',
        '--max-seq-len',
        '32',
        '--reps',
        '3',
        '--warmup',
        '1',
        '--throughput-reps',
        '1',
        '--backend',
        'cpu',
      ],
      { KDQAT_OUTPUT: join(base, 'out'), KDQAT_CACHE_DIR: join(base, 'cache') },
    );
    t.is(r.status, 0, r.stderr);
    const dir = join(base, 'out', 'testbert', 'rte', 'benchmark');
    t.true(existsSync(join(run, 'export', 'model.safetensors')), 'the student was exported');
    const csv = readFileSync(join(dir, 'benchmark.csv'), 'utf8').trim().split('\n');
    t.is(csv.length, 5);
    t.regex(
      csv[0],
      new RegExp(
        /^model,method,size_mb,latency_ms,latency_p25_ms,latency_p75_ms,throughput_ex_s,metric,value,/.source +
          /latency_path,backend,threads,file,eval_batch,run_value$/.source,
      ),
    );
    // biome-ignore lint/suspicious/noExplicitAny: benchmark.json rows, read field by field
    const rows = JSON.parse(readFileSync(join(dir, 'benchmark.json'), 'utf8')).rows as Record<string, any>[];
    t.deepEqual(
      rows.map((x) => x.model),
      ['FP32 teacher', 'int8 dynamic PTQ', 'ternary PTQ', 'KD-QAT map_s42'],
    );
    t.deepEqual(
      rows.map((x) => x.latency_path),
      ['FP32 kernels', ...Array(3).fill('simulated (fake-quantized FP32)')],
    );
    for (const x of rows)
      t.true(
        x.latency_ms > 0 && x.throughput_ex_s > 0 && x.value >= 0 && x.value <= 1 && x.backend === 'cpu',
        JSON.stringify(x),
      );
    t.true(
      rows[2].size_mb < rows[1].size_mb && rows[1].size_mb < rows[0].size_mb,
      rows.map((x) => x.size_mb).join(' '),
    );
    t.true(
      Math.abs(rows[2].size_mb / rows[3].size_mb - 1) < 0.01,
      'ternary PTQ and the student have the same layout (the metadata differs)',
    );
    const md = readFileSync(join(dir, 'benchmark.md'), 'utf8');
    t.regex(
      md,
      /\|model\|size \(MB\)\|latency b=1 \(ms\)\|throughput b=32 \(ex\/s\)\|dev acc\|latency measured on\|backend\|/,
    );
    t.regex(md, /Quantized rows are "simulated \(fake-quantized FP32\)"/);
    t.regex(r.stdout, /\|KD-QAT map_s42\|/);
    const html = readFileSync(join(dir, 'index.html'), 'utf8');
    t.is((html.match(/<img /g) ?? []).length, 2);
    // the task report (npm run report) picks the benchmark up from output/<bert>/<task>/benchmark
    t.deepEqual(
      benchmarkSections(dir)?.map((s) => s.kind),
      ['text', 'table', 'plot', 'plot'],
    );
  },
);

test('export and benchmark: user errors exit 2 with one message, before any work', (t) => {
  const out = tmp();
  let r = cli('export', []);
  t.is(r.status, 2);
  t.regex(r.stderr, /^export: --student is required/);
  r = cli('export', ['--student', out]);
  t.is(r.status, 2);
  t.regex(r.stderr, /not a student directory/);
  r = cli('benchmark', ['--task', 'nope', '--teacher', out]);
  t.is(r.status, 2);
  t.regex(r.stderr, /unknown GLUE task "nope"/);
  r = cli('benchmark', ['--task', 'rte', '--teacher', out]);
  t.is(r.status, 2);
  t.regex(r.stderr, /--teacher .*: no config\.json/);
  r = cli('benchmark', ['--task', 'rte', '--teacher', join(ROOT, 'nope'), '--students', 'x', '--out', join(out, 'b')]);
  t.is(r.status, 2);
  t.false(existsSync(join(out, 'b')));
  t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
});
