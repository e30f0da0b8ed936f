#!/usr/bin/env node
// npm test: lint (Biome, knip), the unit tests (ava), then `verify` on the fixture set (KDQAT_FIXTURES, default
// ../shared/fixtures) on the native, the wasm, the (pure-JS) cpu and the plain backend (tfjs's kernels only). Ends with
// one line "N passed, N failed" summing all four; exits non-zero on any failure. GLUE_DIR defaults to ../shared/glue
// when that exists.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const env = { ...process.env };
env.KDQAT_FIXTURES ??= resolve(root, '../shared/fixtures');
if (!env.GLUE_DIR && existsSync(resolve(root, '../shared/glue'))) env.GLUE_DIR = resolve(root, '../shared/glue');
const extra = process.argv.slice(2);

function run(label, cmd, args, parse, extraEnv = {}) {
  console.log(`\n=== ${label}: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, {
    cwd: root,
    env: { ...env, ...extraEnv },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 28,
  });
  process.stdout.write(r.stdout ?? '');
  const counts = parse(r.stdout ?? '', r.status);
  if (!counts) {
    console.log(`${label}: could not read its summary (exit ${r.status})`);
    return { passed: 0, failed: 1 };
  }
  if (r.status !== 0 && counts.failed === 0) counts.failed = 1; // a crash after the summary still fails
  return counts;
}

const tapCounts = (out) => {
  const p = /^# pass (\d+)/m.exec(out),
    f = /^# fail (\d+)/m.exec(out);
  return p ? { passed: Number(p[1]), failed: f ? Number(f[1]) : 0 } : null;
};
const verifyCounts = (out) => {
  const m = /^(\d+) passed, (\d+) failed$/m.exec(out);
  return m ? { passed: Number(m[1]), failed: Number(m[2]) } : null;
};

const tsx = ['--import', 'tsx'];
// npm run lint: Biome's linter, knip and Biome's format check, one pass or one failure
const lintCounts = (_out, status) => (status === 0 ? { passed: 1, failed: 0 } : { passed: 0, failed: 1 });
const parts = [
  run('lint', 'npm', ['run', '--silent', 'lint'], lintCounts),
  run('unit tests', 'npx', ['ava', '--tap', ...extra], tapCounts),
  run(
    'verify (native)',
    process.execPath,
    [...tsx, 'src/cli/verify.ts', '--fixtures', env.KDQAT_FIXTURES, '--backend', 'native'],
    verifyCounts,
  ),
  run(
    'verify (wasm)',
    process.execPath,
    [...tsx, 'src/cli/verify.ts', '--fixtures', env.KDQAT_FIXTURES, '--backend', 'wasm'],
    verifyCounts,
  ),
  // pure-JS cpu kernels (KDQAT_CPU_BRIDGE=0), so this run is independent of the wasm module
  run(
    'verify (cpu)',
    process.execPath,
    [...tsx, 'src/cli/verify.ts', '--fixtures', env.KDQAT_FIXTURES, '--backend', 'cpu'],
    verifyCounts,
    { KDQAT_CPU_BRIDGE: '0' },
  ),
  // tfjs's own cpu kernels and none of kdqat's (src/backend/plain.ts): every standard-op fallback, as tfjs-node runs
  // them
  run(
    'verify (plain)',
    process.execPath,
    [...tsx, 'src/cli/verify.ts', '--fixtures', env.KDQAT_FIXTURES, '--backend', 'plain'],
    verifyCounts,
  ),
];
const passed = parts.reduce((a, p) => a + p.passed, 0),
  failed = parts.reduce((a, p) => a + p.failed, 0);
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
