/**
 * Bit-identity check of the CLI trainer across a code change (issue 12: the trainer rebuilt on src/api).
 *
 *   tsx scripts/bit-identity.ts record OUT.json [--backend cpu|wasm] [--work DIR]   # run the smoke sweep, summarise
 *   tsx scripts/bit-identity.ts compare A.json B.json                                # every digit, or exit 1
 *
 * `record` makes the tiny random test teacher (test/helpers/teacher.ts), runs `sweep --grid smoke` on 64 RTE
 * training examples for 6 steps (dropout on, evaluations and a checkpoint on the way), and writes, per run, the
 * sha256 of student/model.safetensors and of log.jsonl plus metrics.json without its timing and provenance fields.
 * It then fine-tunes a tiny teacher from scratch for 6 steps, analyses the teacher and both students (all four
 * analyses on 4 dev examples) and exports the first student, hashing what each writes (timings left out).
 * Run it at the commit before and after a change, on the same machine and backend, and `compare` the two files.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { makeTeacherDir } from '../test/helpers/teacher.js';
import { ROOT, GLUE_DIR } from '../test/helpers/env.js';

const TIMING = ['wallTimeSec', 'trainTokensPerSec', 'provenance'];
const VOLATILE = /time|sec$|seconds|provenance|date|elapsed|^(out|dir|path)$/i;

/**
 * A JSON value without timing, provenance or path fields, at any depth, its keys sorted and the work folder written
 * `<work>`: two records made in different folders, or by code that writes its keys in another order, compare equal.
 */
function stable(v: unknown, work: string): unknown {
  if (typeof v === 'string') return v.split(work).join('<work>');
  if (Array.isArray(v)) return v.map((x) => stable(x, work));
  if (!v || typeof v !== 'object') return v;
  return Object.fromEntries(
    Object.entries(v as Record<string, unknown>)
      .filter(([k]) => !VOLATILE.test(k))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, x]) => [k, stable(x, work)]),
  );
}
const jsonSha = (p: string, work: string) =>
  createHash('sha256')
    .update(JSON.stringify(stable(JSON.parse(readFileSync(p, 'utf8')), work)))
    .digest('hex');
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
/** sha256 of a safetensors file with the work folder in its header written `<work>` (an export names its source) */
function tensorsSha(p: string, work: string): string {
  const b = readFileSync(p);
  const n = Number(b.readBigUInt64LE(0));
  const header = b
    .subarray(8, 8 + n)
    .toString('utf8')
    .trimEnd() // the padding to 8 bytes follows the header's length, and so the work folder's name
    .split(work)
    .join('<work>');
  return createHash('sha256')
    .update(header)
    .update(b.subarray(8 + n))
    .digest('hex');
}

function strip(m: Record<string, unknown>): Record<string, unknown> {
  const o = { ...m };
  for (const k of TIMING) delete o[k];
  if (o.teacher && typeof o.teacher === 'object') {
    const t = { ...(o.teacher as Record<string, unknown>) };
    delete t.provenance;
    o.teacher = t;
  }
  return o;
}

async function record(out: string, backend: string, work: string): Promise<void> {
  rmSync(work, { recursive: true, force: true });
  const models = join(work, 'models');
  await makeTeacherDir(join(models, 'testbert', 'rte'));
  const env = {
    ...process.env,
    KDQAT_MODELS: models,
    KDQAT_OUTPUT: join(work, 'out'),
    GLUE_DIR,
    KDQAT_CACHE_DIR: join(work, '.cache'),
  };
  const args = [
    '--import',
    'tsx',
    'src/cli/sweep.ts',
    '--task',
    'rte',
    '--bert',
    'testbert',
    '--grid',
    'smoke',
    '--train-limit',
    '64',
    '--eval-limit',
    '24',
    '--max-seq-len',
    '32',
    '--batch-size',
    '8',
    '--max-steps',
    '6',
    '--eval-every',
    '3',
    '--lr',
    '1e-3',
    '--no-report',
    // one run at a time on the backend's default threads, whatever the sweep's default parallelism is
    '--jobs',
    '1',
    '--backend',
    backend,
  ];
  const cli = (name: string, a: string[]) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', `src/cli/${name}.ts`, ...a], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`${name} failed:\n${r.stderr}`);
  };
  cli('sweep', args.slice(3));
  const task = join(work, 'out', 'testbert', 'rte');
  const runs: Record<string, unknown> = {};
  for (const run of readdirSync(task)
    .filter((d) => existsSync(join(task, d, 'metrics.json')))
    .sort()) {
    runs[run] = {
      studentWeightsSha256: sha(join(task, run, 'student', 'model.safetensors')),
      logSha256: sha(join(task, run, 'log.jsonl')),
      metrics: stable(strip(JSON.parse(readFileSync(join(task, run, 'metrics.json'), 'utf8'))), work),
    };
  }
  const small = ['--train-limit', '64', '--eval-limit', '24', '--max-seq-len', '32', '--batch-size', '8'];
  const ft = join(work, 'ft');
  cli('finetune', [
    '--task',
    'rte',
    '--bert',
    'tiny',
    '--out',
    ft,
    ...small,
    '--max-steps',
    '6',
    '--eval-every',
    '3',
    '--backend',
    backend,
  ]);
  const students = Object.keys(runs).map((r) => join(task, r));
  const an = join(work, 'analysis');
  cli('analyze', [
    ...['--task', 'rte', '--teacher', join(models, 'testbert', 'rte'), '--students', students.join(',')],
    ...['--examples', '4', '--sample', 'first', '--hessian-examples', '1', '--hessian-iters', '8', '--no-plots'],
    ...['--data-dir', GLUE_DIR, '--out', an, '--backend', backend],
  ]);
  const ex = join(work, 'export');
  cli('export', ['--student', students[0], '--out', ex, '--backend', backend]);
  const files = (d: string) =>
    Object.fromEntries(
      readdirSync(d)
        .filter((f) => /\.(safetensors|jsonl)$/.test(f))
        .sort()
        .map((f) => [f, f.endsWith('.safetensors') ? tensorsSha(join(d, f), work) : sha(join(d, f))]),
    );
  const stages = {
    finetune: { ...files(ft), metrics: jsonSha(join(ft, 'metrics.json'), work) },
    analysis: jsonSha(join(an, 'results.json'), work),
    export: files(ex),
  };
  const git = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  writeFileSync(out, JSON.stringify({ commit: git, backend, runs, stages }, null, 1) + '\n');
  console.log(`${out}: ${Object.keys(runs).length} runs recorded at ${git} on ${backend}`);
}

function compare(a: string, b: string): number {
  const A = JSON.parse(readFileSync(a, 'utf8')),
    B = JSON.parse(readFileSync(b, 'utf8'));
  if (A.backend !== B.backend) {
    console.log(`different backends: ${A.backend} vs ${B.backend}`);
    return 1;
  }
  const sa = JSON.stringify([A.runs, A.stages]),
    sb = JSON.stringify([B.runs, B.stages]);
  if (Object.keys(A.runs).length === 0) {
    console.log('no runs recorded');
    return 1;
  }
  if (sa === sb) {
    console.log(
      `identical: ${Object.keys(A.runs).join(', ')} (${A.commit.slice(0, 7)} vs ${B.commit.slice(0, 7)}, ${A.backend}` +
        `): weights sha256, log.jsonl sha256 and metrics to every digit; finetune, analysis, export: ` +
        `${Object.keys(A.stages ?? {}).join(', ') || 'not recorded'}`,
    );
    return 0;
  }
  for (const run of new Set([...Object.keys(A.runs), ...Object.keys(B.runs)])) {
    if (JSON.stringify(A.runs[run]) !== JSON.stringify(B.runs[run]))
      console.log(`DIFFERENT: ${run}\n  ${JSON.stringify(A.runs[run])}\n  ${JSON.stringify(B.runs[run])}`);
  }
  for (const k of new Set([...Object.keys(A.stages ?? {}), ...Object.keys(B.stages ?? {})]))
    if (JSON.stringify(A.stages?.[k]) !== JSON.stringify(B.stages?.[k]))
      console.log(`DIFFERENT: ${k}\n  ${JSON.stringify(A.stages?.[k])}\n  ${JSON.stringify(B.stages?.[k])}`);
  return 1;
}

const [cmd, ...rest] = process.argv.slice(2);
const opt = (k: string, d: string) => {
  const i = rest.indexOf(k);
  return i >= 0 ? rest[i + 1] : d;
};
if (cmd === 'record' && rest[0])
  await record(
    resolve(rest[0]),
    opt('--backend', 'cpu'),
    resolve(opt('--work', join(tmpdir(), `kdqat-bitid-${opt('--backend', 'cpu')}`))),
  );
else if (cmd === 'compare' && rest[1]) process.exit(compare(rest[0], rest[1]));
else {
  console.error(
    'usage: tsx scripts/bit-identity.ts record OUT.json [--backend cpu|wasm] [--work DIR] | compare A.json B.json',
  );
  process.exit(2);
}
