/**
 * Issue 22 (5): a report is made from the runs that are there (nothing from .replaced/), and does not contradict
 * itself about teachers (runs of two teachers: said, no single teacher line) or the final-weights evaluation (not a
 * loss point); the benchmark note does not say "no integer kernels" when rows use them.
 */
import test from 'ava';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../src/backend/backend.js';
import { writeTaskReport } from '../src/report/sweep-report.js';
import { benchmarkNote } from '../src/report/benchmark-report.js';
import { INTEGER, SIMULATED } from '../src/export/kernels.js';
import type { BenchRow } from '../src/export/benchmark.js';
import { sandbox } from './helpers/cli.js';

test.before(async () => {
  await initBackend('cpu', { quiet: true });
});

function fakeRun(
  dir: string,
  run: string,
  seed: number,
  teacher: { dir: string; acc: number; sha: string },
  best: number,
): void {
  mkdirSync(join(dir, run), { recursive: true });
  writeFileSync(
    join(dir, run, 'metrics.json'),
    JSON.stringify({
      task: 'rte',
      run,
      preset: 'map',
      coeffs: { map: 1, output: 1 },
      seed,
      steps: 4,
      best: { step: 2, metrics: { acc: best }, selection: best },
      last: { step: 3, metrics: { acc: best - 0.01 }, selection: best - 0.01 },
      teacher: { dir: teacher.dir, metrics: { acc: teacher.acc } },
      wallTimeSec: 1,
      trainTokensPerSec: 1,
      provenance: { backend: 'cpu', git: { commit: 'x' } },
    }),
  );
  writeFileSync(join(dir, run, 'config.json'), JSON.stringify({ identity: { source: teacher.sha } }));
  writeFileSync(
    join(dir, run, 'log.jsonl'),
    [
      { step: 0, loss: 1 },
      { step: 1, loss: 0.5 },
      { step: 2, eval: { acc: best }, selection: best },
      { step: 3, loss: 0.4 },
      { step: 4, final: { acc: best }, selection: best },
    ]
      .map((e) => JSON.stringify(e))
      .join('\n') + '\n',
  );
}

test(
  'report: runs of two teachers are said in the HTML and no single teacher line is drawn; .replaced/ runs are not ' +
    'reported',
  async (t) => {
    const sb = sandbox('kdqat-report-');
    const dir = join(sb.base, 'rte');
    fakeRun(dir, 'map_s42', 42, { dir: '/m/tiny/rte', acc: 0.61, sha: 'sha256:aaaa' }, 0.55);
    fakeRun(dir, 'map_s43', 43, { dir: '/m/tiny/rte', acc: 0.58, sha: 'sha256:bbbb' }, 0.53);
    fakeRun(join(dir, '.replaced'), 'map_s44-2026', 44, { dir: '/m/tiny/rte', acc: 0.7, sha: 'sha256:cccc' }, 0.9);
    const r = await writeTaskReport(dir, { title: 'rte (tiny)', task: 'rte' });
    t.deepEqual(
      r.rows.map((x) => x.run),
      ['map_s42', 'map_s43'],
    );
    const html = readFileSync(r.html, 'utf8');
    t.regex(
      html,
      new RegExp(
        /The runs distil from 2 different teachers: \/m\/tiny\/rte \(sha256:aaaa, dev acc 0\.61\) for map_s42; /
          .source + /\/m\/tiny\/rte \(sha256:bbbb, dev acc 0\.58\) for map_s43/.source,
      ),
    );
    t.notRegex(
      readFileSync(join(dir, 'report', 'presets.svg'), 'utf8'),
      /FP teacher 0\.\d{3}/,
      'no single teacher reference line',
    );
    t.notRegex(html, /map_s44|0\.9000/, 'nothing from .replaced/');

    // one teacher: its line is drawn, nothing said about several
    const one = join(sb.base, 'one');
    fakeRun(one, 'map_s42', 42, { dir: '/m/tiny/rte', acc: 0.61, sha: 'sha256:aaaa' }, 0.55);
    fakeRun(one, 'map_s43', 43, { dir: '/m/tiny/rte', acc: 0.61, sha: 'sha256:aaaa' }, 0.53);
    const html1 = readFileSync((await writeTaskReport(one, { title: 'rte (tiny)', task: 'rte' })).html, 'utf8');
    t.regex(readFileSync(join(one, 'report', 'presets.svg'), 'utf8'), /FP teacher 0\.610/);
    t.notRegex(html1, /different teachers/);
  },
);

test('benchmark note: "no integer kernels" only when no row uses them', (t) => {
  const row = (latency_path: string): BenchRow => ({
    model: 'm',
    method: '',
    size_mb: 1,
    latency_ms: 1,
    latency_p25_ms: 1,
    latency_p75_ms: 1,
    throughput_ex_s: 1,
    metric: 'acc',
    value: 0.5,
    latency_path,
    backend: 'native',
    threads: 1,
    file: 'f',
    eval_batch: 8,
    run_value: null,
  });
  const o = { reps: 1, warmup: 1, throughputReps: 1 };
  const mixed = benchmarkNote([row('FP32 kernels'), row(SIMULATED), row(INTEGER)], o, 'rte', 10, 32);
  t.notRegex(mixed, /this backend has no integer kernels/);
  t.regex(mixed, /have no integer kernel on this backend \(rows marked "integer kernels/);
  const none = benchmarkNote([row('FP32 kernels'), row(SIMULATED)], o, 'rte', 10, 32);
  t.regex(none, /this backend has no integer kernels/);
  t.regex(none, /evaluation batch 8/);
});
