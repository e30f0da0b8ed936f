import test from 'ava';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { initBackend } from '../src/backend/backend.js';
import { Report } from '../src/verify/report.js';
import { verifyModels } from '../src/verify/models.js';
import { ANALYSIS_GROUPS } from '../src/verify/analysis.js';

const FIXTURES = resolve(process.env.KDQAT_FIXTURES ?? '../shared/fixtures');
const BACKEND = process.env.KDQAT_BACKEND ?? 'cpu';

test.before(async () => {
  await initBackend(BACKEND, { quiet: true });
});

/** "N passed, N failed" of a verify run restricted to the analysis and hessian groups */
function counts(r: Report): { passed: number; failed: number; keys: string[] } {
  return { passed: r.passed, failed: r.failed, keys: r.lines.map((l) => `${l.fixture} ${l.key}`) };
}

test(`analysis and hessian fixture groups pass on ${BACKEND}`, async (t) => {
  t.true(existsSync(FIXTURES), `fixtures not found at ${FIXTURES} (set KDQAT_FIXTURES)`);
  t.deepEqual(
    ANALYSIS_GROUPS.map((g) => g.name)
      .filter((n) => n === 'analysis' || n === 'hessian')
      .sort(),
    ['analysis', 'hessian'],
  );
  const lines: string[] = [];
  const report = new Report((s) => lines.push(s));
  await verifyModels(FIXTURES, report, ['analysis', 'hessian'], ANALYSIS_GROUPS);
  const c = counts(report);
  t.is(c.failed, 0, lines.filter((l) => !l.startsWith('ok')).join('\n'));
  // every fixture has ranking_loss, cover_length_ratio, range_min/max per layer and two hessian keys
  t.true(
    c.keys.some((k) => k.endsWith('analysis.ranking_loss')) && c.keys.some((k) => k.endsWith('hessian.student.top')),
    c.keys.join(', '),
  );
  t.true(c.passed >= 8, `${c.passed} checks passed`);
  t.false(
    report.notChecked.some((n) => /^(analysis|hessian)\./.test(n.key)),
    JSON.stringify(report.notChecked.filter((n) => /^(analysis|hessian)\./.test(n.key))),
  );
});

// the other backend in a child process (one backend per process)
const OTHER = BACKEND === 'wasm' ? 'cpu' : 'wasm';
test(`analysis and hessian fixture groups pass on ${OTHER} (child process)`, async (t) => {
  const script = resolve('test/analysis-verify-child.ts');
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, FIXTURES, OTHER], {
    maxBuffer: 1 << 24,
    timeout: 9 * 60_000,
  }).catch((e) => ({ stdout: `${e.stdout ?? ''}\n${e.stderr ?? e.message}` }));
  const last = stdout.trim().split('\n').pop() ?? '';
  t.regex(
    last,
    /^\d+ passed, 0 failed$/,
    stdout
      .split('\n')
      .filter((l) => !l.startsWith('ok'))
      .join('\n'),
  );
  t.true(Number(last.split(' ')[0]) >= 8, last);
});
