/**
 * Issue 22 (4): analyze says an ETA before its long parts, keeps what it finished on Ctrl-C (SIGINT) in
 * <out>/partial.json, and the same command resumes from it: the kept spectra are not recomputed.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { makeTeacherDir } from './helpers/teacher.js';
import { cli, sandbox } from './helpers/cli.js';
import { GLUE_DIR, ROOT } from './helpers/env.js';

test('analyze: Ctrl-C keeps the finished parts, the same command resumes from them and completes', async (t) => {
  const sb = sandbox('kdqat-analyze-resume-');
  const teacher = join(sb.models, 'testbert', 'rte');
  await makeTeacherDir(teacher);
  const out = join(sb.base, 'analysis');
  // four spectra of 300 Hv products each (tolerance 0: power iteration never stops early), so there is time to
  // interrupt
  const args = [
    '--task',
    'rte',
    '--teacher',
    teacher,
    '--exp',
    'range,hessian',
    '--examples',
    '4',
    '--sample',
    'first',
    '--hessian-examples',
    '4',
    '--hessian-models',
    'teacher',
    '--hessian-method',
    'power',
    '--hessian-tol',
    '1e-30',
    '--hessian-iters',
    '100',
    '--no-plots',
    '--data-dir',
    GLUE_DIR,
    '--out',
    out,
    '--backend',
    'cpu',
  ];
  const partial = join(out, 'partial.json');
  const spectra = () => {
    try {
      return (JSON.parse(readFileSync(partial, 'utf8')).hessian?.teacher ?? []).length as number;
    } catch {
      return 0;
    }
  };

  const child = spawn(
    process.execPath,
    [
      '--import',
      pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href,
      join(ROOT, 'src/cli/analyze.ts'),
      ...args,
    ],
    { env: sb.env },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  let sent = false;
  const poll = setInterval(() => {
    if (!sent && spectra() >= 1) {
      sent = true;
      child.kill('SIGINT');
    }
  }, 50);
  const code = await exited;
  clearInterval(poll);
  t.true(sent, `the analysis ended before a spectrum was kept: ${stderr}`);
  t.is(code, 130, stderr);
  t.regex(stderr, /analyze: hessian: 4 of 4 spectra to compute, one Hv product [\d.]+ s \(measured\): ETA ~/);
  t.regex(stderr, /the finished parts are kept in .*partial\.json: run the same command again to resume/);
  t.false(existsSync(join(out, 'results.json')));
  const kept = JSON.parse(readFileSync(partial, 'utf8'));
  const k = kept.hessian.teacher.length;
  t.true(k >= 1 && k < 4, `${k} spectra kept`);
  t.truthy(kept.forward.range, 'the forward experiments are kept');

  const again = cli('analyze', args, sb.env);
  t.is(again.status, 0, again.stderr);
  t.regex(
    again.stderr,
    new RegExp(`resuming the interrupted analysis in .*: forward experiments done, ${k} Hessian spectra done`),
  );
  t.regex(again.stderr, /forward experiments \(range\): kept from the interrupted analysis/);
  t.regex(again.stderr, new RegExp(`hessian: ${4 - k} of 4 spectra to compute`));
  const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  const rows = res.hessian.models.teacher.perExample;
  t.is(rows.length, 4);
  t.deepEqual(rows.slice(0, k), kept.hessian.teacher, 'the kept spectra are used as they were');
  t.deepEqual(res.range, kept.forward.range);
  t.false(existsSync(partial), 'partial.json goes once the analysis is complete');
});
