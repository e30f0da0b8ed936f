/**
 * Numeric flags (issue 21): every command's flag table (as the command itself reports it, KDQAT_DUMP_FLAGS=1) is
 * walked; every flag that takes a number has a range, and a negative, fractional, non-numeric or out-of-range value is
 * one UsageError naming the flag, the value and what is allowed; "--flag -1" is that flag's value, not Node
 * parseArgs' "argument is ambiguous". End to end: exit 2, one line, no stack trace.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  describeRange,
  joinNegativeValues,
  parseFlags,
  UsageError,
  type FlagSpec,
  type NumRange,
} from '../src/cli/common.js';
import { ROOT } from './helpers/env.js';
import { sandbox } from './helpers/cli.js';

// every command: a file of src/cli/ that runs a main (not the shared modules)
const COMMANDS = readdirSync(join(ROOT, 'src/cli'))
  .filter((f) => f.endsWith('.ts') && /^runMain\(/m.test(readFileSync(join(ROOT, 'src/cli', f), 'utf8')))
  .map((f) => f.slice(0, -3));

/** String flags that take no number (names, paths, lists, JSON, words): every other string flag must have a range. */
const NOT_NUMERIC = new Set([
  'which',
  'task',
  'teacher',
  'students',
  'labels',
  'exp',
  'sample',
  'inputs',
  'tokenizer',
  'out',
  'token-types',
  'norm-wo',
  'hessian-models',
  'hessian-mode',
  'hessian-method',
  'hessian-loss',
  'hessian-params',
  'data-dir',
  'config',
  'backend',
  'configs',
  'only',
  'work',
  'glue-dir',
  'student',
  'bert',
  'vocab',
  'config-json',
  'tasks',
  'url-base',
  'mrpc-url-base',
  'preset',
  'coeffs',
  'run-dir',
  'dir',
  'grid',
  'launcher',
  'partition',
  'time',
  'mem',
  'sbatch-arg',
  'fixtures',
]);

const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv) =>
  new Promise<{ status: number | null; stdout: string; stderr: string }>((res) => {
    const c = spawn(
      process.execPath,
      [
        '--import',
        pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href,
        join(ROOT, 'src/cli', `${cmd}.ts`),
        ...args,
      ],
      { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '',
      stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('exit', (status) => res({ status, stdout, stderr }));
  });

/** values outside `r` (each must be refused), and one inside (accepted) */
function probes(r: NumRange): { bad: string[]; good: string } {
  const bad = ['abc', '', 'NaN', 'Infinity'];
  if (r.oneOf) return { bad: [...bad, '-1', '0', '3', String(Math.max(...r.oneOf) + 1)], good: String(r.oneOf[0]) };
  const lo = r.above ?? r.min;
  if (lo !== undefined) bad.push(String(lo - 1), '-1');
  if (r.above !== undefined) bad.push(String(r.above));
  if (r.max !== undefined) bad.push(String(r.max + 1));
  if (r.kind === 'int') bad.push(String((lo ?? 0) + 1.5));
  const good = r.above !== undefined ? String(r.above + 0.5) : String(r.min ?? 0);
  return { bad: [...new Set(bad)].filter((b) => b !== good), good };
}

test(
  'every command: each numeric flag has a range; values outside it are one line naming flag, value and range; ' +
    '"--flag -1" is a value',
  async (t) => {
    t.timeout(300_000);
    const env = { ...sandbox('kdqat-numflags-').env, KDQAT_DUMP_FLAGS: '1' };
    const tables: { cmd: string; usage: string; spec: FlagSpec }[] = [];
    for (const cmd of COMMANDS) {
      // one at a time: each start loads tfjs
      const r = await run(cmd, [], env);
      t.is(r.status, 0, `${cmd}: ${r.stderr}`);
      tables.push({ cmd, ...JSON.parse(r.stdout.trim().split('\n').pop()!) });
    }
    t.true(tables.length >= 11, `found ${tables.length} commands`);
    let checked = 0;
    for (const { cmd, usage, spec } of tables) {
      for (const [flag, f] of Object.entries(spec)) {
        if (f.type !== 'string') continue;
        if (!f.num) {
          t.true(
            NOT_NUMERIC.has(flag),
            `${cmd} --${flag}: a string flag without a range (add num: {...} or list it in NOT_NUMERIC)`,
          );
          continue;
        }
        const { bad, good } = probes(f.num);
        for (const value of bad)
          for (const argv of [[`--${flag}`, value], [`--${flag}=${value}`]]) {
            const e = t.throws(() => parseFlags(spec, usage, argv), undefined, `${cmd} ${argv.join(' ')}`);
            t.true(e instanceof UsageError, `${cmd} ${argv.join(' ')}: ${e?.message}`);
            t.is(e?.message, `--${flag} must be ${describeRange(f.num)}, got "${value}"`);
            checked++;
          }
        t.is(parseFlags(spec, usage, [`--${flag}`, good])[flag], good, `${cmd} --${flag} ${good} is allowed`);
      }
    }
    t.log(`${checked} refused values over ${tables.length} commands`);
    t.true(checked > 200);
  },
);

test('a negative number after a value flag is its value; after a boolean flag or on its own it is not', (t) => {
  const spec: FlagSpec = { epochs: { type: 'string', help: '' }, wait: { type: 'boolean', help: '' } };
  t.deepEqual(joinNegativeValues(spec, ['--epochs', '-1', '--wait']), ['--epochs=-1', '--wait']);
  t.deepEqual(joinNegativeValues(spec, ['--epochs', '-.5']), ['--epochs=-.5']);
  t.deepEqual(joinNegativeValues(spec, ['--wait', '-1']), ['--wait', '-1']);
  t.deepEqual(joinNegativeValues(spec, ['--epochs', '--wait']), ['--epochs', '--wait']);
  t.deepEqual(joinNegativeValues(spec, ['--epochs=-2']), ['--epochs=-2']);
});

test(
  'end to end: qat --epochs -1, qat --map-coeff -1, sweep --jobs -2, analyze --hessian-tol -1: exit 2, one line, ' +
    'before any work',
  async (t) => {
    t.timeout(300_000);
    const sb = sandbox('kdqat-numflags-e2e-');
    const cases: [string, string[], RegExp][] = [
      ['qat', ['--task', 'rte', '--teacher', 'x', '--epochs', '-1'], /^qat: --epochs must be a number > 0, got "-1"$/],
      [
        'qat',
        ['--task', 'rte', '--teacher', 'x', '--map-coeff', '-1'],
        /^qat: --map-coeff must be a number >= 0, got "-1"$/,
      ],
      ['sweep', ['--task', 'rte', '--jobs', '-2'], /^sweep: --jobs must be an integer >= 1, got "-2"$/],
      [
        'analyze',
        ['--task', 'rte', '--teacher', 'x', '--hessian-tol', '-1'],
        /^analyze: --hessian-tol must be a number > 0, got "-1"$/,
      ],
    ];
    for (const [cmd, args, re] of cases) {
      const r = await run(cmd, args, sb.env);
      t.is(r.status, 2, `${cmd} ${args.join(' ')}: ${r.stderr}`);
      const lines = r.stderr.split('\n').filter((l) => l.trim() && !/TensorFlow\.js|tfjs-node|^=+$/.test(l));
      t.is(lines.length, 1, r.stderr);
      t.regex(lines[0], re);
      t.notRegex(r.stderr, /ambiguous/);
    }
  },
);
