/**
 * `npm run analyze -- --config FILE.json`: a config file gives the same results as the equivalent flags, flags win
 * over it, and a bad key or value is one line naming the key and the file (exit 2, before any work, nothing written).
 */
import test from 'ava';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTeacherDir } from './helpers/teacher.js';
import { cli, sandbox } from './helpers/cli.js';
import { GLUE_DIR } from './helpers/env.js';

const sb = sandbox('kdqat-analyze-config-');
const teacher = join(sb.models, 'testbert', 'rte');
test.before(async () => {
  await makeTeacherDir(teacher);
});

/** results.json without its timings and its command line (the one thing that differs between the two runs) */
function numbers(out: string): unknown {
  const r = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  delete r.args;
  return JSON.parse(JSON.stringify(r, (k, v) => (/seconds/i.test(k) ? undefined : v)));
}

const common = ['--no-plots', '--data-dir', GLUE_DIR, '--backend', 'cpu'];

test('a config file gives the same results.json numbers as the equivalent flags; flags override the file', (t) => {
  const viaFlags = join(sb.base, 'flags');
  const flags = cli(
    'analyze',
    [
      ...['--task', 'rte', '--teacher', teacher, '--students', teacher, '--exp', 'distance,range,norms,hessian'],
      ...['--examples', '3', '--sample', 'first', '--seed', '7', '--range-example', '1', '--norm-wo', 'quantized'],
      ...['--hessian-examples', '1', '--hessian-iters', '4', '--hessian-method', 'power', '--hessian-top', '2'],
      ...['--hessian-models', 'teacher', '--no-quantized', '--out', viaFlags, ...common],
    ],
    sb.env,
  );
  t.is(flags.status, 0, flags.stderr);

  const file = join(sb.base, 'analyze.json');
  writeFileSync(
    file,
    JSON.stringify({
      task: 'rte',
      teacher,
      students: [teacher],
      experiments: ['distance', 'range', 'norms', 'hessian'],
      examples: 5, // overridden by --examples 3 below
      sample: 'first',
      seed: 7,
      distance: { quantizedTeacher: false },
      range: { example: 1 },
      norms: { wo: 'quantized' },
      hessian: { examples: 1, maxIter: 4, method: 'power', topN: 2, roles: ['teacher'] },
    }),
  );
  const viaFile = join(sb.base, 'file');
  const cfg = cli('analyze', ['--config', file, '--examples', '3', '--out', viaFile, ...common], sb.env);
  t.is(cfg.status, 0, cfg.stderr);
  const a = numbers(viaFlags) as { meta: { examples: number[] } };
  t.is(a.meta.examples.length, 3, 'the flag won over the file');
  t.deepEqual(numbers(viaFile), a);
});

test('a bad key or value in the config file: one line naming it and the file, exit 2, nothing written', (t) => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ hessian: { iterz: 3 } }, /config key "hessian\.iterz"/],
    [{ exampels: 3 }, /unknown config key "exampels"/],
    [{ hessian: { tol: -1 } }, /config key "hessian\.tol" must be a number > 0, got -1/],
    [{ norms: { wo: 'both' } }, /config key "norms\.wo" must be latent or quantized, got "both"/],
    [{ range: 2 }, /config key "range" must be an object/],
  ];
  for (const [bad, re] of cases) {
    const file = join(sb.base, 'bad.json');
    writeFileSync(file, JSON.stringify({ task: 'rte', teacher, experiments: ['range'], ...bad }));
    const out = join(sb.base, 'bad-out');
    const r = cli('analyze', ['--config', file, '--out', out, ...common], sb.env);
    t.is(r.status, 2, r.stderr);
    const lines = r.stderr.split('\n').filter((l) => l.trim());
    t.is(lines.length, 1, r.stderr);
    t.regex(lines[0], new RegExp(`^analyze: --config ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
    t.regex(lines[0], re);
    t.false(existsSync(out), 'nothing written');
  }
});
